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
import { createDecoder, StoreCore } from "@waku/core";
import { connect, deadline, fail, out, sleep } from "./client.mjs";

const env = process.env;
const PUBSUB = env.PUBSUB || "/waku/2/rs/16/32";
if (!env.DIAL) fail("DIAL is required");
if (!env.CT) fail("CT is required");
const contentTopics = env.CT.split(",");
const forward = env.FORWARD !== "0";
const pageSize = Number(env.PAGE_SIZE || 20);
deadline(Number(env.TIMEOUT_MS || 30000));
const { node, peer } = await connect(env.DIAL, PUBSUB, "/vac/waku/store-query/3.0.0",
                                     "js-waku-store-interop");

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
