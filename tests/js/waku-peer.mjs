// waku-peer.mjs — a headless js-waku (Waku v2 Relay) peer for annals' interop
// tests. Run it from tests/js with:
//
//   node --import ./polyfill.mjs waku-peer.mjs
//
// (polyfill.mjs supplies Promise.withResolvers, which Node 20 lacks.)
// Dependencies are pinned in package.json / package-lock.json; install them
// with `npm ci` (scripts/setup.sh does that).
//
// The stack: @waku/sdk 0.0.27 createRelayNode (libp2p 1.9 + gossipsub 13,
// StrictNoSign, message id = sha256(data)), transports TCP and WebSocket,
// connection encryption Noise, stream muxers per MUXER. No discovery or
// bootstrap: the peer only talks to what it dials or what dials it.
//
// Configuration is by environment variable only:
//
//   KEY=<hex>          secp256k1 private key (32 bytes, optional 0x prefix) →
//                      deterministic peer id (16Uiu2…). Unset: random Ed25519.
//   LISTEN=<port>      listen on /ip4/$LISTEN_HOST/tcp/<port>; 0 = ephemeral.
//                      Unset: do not listen (dial only).
//   LISTEN_HOST=<ip>   default 127.0.0.1.
//   LISTEN_WS=<port>   also listen on /ip4/$LISTEN_HOST/tcp/<port>/ws.
//   DIAL=<multiaddr>   dial after start (comma-separated list allowed); each
//                      dial is retried DIAL_RETRIES times (default 10) every
//                      DIAL_RETRY_MS (default 500 ms), i.e. ~5 s. Exhausted →
//                      `DIAL_FAIL` on stderr, exit 1.
//   MUXER=mplex|yamux|both   default both (yamux offered first).
//   PUBSUB=<topic>     pubsub topic, default /waku/2/rs/16/32. Must be a static
//                      sharding topic /waku/2/rs/<cluster>/<shard>; the node's
//                      networkConfig {clusterId, shards:[shard]} is derived
//                      from it, and the relay subscribes to it.
//   CT=<topic>         content topic, default /interop/1/test/proto.
//   SEND=<text>        publish once a peer subscribed to PUBSUB is connected.
//   SEND_COUNT=<n>     publish n messages with payloads `${SEND}-${i}`,
//                      i = 0..n-1 (without SEND_COUNT: one message, payload
//                      exactly SEND).
//   SEND_INTERVAL_MS=<ms>   pause between messages, default 0.
//   SEND_WAIT=subscriber|mesh  what "a relay peer is there" means before the
//                      first send: default `subscriber` (a connected peer has
//                      announced a subscription to PUBSUB; gossipsub's flood
//                      publish then reaches it) or `mesh` (a peer is in our
//                      gossipsub mesh for PUBSUB, ~1 heartbeat later).
//   EXPECT=<n>         exit 0 after receiving n messages on (PUBSUB, CT).
//   ECHO=1             answer each received message on CT with payload
//                      "echo:"+payload, same pubsub/content topic. Payloads
//                      that already start with "echo:" are not echoed (so two
//                      echoing peers do not ping-pong forever).
//   TIMEOUT_MS=<ms>    default 30000. If SEND/EXPECT are not done by then:
//                      `TIMEOUT …` on stderr, exit 2. With neither SEND nor
//                      EXPECT (a pure serve/echo peer) it is the lifetime:
//                      print `STOP timeout`, exit 0. 0 = no limit.
//   EXIT_GRACE_MS=<ms> wait after the last send before stopping, default 500.
//   BENCH=1            bench mode. Receiving (EXPECT): per-message RECV lines
//                      are suppressed (BENCH_VERBOSE=1 keeps them) and a BENCH
//                      summary line is printed at the end; if payloads start
//                      with an 8-byte big-endian send timestamp in µs since
//                      the Unix epoch, latency stats are included. Sending
//                      (SEND_COUNT, SEND optional): each payload is
//                      BENCH_PAYLOAD_BYTES (default 256, min 8) random bytes
//                      whose first 8 bytes are that timestamp.
//   DEBUG=…            the usual libp2p/js-waku debug logging (to stderr).
//
// Output: one event per stdout line, first word is the tag. Fields are
// separated by single spaces; fields that may contain spaces are JSON strings.
//
//   PEERID <peerId>                                  (always the first line)
//   LISTEN <multiaddr>/p2p/<peerId>                  one per listen address
//   DIALED <multiaddr> <remotePeerId>
//   CONNECTION <peerId> <inbound|outbound> <muxer protocol> <encryption protocol> <remote multiaddr>
//   CONNECT <peerId>                                 libp2p peer:connect
//   DISCONNECT <peerId>
//   IDENTIFY <peerId> <agentVersion JSON> <protocols JSON array>
//   SUBSCRIPTION <peerId> <topic> <1|0>              remote (un)subscribed
//   READY <peerIds JSON array>                       send condition met
//   SENT <recipients> <ids comma-separated or -> <payload JSON>
//   SEND_FAIL <payload JSON> <error JSON>    (then exit 1 after the sends,
//                                            `SEND_FAILED k/n` on stderr)
//   RECV <pubsubTopic> <contentTopic> <payload JSON> ts <timestamp ns>
//   RECV_HEX <payload hex>                           right after each RECV
//   ECHO_SENT <recipients> <ids or -> <payload JSON>
//   ECHO_FAIL <payload JSON> <error JSON>
//   RECV_OTHER <pubsubTopic> <contentTopic JSON> <payload bytes>
//                                                   message on another CT
//   BENCH sent=<n> failed=<n> elapsed_ms=<ms> rate_msg_s=<r> payload_bytes=<b>
//   BENCH received=<n> first_ms=<ms> last_ms=<ms> span_ms=<ms> rate_msg_s=<r>
//         [lat_n=<n> lat_us_min=… lat_us_avg=… lat_us_p50=… lat_us_p99=… lat_us_max=…]
//         (first_ms/last_ms: ms since the process started)
//   DONE                                             all done, exit 0 follows
//   stderr: DIAL_FAIL <multiaddr> <error> (exit 1), TIMEOUT … (exit 2)
//   STOP <reason>        serve mode ended (timeout) or SIGINT/SIGTERM, exit 0
//
// The payload JSON is the payload decoded as UTF-8 (lossy for binary data;
// RECV_HEX is exact). ts is the WakuMessage timestamp field (ns since epoch,
// 0 if absent). js-waku's relay keep-alive messages (content topic
// /relay-ping/1/ping/null) are never counted or printed; in @waku/sdk 0.0.27
// relay keep-alive is effectively off anyway. Exit codes: 0 ok, 1 error
// (bad config, dial failure, exception), 2 timeout.
//
// Interop notes for a non-js peer: messages must be unsigned (no from/seqno/
// signature/key in the gossipsub Message), payload and content topic must be
// non-empty (js-waku's validator rejects them otherwise), and the peer must
// either answer identify listing /vac/waku/relay/2.0.0 or open a relay stream
// to us itself.

import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { Secp256k1PrivateKey } from "@libp2p/crypto/keys";
import { mplex } from "@libp2p/mplex";
import { createFromPrivKey } from "@libp2p/peer-id-factory";
import { tcp } from "@libp2p/tcp";
import { webSockets } from "@libp2p/websockets";
import { all as wsFilterAll } from "@libp2p/websockets/filters";
import { multiaddr } from "@multiformats/multiaddr";
import { createDecoder, createEncoder, message as wakuMessage } from "@waku/core";
import { createRelayNode } from "@waku/sdk/relay";
import { randomBytes } from "node:crypto";

const RELAY_PING_CT = "/relay-ping/1/ping/null";
const env = process.env;

function out(line) {
  process.stdout.write(line + "\n");
}
function err(line) {
  process.stderr.write(line + "\n");
}
function fail(msg, code = 1) {
  err(msg);
  process.exit(code);
}
function intEnv(name, def) {
  const v = env[name];
  if (v === undefined || v === "") return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) fail(`bad ${name}=${v}: want a non-negative integer`);
  return n;
}
const toHex = (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
const utf8 = new TextDecoder("utf-8");
const enc = new TextEncoder();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowUs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
const errText = (e) => JSON.stringify(String(e?.message ?? e));

// ---------------------------------------------------------------- config
const PUBSUB = env.PUBSUB || "/waku/2/rs/16/32";
const CT = env.CT || "/interop/1/test/proto";
const m = /^\/waku\/2\/rs\/(\d+)\/(\d+)$/.exec(PUBSUB);
if (!m) fail(`bad PUBSUB=${PUBSUB}: want /waku/2/rs/<cluster>/<shard>`);
const networkConfig = { clusterId: Number(m[1]), shards: [Number(m[2])] };

const MUXER = env.MUXER || "both";
const muxers = { mplex: [mplex()], yamux: [yamux()], both: [yamux(), mplex()] }[MUXER];
if (!muxers) fail(`bad MUXER=${MUXER}: want mplex, yamux or both`);

const BENCH = env.BENCH === "1";
const BENCH_VERBOSE = env.BENCH_VERBOSE === "1";
const SEND = env.SEND;
const SEND_COUNT_SET = env.SEND_COUNT !== undefined && env.SEND_COUNT !== "";
const SEND_COUNT = intEnv("SEND_COUNT", SEND !== undefined ? 1 : 0);
const SENDING = (SEND !== undefined || (BENCH && SEND_COUNT_SET)) && SEND_COUNT > 0;
const SEND_INTERVAL_MS = intEnv("SEND_INTERVAL_MS", 0);
const SEND_WAIT = env.SEND_WAIT || "subscriber";
if (!["subscriber", "mesh"].includes(SEND_WAIT)) fail(`bad SEND_WAIT=${SEND_WAIT}`);
const BENCH_PAYLOAD_BYTES = Math.max(8, intEnv("BENCH_PAYLOAD_BYTES", 256));
const EXPECT = intEnv("EXPECT", 0);
const ECHO = env.ECHO === "1";
const TIMEOUT_MS = intEnv("TIMEOUT_MS", 30000);
const EXIT_GRACE_MS = intEnv("EXIT_GRACE_MS", 500);
const DIAL_RETRIES = Math.max(1, intEnv("DIAL_RETRIES", 10));
const DIAL_RETRY_MS = intEnv("DIAL_RETRY_MS", 500);
const LISTEN_HOST = env.LISTEN_HOST || "127.0.0.1";

const listen = [];
if (env.LISTEN !== undefined && env.LISTEN !== "")
  listen.push(`/ip4/${LISTEN_HOST}/tcp/${intEnv("LISTEN", 0)}`);
if (env.LISTEN_WS !== undefined && env.LISTEN_WS !== "")
  listen.push(`/ip4/${LISTEN_HOST}/tcp/${intEnv("LISTEN_WS", 0)}/ws`);

let peerId;
if (env.KEY) {
  const hex = env.KEY.replace(/^0x/i, "");
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) fail("bad KEY: want 32 bytes of hex (secp256k1 private key)");
  try {
    peerId = await createFromPrivKey(new Secp256k1PrivateKey(Uint8Array.from(Buffer.from(hex, "hex"))));
  } catch (e) {
    fail(`bad KEY: ${e?.message ?? e}`);
  }
}

// ---------------------------------------------------------------- node
const node = await createRelayNode({
  networkConfig,
  userAgent: "js-waku-interop",
  libp2p: {
    ...(peerId ? { peerId } : {}),
    hideWebSocketInfo: true, // else @waku/sdk prints a banner to stdout
    addresses: { listen },
    transports: [tcp(), webSockets({ filter: wsFilterAll })],
    streamMuxers: muxers,
    connectionEncryption: [noise()]
  }
});
await node.start();
const libp2p = node.libp2p;
const gossipSub = node.relay.gossipSub;
const selfId = libp2p.peerId.toString();

out(`PEERID ${selfId}`);
for (const a of libp2p.getMultiaddrs()) {
  const s = a.toString();
  out(`LISTEN ${s.includes("/p2p/") ? s : `${s}/p2p/${selfId}`}`);
}

libp2p.addEventListener("peer:connect", (e) => out(`CONNECT ${e.detail.toString()}`));
libp2p.addEventListener("connection:open", (e) => {
  const c = e.detail;
  out(`CONNECTION ${c.remotePeer.toString()} ${c.direction} ${c.multiplexer ?? "-"} ${c.encryption ?? "-"} ${c.remoteAddr.toString()}`);
});
libp2p.addEventListener("peer:disconnect", (e) => out(`DISCONNECT ${e.detail.toString()}`));
libp2p.addEventListener("peer:identify", (e) => {
  const d = e.detail;
  out(`IDENTIFY ${d.peerId.toString()} ${JSON.stringify(d.agentVersion ?? "")} ${JSON.stringify(d.protocols ?? [])}`);
});
gossipSub.addEventListener("subscription-change", (e) => {
  for (const s of e.detail.subscriptions)
    out(`SUBSCRIPTION ${e.detail.peerId.toString()} ${s.topic} ${s.subscribe ? 1 : 0}`);
});

// ---------------------------------------------------------------- state / exit
const t0 = 0; // performance.now() counts from process start
let sendsDone = !SENDING;
let received = 0;
const pending = new Set(); // in-flight echo publishes
let finishing = false;
const recvTimes = [];
const latencies = [];

async function stopNode() {
  await Promise.race([node.stop().catch(() => {}), sleep(3000)]);
}

async function finish(code, line) {
  if (finishing) return;
  finishing = true;
  await Promise.allSettled([...pending]);
  if (line === "DONE" && BENCH && EXPECT > 0) benchRecvSummary();
  await sleep(EXIT_GRACE_MS);
  if (line) out(line);
  await stopNode();
  process.exit(code);
}

function checkDone() {
  if (!sendsDone || received < EXPECT) return;
  if (!SENDING && EXPECT === 0) return; // serve mode: until timeout/signal
  void finish(0, "DONE");
}

for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => void finish(0, `STOP ${sig}`));
process.on("unhandledRejection", (e) => {
  // js-libp2p occasionally rejects on closing streams; report, don't die.
  err(`unhandledRejection: ${e?.stack ?? e}`);
});

if (TIMEOUT_MS > 0) {
  setTimeout(() => {
    if (finishing) return;
    if (!SENDING && EXPECT === 0) return void finish(0, "STOP timeout");
    err(`TIMEOUT after ${TIMEOUT_MS} ms: received ${received}/${EXPECT}, sends ${sendsDone ? "done" : "not done"}`);
    finishing = true;
    void stopNode().finally(() => process.exit(2));
  }, TIMEOUT_MS).unref?.();
}

// ---------------------------------------------------------------- receive
const encoder = createEncoder({ pubsubTopic: PUBSUB, contentTopic: CT });
const decoder = createDecoder(CT, PUBSUB);

function fmtRecipients(recipients) {
  const ids = (recipients ?? []).map((p) => p.toString());
  return `${ids.length} ${ids.length ? ids.join(",") : "-"}`;
}

async function publish(payload, tag) {
  const shown = JSON.stringify(utf8.decode(payload));
  try {
    const res = await node.relay.send(encoder, { payload });
    if (res.failures?.length) {
      out(`${tag}_FAIL ${shown} ${JSON.stringify(res.failures.map((f) => String(f.error)).join(","))}`);
      return false;
    }
    out(`${tag === "SEND" ? "SENT" : "ECHO_SENT"} ${fmtRecipients(res.successes)} ${shown}`);
    return true;
  } catch (e) {
    out(`${tag}_FAIL ${shown} ${errText(e)}`);
    return false;
  }
}

await node.relay.subscribe([decoder], (msg) => {
  if (msg.contentTopic !== CT || msg.pubsubTopic !== PUBSUB) return;
  const payload = msg.payload ?? new Uint8Array();
  received++;
  const tRecv = performance.now();
  if (BENCH) {
    recvTimes.push(tRecv);
    if (payload.length >= 8) {
      const ts = Buffer.from(payload.buffer, payload.byteOffset, 8).readBigUInt64BE(0);
      const lat = Number(nowUs() - ts);
      if (Math.abs(lat) < 3600e6) latencies.push(lat);
    }
  }
  if (!BENCH || BENCH_VERBOSE) {
    out(`RECV ${msg.pubsubTopic} ${msg.contentTopic} ${JSON.stringify(utf8.decode(payload))} ts ${(msg._rawTimestamp ?? 0n).toString()}`);
    out(`RECV_HEX ${toHex(payload)}`);
  }
  if (ECHO && !utf8.decode(payload.subarray(0, 5)).startsWith("echo:")) {
    const reply = new Uint8Array(5 + payload.length);
    reply.set(enc.encode("echo:"), 0);
    reply.set(payload, 5);
    const p = publish(reply, "ECHO");
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }
  checkDone();
});

// Diagnostics: messages on our pubsub topic with another content topic.
gossipSub.addEventListener("gossipsub:message", (e) => {
  const { msg } = e.detail;
  if (msg.topic !== PUBSUB) return;
  try {
    const w = wakuMessage.version_0.proto.WakuMessage.decode(msg.data);
    if (w.contentTopic === CT || w.contentTopic === RELAY_PING_CT) return;
    out(`RECV_OTHER ${msg.topic} ${JSON.stringify(w.contentTopic ?? "")} ${w.payload?.length ?? 0}`);
  } catch {
    out(`RECV_OTHER ${msg.topic} "<undecodable>" ${msg.data.length}`);
  }
});

// ---------------------------------------------------------------- dial
for (const addr of (env.DIAL || "").split(",").map((s) => s.trim()).filter(Boolean)) {
  let ma;
  try {
    ma = multiaddr(addr);
  } catch (e) {
    fail(`bad DIAL=${addr}: ${e?.message ?? e}`);
  }
  let lastErr;
  let ok = false;
  for (let i = 0; i < DIAL_RETRIES && !ok; i++) {
    try {
      const conn = await libp2p.dial(ma);
      out(`DIALED ${addr} ${conn.remotePeer.toString()}`);
      ok = true;
    } catch (e) {
      lastErr = e;
      if (i + 1 < DIAL_RETRIES) await sleep(DIAL_RETRY_MS);
    }
  }
  if (!ok) {
    err(`DIAL_FAIL ${addr} ${lastErr?.message ?? lastErr}`);
    await stopNode();
    process.exit(1);
  }
}

// ---------------------------------------------------------------- send
function benchRecvSummary() {
  const n = recvTimes.length;
  const first = n ? recvTimes[0] - t0 : 0;
  const last = n ? recvTimes[n - 1] - t0 : 0;
  const span = last - first;
  let line =
    `BENCH received=${received} first_ms=${first.toFixed(1)} last_ms=${last.toFixed(1)}` +
    ` span_ms=${span.toFixed(1)} rate_msg_s=${n > 1 && span > 0 ? ((n - 1) / (span / 1000)).toFixed(1) : "0"}`;
  if (latencies.length) {
    const s = [...latencies].sort((a, b) => a - b);
    const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
    const avg = s.reduce((a, b) => a + b, 0) / s.length;
    line +=
      ` lat_n=${s.length} lat_us_min=${s[0]} lat_us_avg=${Math.round(avg)} lat_us_p50=${q(0.5)}` +
      ` lat_us_p99=${q(0.99)} lat_us_max=${s[s.length - 1]}`;
  }
  out(line);
}

function peersReady() {
  const ids =
    SEND_WAIT === "mesh" ? node.relay.getMeshPeers(PUBSUB) : gossipSub.getSubscribers(PUBSUB).map(String);
  return ids.map(String);
}

if (SENDING) {
  let ready = peersReady();
  while (ready.length === 0) {
    await sleep(50);
    ready = peersReady();
  }
  out(`READY ${JSON.stringify(ready)}`);
  const tStart = performance.now();
  let failed = 0;
  for (let i = 0; i < SEND_COUNT; i++) {
    let payload;
    if (BENCH) {
      payload = new Uint8Array(randomBytes(BENCH_PAYLOAD_BYTES));
      Buffer.from(payload.buffer, payload.byteOffset, 8).writeBigUInt64BE(nowUs(), 0);
      try {
        const res = await node.relay.send(encoder, { payload });
        if (res.failures?.length) failed++;
      } catch {
        failed++;
      }
    } else {
      const text = SEND_COUNT_SET ? `${SEND}-${i}` : SEND;
      if (!(await publish(enc.encode(text), "SEND"))) failed++;
    }
    if (SEND_INTERVAL_MS > 0 && i + 1 < SEND_COUNT) await sleep(SEND_INTERVAL_MS);
  }
  if (BENCH) {
    const el = performance.now() - tStart;
    out(
      `BENCH sent=${SEND_COUNT - failed} failed=${failed} elapsed_ms=${el.toFixed(1)}` +
        ` rate_msg_s=${el > 0 ? (SEND_COUNT / (el / 1000)).toFixed(1) : "0"} payload_bytes=${BENCH_PAYLOAD_BYTES}`
    );
  }
  if (failed > 0 && !BENCH) {
    err(`SEND_FAILED ${failed}/${SEND_COUNT} messages were not published`);
    finishing = true;
    await stopNode();
    process.exit(1);
  }
  sendsDone = true;
}
checkDone();
