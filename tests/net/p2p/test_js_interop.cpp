// annals against a real js-waku relay peer (tests/js, Node 20, pinned
// @waku/sdk 0.0.27): annals dials js and js dials annals, over mplex and over
// yamux, with messages in both directions. The js peer's exit code says
// whether it got what it expected.
#include "net/p2p/host.hpp"
#include "net/p2p/peer_id.hpp"
#include "proto/waku_message.pb.h"
#include "tests/eventually.hpp"
#include "tests/process.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

using namespace annals;
using namespace annals::p2p;
using namespace std::chrono_literals;
using annals::test::eventually;

namespace {

const std::string topic = "/waku/2/rs/16/32";
const std::string content_topic = "/interop/1/test/proto";

std::filesystem::path js_dir() {
  return ANNALS_JS_DIR;
}

/// Starts the js peer; fails the test with the fix when npm ci never ran.
std::unique_ptr<test::child_process> start_js(const test::temp_dir& dir, const std::string& tag,
                                              std::vector<std::string> env) {
  if (!std::filesystem::exists(js_dir() / "node_modules" / "@waku" / "sdk"))
    FAIL("tests/js/node_modules is missing: run scripts/setup.sh (npm ci in tests/js)");
  env.push_back("TIMEOUT_MS=30000");
  return std::make_unique<test::child_process>(
    std::vector<std::string>{"node", "--import", "./polyfill.mjs", "waku-peer.mjs"},
    dir / (tag + ".out"), dir / (tag + ".err"), env, js_dir());
}

std::string waku_message(const std::string& payload) {
  waku::WakuMessage m;
  m.set_payload(payload);
  m.set_content_topic(content_topic);
  m.set_timestamp(std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count());
  return m.SerializeAsString();
}

struct inbox {
  std::mutex mutex;
  std::vector<std::string> payloads;
  void add(const std::string& data) {
    waku::WakuMessage m;
    if (!m.ParseFromString(data))
      return;
    std::lock_guard lock(mutex);
    payloads.push_back(m.payload());
  }
  bool has(const std::string& payload) {
    std::lock_guard lock(mutex);
    return std::find(payloads.begin(), payloads.end(), payload) != payloads.end();
  }
};

/// Fails with everything the js peer printed, which is what explains it.
void require_js(bool condition, const test::child_process& js, const char* what) {
  if (!condition)
    FAIL(what << "\njs stdout:\n" << js.out() << "\njs stderr:\n" << js.err());
}


std::unique_ptr<host> start_host(inbox& box, std::vector<std::string> peers,
                                 std::vector<std::string> listen = {}) {
  host_config c;
  c.listen = std::move(listen);
  c.static_peers = std::move(peers);
  host_callbacks cb;
  cb.on_message = [&box](const std::string&, const std::string& data, const std::string&) {
    box.add(data);
  };
  auto h = host::start(std::move(c), std::move(cb));
  REQUIRE(h);
  (*h)->subscribe(topic);
  return std::move(*h);
}

} // namespace

TEST_CASE("annals dials a js-waku relay peer and they exchange messages", "[p2p][js]") {
  for (std::string muxer : {"mplex", "yamux"}) {
    CAPTURE(muxer);
    test::temp_dir dir("js-interop");
    // A fixed secp256k1 key: the peer ID is the libp2p spec's vector.
    auto js = start_js(dir, "js-" + muxer,
                       {"LISTEN=0", "EXPECT=1", "ECHO=1", "MUXER=" + muxer,
                        "KEY=53dadf1d5a164d6b4acdb15e24aa4c5b1d3461bdbd42abedb0a4404d56ced8fb"});
    auto listen = js->wait_for_line([](const std::string& l) { return l.rfind("LISTEN /ip4/", 0) == 0; },
                                    20s);
    require_js(listen.has_value(), *js, "js never listened");
    auto address = listen->substr(7);
    CHECK(address.find("/p2p/16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY") != std::string::npos);

    inbox box;
    auto h = start_host(box, {address});
    require_js(eventually([&] { return h->topic_peer_count(topic) == 1; }, 20s), *js,
               "js never subscribed");
    std::atomic<int> sent{-1};
    h->publish(topic, waku_message("hello from annals over " + muxer),
               [&](result<std::size_t> r) { sent = r ? int(*r) : -2; });
    require_js(eventually([&] { return box.has("echo:hello from annals over " + muxer); }, 20s),
               *js, "no echo from js");
    CHECK(sent == 1);
    // js exits 0 only when it received our message.
    require_js(js->wait(20s) == std::optional<int>(0), *js, "js did not exit 0");
    CHECK(js->out().find("/" + muxer + "/") != std::string::npos);
  }
}

TEST_CASE("a js-waku relay peer dials annals and they exchange messages", "[p2p][js]") {
  for (std::string muxer : {"mplex", "yamux"}) {
    CAPTURE(muxer);
    test::temp_dir dir("js-interop");
    inbox box;
    auto h = start_host(box, {}, {"/ip4/127.0.0.1/tcp/0"});
    auto address = h->listen_addrs().at(0);
    // js sends first, then waits for one message from us.
    // SEND_WAIT=mesh: js publishes once we are in its mesh, which also means
    // its own relay stream to us is open (a subscription alone can arrive
    // first, and js then publishes to nobody).
    auto js = start_js(dir, "js-" + muxer,
                       {"DIAL=" + address, "SEND=hello from js over " + muxer, "EXPECT=1",
                        "MUXER=" + muxer, "SEND_WAIT=mesh"});
    require_js(eventually([&] { return box.has("hello from js over " + muxer); }, 30s), *js,
               "nothing from js");
    require_js(eventually([&] { return h->topic_peer_count(topic) == 1; }, 10s), *js,
               "js never subscribed");
    // js was an Ed25519 peer (its default): Noise verified that signature.
    auto peers = h->peers();
    require_js(peers.size() == 1, *js, "not exactly one peer");
    CHECK(peers[0].rfind("12D3KooW", 0) == 0);
    h->publish(topic, waku_message("reply from annals"));
    require_js(js->wait(20s) == std::optional<int>(0), *js, "js did not exit 0");
    CHECK(js->out().find("\"reply from annals\"") != std::string::npos);
  }
}

TEST_CASE("annals forwards between two js-waku peers through its gossipsub mesh", "[p2p][js]") {
  test::temp_dir dir("js-mesh");
  inbox box;
  auto h = start_host(box, {}, {"/ip4/127.0.0.1/tcp/0"});
  auto address = h->listen_addrs().at(0);
  // The receiver first, and in annals's mesh before anyone publishes:
  // gossipsub forwards other peers' messages to mesh peers only.
  auto receiver = start_js(dir, "js-receiver", {"DIAL=" + address, "EXPECT=1"});
  require_js(eventually([&] { return h->mesh_peer_count(topic) == 1; }, 30s), *receiver,
             "the receiving js peer never joined annals's mesh");
  auto sender = start_js(dir, "js-sender", {"DIAL=" + address, "SEND=through annals", "SEND_WAIT=mesh"});
  require_js(eventually([&] { return box.has("through annals"); }, 30s), *sender,
             "annals got nothing from the sending js peer");
  require_js(receiver->wait(30s) == std::optional<int>(0), *receiver,
             "the receiving js peer did not get the forwarded message");
  CHECK(receiver->out().find("\"through annals\"") != std::string::npos);
  CHECK(h->stats().gossip.forwarded >= 1);
}
