// waku-px.mjs — js-waku's peer-exchange client (@waku/discovery 0.0.4
// WakuPeerExchange, /vac/waku/peer-exchange/2.0.0-alpha1) for annals'
// interop tests: asks one peer for records, then dials a relay peer from an
// answer as js-waku's PeerExchangeDiscovery would. Run it from tests/js with:
//
//   node --import ./polyfill.mjs waku-px.mjs
//
// Environment:
//   DIAL=<multiaddr>/p2p/<id>  the peer to ask (required)
//   PUBSUB=<topic>             default /waku/2/rs/16/32
//   NUM_PEERS=<n>              default 5
//   TIMEOUT_MS=<ms>            default 30000, then exit 2
//
// Output, one line each: PEERID <id>; ENR <peer id> <multiaddr> for each
// record (its first TCP multiaddr); DIALLED <peer id> once a record's peer
// is connected; DONE <records> (exit 0), or ERROR <text> on stderr (exit 1).
import { WakuPeerExchange } from "@waku/discovery";
import { connect, deadline, fail, out } from "./client.mjs";

const env = process.env;
const PUBSUB = env.PUBSUB || "/waku/2/rs/16/32";
if (!env.DIAL) fail("DIAL is required");
const numPeers = Number(env.NUM_PEERS || 5);
deadline(Number(env.TIMEOUT_MS || 30000));
const { node, peer } = await connect(env.DIAL, PUBSUB, "/vac/waku/peer-exchange/2.0.0-alpha1",
                                     "js-waku-px-interop");

const px = new WakuPeerExchange(node.libp2p.components, [PUBSUB]);
const answer = await px.query({ peerId: peer.id, numPeers });
if (answer.error) fail(`query: ${answer.error}`);
let first;
for (const { ENR } of answer.peerInfos) {
  if (!ENR || !ENR.peerId) fail("a record without a peer ID");
  // What PeerExchangeDiscovery hands libp2p: the record's peerInfo.
  const addr = ENR.peerInfo?.multiaddrs.find((a) => a.toString().includes("/tcp/"));
  if (!addr) fail(`record of ${ENR.peerId} gives no TCP multiaddr`);
  out(`ENR ${ENR.peerId.toString()} ${addr.toString()}`);
  if (!ENR.waku2?.relay) fail(`record of ${ENR.peerId} does not offer relay`);
  first ??= addr;
}
if (first) {
  try {
    const conn = await node.libp2p.dial(first);
    out(`DIALLED ${conn.remotePeer.toString()}`);
  } catch (e) {
    fail(`dial ${first}: ${e?.message ?? e}`);
  }
}
out(`DONE ${answer.peerInfos.length}`);
await node.stop();
process.exit(0);
