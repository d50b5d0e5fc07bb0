// A discv5 node from npm (@chainsafe/discv5 9.0.1, protocol ID "discv5")
// for annals' interop tests. Prints one JSON object per line on stdout.
//
//   node discv5-peer.mjs --key HEX --port N [--add ENR]... [--peer ENR --find D,D,...]
//                        [--seconds S]
//
// It answers PING and FINDNODE by itself. --add puts records in its table;
// with --peer it pings that node, sends it one FINDNODE for the distances
// given and prints the node IDs of the answer. It exits after --seconds.
import { Discv5 } from "@chainsafe/discv5";
import { SignableENR, ENR, createPeerIdFromPrivateKey } from "@chainsafe/enr";
import { multiaddr } from "@multiformats/multiaddr";

const args = { add: [], seconds: 20 };
for (let i = 2; i < process.argv.length; i += 2) {
  const name = process.argv[i].replace(/^--/, "");
  const value = process.argv[i + 1];
  if (name === "add") args.add.push(value);
  else args[name] = value;
}
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

const priv = Uint8Array.from(Buffer.from(args.key, "hex"));
const port = Number(args.port);
const peerId = await createPeerIdFromPrivateKey("secp256k1", priv);
const enr = SignableENR.createV4(priv);
enr.ip = "127.0.0.1";
enr.udp = port;
const d = Discv5.create({
  enr,
  peerId,
  bindAddrs: { ip4: multiaddr(`/ip4/127.0.0.1/udp/${port}`) },
  config: { enrUpdate: false, requestTimeout: 3000 },
});
d.on("enrAdded", (e) => out({ event: "enrAdded", nodeId: e.nodeId }));
await d.start();
for (const text of args.add) d.addEnr(ENR.decodeTxt(text));
out({ event: "ready", enr: d.enr.encodeTxt(), nodeId: d.enr.nodeId });

const stop = async (code) => {
  await d.stop();
  process.exit(code);
};
setTimeout(() => stop(0), Number(args.seconds) * 1000);

if (args.peer) {
  const peer = ENR.decodeTxt(args.peer);
  d.addEnr(peer);
  try {
    const pong = await d.sendPing(peer);
    out({ event: "pong", enrSeq: Number(pong.enrSeq), port: pong.addr.port });
    const distances = String(args.find ?? "0").split(",").map(Number);
    const enrs = await d.sendFindNode(peer, distances);
    out({ event: "nodes", distances, nodeIds: enrs.map((e) => e.nodeId) });
  } catch (e) {
    out({ event: "error", message: String(e?.message ?? e) });
    await stop(3);
  }
}
