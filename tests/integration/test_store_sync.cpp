// The Waku store between nodes on real libp2p relays (127.0.0.1), real
// RocksDB and libtorrent: an owner that was down while its community talked
// fills the gap from a member's store when it comes back, and archives every
// message once; a hostile store peer's forged answers are counted, not kept.
#include "actors/libp2p_relay.hpp"
#include "core/status_envelope.hpp"
#include "core/synthetic.hpp"
#include "core/topics.hpp"
#include "net/p2p/host.hpp"
#include "storage/store.hpp"
#include "storage/store_server.hpp"
#include "tests/integration/node_harness.hpp"
#include "tests/app/run_annals.hpp"
#include "tests/relay_message.hpp"
#include "tests/temp_dir.hpp"

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

#include <atomic>

using namespace annals;
using namespace annals::test;

namespace {

/// A libp2p relay on 127.0.0.1 serving `server`, dialling `peers`.
libp2p_relay_actor start_relay(caf::actor_system& sys, std::shared_ptr<store_query_server> server,
                               std::vector<std::string> peers = {}) {
  p2p::host_config config;
  config.listen = {"/ip4/127.0.0.1/tcp/0"};
  config.static_peers = std::move(peers);
  config.reconnect_initial = std::chrono::milliseconds(100);
  config.reconnect_max = std::chrono::milliseconds(500);
  config.store_query = [server](const std::string& peer, std::string_view request) {
    return server->answer(peer, request);
  };
  auto relay = spawn_libp2p_relay(sys, config, [](const std::string&) {});
  if (!relay)
    FAIL(sys.render(relay.error()));
  return *relay;
}

std::string listen_address(caf::actor_system& sys, const libp2p_relay_actor& relay) {
  caf::scoped_actor self{sys};
  std::string address;
  self->request(relay, 10s, listen_atom::value)
    .receive([&](const std::string&, const std::vector<std::string>& addrs) { address = addrs.at(0); },
             [&](const caf::error& err) { FAIL(sys.render(err)); });
  return address;
}

node_config store_node(const std::filesystem::path& dir, relay_actor relay) {
  auto config = loopback_node(dir, std::move(relay));
  config.waku_store.serve = true;
  config.waku_store.sync = true;
  return config;
}

/// The node serves the Waku store through its relay's server.
node_hooks serving(std::shared_ptr<store_query_server> server) {
  node_hooks hooks;
  hooks.store_server = std::move(server);
  return hooks;
}

/// Whatever the test started goes down at its end, passed or failed: the
/// actor system waits for every actor before it lets the test go.
struct stop_all {
  std::vector<caf::actor> actors;
  template <class Handle>
  Handle add(Handle h) {
    actors.push_back(caf::actor_cast<caf::actor>(h));
    return h;
  }
  ~stop_all() {
    for (auto& a : actors)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
};

/// A metric of the node's store component, or -1 when it has none.
double store_metric(caf::actor_system& sys, const node_actor& node, const std::string& name) {
  caf::scoped_actor self{sys};
  std::vector<component_status> parts;
  self->request(node, 10s, status_atom::value)
    .receive([&](std::vector<component_status>& s) { parts = std::move(s); },
             [](const caf::error&) {});
  for (const auto& p : parts)
    if (p.component == "store")
      for (const auto& m : p.metrics)
        if (m.name == name)
          return m.value;
  return -1.0;
}

void stop(caf::actor_system& sys, const caf::actor& actor) {
  caf::scoped_actor self{sys};
  self->monitor(actor);
  self->send_exit(actor, caf::exit_reason::user_shutdown);
  bool down = false;
  self->receive([&](const caf::down_msg&) { down = true; }, caf::after(20s) >> [] {});
  REQUIRE(down);
}

} // namespace

TEST_CASE("an owner back from downtime fills the gap from a member's store and archives "
          "every message once",
          "[actors][store][integration]") {
  integration_config cfg;
  caf::actor_system sys{cfg};
  temp_dir dir("store-sync");
  auto community = synthetic_community::make(2, 7);
  auto log = std::make_shared<observed>();
  stop_all running;

  auto member_server = std::make_shared<store_query_server>();
  auto member_relay = running.add(start_relay(sys, member_server));
  auto member_addr = listen_address(sys, member_relay);
  auto member = running.add(
    start_node(sys, store_node(dir / "member", member_relay), log, serving(member_server)));
  join_community(sys, member, community);

  auto owner_server = std::make_shared<store_query_server>();
  auto owner_relay = running.add(start_relay(sys, owner_server, {member_addr}));
  auto owner =
    running.add(start_node(sys, store_node(dir / "owner", owner_relay), log, serving(owner_server)));
  auto id = create_community(sys, owner, community);
  // Both ends of the relay see each other before anything is posted.
  REQUIRE(wait_for([&] {
    caf::scoped_actor self{sys};
    std::size_t peers = 0;
    self->request(member_relay, 5s, peers_atom::value)
      .receive([&](const std::vector<std::string>& p) { peers = p.size(); },
               [](const caf::error&) {});
    return peers == 1;
  }));
  std::this_thread::sleep_for(1s);  // gossipsub subscriptions cross
  post_messages(sys, owner_relay, community, 200);
  REQUIRE(wait_for([&] { return status_of(sys, owner, id).messages == 200; }));

  // The owner goes down; the community keeps talking through the member.
  stop(sys, caf::actor_cast<caf::actor>(owner));
  stop(sys, caf::actor_cast<caf::actor>(owner_relay));
  post_messages(sys, member_relay, community, 150);
  // The member's store recorded them (it serves them to whoever asks).
  REQUIRE(wait_for([&] { return store_metric(sys, member, "annals_store_messages") >= 350; }));

  // Back on the same data directory: it asks the member and keeps the 150.
  auto owner_server2 = std::make_shared<store_query_server>();
  auto owner_relay2 = running.add(start_relay(sys, owner_server2, {member_addr}));
  auto owner2 =
    running.add(start_node(sys, store_node(dir / "owner", owner_relay2), log, serving(owner_server2)));
  REQUIRE(wait_for([&] { return status_of(sys, owner2, id).messages == 350; }, 60s));
  // ...and archives them, each once.
  REQUIRE(wait_for([&] { return status_of(sys, owner2, id).unarchived == 0; }, 60s));
  CHECK(status_of(sys, owner2, id).messages == 350);
  stop(sys, caf::actor_cast<caf::actor>(owner2));
  stop(sys, caf::actor_cast<caf::actor>(member));
  // The node's detached stages let go of the store as they wind down.
  std::optional<result<std::unique_ptr<store>>> db;
  REQUIRE(wait_for([&] {
    db.emplace(store::open(dir / "owner" / "db"));
    return db->has_value();
  }));
  auto& owner_db = **db;
  auto pub = *public_key::from_community_id(id);
  CHECK(*owner_db->count_messages(pub) == 350);
  CHECK(*owner_db->count_unarchived(pub) == 0);
  // Exactly once: the archives verify and hold the stored set, no more.
  owner_db.reset();
  auto inspect = run_annals("archive inspect " + (dir / "owner").string(), dir);
  INFO(inspect.err);
  REQUIRE(inspect.code == 0);
  CHECK(nlohmann::json::parse(inspect.out)["messages"] == 350);
}

TEST_CASE("a hostile store peer's answers are checked: wrong hashes and topics are counted, "
          "not kept, and a refusal is retried later",
          "[actors][store][integration]") {
  integration_config cfg;
  caf::actor_system sys{cfg};
  temp_dir dir("store-hostile");
  auto community = synthetic_community::make(1, 9);
  auto log = std::make_shared<observed>();
  stop_all running;

  // The stranger answers every query with a message whose hash is not its
  // own and one on a content topic nobody asked for; its first answer is a 503.
  std::atomic<int> asked{0};
  p2p::host_config hostile;
  hostile.listen = {"/ip4/127.0.0.1/tcp/0"};
  hostile.store_query = [&asked](const std::string&, std::string_view request) {
    auto id = store_request_id(request);
    if (asked++ == 0)
      return encode_store_refusal(id, {store_status::unavailable, "warming up"});
    auto query = parse_store_query(request, store_query_limits{});
    store_page page;
    if (query && query->pubsub_topic && !query->content_topics.empty()) {
      auto forged = make_relay_message(*query->pubsub_topic, query->content_topics[0],
                                       1'700'000'000'000'000'000, "forged link");
      forged.hash = std::string(32, '\x01');
      page.messages.push_back(forged);
      page.messages.push_back(make_relay_message(*query->pubsub_topic, "/not/1/asked/proto",
                                                 1'700'000'000'000'000'001, "off topic"));
    }
    return encode_store_answer(id, page, true);
  };
  auto stranger = p2p::host::start(hostile);
  REQUIRE(stranger);
  auto stranger_addr = (*stranger)->listen_addrs().at(0);

  auto server = std::make_shared<store_query_server>();
  auto relay = running.add(start_relay(sys, server, {stranger_addr}));
  auto member =
    running.add(start_node(sys, store_node(dir / "member", relay), log, serving(server)));
  join_community(sys, member, community);

  // The 503 first, then (after a 2 s pause) the forged answer: two bad
  // messages counted, nothing handed to the gate.
  REQUIRE(wait_for([&] { return store_metric(sys, member, "annals_store_messages_forged_total") >= 2; }));
  CHECK(store_metric(sys, member, "annals_store_answers_refused_total") >= 1);
  CHECK(store_metric(sys, member, "annals_store_links_found_total") == 0);
  CHECK(asked >= 2);
  CHECK(log->count("annals.magnetlinkRejected") == 0);
  CHECK(status_of(sys, member, community.id()).magnetlink_clock == 0);
}

TEST_CASE("an owner whose relay missed messages fetches them by hash from a store peer and "
          "keeps each once, fetched once",
          "[actors][store][integration]") {
  integration_config cfg;
  caf::actor_system sys{cfg};
  temp_dir dir("store-verify");
  auto community = synthetic_community::make(2, 11);
  auto log = std::make_shared<observed>();
  stop_all running;

  // A store peer that heard 450 channel messages this owner never got over
  // the relay (a congested link dropped them): its store holds them, and
  // it serves the store protocol with a real server on a real RocksDB.
  constexpr std::size_t missed = 450;  // five by-hash queries of 100
  auto peer_db = store::open(dir / "peer");
  REQUIRE(peer_db);
  std::shared_ptr<store> peer_store = std::move(*peer_db);
  auto sender = private_key::generate();
  auto recent = static_cast<std::int64_t>(unix_ms_now()) * 1'000'000 - std::int64_t{20'000'000'000};
  std::vector<stored_relay_message> heard;
  for (std::size_t i = 0; i < missed; ++i) {
    auto message = make_channel_waku_message(community, i % community.channel_ids.size(), sender,
                                             "missed " + std::to_string(i),
                                             recent + static_cast<std::int64_t>(i) * 1'000'000);
    REQUIRE(message);
    stored_relay_message m;
    m.pubsub_topic = pubsub_topic();
    m.content_topic = message->content_topic();
    m.timestamp = message->timestamp();
    m.message = message->SerializeAsString();
    m.hash = std::string(as_view(waku_message_hash(m.pubsub_topic, *message)));
    heard.push_back(std::move(m));
  }
  REQUIRE(peer_store->relay_messages().record(heard));
  auto peer_server = std::make_shared<store_query_server>();
  peer_server->attach(peer_store);
  std::atomic<int> by_hash{0};
  p2p::host_config peer_config;
  peer_config.listen = {"/ip4/127.0.0.1/tcp/0"};
  peer_config.store_query = [peer_server, &by_hash](const std::string& peer, std::string_view request) {
    if (auto q = parse_store_query(request, store_query_limits{}); q && !q->message_hashes.empty())
      ++by_hash;
    return peer_server->answer(peer, request);
  };
  auto peer = p2p::host::start(peer_config);
  REQUIRE(peer);

  auto server = std::make_shared<store_query_server>();
  auto relay = running.add(start_relay(sys, server, {(*peer)->listen_addrs().at(0)}));
  auto config = store_node(dir / "owner", relay);
  config.waku_store.verify_interval = std::chrono::seconds(1);
  auto owner = running.add(start_node(sys, config, log, serving(server)));
  auto id = create_community(sys, owner, community);

  REQUIRE(wait_for([&] { return status_of(sys, owner, id).messages == missed; }, 60s));
  CHECK(store_metric(sys, owner, "annals_store_messages_recovered_total") == missed);
  CHECK(store_metric(sys, owner, "annals_store_verifications_total") >= 1);
  CHECK(by_hash >= 5);
  // Another round finds nothing new: each message was kept once.
  REQUIRE(wait_for([&] { return store_metric(sys, owner, "annals_store_verifications_total") >= 3; },
                   30s));
  CHECK(status_of(sys, owner, id).messages == missed);
  CHECK(store_metric(sys, owner, "annals_store_messages_recovered_total") == missed);
}
