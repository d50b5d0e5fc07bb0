// client.mjs — what the request-response interop clients (waku-store.mjs,
// waku-px.mjs) share: output and failure lines, a js-waku relay node that
// only dials (TCP, Noise, yamux or mplex), and one connection to the peer
// under test, waited on until its identify lists the protocol asked for.
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { mplex } from "@libp2p/mplex";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { createRelayNode } from "@waku/sdk/relay";

export const out = (line) => process.stdout.write(line + "\n");
export const fail = (text, code = 1) => {
  process.stderr.write(`ERROR ${text}\n`);
  process.exit(code);
};
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/// The cluster and shard of a /waku/2/rs/<cluster>/<shard> topic.
export function shardOf(pubsub) {
  const m = /^\/waku\/2\/rs\/(\d+)\/(\d+)$/.exec(pubsub);
  if (!m) fail(`bad PUBSUB=${pubsub}`);
  return { clusterId: Number(m[1]), shards: [Number(m[2])] };
}

/// Exits with code 2 after `ms`.
export function deadline(ms) {
  setTimeout(() => fail(`timeout after ${ms} ms`, 2), ms).unref();
}

/// Starts a dial-only node, prints PEERID, dials `address` and returns the
/// node and the peer-store entry of the peer once identify lists `codec`.
export async function connect(address, pubsub, codec, userAgent) {
  const node = await createRelayNode({
    networkConfig: shardOf(pubsub),
    userAgent,
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
  const target = multiaddr(address);
  try {
    await node.libp2p.dial(target);
  } catch (e) {
    fail(`dial ${address}: ${e?.message ?? e}`);
  }
  let peer;
  for (;;) {
    try {
      peer = await node.libp2p.peerStore.get(node.libp2p.getConnections()[0].remotePeer);
    } catch {}
    if (peer && peer.protocols.includes(codec)) break;
    await sleep(50);
  }
  if (peer.id.toString() !== target.getPeerId())
    fail(`connected to ${peer.id} instead of ${target.getPeerId()}`);
  return { node, peer };
}
