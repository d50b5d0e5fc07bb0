// waku-store.mjs — a js-waku Waku store client (13/WAKU2-STORE v3, @waku/core
// 0.0.31 StoreCore, the same paging loop js-waku apps run) for annals'
// interop tests. Run it from tests/js with:
//
//   node --import ./polyfill.mjs waku-store.mjs
//
// Environment:
//   DIAL=<multiaddr>/p2p/<id>  the store peer (required)
//   PUBSUB=<topic>             default /waku/2/rs/16/32
//   CT=<a,b,...>               content topics (required)
//   FORWARD=1|0                page direction, default 1
//   PAGE_SIZE=<n>              default 20 (js-waku's default)
//   TIMEOUT_MS=<ms>            default 30000, then exit 2
//
// Output, one line each: PEERID <id>; PAGE <n messages>; MSG <contentTopic>
// <timestamp ns> <payload JSON>; DONE <total> (exit 0), or ERROR <text> on
// stderr (exit 1).
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { mplex } from "@libp2p/mplex";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { createDecoder, StoreCore } from "@waku/core";
import { createRelayNode } from "@waku/sdk/relay";

const env = process.env;
const out = (line) => process.stdout.write(line + "\n");
const fail = (text, code = 1) => {
  process.stderr.write(`ERROR ${text}\n`);
  process.exit(code);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const PUBSUB = env.PUBSUB || "/waku/2/rs/16/32";
const m = /^\/waku\/2\/rs\/(\d+)\/(\d+)$/.exec(PUBSUB);
if (!m) fail(`bad PUBSUB=${PUBSUB}`);
if (!env.DIAL) fail("DIAL is required");
if (!env.CT) fail("CT is required");
const contentTopics = env.CT.split(",");
const forward = env.FORWARD !== "0";
const pageSize = Number(env.PAGE_SIZE || 20);
const timeoutMs = Number(env.TIMEOUT_MS || 30000);
setTimeout(() => fail(`timeout after ${timeoutMs} ms`, 2), timeoutMs).unref();

const node = await createRelayNode({
  networkConfig: { clusterId: Number(m[1]), shards: [Number(m[2])] },
  userAgent: "js-waku-store-interop",
  libp2p: {
    hideWebSocketInfo: true,
    addresses: { listen: [] },
    transports: [tcp()],
    streamMuxers: [yamux(), mplex()],
    connectionEncryption: [noise()],
  },
});
await node.start();
out(`PEERID ${node.libp2p.peerId.toString()}`);
const target = multiaddr(env.DIAL);
const peerId = target.getPeerId();
try {
  await node.libp2p.dial(target);
} catch (e) {
  fail(`dial ${env.DIAL}: ${e?.message ?? e}`);
}
// identify tells the peer store which protocols the peer serves.
let peer;
for (;;) {
  try {
    peer = await node.libp2p.peerStore.get(node.libp2p.getConnections()[0].remotePeer);
  } catch {}
  if (peer && peer.protocols.includes("/vac/waku/store-query/3.0.0")) break;
  await sleep(50);
}
if (peer.id.toString() !== peerId) fail(`connected to ${peer.id} instead of ${peerId}`);

const store = new StoreCore([PUBSUB], node.libp2p);
const decoders = new Map(contentTopics.map((ct) => [ct, createDecoder(ct, PUBSUB)]));
const utf8 = new TextDecoder("utf-8");
let total = 0;
try {
  for await (const page of store.queryPerPage(
    { pubsubTopic: PUBSUB, contentTopics, includeData: true, paginationForward: forward,
      paginationLimit: pageSize },
    decoders, peer)) {
    const messages = (await Promise.all(page)).filter(Boolean);
    out(`PAGE ${messages.length}`);
    for (const msg of messages) {
      out(`MSG ${msg.contentTopic} ${(msg._rawTimestamp ?? 0n).toString()} ${JSON.stringify(utf8.decode(msg.payload))}`);
      total++;
    }
  }
} catch (e) {
  fail(e?.message ?? String(e));
}
out(`DONE ${total}`);
await Promise.race([node.stop().catch(() => {}), sleep(2000)]);
process.exit(0);
