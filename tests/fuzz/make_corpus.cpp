// Writes the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/) from
// real bytes, made the way the node and its tests make them: archives and
// their torrent, magnet links and their signed messages, hash-ratchet
// sealed bytes, and the libp2p handshake and frames. Run once after a format
// changes: make_corpus DIR.
#include "core/archive_builder.hpp"
#include "core/discv5_wire.hpp"
#include "core/enr.hpp"
#include "core/hex.hpp"
#include "core/peer_exchange.hpp"
#include "core/hash_ratchet.hpp"
#include "core/message_jsonl.hpp"
#include "core/status_envelope.hpp"
#include "core/store_query.hpp"
#include "core/synthetic.hpp"
#include "net/p2p/connection.hpp"
#include "net/p2p/enr_peer.hpp"
#include "net/p2p/gossipsub.hpp"
#include "net/p2p/multiaddr.hpp"
#include "net/p2p/multistream.hpp"
#include "net/p2p/muxer.hpp"
#include "net/p2p/noise.hpp"
#include "net/p2p/stream_protocol.hpp"
#include "net/torrent_file.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace fs = std::filesystem;
using namespace annals;

namespace {

fs::path out_root;

void seed(const std::string& target, const std::string& name, const std::string& bytes) {
  auto dir = out_root / target;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary | std::ios::trunc) << bytes;
}

std::string read(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Two parts as fuzz::split reads them: a 2-byte big-endian length, then both.
std::string two(const std::string& first, const std::string& second) {
  auto n = std::min<std::size_t>(first.size(), 0xffff);
  std::string out{static_cast<char>(n >> 8), static_cast<char>(n & 0xff)};
  return out + first.substr(0, n) + second;
}

template <class T>
T must(result<T> r, const char* what) {
  if (!r) {
    std::cerr << "make_corpus: " << what << ": " << r.error().to_string() << "\n";
    std::exit(1);
  }
  return std::move(*r);
}

std::string must_hex(std::string_view text) {
  auto bytes = from_hex(text);
  if (!bytes) {
    std::cerr << "make_corpus: bad hex seed\n";
    std::exit(1);
  }
  return *bytes;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_corpus DIR\n";
    return 2;
  }
  out_root = argv[1];
  auto work = fs::temp_directory_path() / "annals-make-corpus";
  fs::remove_all(work);

  // Archives of a synthetic community: index, data, torrent, magnet link.
  auto community = synthetic_community::make(2, 11);
  synthetic_traffic traffic;
  traffic.count = 40;
  traffic.from = 1700000000;
  traffic.to = traffic.from + 3 * 86400;
  auto messages = make_synthetic_messages(community, traffic);
  archive_layout layout{work, community.key.public_key().community_id()};
  must(build_archives(layout,
                      build_request{traffic.from, traffic.to, 86400, community.channel_topics},
                      memory_source(messages)),
       "build");
  auto index = read(layout.index_file());
  auto data = read(layout.data_file());
  seed("fuzz_index", "index", index);
  seed("fuzz_index", "empty", "");
  // Index and the first archive only: a directory small enough to mutate.
  seed("fuzz_archive_dir", "set", two(index, data.substr(0, std::min<std::size_t>(data.size(), 120000))));
  // No index, one stored message's bytes: read_wire against protobuf.
  std::string message;
  append_wire(message, messages.front());
  seed("fuzz_archive_dir", "message", two("", message));
  auto summary = must(write_archive_torrent(layout, {{"udp://127.0.0.1:6969/announce"}, "annals", 0}),
                      "torrent");
  auto torrent = read(layout.torrent_file());
  auto info = torrent.find("4:info");
  auto magnet = magnet_link(summary.info_hash, layout.community_id, {"udp://127.0.0.1:6969/announce"},
                            {"127.0.0.1:9025"});
  if (info != std::string::npos)
    seed("fuzz_torrent", "info", two(magnet, torrent.substr(info + 6, torrent.size() - info - 7)));
  seed("fuzz_torrent", "torrent", two(magnet, torrent));

  // A signed magnet-link message, each layer on its own.
  auto node_key = private_key::from_bytes(std::string(32, '\x21'));
  auto waku = must(make_magnetlink_waku_message(community.key, *node_key, {1700000000123, magnet},
                                                1700000000123000000, "installation-1"),
                   "magnetlink message");
  seed("fuzz_status_envelope", "waku_message", waku.SerializeAsString());
  seed("fuzz_status_envelope", "payload", waku.payload());
  seed("fuzz_identify", "waku_message", waku.SerializeAsString());

  // Store requests as js-waku sends them (topic, both directions, a cursor,
  // a hash lookup), and an answer carrying a message.
  store_query topic_query;
  topic_query.request_id = "0b2a8f5e-1c3d-4e5f-9a7b-8c6d5e4f3a2b";
  topic_query.include_data = true;
  topic_query.pubsub_topic = "/waku/2/rs/16/32";
  topic_query.content_topics = {"/a/1/x/proto", "/b/1/y/proto"};
  topic_query.time_start = 1700000000000000000;
  topic_query.forward = true;
  topic_query.limit = 20;
  seed("fuzz_store_query", "topics_forward", encode_store_query(topic_query));
  auto backward = topic_query;
  backward.forward = false;
  backward.cursor = std::string(as_view(waku_message_hash("/waku/2/rs/16/32", waku)));
  seed("fuzz_store_query", "topics_backward_cursor", encode_store_query(backward));
  store_query lookup;
  lookup.request_id = "lookup";
  lookup.message_hashes = {*backward.cursor, std::string(32, '\x07')};
  seed("fuzz_store_query", "hash_lookup", encode_store_query(lookup));
  store_page page;
  page.messages.push_back({*backward.cursor, "/waku/2/rs/16/32", waku.content_topic(),
                           waku.timestamp(), waku.SerializeAsString()});
  page.cursor = *backward.cursor;
  seed("fuzz_store_query", "answer", encode_store_answer("answer", page, true));

  // JSONL lines as archive build reads them.
  seed("fuzz_jsonl", "line",
       R"({"timestamp":1700000000,"topic":"0xcd423760","payload":"aGVsbG8=","sig":"0x04)"
         + std::string(128, 'a') + R"(","hash":"0x5e1f","third_party_id":"d-1"})");

  // Hash-ratchet: a sealed message and a keys blob.
  hr_key key;
  auto group = community.key.public_key().compressed();
  key.group_id = std::string(reinterpret_cast<const char*>(group.data()), group.size());
  key.timestamp_ms = 1700000000000;
  key.key.fill(0x11);
  seed("fuzz_hash_ratchet", "sealed", must(hr_seal("archive bytes", key, 1, "inst"), "hr_seal"));

  // libp2p: multiaddrs, a multistream proposal, Noise's first message,
  // muxer frames, a gossipsub RPC, identify, and a dialer's opening bytes.
  auto addr = must(p2p::multiaddr::parse("/ip4/127.0.0.1/tcp/60000"), "multiaddr");
  seed("fuzz_varint_multiaddr", "text", "/ip4/127.0.0.1/tcp/60000/p2p/16Uiu2HAmPFTTe9KwBNsWS7UzUPAGoZRdRjmDHf2yGfDV625jsqi7");
  seed("fuzz_varint_multiaddr", "bytes", addr.to_bytes());
  p2p::multistream_dialer dialer({"/noise"});
  seed("fuzz_multistream", "proposal", dialer.start());
  auto initiator = must(p2p::noise_handshake::initiator(*node_key), "noise");
  auto first = must(initiator.write_message(), "noise message");
  seed("fuzz_noise", "first", two(first.substr(2), first.substr(2)));
  for (auto [protocol, flag] : {std::pair{"/yamux/1.0.0", '\x03'}, std::pair{"/mplex/6.7.0", '\x02'}}) {
    auto mux = p2p::make_muxer(protocol, true);
    auto stream = mux->open_stream();
    (void)mux->write(stream, "/multistream/1.0.0\n");
    mux->close(stream);
    seed("fuzz_muxer", std::string(protocol).substr(1, 5), std::string(1, flag) + mux->take_output());
  }
  // A peer's subscription, then our publish to it.
  auto now = p2p::gossipsub_router::clock::now();
  p2p::gossipsub_router peer, router;
  peer.subscribe("/waku/2/rs/16/32");
  peer.add_peer(1);
  router.add_peer(1);
  std::vector<p2p::gossip_message> delivered;
  std::string subscription;
  for (auto& [to, rpc, own] : peer.take_outgoing()) {
    subscription = rpc;
    (void)router.handle_rpc(1, rpc, now, delivered);
  }
  (void)router.take_outgoing();
  (void)router.publish("/waku/2/rs/16/32", waku.SerializeAsString(), now);
  std::string published;
  for (auto& [to, rpc, own] : router.take_outgoing())
    published += rpc;
  seed("fuzz_gossipsub", "rpc", two(subscription, published));
  p2p::connection_config config;
  config.identity = *node_key;
  struct quiet : p2p::connection_handler {
    void on_established(const p2p::peer_id&, const std::string&) override {}
    void on_relay_rpc(std::string) override {}
  } handler;
  seed("fuzz_identify", "identify",
       p2p::identify_message(config, p2p::builtin_protocols(config, handler)));
  p2p::connection opener(p2p::connection::role::dialer, config, handler);
  seed("fuzz_connection", "dialer_start", opener.start());

  // A Waku relay node's record, a query and an answer carrying two records.
  std::vector<std::string> records;
  for (const char* address : {"/ip4/10.1.2.3/tcp/60000", "/ip4/127.0.0.1/tcp/60001"}) {
    auto record = must(make_enr(private_key::generate(), 3,
                                p2p::own_enr_fields({address, "/dns4/node.example/tcp/443/wss"},
                                                    waku2_relay | waku2_store,
                                                    relay_shards{16, {32, 64}})),
                       "enr");
    records.push_back(record.encoded);
  }
  seed("fuzz_discovery", "enr", records[0]);
  seed("fuzz_discovery", "px_query", encode_px_query(8));
  px_answer answer;
  answer.status = 200;
  answer.records = records;
  seed("fuzz_discovery", "px_answer", encode_px_answer(answer));
  seed("fuzz_discovery", "enrtree_branch",
       "enrtree-branch:2XS2367YHAXJFGLZHVAWLQD4ZY,H4FHT4B454P6UXFD7JCYQ5PWDY");
  seed("fuzz_discovery", "enrtree_root",
       "enrtree-root:v1 e=JWXYDBPXYWG6FX3GMDIBFA6CJ4 l=C7HRFPF3BLGF3YR4DY5KX3SMBE seq=1 "
       "sig=o908WmNp7LibOfPsr4btQwatZJ5URBr2ZAuxvK4UWHlsB9sUOTJQaGAlLPVAhM__XJesCHxLISo94z5Z2a463gA");
  // discv5: the spec's ping packet (it opens with the zero key the target
  // tries), a WHOAREYOU, a handshake, and each message type.
  seed("fuzz_discv5", "ping_packet",
       must_hex("00000000000000000000000000000000088b3d4342774649325f313964a39e55"
                "ea96c005ad52be8c7560413a7008f16c9e6d2f43bbea8814a546b7409ce783d3"
                "4c4f53245d08dab84102ed931f66d1492acb308fa1c6715b9d139b81acbdcc"));
  seed("fuzz_discv5", "whoareyou_packet",
       must_hex("00000000000000000000000000000000088b3d434277464933a1ccc59f5967ad"
                "1d6035f15e528627dde75cd68292f9e6c27d6b66c8100a873fcbaed4e16b8d"));
  seed("fuzz_discv5", "handshake_packet",
       must_hex("00000000000000000000000000000000088b3d4342774649305f313964a39e55"
                "ea96c005ad521d8c7560413a7008f16c9e6d2f43bbea8814a546b7409ce783d3"
                "4c4f53245d08da4bb252012b2cba3f4f374a90a75cff91f142fa9be3e0a5f3ef"
                "268ccb9065aeecfd67a999e7fdc137e062b2ec4a0eb92947f0d9a74bfbf44dfb"
                "a776b21301f8b65efd5796706adff216ab862a9186875f9494150c4ae06fa4d1"
                "f0396c93f215fa4ef524f1eadf5f0f4126b79336671cbcf7a885b1f8bd2a5d83"
                "9cf8"));
  seed("fuzz_discv5", "findnode", discv5::encode_message(discv5::findnode{"\x01", {0, 255, 256}}));
  seed("fuzz_discv5", "nodes", discv5::encode_message(discv5::nodes{"\x01", 1, records}));
  seed("fuzz_discv5", "pong",
       discv5::encode_message(discv5::pong{"\x01", 3, std::string("\x0a\x00\x00\x01", 4), 9000}));
  fs::remove_all(work);
  std::cout << "seeds written to " << out_root << "\n";
  return 0;
}
