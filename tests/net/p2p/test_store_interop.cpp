// The Waku store an annals host serves (storage/store_server over RocksDB),
// asked by a real js-waku store client (tests/js/waku-store.mjs, pinned
// @waku/core 0.0.31): every message in order, across several pages, in both
// directions; and by annals' own client over the same wire.
#include "core/status_envelope.hpp"
#include "core/store_query.hpp"
#include "net/p2p/host.hpp"
#include "proto/waku_message.pb.h"
#include "storage/store.hpp"
#include "storage/store_server.hpp"
#include "tests/eventually.hpp"
#include "tests/process.hpp"
#include "tests/relay_message.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <future>
#include <sstream>

using namespace annals;
using namespace annals::p2p;
using namespace std::chrono_literals;
using annals::test::eventually;

namespace {

const std::string pubsub = "/waku/2/rs/16/32";
const std::string topic_a = "/annals/1/store-a/proto";
const std::string topic_b = "/annals/1/store-b/proto";

stored_relay_message relay_message(const std::string& content_topic, const std::string& payload,
                                   std::int64_t timestamp) {
  return test::make_relay_message(pubsub, content_topic, timestamp, payload);
}

/// A host serving a store of `n` messages on topic_a ("a-0".."a-<n-1>", in
/// time order) with every third one on topic_b instead.
struct store_peer {
  test::temp_dir dir{"store-interop"};
  std::shared_ptr<store> db;
  std::shared_ptr<store_query_server> server = std::make_shared<store_query_server>();
  std::unique_ptr<host> node;
  std::vector<std::string> expected_a;  // payloads on topic_a, oldest first

  explicit store_peer(int n) {
    db = std::shared_ptr<store>(std::move(*store::open(dir / "db")));
    std::vector<stored_relay_message> messages;
    std::int64_t base = 1'700'000'000'000'000'000;
    for (int i = 0; i < n; ++i) {
      bool b = i % 3 == 2;
      auto payload = std::string(b ? "b-" : "a-") + std::to_string(i);
      messages.push_back(relay_message(b ? topic_b : topic_a, payload, base + i * 1000));
      if (!b)
        expected_a.push_back(payload);
    }
    REQUIRE(*db->relay_messages().record(messages) == messages.size());
    server->attach(db);
    host_config c;
    c.listen = {"/ip4/127.0.0.1/tcp/0"};
    c.store_query = [s = server](const std::string& peer, std::string_view request) {
      return s->answer(peer, request);
    };
    auto h = host::start(std::move(c));
    REQUIRE(h);
    node = std::move(*h);
  }
};

std::unique_ptr<test::child_process> start_js_store(const test::temp_dir& dir,
                                                    const std::string& tag,
                                                    std::vector<std::string> env) {
  std::filesystem::path js = ANNALS_JS_DIR;
  if (!std::filesystem::exists(js / "node_modules" / "@waku" / "core"))
    FAIL("tests/js/node_modules is missing: run scripts/setup.sh (npm ci in tests/js)");
  env.push_back("TIMEOUT_MS=30000");
  return std::make_unique<test::child_process>(
    std::vector<std::string>{"node", "--import", "./polyfill.mjs", "waku-store.mjs"},
    dir / (tag + ".out"), dir / (tag + ".err"), env, js);
}

/// The payloads the js client printed, in order, and its page sizes.
void read_js(const std::string& text, std::vector<std::string>& payloads,
             std::vector<int>& pages) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PAGE ", 0) == 0)
      pages.push_back(std::stoi(line.substr(5)));
    if (line.rfind("MSG ", 0) == 0) {
      auto quote = line.find('"');
      payloads.push_back(line.substr(quote + 1, line.size() - quote - 2));
    }
  }
}

} // namespace

TEST_CASE("a js-waku store client pages through an annals store in both directions",
          "[p2p][js][store]") {
  store_peer peer(60);  // 40 on topic_a, 20 on topic_b
  auto address = peer.node->listen_addrs().at(0);
  for (bool forward : {true, false}) {
    CAPTURE(forward);
    auto js = start_js_store(peer.dir, forward ? "forward" : "backward",
                             {"DIAL=" + address, "CT=" + topic_a, "PAGE_SIZE=7",
                              std::string("FORWARD=") + (forward ? "1" : "0")});
    auto code = js->wait(40s);
    INFO("js stdout:\n" << js->out() << "\njs stderr:\n" << js->err());
    REQUIRE(code == std::optional<int>(0));
    std::vector<std::string> payloads;
    std::vector<int> pages;
    read_js(js->out(), payloads, pages);
    // Forward: oldest first. Backward: newest page first, each page in time
    // order (js takes the page's first hash as the next cursor).
    std::vector<std::string> expected;
    if (forward) {
      expected = peer.expected_a;
    } else {
      auto& all = peer.expected_a;
      for (std::size_t end = all.size(); end > 0; end -= std::min<std::size_t>(end, 7)) {
        auto start = end - std::min<std::size_t>(end, 7);
        expected.insert(expected.end(), all.begin() + start, all.begin() + end);
      }
    }
    CHECK(payloads == expected);
    CHECK(pages == std::vector<int>{7, 7, 7, 7, 7, 5});
    CHECK(js->out().find("DONE 40") != std::string::npos);
  }
  CHECK(peer.server->counters().answers.at(200) >= 14);
}

TEST_CASE("annals' store client asks an annals store over libp2p, and refusals carry their code",
          "[p2p][store]") {
  store_peer peer(30);
  host_config c;
  c.static_peers = {peer.node->listen_addrs().at(0)};
  auto client = host::start(std::move(c));
  REQUIRE(client);
  auto id = peer.node->peer_id();
  REQUIRE(eventually([&] { return (*client)->peers().size() == 1; }, 10s));
  auto ask = [&](std::string peer_id, const std::string& request) {
    std::promise<result<std::string>> answered;
    auto f = answered.get_future();
    (*client)->request(peer_id, std::string(store_query_protocol), request, 8 << 20, 10s,
                       [&](result<std::string> r) { answered.set_value(std::move(r)); });
    return f.get();
  };

  store_query q;
  q.request_id = "one";
  q.include_data = true;
  q.pubsub_topic = pubsub;
  q.content_topics = {topic_a, topic_b};
  q.forward = true;
  q.limit = 100;
  auto bytes = ask(id, encode_store_query(q));
  REQUIRE(bytes);
  auto answer = parse_store_answer(*bytes);
  REQUIRE(answer);
  CHECK(answer->status_code == 200);
  CHECK(answer->request_id == "one");
  CHECK(answer->messages.size() == 30);
  CHECK_FALSE(answer->cursor);

  // A peer named by nobody, or asked without a store: an error, not a hang.
  auto nobody = ask("16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY", encode_store_query(q));
  REQUIRE_FALSE(nobody);
  CHECK(nobody.error().message.find("not connected") != std::string::npos);

  // Content topics without a pubsub topic: 400, naming why.
  store_query bad = q;
  bad.request_id = "bad";
  bad.pubsub_topic.reset();
  auto refused = parse_store_answer(*ask(id, encode_store_query(bad)));
  REQUIRE(refused);
  CHECK(refused->status_code == 400);
  CHECK(refused->request_id == "bad");
  CHECK(refused->status_desc.find("pubsub topic") != std::string::npos);

  // An unknown cursor: 400.
  store_query lost = q;
  lost.cursor = std::string(32, '\x42');
  auto unknown = parse_store_answer(*ask(id, encode_store_query(lost)));
  REQUIRE(unknown);
  CHECK(unknown->status_code == 400);
  CHECK(unknown->status_desc.find("cursor") != std::string::npos);

  // Garbage bytes: 400, and the connection stays up for the next query.
  auto garbage = parse_store_answer(*ask(id, std::string("\xff\xff\xff\xff", 4)));
  REQUIRE(garbage);
  CHECK(garbage->status_code == 400);

  // A frame over the request cap resets only that stream.
  auto huge = ask(id, std::string(100 * 1024, 'x'));
  CHECK_FALSE(huge);
  auto again = parse_store_answer(*ask(id, encode_store_query(q)));
  REQUIRE(again);
  CHECK(again->status_code == 200);
  CHECK((*client)->peers().size() == 1);
}

TEST_CASE("a peer asking faster than the rate limit gets 429, others are still answered",
          "[p2p][store]") {
  store_peer peer(5);
  store_server_options options;
  options.queries_per_second = 1;
  options.burst = 3;
  peer.server = std::make_shared<store_query_server>(options);
  peer.server->attach(peer.db);
  store_query q;
  q.request_id = "r";
  q.include_data = false;
  auto request = encode_store_query(q);
  std::vector<std::uint32_t> codes;
  for (int i = 0; i < 6; ++i)
    codes.push_back(parse_store_answer(peer.server->answer("greedy", request))->status_code);
  CHECK(codes == std::vector<std::uint32_t>{200, 200, 200, 429, 429, 429});
  CHECK(parse_store_answer(peer.server->answer("polite", request))->status_code == 200);
  CHECK(peer.server->counters().answers.at(429) == 3);
  // Before a store is attached: 503.
  store_query_server unattached;
  CHECK(parse_store_answer(unattached.answer("p", request))->status_code == 503);
}
