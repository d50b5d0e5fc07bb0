// annals' discv5 service: against code no one here wrote, @chainsafe/discv5
// 9.0.1 from npm (tests/js/discv5-peer.mjs), with the protocol ID it
// supports ("discv5"; Waku's "d5waku" differs only in those six bytes, which
// the spec-vector tests cover): handshakes, PING and FINDNODE both ways. And
// against hostile peers: a flood, garbage, NODES answers it did not ask for.
#include "core/discv5_wire.hpp"
#include "core/enr.hpp"
#include "core/hex.hpp"
#include "net/p2p/discv5.hpp"
#include "tests/dns_server.hpp"
#include "tests/eventually.hpp"
#include "tests/process.hpp"

#include <boost/asio.hpp>
#include <catch2/catch.hpp>

#include <future>
#include <poll.h>
#include <regex>
#include <thread>

using namespace annals;
using namespace annals::p2p;
using namespace std::chrono_literals;

namespace {

/// A discv5 service on its own I/O thread, reached through post + wait.
struct discv5_node {
  boost::asio::io_context io;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::thread thread;
  std::unique_ptr<discv5_service> service;
  private_key key = private_key::generate();
  enr_record record;
  std::mutex mutex;
  std::vector<std::string> found;

  explicit discv5_node(discv5_config config, double rate = 1000) {
    config.enabled = true;
    config.listen = "127.0.0.1:0";
    config.protocol_id = std::string(discv5::ethereum_protocol_id);
    config.requests_per_second_per_ip = rate;
    auto s = discv5_service::start(
      io, key, config,
      [this](std::vector<std::string> records) {
        std::lock_guard lock(mutex);
        for (auto& r : records)
          found.push_back(std::move(r));
      },
      nullptr);
    REQUIRE(s);
    service = std::move(*s);
    enr_fields f;
    f.ip = std::array<std::uint8_t, 4>{127, 0, 0, 1};
    f.udp = service->port();
    f.waku2 = waku2_relay;
    auto r = make_enr(key, 1, f);
    REQUIRE(r);
    record = *r;
    work.emplace(io.get_executor());
    thread = std::thread([this] { io.run(); });
    on_io([this] { service->set_local_record(record); });
  }

  ~discv5_node() {
    // The service's handlers run out (cancelled) before run() returns.
    on_io([this] { service.reset(); });
    work.reset();
    thread.join();
  }

  template <class F>
  auto on_io(F f) -> decltype(f()) {
    std::promise<decltype(f())> p;
    boost::asio::post(io, [&] {
      if constexpr (std::is_void_v<decltype(f())>) {
        f();
        p.set_value();
      } else {
        p.set_value(f());
      }
    });
    return p.get_future().get();
  }

  result<std::vector<enr_record>> find_node(const enr_record& peer,
                                            std::vector<std::uint16_t> distances) {
    std::promise<result<std::vector<enr_record>>> p;
    boost::asio::post(io, [&] {
      service->find_node(peer, distances, [&](auto r) { p.set_value(std::move(r)); });
    });
    return p.get_future().get();
  }

  discv5_stats stats() {
    return on_io([this] { return service->stats(); });
  }
};

std::unique_ptr<test::child_process> start_js(const test::temp_dir& dir, const std::string& tag,
                                              std::vector<std::string> args) {
  std::filesystem::path js = ANNALS_JS_DIR;
  if (!std::filesystem::exists(js / "node_modules" / "@chainsafe" / "discv5"))
    FAIL("tests/js/node_modules lacks @chainsafe/discv5: run scripts/setup.sh (npm ci in "
         "tests/js)");
  std::vector<std::string> argv{"node", "discv5-peer.mjs"};
  argv.insert(argv.end(), args.begin(), args.end());
  // bcrypto's pure-JS backend: the npm install skips native builds.
  return std::make_unique<test::child_process>(argv, dir / (tag + ".out"), dir / (tag + ".err"),
                                               std::vector<std::string>{"NODE_BACKEND=js"}, js);
}

std::string field(const std::string& line, const std::string& name) {
  std::smatch m;
  std::regex re("\"" + name + "\":\"([^\"]*)\"");
  return std::regex_search(line, m, re) ? m[1].str() : std::string();
}

void require_js(bool condition, const test::child_process& js, const char* what) {
  if (!condition)
    FAIL(what << "\njs stdout:\n" << js.out() << "\njs stderr:\n" << js.err());
}

std::string hex_key() {
  auto k = private_key::generate();
  return to_hex(k.bytes());
}

/// A record of a node that does not run, placed at a known distance from
/// `from`'s ID: what a FINDNODE for that distance must return.
enr_record bystander(std::uint16_t port, std::array<std::uint8_t, 4> ip = {127, 0, 0, 1}) {
  enr_fields f;
  f.ip = ip;
  f.udp = port;
  auto r = make_enr(private_key::generate(), 1, f);
  REQUIRE(r);
  return *r;
}

} // namespace

TEST_CASE("discv5 interop: annals handshakes with @chainsafe/discv5 and its FINDNODE gets the "
          "npm node's records",
          "[p2p][discv5][js]") {
  test::temp_dir dir("annals-discv5-js");
  auto other = bystander(9);
  auto js = start_js(dir, "js", {"--key", hex_key(), "--port",
                                 std::to_string(test::free_udp_port()), "--add", other.text(),
                                 "--seconds", "30"});
  auto ready = js->wait_for_line([](auto& l) { return l.find("\"ready\"") != std::string::npos; },
                                 20s);
  require_js(ready.has_value(), *js, "the npm discv5 node did not start");
  auto js_record = parse_enr(field(*ready, "enr"));
  REQUIRE(js_record);

  discv5_node annals_node(discv5_config{});
  // Distance 0: the node's own record, over a session annals initiated.
  auto own = annals_node.find_node(*js_record, {0});
  require_js(own.has_value(), *js, "FINDNODE [0] to the npm node got no answer");
  REQUIRE(own->size() == 1);
  CHECK(own->front().node_id() == js_record->node_id());
  CHECK(annals_node.stats().handshakes == 1);
  // The distance of the record it was given: exactly that record.
  auto d = static_cast<std::uint16_t>(
    discv5::log_distance(js_record->node_id(), other.node_id()));
  auto at_d = annals_node.find_node(*js_record, {d});
  REQUIRE(at_d);
  bool has_other = false;
  for (const auto& r : *at_d) {
    CHECK(discv5::log_distance(js_record->node_id(), r.node_id()) == d);
    has_other |= r.node_id() == other.node_id();
  }
  CHECK(has_other);
  // The second request rode the same session: no second handshake.
  CHECK(annals_node.stats().handshakes == 1);
  // And the npm node took annals into its table, which it does only after
  // a handshake that verified annals' record and identity proof.
  auto added = js->wait_for_line(
    [&](auto& l) {
      return l.find("enrAdded") != std::string::npos
             && field(l, "nodeId") == to_hex(annals_node.record.node_id());
    },
    10s);
  require_js(added.has_value(), *js, "the npm node never added annals to its table");
}

TEST_CASE("discv5 interop: @chainsafe/discv5 handshakes with annals, gets a PONG, and its "
          "FINDNODE gets annals' own record and its table's",
          "[p2p][discv5][js]") {
  test::temp_dir dir("annals-discv5-js2");
  auto other = bystander(9);
  discv5_config config;
  config.bootstrap = {other.text()};
  discv5_node annals_node(config);
  auto d = static_cast<std::uint16_t>(
    discv5::log_distance(annals_node.record.node_id(), other.node_id()));
  auto js = start_js(dir, "js", {"--key", hex_key(), "--port",
                                 std::to_string(test::free_udp_port()), "--peer",
                                 annals_node.record.text(), "--find",
                                 "0," + std::to_string(d), "--seconds", "30"});
  auto nodes = js->wait_for_line(
    [](auto& l) {
      return l.find("\"nodes\"") != std::string::npos || l.find("\"error\"") != std::string::npos;
    },
    20s);
  require_js(nodes.has_value() && nodes->find("\"nodes\"") != std::string::npos, *js,
             "the npm node's FINDNODE to annals failed");
  auto pong = js->wait_for_line([](auto& l) { return l.find("\"pong\"") != std::string::npos; },
                                1s);
  require_js(pong.has_value(), *js, "no PONG line");
  CHECK(pong->find("\"enrSeq\":1") != std::string::npos);
  CHECK(nodes->find(to_hex(annals_node.record.node_id())) != std::string::npos);
  CHECK(nodes->find(to_hex(other.node_id())) != std::string::npos);
  auto s = annals_node.stats();
  CHECK(s.handshakes == 1);
  CHECK(s.findnode_served == 1);
  CHECK(s.malformed == 0);
  CHECK(s.handshakes_failed == 0);
}

namespace {

using udp = boost::asio::ip::udp;

/// One datagram within `timeout`, or nothing.
std::optional<std::string> receive(udp::socket& sock, std::chrono::milliseconds timeout,
                                   udp::endpoint* from = nullptr) {
  pollfd p{sock.native_handle(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0)
    return std::nullopt;
  std::string buf(2048, '\0');
  udp::endpoint sender;
  auto n = sock.receive_from(boost::asio::buffer(buf), sender);
  buf.resize(n);
  if (from)
    *from = sender;
  return buf;
}

template <std::size_t N>
std::array<std::uint8_t, N> random_array() {
  std::array<std::uint8_t, N> out{};
  auto k = private_key::generate().bytes();
  std::copy_n(k.begin(), N, out.begin());
  return out;
}

std::string as_string(const std::array<std::uint8_t, 16>& a) {
  return std::string(reinterpret_cast<const char*>(a.data()), a.size());
}

} // namespace

TEST_CASE("discv5: a flood of session-less packets from one address gets a bounded number of "
          "WHOAREYOUs, garbage is counted, and challenges stay bounded",
          "[p2p][discv5][hostile]") {
  discv5_config config;
  config.max_challenges = 50;
  discv5_node node(config, 20);
  boost::asio::io_context io;
  udp::socket sock(io, udp::endpoint(boost::asio::ip::make_address_v4("127.0.0.1"), 0));
  udp::endpoint to(boost::asio::ip::make_address_v4("127.0.0.1"), node.service->port());
  auto started = std::chrono::steady_clock::now();
  const int flood = 1000, garbage = 50;
  for (int i = 0; i < flood; ++i) {
    auto src = private_key::generate().bytes();  // any 32 bytes name a node
    auto header = discv5::make_header(discv5::ethereum_protocol_id, discv5::packet_kind::message,
                                      random_array<12>(), discv5::message_authdata(src));
    auto packet = discv5::encode_packet(node.record.node_id(), random_array<16>(), header,
                                        std::string(44, 'x'));
    sock.send_to(boost::asio::buffer(packet), to);
    if (i % 20 == 0)
      std::this_thread::sleep_for(1ms);  // stay inside the socket buffers
  }
  for (int i = 0; i < garbage; ++i) {
    auto junk = std::string(100, static_cast<char>(i));
    sock.send_to(boost::asio::buffer(junk), to);
  }
  std::size_t replies = 0;
  while (receive(sock, 500ms))
    ++replies;
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  auto s = node.stats();
  CAPTURE(replies, took.count(), s.packets_in, s.rate_limited, s.malformed);
  // A burst of 2 × the rate, then the rate: far fewer answers than packets.
  CHECK(replies >= 20);
  CHECK(replies <= 40 + static_cast<std::size_t>(20 * took.count()) + 5);
  CHECK(s.rate_limited + replies + s.malformed == s.packets_in);
  CHECK(s.rate_limited > flood / 2);
  CHECK(s.malformed == garbage);
  CHECK(s.challenges <= 50);
  CHECK(s.sessions == 0);
}

namespace {

/// A hostile discv5 peer written by hand from the wire functions: it
/// answers annals' first packet with a WHOAREYOU, checks the handshake and
/// then holds the session's keys.
struct hand_peer {
  boost::asio::io_context io;
  udp::socket sock{io, udp::endpoint(boost::asio::ip::make_address_v4("127.0.0.1"), 0)};
  private_key key = private_key::generate();
  enr_record record;
  discv5::node_id id{};
  discv5::session_keys keys;
  udp::endpoint annals_ep;
  const std::string_view proto = discv5::ethereum_protocol_id;

  hand_peer() {
    enr_fields f;
    f.ip = std::array<std::uint8_t, 4>{127, 0, 0, 1};
    f.udp = sock.local_endpoint().port();
    auto r = make_enr(key, 1, f);
    REQUIRE(r);
    record = *r;
    id = record.node_id();
  }

  /// Takes annals' session-less packet through the handshake; answers the
  /// message the handshake carried.
  discv5::message handshake(const discv5_node& node) {
    auto first = receive(sock, 2000ms, &annals_ep);
    REQUIRE(first);
    auto p1 = discv5::decode_packet(proto, id, *first);
    REQUIRE(p1);
    REQUIRE(p1->kind == discv5::packet_kind::message);
    CHECK(discv5::message_source(*p1) == node.record.node_id());
    // WHOAREYOU with enr-seq 0: the handshake must carry annals' record.
    auto iv = random_array<16>();
    auto header = discv5::make_header(proto, discv5::packet_kind::whoareyou, p1->nonce,
                                      discv5::whoareyou_authdata({random_array<16>(), 0}));
    auto challenge_data = as_string(iv) + header;
    sock.send_to(boost::asio::buffer(discv5::encode_packet(node.record.node_id(), iv, header, "")),
                 annals_ep);
    auto second = receive(sock, 2000ms);
    REQUIRE(second);
    auto p2 = discv5::decode_packet(proto, id, *second);
    REQUIRE(p2);
    REQUIRE(p2->kind == discv5::packet_kind::handshake);
    auto auth = discv5::parse_handshake(*p2);
    REQUIRE(auth);
    REQUIRE(!auth->record.empty());
    auto their_record = decode_enr(auth->record);
    REQUIRE(their_record);
    CHECK(verify_compact_any_s(their_record->key,
                               discv5::id_proof_digest(challenge_data, auth->ephemeral_key, id),
                               auth->id_signature));
    auto eph = public_key::parse(auth->ephemeral_key);
    REQUIRE(eph);
    keys = discv5::derive_keys(ecdh_compressed(key, *eph), auth->src, id, challenge_data);
    auto pt = discv5::open(keys.initiator, p2->nonce, p2->sealed, p2->associated_data());
    REQUIRE(pt);
    auto m = discv5::decode_message(*pt);
    REQUIRE(m);
    return *m;
  }

  /// A message in the session (the handshake's recipient writes with the
  /// recipient key).
  void send(const discv5_node& node, const discv5::message& m) {
    auto nonce = random_array<12>();
    auto iv = random_array<16>();
    auto header = discv5::make_header(proto, discv5::packet_kind::message, nonce,
                                      discv5::message_authdata(id));
    auto sealed = discv5::seal(keys.recipient, nonce, discv5::encode_message(m),
                               as_string(iv) + header);
    sock.send_to(
      boost::asio::buffer(discv5::encode_packet(node.record.node_id(), iv, header, sealed)),
      annals_ep);
  }
};

} // namespace

TEST_CASE("discv5: a NODES answer with a record at a distance not asked for, one whose "
          "signature fails and one at 0.0.0.0 gives only the good record, and counts the others",
          "[p2p][discv5][hostile]") {
  discv5_node node(discv5_config{});
  hand_peer peer;
  auto at_distance = [&](bool want_256, std::array<std::uint8_t, 4> ip = {127, 0, 0, 1}) {
    while (true) {
      auto r = bystander(9, ip);
      if ((discv5::log_distance(peer.id, r.node_id()) == 256) == want_256)
        return r;
    }
  };
  auto good = at_distance(true), elsewhere = at_distance(false), forged = at_distance(true),
       nowhere = at_distance(true, {0, 0, 0, 0});
  auto forged_bytes = forged.encoded;
  forged_bytes.back() ^= 1;  // the signature no longer covers it

  std::promise<result<std::vector<enr_record>>> answer;
  boost::asio::post(node.io, [&] {
    node.service->find_node(peer.record, {256}, [&](auto r) { answer.set_value(std::move(r)); });
  });
  auto m = peer.handshake(node);
  REQUIRE(std::holds_alternative<discv5::findnode>(m));
  // The answer: one good record, one at distance 255 or less, one forged,
  // one at 0.0.0.0.
  peer.send(node, discv5::nodes{discv5::id_of(m), 1,
                                {good.encoded, elsewhere.encoded, forged_bytes, nowhere.encoded}});
  auto got = answer.get_future().get();
  REQUIRE(got);
  REQUIRE(got->size() == 1);
  CHECK(got->front().node_id() == good.node_id());
  auto s = node.stats();
  CHECK(s.records_received == 4);
  CHECK(s.records_refused == 3);
  CHECK(s.handshakes == 1);
  // What reached the host's peer manager: the good record alone.
  std::lock_guard lock(node.mutex);
  REQUIRE(node.found.size() == 1);
  CHECK(node.found.front() == good.encoded);
}

TEST_CASE("discv5: a FINDNODE flood inside a session is answered at the rate, the rest counted",
          "[p2p][discv5][hostile]") {
  discv5_node node(discv5_config{}, 20);
  hand_peer peer;
  boost::asio::post(node.io, [&] {
    node.service->find_node(peer.record, {256}, [](auto) {});
  });
  auto m = peer.handshake(node);
  peer.send(node, discv5::nodes{discv5::id_of(m), 1, {}});
  auto started = std::chrono::steady_clock::now();
  const int flood = 500;
  for (int i = 0; i < flood; ++i) {
    peer.send(node, discv5::findnode{std::string(1, static_cast<char>(i % 200 + 1)), {0}});
    if (i % 20 == 0)
      std::this_thread::sleep_for(1ms);
  }
  std::size_t answers = 0;
  while (auto reply = receive(peer.sock, 500ms)) {
    auto p = discv5::decode_packet(peer.proto, peer.id, *reply);
    REQUIRE(p);
    auto pt = discv5::open(peer.keys.initiator, p->nonce, p->sealed, p->associated_data());
    REQUIRE(pt);  // every answer is in the session, sealed with annals' key
    auto a = discv5::decode_message(*pt);
    REQUIRE(a);
    REQUIRE(std::holds_alternative<discv5::nodes>(*a));
    REQUIRE(std::get<discv5::nodes>(*a).records.size() == 1);  // distance 0: annals itself
    ++answers;
  }
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  auto s = node.stats();
  CAPTURE(answers, took.count(), s.rate_limited, s.findnode_served);
  CHECK(answers == s.findnode_served);
  CHECK(answers >= 20);
  CHECK(answers <= 40 + static_cast<std::size_t>(20 * took.count()) + 5);
  CHECK(s.findnode_served + s.rate_limited >= flood - 5);  // a few may be lost to the socket
  CHECK(s.malformed == 0);
}
