// The libp2p connection pipeline and host: in memory first (every layer,
// both muxers), then real TCP on 127.0.0.1 (mesh forwarding, probe, and the
// hostile peers a public node meets).
#include "core/peer_exchange.hpp"
#include "net/p2p/connection.hpp"
#include "net/p2p/enr_peer.hpp"
#include "net/p2p/host.hpp"
#include "net/p2p/probe.hpp"
#include "net/p2p/peer_id.hpp"
#include "net/p2p/varint.hpp"
#include "proto/libp2p.pb.h"
#include "proto/waku_message.pb.h"
#include "tests/dns_server.hpp"
#include "tests/eventually.hpp"

#include <boost/asio.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

using namespace annals;
using namespace annals::p2p;
using namespace std::chrono_literals;
using annals::test::eventually;

namespace {

struct recording_handler : connection_handler {
  std::optional<peer_id> remote;
  std::string muxer;
  std::vector<std::string> rpcs;
  std::optional<identify_info> identify;
  bool relay_ready = false;
  void on_established(const peer_id& r, const std::string& m) override {
    remote = r;
    muxer = m;
  }
  void on_relay_ready() override { relay_ready = true; }
  void on_relay_rpc(std::string rpc) override { rpcs.push_back(std::move(rpc)); }
  void on_identify(const identify_info& info) override { identify = info; }
};

/// Moves bytes between two connections until neither has anything to say.
void pump(connection& a, connection& b, std::size_t chunk = 0) {
  for (int round = 0; round < 100; ++round) {
    auto ab = a.take_output();
    auto ba = b.take_output();
    if (ab.empty() && ba.empty())
      return;
    auto feed = [&](connection& to, const std::string& bytes) {
      if (chunk == 0) {
        REQUIRE(to.on_bytes(bytes));
        return;
      }
      for (std::size_t i = 0; i < bytes.size(); i += chunk)
        REQUIRE(to.on_bytes(std::string_view(bytes).substr(i, chunk)));
    };
    feed(b, ab);
    feed(a, ba);
  }
  FAIL("connections never went quiet");
}

std::string waku_message(const std::string& payload, const std::string& content_topic = "/test/1/a/proto") {
  waku::WakuMessage m;
  m.set_payload(payload);
  m.set_content_topic(content_topic);
  m.set_timestamp(1);
  return m.SerializeAsString();
}

/// A host with its messages and log collected for the test thread.
struct test_host {
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> messages;
  std::vector<std::pair<host_log_level, std::string>> log;
  std::vector<std::pair<std::string, bool>> peer_events;  // peer, connected
  std::unique_ptr<host> h;

  explicit test_host(host_config config) {
    host_callbacks cb;
    cb.on_message = [this](const std::string& t, const std::string& d, const std::string&) {
      std::lock_guard lock(mutex);
      messages.emplace_back(t, d);
    };
    cb.on_log = [this](host_log_level level, const std::string& line) {
      std::lock_guard lock(mutex);
      log.emplace_back(level, line);
    };
    cb.on_peer = [this](const std::string& peer, bool connected) {
      std::lock_guard lock(mutex);
      peer_events.emplace_back(peer, connected);
    };
    auto started = host::start(std::move(config), std::move(cb));
    REQUIRE(started);
    h = std::move(*started);
  }
  std::size_t received() {
    std::lock_guard lock(mutex);
    return messages.size();
  }
  bool logged(const std::string& needle) {
    return level_of(needle).has_value();
  }
  /// The level of the first line holding `needle`.
  std::optional<host_log_level> level_of(const std::string& needle) {
    std::lock_guard lock(mutex);
    for (const auto& [level, line] : log)
      if (line.find(needle) != std::string::npos)
        return level;
    return std::nullopt;
  }
};

host_config loopback_config() {
  host_config c;
  c.listen = {"/ip4/127.0.0.1/tcp/0"};
  c.reconnect_initial = 100ms;
  return c;
}


/// A raw TCP client for sending bytes a real peer never would.
struct raw_client {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket{io};
  explicit raw_client(const std::string& multiaddr_text) {
    // /ip4/127.0.0.1/tcp/PORT/p2p/...
    auto tcp_pos = multiaddr_text.find("/tcp/");
    auto port = std::stoi(multiaddr_text.substr(tcp_pos + 5));
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  }
  /// Errors are ignored: the host may close the socket mid-write, which is
  /// what some tests provoke.
  void send(const std::string& bytes) {
    boost::system::error_code ec;
    boost::asio::write(socket, boost::asio::buffer(bytes), ec);
  }
  /// True when the host closed the socket within `timeout`.
  bool closed_by_peer(std::chrono::milliseconds timeout) {
    socket.non_blocking(true);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      boost::system::error_code ec;
      socket.read_some(boost::asio::buffer(buf), ec);
      if (ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset)
        return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
};

/// A peer that completes the handshake with the real connection code, then
/// sends what the test says, skipping the checks an honest sender makes.
struct rogue_peer {
  struct handler : connection_handler {
    void on_established(const peer_id&, const std::string&) override {}
    void on_relay_rpc(std::string) override {}
  } events;
  connection_config config = [] {
    connection_config c;
    c.identity = private_key::generate();
    return c;
  }();
  connection conn{connection::role::dialer, config, events};
  raw_client raw;
  char buf[65536];

  explicit rogue_peer(const std::string& address) : raw(address) {
    raw.send(conn.start());
    raw.socket.non_blocking(false);
    while (!conn.established()) {
      auto n = raw.socket.read_some(boost::asio::buffer(buf));
      REQUIRE(conn.on_bytes(std::string_view(buf, n)));
      raw.send(conn.take_output());
    }
  }
  /// `rpc` framed on the relay stream, whatever it holds; returns once it
  /// is written (it waits for the relay stream's negotiation).
  void send_relay_rpc(const std::string& rpc) {
    REQUIRE(conn.send_relay_rpc(rpc));
    while (true) {
      raw.send(conn.take_output());
      if (conn.pending_relay_bytes() == 0)
        break;
      auto n = raw.socket.read_some(boost::asio::buffer(buf));
      REQUIRE(conn.on_bytes(std::string_view(buf, n)));
    }
  }
};

} // namespace

TEST_CASE("connections in memory agree on Noise and each muxer and carry relay RPCs both ways",
          "[p2p][connection]") {
  for (std::string muxer : {"/yamux/1.0.0", "/mplex/6.7.0"}) {
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{7}}) {
      CAPTURE(muxer, chunk);
      auto dialer_key = private_key::generate();
      auto listener_key = private_key::generate();
      recording_handler dh, lh;
      connection_config dc;
      dc.identity = dialer_key;
      dc.muxers = {muxer};
      dc.expected_remote_key = libp2p_public_key::secp256k1(listener_key.public_key()).encode();
      connection_config lc;
      lc.identity = listener_key;
      connection dialer(connection::role::dialer, dc, dh);
      connection listener(connection::role::listener, lc, lh);
      auto dialer_hello = dialer.start();
      REQUIRE(dialer.on_bytes(listener.start()));
      REQUIRE(listener.on_bytes(dialer_hello));
      // RPCs queued before the relay stream exists must not be lost.
      REQUIRE(dialer.send_relay_rpc("early"));
      pump(dialer, listener, chunk);
      REQUIRE(dialer.established());
      REQUIRE(listener.established());
      CHECK(dh.muxer == muxer);
      CHECK(lh.muxer == muxer);
      REQUIRE(dh.remote);
      CHECK(*dh.remote == peer_id::from_secp256k1(listener_key.public_key()));
      CHECK(*lh.remote == peer_id::from_secp256k1(dialer_key.public_key()));
      CHECK(dh.relay_ready);
      CHECK(lh.relay_ready);
      REQUIRE(listener.send_relay_rpc("from listener"));
      REQUIRE(dialer.send_relay_rpc(std::string(200000, 'x')));
      pump(dialer, listener, chunk == 1 ? 4096 : chunk);
      REQUIRE(lh.rpcs.size() == 2);
      CHECK(lh.rpcs[0] == "early");
      CHECK(lh.rpcs[1] == std::string(200000, 'x'));
      REQUIRE(dh.rpcs.size() == 1);
      CHECK(dh.rpcs[0] == "from listener");
      // identify answers with our key, protocols and relay.
      dialer.request_identify();
      pump(dialer, listener);
      REQUIRE(dh.identify);
      CHECK(dh.identify->agent_version == "annals");
      CHECK(std::count(dh.identify->protocols.begin(), dh.identify->protocols.end(),
                       std::string(waku_relay_protocol)) == 1);
    }
  }
}

TEST_CASE("a dialled peer ID that the remote cannot prove fails in the noise layer",
          "[p2p][connection]") {
  recording_handler dh, lh;
  connection_config dc;
  dc.identity = private_key::generate();
  auto someone_else = private_key::generate();
  dc.expected_remote_key = libp2p_public_key::secp256k1(someone_else.public_key()).encode();
  connection_config lc;
  lc.identity = private_key::generate();
  connection dialer(connection::role::dialer, dc, dh);
  connection listener(connection::role::listener, lc, lh);
  auto dialer_hello = dialer.start();
  REQUIRE(dialer.on_bytes(listener.start()));
  REQUIRE(listener.on_bytes(dialer_hello));
  std::optional<annals::error> failure;
  for (int i = 0; i < 10 && !failure; ++i) {
    if (auto r = listener.on_bytes(dialer.take_output()); !r)
      break;
    if (auto r = dialer.on_bytes(listener.take_output()); !r)
      failure = r.error();
  }
  REQUIRE(failure);
  CHECK(failure->message.rfind("noise: ", 0) == 0);
  CHECK_FALSE(dialer.established());
}

TEST_CASE("garbage instead of multistream fails the security layer", "[p2p][connection]") {
  recording_handler lh;
  connection_config lc;
  lc.identity = private_key::generate();
  connection listener(connection::role::listener, lc, lh);
  (void)listener.start();
  auto r = listener.on_bytes(std::string("\x13GET / HTTP/1.1\r\nHost: x\r\n\r\n", 28));
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("multistream (security)") == 0);
}

TEST_CASE("three hosts in a line: a message from one end reaches the other through the mesh",
          "[p2p][host]") {
  const std::string topic = "/waku/2/rs/16/32";
  test_host b(loopback_config());
  auto b_addr = b.h->listen_addrs().at(0);
  auto ca = loopback_config();
  ca.static_peers = {b_addr};
  auto cc = loopback_config();
  cc.static_peers = {b_addr};
  cc.muxers = {"/mplex/6.7.0"};  // the middle host speaks both muxers at once
  test_host a(ca);
  test_host c(cc);
  for (auto* t : {&a, &b, &c})
    t->h->subscribe(topic);
  REQUIRE(eventually([&] { return b.h->topic_peer_count(topic) == 2; }));
  REQUIRE(eventually([&] { return b.h->mesh_peer_count(topic) == 2; }));
  // a learns b's subscription on its own schedule; under load, after b's view.
  REQUIRE(eventually([&] { return a.h->topic_peer_count(topic) == 1; }));
  CHECK(a.h->peers() == std::vector<std::string>{b.h->peer_id()});
  auto msg = waku_message("over the mesh");
  std::atomic<int> recipients{-1};
  a.h->publish(topic, msg, [&](result<std::size_t> r) { recipients = r ? int(*r) : -2; });
  REQUIRE(eventually([&] { return c.received() == 1; }));
  // a's callback runs on a's I/O thread, which may come after c's delivery.
  REQUIRE(eventually([&] { return recipients != -1; }));
  CHECK(recipients == 1);
  CHECK(eventually([&] { return b.received() == 1; }));
  CHECK(c.messages[0].second == msg);
  CHECK(a.received() == 0);  // gossipsub does not echo a publisher's message to it
  CHECK(b.h->stats().gossip.forwarded >= 1);
  // The same bytes again are a duplicate everywhere: refused at the source.
  std::atomic<int> again{0};
  a.h->publish(topic, msg, [&](result<std::size_t> r) { again = r ? 1 : 2; });
  REQUIRE(eventually([&] { return again != 0; }));
  CHECK(again == 2);
}

TEST_CASE("a static peer that restarts is redialled", "[p2p][host]") {
  const std::string topic = "/waku/2/rs/16/32";
  auto key = private_key::generate();
  auto first = loopback_config();
  first.identity = key;
  auto b = std::make_unique<test_host>(first);
  auto addr = b->h->listen_addrs().at(0);
  auto ac = loopback_config();
  ac.static_peers = {addr};
  test_host a(ac);
  REQUIRE(eventually([&] { return a.h->peers().size() == 1; }));
  b.reset();
  REQUIRE(eventually([&] { return a.h->peers().empty(); }));
  auto again = loopback_config();
  again.identity = key;
  again.listen = {addr.substr(0, addr.find("/p2p/"))};
  test_host b2(again);
  b2.h->subscribe(topic);
  REQUIRE(eventually([&] { return a.h->topic_peer_count(topic) == 1; }, 15s));
  CHECK(a.logged("redialling"));
}

TEST_CASE("probe reports identify, and names the layer that failed", "[p2p][host][probe]") {
  test_host b(loopback_config());
  auto addr = b.h->listen_addrs().at(0);
  auto report = probe(addr, private_key::generate(), 5s);
  REQUIRE(report);
  CHECK(report->peer_id == b.h->peer_id());
  CHECK(report->identify.agent_version == "annals");
  CHECK(std::count(report->identify.protocols.begin(), report->identify.protocols.end(),
                   std::string(waku_metadata_protocol)) == 1);
  CHECK(report->identify.observed_addr.rfind("/ip4/127.0.0.1/tcp/", 0) == 0);

  // Nobody listening: tcp.
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor closed(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  auto port = closed.local_endpoint().port();
  closed.close();
  auto refused = probe("/ip4/127.0.0.1/tcp/" + std::to_string(port), private_key::generate(), 2s);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.rfind("tcp: ", 0) == 0);

  // The right address but another peer ID: noise.
  auto other = peer_id::from_secp256k1(private_key::generate().public_key()).to_string();
  auto wrong = probe(addr.substr(0, addr.find("/p2p/")) + "/p2p/" + other, private_key::generate(), 5s);
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().message.rfind("noise: ", 0) == 0);
}

TEST_CASE("hostile peers lose their connection and everyone else is still served",
          "[p2p][host][hostile]") {
  const std::string topic = "/waku/2/rs/16/32";
  auto bc = loopback_config();
  bc.handshake_timeout = 500ms;
  test_host b(bc);
  b.h->subscribe(topic);
  auto addr = b.h->listen_addrs().at(0);

  SECTION("garbage before the handshake") {
    raw_client raw(addr);
    raw.send(std::string(64, '\xff'));
    CHECK(raw.closed_by_peer(3s));
    CHECK(eventually([&] { return b.logged("multistream (security)"); }));
  }
  SECTION("garbage during the handshake") {
    raw_client raw(addr);
    // A valid proposal of /noise, then a Noise frame that is not a key.
    std::string hello = std::string("\x13/multistream/1.0.0\n\x07/noise\n", 28);
    raw.send(hello + std::string("\x00\x05hello", 7));
    CHECK(raw.closed_by_peer(3s));
    CHECK(eventually([&] { return b.logged("noise"); }));
  }
  SECTION("a stalled handshake") {
    raw_client raw(addr);
    CHECK(raw.closed_by_peer(3s));
    CHECK(eventually([&] { return b.logged("handshake timed out"); }));
  }
  SECTION("a dialled address whose peer is someone else") {
    auto other = peer_id::from_secp256k1(private_key::generate().public_key()).to_string();
    auto ac = loopback_config();
    ac.static_peers = {addr.substr(0, addr.find("/p2p/")) + "/p2p/" + other};
    ac.reconnect_initial = 10s;
    test_host a(ac);
    CHECK(eventually([&] { return a.h->stats().handshakes_failed >= 1; }));
    CHECK(a.logged("noise"));
    CHECK(a.h->peers().empty());
  }
  SECTION("an oversized relay frame after the handshake") {
    auto ac = loopback_config();
    ac.static_peers = {addr};
    ac.reconnect_initial = 10s;  // stay away once thrown out
    test_host a(ac);
    REQUIRE(eventually([&] { return a.h->topic_peer_count(topic) == 1; }));
    // A WakuMessage over the 150 KiB cap is refused by the router first...
    std::atomic<int> big{0};
    a.h->publish(topic, waku_message(std::string(200 * 1024, 'x')),
                 [&](result<std::size_t> r) { big = r ? 1 : 2; });
    REQUIRE(eventually([&] { return big != 0; }));
    CHECK(big == 2);
    // ...and a frame over the RPC cap from a peer that skips that check
    // costs it the connection.
    rogue_peer rogue(addr);
    rogue.send_relay_rpc(std::string(2 << 20, 'z'));
    CHECK(rogue.raw.closed_by_peer(5s));
    CHECK(eventually([&] { return b.logged("relay RPC frame refused"); }));
    CHECK(b.h->stats().connections_failed >= 1);
  }
  // Whatever happened above, an honest peer still gets through.
  auto hc = loopback_config();
  hc.static_peers = {addr};
  test_host honest(hc);
  honest.h->subscribe(topic);
  REQUIRE(eventually([&] { return b.h->topic_peer_count(topic) >= 1 && honest.h->topic_peer_count(topic) == 1; }));
  honest.h->publish(topic, waku_message("still here"));
  CHECK(eventually([&] { return b.received() == 1; }));
}

TEST_CASE("a peer that never reads loses RPCs at the host's budget and leaves the mesh; a "
          "peer that keeps up gets every message",
          "[p2p][host][hostile]") {
  const std::string topic = "/waku/2/rs/16/32";
  auto bc = loopback_config();
  bc.max_send_backlog = 256 * 1024;
  bc.slow_peer_backlog = 64 * 1024;
  bc.slow_peer_heartbeats = 2;
  test_host b(bc);
  b.h->subscribe(topic);
  auto addr = b.h->listen_addrs().at(0);
  auto hc = loopback_config();
  hc.listen.clear();
  hc.static_peers = {addr};
  test_host honest(hc);
  honest.h->subscribe(topic);
  // Subscribes and grafts, then never reads again: past yamux's 256 KiB
  // window everything for it waits in b.
  rogue_peer rogue(addr);
  pb::RPC join;
  auto* sub = join.add_subscriptions();
  sub->set_subscribe(true);
  sub->set_topicid(topic);
  join.mutable_control()->add_graft()->set_topicid(topic);
  rogue.send_relay_rpc(join.SerializeAsString());
  REQUIRE(eventually([&] { return b.h->topic_peer_count(topic) == 2; }));
  REQUIRE(eventually([&] { return b.h->mesh_peer_count(topic) == 2; }));

  constexpr int messages = 1000;  // 4 KiB each: 4 MiB, far past the budget
  for (int i = 0; i < messages; ++i) {
    b.h->publish(topic, waku_message(std::to_string(i) + std::string(4096, 'x')));
    std::this_thread::sleep_for(1ms);
  }
  CHECK(eventually([&] { return honest.received() == messages; }, 20s));
  CHECK(eventually([&] { return b.h->stats().gossip.slow_pruned >= 1; }, 5s));
  CHECK(b.h->mesh_peer_count(topic) == 1);
  CHECK(b.h->stats().rpcs_dropped > 0);
  // Held for the slow peer: about its share of the budget, not 4 MiB.
  CHECK(b.h->backlog() <= 2 * bc.max_send_backlog);
}

TEST_CASE("a host destroyed from its own callback winds down without joining itself",
          "[p2p][host]") {
  test_host b(loopback_config());
  auto addr = b.h->listen_addrs().at(0);
  std::mutex mutex;
  std::unique_ptr<host> a;
  std::atomic<bool> destroyed{false};
  host_callbacks cb;
  cb.on_peer = [&](const std::string&, bool connected) {
    if (!connected)
      return;
    std::lock_guard lock(mutex);
    a.reset();  // on a's own I/O thread
    destroyed = true;
  };
  auto ac = loopback_config();
  ac.static_peers = {addr};
  {
    std::lock_guard lock(mutex);
    auto started = host::start(ac, cb);
    REQUIRE(started);
    a = std::move(*started);
  }
  REQUIRE(eventually([&] { return destroyed.load(); }));
  // b sees a's connection close once a has wound down.
  CHECK(eventually([&] { return b.h->peers().empty() && b.h->stats().connections_opened >= 1; }));
}

namespace {

/// A protocol a test registers: answers each framed request in upper case.
class shouting_handler : public stream_protocol_handler {
public:
  result<void> on_bytes(stream_io& io, std::string_view bytes) override {
    reader_.feed(bytes);
    auto next = reader_.next();
    if (!next || !*next)
      return ok_result();
    auto answer = **next;
    std::transform(answer.begin(), answer.end(), answer.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    io.write(frame(answer));
    io.close();
    return ok_result();
  }

private:
  frame_reader reader_{1024};
};

} // namespace

TEST_CASE("a protocol registered in the table is served, listed by identify and requested",
          "[p2p][connection]") {
  const std::string shout = "/annals/test/shout/1.0.0";
  recording_handler dh, lh;
  connection_config dc;
  dc.identity = private_key::generate();
  connection_config lc;
  lc.identity = private_key::generate();
  lc.protocols[shout].open = [](stream_io&) { return std::make_unique<shouting_handler>(); };
  connection dialer(connection::role::dialer, dc, dh);
  connection listener(connection::role::listener, lc, lh);
  auto dialer_hello = dialer.start();
  REQUIRE(dialer.on_bytes(listener.start()));
  REQUIRE(listener.on_bytes(dialer_hello));
  pump(dialer, listener);
  REQUIRE(dialer.established());

  std::vector<std::string> answers;
  std::vector<std::string> failures;
  auto collect = [&](result<std::string> answer) {
    if (answer)
      answers.push_back(*answer);
    else
      failures.push_back(answer.error().message);
  };
  dialer.request(shout, std::string("history"), 1024, collect);
  dialer.request("/annals/test/unknown/1.0.0", std::string("hello"), 1024, collect);
  dialer.request_identify();
  pump(dialer, listener);
  CHECK(answers == std::vector<std::string>{"HISTORY"});
  REQUIRE(failures.size() == 1);
  CHECK_THAT(failures[0], Catch::Contains("negotiating our request failed"));
  REQUIRE(dh.identify);
  CHECK(std::count(dh.identify->protocols.begin(), dh.identify->protocols.end(), shout) == 1);
  CHECK(std::count(dh.identify->protocols.begin(), dh.identify->protocols.end(),
                   std::string(identify_protocol)) == 1);
  // Still a working relay connection.
  REQUIRE(dialer.send_relay_rpc("after"));
  pump(dialer, listener);
  CHECK(lh.rpcs == std::vector<std::string>{"after"});
}

TEST_CASE("one address cannot take every connection slot", "[p2p][host]") {
  auto config = loopback_config();
  config.max_connections_per_ip = 2;
  config.handshake_timeout = 5s;
  test_host b(config);
  auto addr = b.h->listen_addrs().at(0);
  raw_client first(addr), second(addr);
  std::this_thread::sleep_for(100ms);  // both accepted before the third arrives
  raw_client third(addr);
  CHECK(third.closed_by_peer(2000ms));
  CHECK_FALSE(first.closed_by_peer(200ms));
  CHECK_FALSE(second.closed_by_peer(200ms));
  CHECK(b.h->stats().connections_refused == 1);
  CHECK(b.logged("refused a connection from 127.0.0.1: it holds 2 already"));
}

TEST_CASE("half-open connections cannot keep an honest peer out: the oldest pending handshake "
          "makes room",
          "[p2p][host][hostile]") {
  auto config = loopback_config();
  config.max_connections = 8;
  config.max_pending_handshakes = 4;
  config.handshake_timeout = 60s;  // only eviction may end them here
  test_host b(config);
  auto addr = b.h->listen_addrs().at(0);
  std::vector<std::unique_ptr<raw_client>> holders;
  for (int i = 0; i < 12; ++i)
    holders.push_back(std::make_unique<raw_client>(addr));
  // 12 arrivals, at most 4 pending: the 8 oldest went, counted.
  CHECK(eventually([&] { return b.h->stats().handshakes_evicted == 8; }, 5s));
  CHECK(holders[0]->closed_by_peer(2000ms));
  CHECK_FALSE(holders[11]->closed_by_peer(100ms));
  CHECK(b.h->stats().connections_refused == 0);

  auto honest_config = loopback_config();
  honest_config.listen.clear();
  honest_config.static_peers = {addr};
  test_host honest(honest_config);
  CHECK(eventually([&] { return honest.h->stats().connected == 1; }, 10s));
  CHECK(b.h->stats().connected == 1);
}

TEST_CASE("with every slot taken, a peer sharing no topic makes room for a new one; one that "
          "shares a topic is kept",
          "[p2p][host][hostile]") {
  const std::string topic = "/waku/2/rs/16/32";
  auto config = loopback_config();
  config.max_connections = 3;
  config.useless_after = 0ms;
  test_host b(config);
  b.h->subscribe(topic);
  auto addr = b.h->listen_addrs().at(0);
  auto dialler = [&] {
    auto c = loopback_config();
    c.listen.clear();
    c.static_peers = {addr};
    c.reconnect_initial = 10s;  // an evicted one stays out while the test looks
    return c;
  };
  // Two peers that subscribe to nothing and one that shares our topic.
  test_host idle1(dialler()), idle2(dialler());
  test_host useful(dialler());
  useful.h->subscribe(topic);
  REQUIRE(eventually([&] { return b.h->stats().connected == 3; }, 10s));
  REQUIRE(eventually([&] { return b.h->topic_peer_count(topic) == 1; }, 5s));

  test_host late(dialler());
  late.h->subscribe(topic);
  CHECK(eventually([&] { return late.h->stats().connected == 1; }, 10s));
  CHECK(b.h->stats().connections_evicted == 1);
  CHECK(b.h->stats().connections_refused == 0);
  CHECK(useful.h->stats().connected == 1);
  CHECK(idle1.h->stats().connected + idle2.h->stats().connected == 1);
  CHECK(b.logged("it shares no topic with us"));
}

TEST_CASE("the host logs refusals and failed dials at warn, connections at info, redials at debug",
          "[p2p][host][log]") {
  SECTION("a relay RPC that does not parse is refused at warn") {
    test_host b(loopback_config());
    rogue_peer rogue(b.h->listen_addrs().at(0));
    rogue.send_relay_rpc("\xff\xff\xff not a gossipsub RPC");
    REQUIRE(eventually([&] { return b.logged("refused: "); }));
    CHECK(b.level_of("relay RPC from ") == host_log_level::warn);
    CHECK(b.level_of("connected ") == host_log_level::info);
  }
  SECTION("a connection over the per-address limit is refused at warn") {
    auto config = loopback_config();
    config.max_connections_per_ip = 1;
    config.handshake_timeout = 30s;
    test_host b(config);
    auto addr = b.h->listen_addrs().at(0);
    raw_client first(addr);
    REQUIRE(eventually([&] { return b.h->stats().connections_opened == 1; }));
    raw_client second(addr);
    REQUIRE(eventually([&] { return b.h->stats().connections_refused == 1; }));
    CHECK(b.level_of("refused a connection from 127.0.0.1") == host_log_level::warn);
  }
  SECTION("a static peer that is not there: the dial fails at warn, the redial waits at debug") {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor closed(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    auto port = closed.local_endpoint().port();
    closed.close();
    auto config = loopback_config();
    auto absent = peer_id::from_secp256k1(private_key::generate().public_key()).to_string();
    config.static_peers = {"/ip4/127.0.0.1/tcp/" + std::to_string(port) + "/p2p/" + absent};
    config.reconnect_initial = 60s;
    test_host a(config);
    REQUIRE(eventually([&] { return a.logged("redialling"); }));
    CHECK(a.level_of(": tcp: ") == host_log_level::warn);
    CHECK(a.level_of("redialling") == host_log_level::debug);
  }
}

TEST_CASE("advertised multiaddrs: external ones first, wildcards as interfaces, loopback to "
          "loopback peers only",
          "[p2p][host][addresses]") {
  std::vector<interface_address> ifs{{"lo", "127.0.0.1", false, true, false},
                                     {"eth0", "10.77.0.2", false, false, false}};
  std::vector<std::string> bound{"/ip4/0.0.0.0/tcp/60000"};
  std::vector<std::string> external{"/ip4/203.0.113.7/tcp/61000"};
  CHECK(advertised_multiaddrs(external, bound, ifs, false)
        == std::vector<std::string>{"/ip4/203.0.113.7/tcp/61000", "/ip4/10.77.0.2/tcp/60000"});
  CHECK(advertised_multiaddrs({}, bound, ifs, true)
        == std::vector<std::string>{"/ip4/10.77.0.2/tcp/60000", "/ip4/127.0.0.1/tcp/60000"});
  CHECK(advertised_multiaddrs({}, {"/ip4/127.0.0.1/tcp/5"}, ifs, false).empty());
  CHECK(advertised_multiaddrs({}, {"/ip4/127.0.0.1/tcp/5"}, ifs, true)
        == std::vector<std::string>{"/ip4/127.0.0.1/tcp/5"});
}

TEST_CASE("a host on 0.0.0.0 never tells a peer 0.0.0.0, tells 127.x only over loopback, and "
          "names its external address first",
          "[p2p][host][addresses]") {
  auto config = loopback_config();
  config.listen = {"/ip4/0.0.0.0/tcp/0"};
  config.external_addresses = {"/ip4/203.0.113.7/tcp/61000"};
  test_host b(config);
  auto bound = b.h->bound_addrs().at(0);
  REQUIRE(bound.rfind("/ip4/0.0.0.0/tcp/", 0) == 0);
  auto port = bound.substr(std::string("/ip4/0.0.0.0/tcp/").size());
  auto id = b.h->peer_id();
  auto addrs = b.h->listen_addrs();
  REQUIRE_FALSE(addrs.empty());
  CHECK(addrs.front() == "/ip4/203.0.113.7/tcp/61000/p2p/" + id);
  for (const auto& a : addrs) {
    CHECK(a.find("0.0.0.0") == std::string::npos);
    CHECK(a.find("/ip4/127.") == std::string::npos);
  }

  auto over_loopback = probe("/ip4/127.0.0.1/tcp/" + port + "/p2p/" + id, private_key::generate(), 5s);
  REQUIRE(over_loopback);
  const auto& heard = over_loopback->identify.listen_addrs;
  REQUIRE_FALSE(heard.empty());
  CHECK(heard.front() == "/ip4/203.0.113.7/tcp/61000");
  CHECK(std::count(heard.begin(), heard.end(), "/ip4/127.0.0.1/tcp/" + port) == 1);
  for (const auto& a : heard)
    CHECK(a.find("0.0.0.0") == std::string::npos);

  // Over an interface that is not loopback (when this machine has one), the
  // peer hears that interface's address and no 127.x.
  auto ifs = local_interface_addresses();
  auto routable = std::find_if(ifs.begin(), ifs.end(), [](const interface_address& a) {
    return !a.v6 && !a.loopback && !a.link_local;
  });
  if (routable != ifs.end()) {
    auto over_lan = probe("/ip4/" + routable->ip + "/tcp/" + port + "/p2p/" + id,
                          private_key::generate(), 5s);
    REQUIRE(over_lan);
    const auto& lan = over_lan->identify.listen_addrs;
    CHECK(std::count(lan.begin(), lan.end(), "/ip4/" + routable->ip + "/tcp/" + port) == 1);
    for (const auto& a : lan)
      CHECK(a.find("/ip4/127.") == std::string::npos);
  } else {
    WARN("no non-loopback IPv4 interface here: the LAN half of this test did not run");
  }
}

TEST_CASE("a host logs the address a peer says it sees it at, once per distinct value",
          "[p2p][host][addresses]") {
  const std::string topic = "/waku/2/rs/16/32";
  test_host b(loopback_config());
  b.h->subscribe(topic);
  auto ac = loopback_config();
  ac.static_peers = {b.h->listen_addrs().at(0)};
  test_host a(ac);
  a.h->subscribe(topic);
  REQUIRE(eventually([&] { return a.logged("sees this host at /ip4/127.0.0.1/tcp/"); }));
  CHECK(a.level_of("sees this host at") == host_log_level::info);
}

TEST_CASE("an external address a peer cannot dial is refused before the host starts",
          "[p2p][host][addresses]") {
  for (const char* bad : {"/ip4/0.0.0.0/tcp/60000", "/ip4/203.0.113.7/tcp/0",
                          "/ip4/203.0.113.7/tcp/60000/p2p/16Uiu2HAmAZb1rY1zd9kWzWmPPzKJQZMdUdyF9ck4TzDBwEjfAUXk",
                          "/dns4/example.org/tcp/1", "not a multiaddr"}) {
    auto config = loopback_config();
    config.external_addresses = {bad};
    auto started = host::start(config);
    INFO(bad);
    REQUIRE_FALSE(started);
    CHECK_THAT(started.error().message, Catch::Contains("external address"));
  }
}

TEST_CASE("peer exchange: a host below its target asks a peer, dials the records it gets, and "
          "says where each peer came from",
          "[p2p][host][discovery]") {
  // c: a relay host whose record b was given.
  auto c_key = private_key::generate();
  auto cc = loopback_config();
  cc.identity = c_key;
  test_host c(cc);
  auto c_record = make_enr(c_key, 1, own_enr_fields(c.h->bound_addrs(), waku2_relay,
                                                   relay_shards{16, {32}}));
  REQUIRE(c_record);
  auto bc = loopback_config();
  bc.static_peers = {c_record->text()};
  bc.serve_peer_exchange = true;
  test_host b(bc);
  REQUIRE(eventually([&] { return b.h->peers() == std::vector<std::string>{c.h->peer_id()}; }));

  // a: only b, a target of two, and asks.
  auto ac = loopback_config();
  ac.static_peers = {b.h->listen_addrs().at(0)};
  ac.target_peers = 2;
  ac.ask_peer_exchange = true;
  ac.exchange_interval = 200ms;  // b may answer before it has seen c speak relay
  test_host a(ac);
  REQUIRE(eventually([&] { return a.h->peers().size() == 2; }, 15s));
  std::map<std::string, std::string> source;
  for (const auto& p : a.h->peer_summaries())
    source[p.peer_id] = p.source;
  CHECK(source[b.h->peer_id()] == "static");
  CHECK(source[c.h->peer_id()] == "peer-exchange");
  auto a_stats = a.h->stats();
  CHECK(a_stats.discovery.found[std::size_t(peer_source::peer_exchange)] == 1);
  CHECK(a_stats.discovery.exchanges_asked >= 1);
  CHECK(a_stats.discovery.dials == 1);
  // At its target a asks no more and dials no one.
  auto asked = a_stats.discovery.exchanges_asked;
  std::this_thread::sleep_for(600ms);
  CHECK(a.h->stats().discovery.exchanges_asked == asked);
  auto b_stats = b.h->stats();
  CHECK(b_stats.discovery.exchanges_served >= 1);
  CHECK(b_stats.discovery.records_served >= 1);
  // c's summary on b: a static peer given by its record.
  for (const auto& p : b.h->peer_summaries())
    if (p.peer_id == c.h->peer_id())
      CHECK(p.source == "static");
}

namespace {

/// n loopback relays of cluster 16, shard 32, and their records (enr: text).
std::vector<std::string> start_relays(std::vector<std::unique_ptr<test_host>>& relays, int n) {
  std::vector<std::string> records;
  for (int i = 0; i < n; ++i) {
    auto cfg = loopback_config();
    auto key = private_key::generate();
    cfg.identity = key;
    relays.push_back(std::make_unique<test_host>(cfg));
    auto record = make_enr(key, 1, own_enr_fields(relays.back()->h->bound_addrs(), waku2_relay,
                                                  relay_shards{16, {32}}));
    REQUIRE(record);
    records.push_back(record->text());
  }
  return records;
}

} // namespace

TEST_CASE("peer exchange: a malformed query gets 400, a second one too soon 429, and the answer "
          "holds at most what was asked",
          "[p2p][host][discovery]") {
  std::vector<std::unique_ptr<test_host>> relays;
  auto records = start_relays(relays, 3);
  auto bc = loopback_config();
  bc.static_peers = records;
  bc.serve_peer_exchange = true;
  test_host b(bc);
  REQUIRE(eventually([&] { return b.h->peers().size() == 3; }));

  test_host d(loopback_config());
  d.h->dial(b.h->listen_addrs().at(0));
  REQUIRE(eventually([&] { return d.h->peer_summaries().size() == 1
                                  && !d.h->peer_summaries()[0].protocols.empty(); }));
  auto ask = [&](std::string bytes) {
    std::promise<result<std::string>> answer;
    d.h->request(b.h->peer_id(), std::string(peer_exchange_protocol), std::move(bytes),
                 px_max_answer_bytes, 5s, [&](result<std::string> r) { answer.set_value(r); });
    auto r = answer.get_future().get();
    REQUIRE(r);
    auto decoded = decode_px_answer(*r);
    REQUIRE(decoded);
    return *decoded;
  };
  auto garbage = ask("\xff\xff\xff");
  CHECK(garbage.status == std::optional<std::uint32_t>(400));
  // b verifies each static peer once it has seen its identify.
  px_answer two;
  REQUIRE(eventually([&] {
    std::this_thread::sleep_for(1100ms);  // b's per-asker interval
    two = ask(encode_px_query(2));
    return two.records.size() == 2;
  }, 15s));
  CHECK(two.status == std::optional<std::uint32_t>(200));
  for (const auto& r : two.records) {
    auto record = decode_enr(r);
    REQUIRE(record);
    CHECK(std::count(records.begin(), records.end(), record->text()) == 1);
  }
  auto too_soon = ask(encode_px_query(2));
  CHECK(too_soon.status == std::optional<std::uint32_t>(429));
  CHECK(too_soon.records.empty());
  CHECK(b.h->stats().discovery.exchanges_refused >= 2);
}

TEST_CASE("dns discovery: a host given only an enrtree URL finds and dials the relays the tree "
          "lists, through a real DNS server",
          "[p2p][host][discovery][dns]") {
  test::temp_dir dir("annals-dns");
  test::dns_server server(dir, "nodes.test");
  std::vector<std::unique_ptr<test_host>> relays;
  auto records = start_relays(relays, 3);
  // One listed node serves another cluster: vetted out, not dialled.
  auto stranger_key = private_key::generate();
  auto stranger_cfg = loopback_config();
  stranger_cfg.identity = stranger_key;
  test_host stranger(stranger_cfg);
  records.push_back(make_enr(stranger_key, 1,
                             own_enr_fields(stranger.h->bound_addrs(), waku2_relay,
                                            relay_shards{1, {0}}))
                      ->text());
  auto tree_key = private_key::generate();
  auto tree = make_enr_tree(tree_key, 1, records, {});
  REQUIRE(tree);
  server.serve(*tree);

  auto ac = loopback_config();
  ac.target_peers = 3;
  ac.dns.trees = {enrtree_url{tree_key.public_key(), "nodes.test"}.text()};
  ac.dns.resolver = {server.address(), std::chrono::milliseconds(2000), 1};
  test_host a(ac);
  REQUIRE(eventually([&] { return a.h->peers().size() == 3; }, 15s));
  for (const auto& p : a.h->peer_summaries()) {
    CHECK(p.source == "dns");
    CHECK(p.peer_id != stranger.h->peer_id());
  }
  auto s = a.h->stats();
  CHECK(s.dns.syncs == 1);
  CHECK(s.dns.records == 4);
  CHECK(s.discovery.found[std::size_t(peer_source::dns)] == 3);
  CHECK(s.discovery.refused[std::size_t(record_refusal::other_cluster)] == 1);
}

namespace {
std::uint16_t free_tcp_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

/// Two TCP forwarders that hold each accepted connection until both have
/// one, then connect both onward at once: two hosts dialling each other
/// through them are sure to have both dials in flight together (started
/// directly, one host's dial usually finds the other not yet listening).
class dial_gate {
public:
  explicit dial_gate(std::array<std::uint16_t, 2> targets) : targets_(targets) {
    for (int i = 0; i < 2; ++i) {
      acceptors_[i].open(tcp::v4());
      acceptors_[i].bind({boost::asio::ip::make_address("127.0.0.1"), 0});
      acceptors_[i].listen();
      acceptors_[i].async_accept([this, i](auto ec, tcp::socket s) {
        if (ec)
          return;
        held_[i] = std::make_shared<tcp::socket>(std::move(s));
        if (held_[0] && held_[1])
          for (int j = 0; j < 2; ++j)
            forward(j);
      });
    }
    thread_ = std::thread([this] { io_.run(); });
  }
  ~dial_gate() {
    boost::asio::post(io_, [this] { io_.stop(); });
    thread_.join();
  }
  /// The port that forwards to targets[i].
  std::uint16_t port(int i) const { return acceptors_[i].local_endpoint().port(); }

private:
  using tcp = boost::asio::ip::tcp;
  void forward(int i) {
    auto out = std::make_shared<tcp::socket>(io_);
    out->async_connect({boost::asio::ip::make_address("127.0.0.1"), targets_[i]},
                       [this, i, out](auto ec) {
                         if (ec)
                           return;
                         pipe(held_[i], out);
                         pipe(out, held_[i]);
                       });
  }
  void pipe(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to) {
    auto buf = std::make_shared<std::array<char, 16384>>();
    from->async_read_some(boost::asio::buffer(*buf), [this, from, to, buf](auto ec, std::size_t n) {
      if (ec) {
        boost::system::error_code ignored;
        to->shutdown(tcp::socket::shutdown_send, ignored);
        return;
      }
      boost::asio::async_write(*to, boost::asio::buffer(*buf, n), [this, from, to, buf](auto ec, std::size_t) {
        if (!ec)
          pipe(from, to);
      });
    });
  }
  std::array<std::uint16_t, 2> targets_;
  boost::asio::io_context io_;
  std::array<tcp::acceptor, 2> acceptors_{tcp::acceptor(io_), tcp::acceptor(io_)};
  std::array<std::shared_ptr<tcp::socket>, 2> held_;
  std::thread thread_;
};
} // namespace

TEST_CASE("two hosts that dial each other at once keep one connection, quietly, and stay "
          "connected",
          "[p2p][host][discovery]") {
  auto a_key = private_key::generate(), b_key = private_key::generate();
  auto a_port = free_tcp_port(), b_port = free_tcp_port();
  auto address = [](std::uint16_t port, const private_key& key) {
    return "/ip4/127.0.0.1/tcp/" + std::to_string(port) + "/p2p/"
           + peer_id::from_secp256k1(key.public_key()).to_string();
  };
  for (int round = 0; round < 3; ++round) {
    INFO("round " << round);
    // Each is the other's static peer, reached through the gate that
    // lets both dials through together.
    dial_gate gate({b_port, a_port});
    auto ac = loopback_config();
    ac.identity = a_key;
    ac.listen = {"/ip4/127.0.0.1/tcp/" + std::to_string(a_port)};
    ac.static_peers = {address(gate.port(0), b_key)};
    auto bc = loopback_config();
    bc.identity = b_key;
    bc.listen = {"/ip4/127.0.0.1/tcp/" + std::to_string(b_port)};
    bc.static_peers = {address(gate.port(1), a_key)};
    test_host a(ac), b(bc);
    REQUIRE(eventually([&] {
      return a.h->stats().connected == 1 && b.h->stats().connected == 1;
    }));
    // Settled: one connection each way, and it stays (no redial churn).
    std::this_thread::sleep_for(1500ms);
    auto a_stats = a.h->stats(), b_stats = b.h->stats();
    CHECK(a_stats.connected == 1);
    CHECK(b_stats.connected == 1);
    auto opened = a_stats.connections_opened + b_stats.connections_opened;
    std::this_thread::sleep_for(1000ms);
    CHECK(a.h->stats().connections_opened + b.h->stats().connections_opened == opened);
    CHECK(a.h->peers() == std::vector<std::string>{b.h->peer_id()});
    // Both dialled: the second connection was closed on one side or both.
    CHECK(a_stats.duplicates_closed + b_stats.duplicates_closed >= 1);
    {
      // The embedder heard of each peer once, and of no disconnection.
      std::lock_guard lock(a.mutex);
      CHECK(a.peer_events == std::vector<std::pair<std::string, bool>>{{b.h->peer_id(), true}});
    }
    std::lock_guard lock(b.mutex);
    CHECK(b.peer_events == std::vector<std::pair<std::string, bool>>{{a.h->peer_id(), true}});
  }
}

namespace {

/// A loopback host with discv5 on 127.0.0.1:0 that keeps its own record in
/// `record` (set while the host starts), walking quickly.
host_config discv5_host_config(std::shared_ptr<std::optional<enr_record>> record,
                               std::vector<std::string> bootstrap) {
  auto cfg = loopback_config();
  cfg.identity = private_key::generate();
  cfg.target_peers = 8;
  cfg.discv5.enabled = true;
  cfg.discv5.listen = "127.0.0.1:0";
  cfg.discv5.bootstrap = std::move(bootstrap);
  cfg.discv5.walk_interval = 300ms;
  cfg.discv5.walk_interval_hungry = 300ms;
  cfg.discv5.walk_interval_max = 600ms;
  // Every node of the test shares 127.0.0.1.
  cfg.discv5.requests_per_second_per_ip = 1000;
  auto key = cfg.identity;
  cfg.local_record = [key, record](const std::vector<std::string>& advertised,
                                   std::uint16_t udp) -> result<enr_record> {
    std::vector<std::string> plain;
    for (const auto& a : advertised)
      plain.push_back(a.substr(0, a.find("/p2p/")));
    auto fields = own_enr_fields(plain, waku2_relay, relay_shards{16, {32}});
    fields.udp = udp;
    auto r = make_enr(key, 1, fields);
    if (r)
      *record = *r;
    return r;
  };
  return cfg;
}

} // namespace

TEST_CASE("discv5: hosts given one bootstrap record find each other by random walks and connect "
          "to the relays they found",
          "[p2p][host][discovery][discv5]") {
  auto boot_record = std::make_shared<std::optional<enr_record>>();
  test_host boot(discv5_host_config(boot_record, {}));
  REQUIRE(*boot_record);
  REQUIRE(boot_record->value().fields.udp);
  std::vector<std::unique_ptr<test_host>> members;
  for (int i = 0; i < 3; ++i)
    members.push_back(std::make_unique<test_host>(
      discv5_host_config(std::make_shared<std::optional<enr_record>>(),
                         {boot_record->value().text()})));
  // Each member holds the bootstrap node and the two other members: two of
  // the three it can only have learnt from discv5 (or been dialled by).
  REQUIRE(eventually(
    [&] {
      return std::all_of(members.begin(), members.end(),
                         [](auto& m) { return m->h->peers().size() >= 3; });
    },
    30s));
  std::size_t from_discv5 = 0;
  for (auto& m : members) {
    auto s = m->h->stats();
    CHECK(s.discv5.handshakes + boot.h->stats().discv5.handshakes > 0);
    CHECK(s.discv5.walks >= 1);
    CHECK(s.discv5.malformed == 0);
    for (const auto& p : m->h->peer_summaries())
      from_discv5 += p.source == "discv5";
  }
  CHECK(from_discv5 >= 3);
  // The bootstrap node's table holds every member, each admitted after a
  // handshake from the address its record names.
  CHECK(boot.h->stats().discv5.table_size == 3);
}

TEST_CASE("set_static_peers dials new static peers at once and stops redialling dropped ones, "
          "whose connections stay",
          "[p2p][host]") {
  test_host b(loopback_config()), c(loopback_config());
  auto b_addr = b.h->listen_addrs().front(), c_addr = c.h->listen_addrs().front();
  auto ac = loopback_config();
  ac.static_peers = {b_addr};
  auto a = std::make_unique<test_host>(ac);
  REQUIRE(eventually([&] { return a->h->stats().connected == 1; }));

  std::promise<static_peers_change> changed;
  a->h->set_static_peers({c_addr, "/ip4/127.0.0.1/tcp/1/p2p/not-a-peer-id"},
                         [&](static_peers_change change) { changed.set_value(std::move(change)); });
  auto change = changed.get_future().get();
  CHECK(change.added == std::vector<std::string>{c_addr});
  CHECK(change.removed == std::vector<std::string>{b_addr});
  REQUIRE(change.refused.size() == 1);
  CHECK_THAT(change.refused[0], Catch::Contains("not-a-peer-id"));
  // c is dialled now; b, no longer static, stays connected.
  REQUIRE(eventually([&] { return a->h->stats().connected == 2; }));

  // b goes away: a does not redial it (it would within 100 ms if static).
  auto opened = a->h->stats().connections_opened;
  auto dials_failed = a->h->stats().dials_failed;
  b.h.reset();
  REQUIRE(eventually([&] { return a->h->stats().connected == 1; }));
  std::this_thread::sleep_for(800ms);
  CHECK(a->h->stats().connections_opened == opened);
  CHECK(a->h->stats().dials_failed == dials_failed);
  CHECK(a->h->peers() == std::vector<std::string>{c.h->peer_id()});
}
