// An owner node on real threads: in-process relay, real libtorrent on
// 127.0.0.1, real RocksDB, real signatures, a short archive interval.
#include "core/archive_reader.hpp"
#include "net/torrent_file.hpp"
#include "net/torrent_session.hpp"
#include "storage/store.hpp"
#include "actors/scheduler_probe.hpp"
#include "tests/integration/node_harness.hpp"
#include "tests/eventually.hpp"
#include "tests/temp_dir.hpp"

#include <caf/all.hpp>
#include <catch2/catch.hpp>


using namespace annals;

namespace {

using namespace annals::test;

constexpr std::uint64_t interval = 2;

/// One actor system with a relay, an owner node and observers.
struct owner_run {
  integration_config cfg;
  caf::actor_system sys{cfg};
  std::shared_ptr<observed> log = std::make_shared<observed>();
  relay_actor relay = sys.spawn(inprocess_relay);
  node_actor node;

  owner_run(const std::filesystem::path& data_dir, const public_key& community) {
    caf::anon_send(relay, subscribe_atom::value, pubsub_topic(),
                   std::vector<std::string>{content_topic(chat_topic(
                     magnetlinks_chat_id(community.community_id())))},
                   sys.spawn(relay_log, log));
    auto config = loopback_node(data_dir, relay, interval);
    config.archives.settle = 2;
    node = start_node(sys, config, log);
  }

  ~owner_run() {
    caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(relay, caf::exit_reason::user_shutdown);
  }

  std::string create(const synthetic_community& community) {
    return create_community(sys, node, community);
  }

  void post(const synthetic_community& community, std::size_t count) {
    post_messages(sys, relay, community, count);
  }
};

std::size_t archived_messages(const archive_layout& layout) {
  auto verified = verify_archive_dir(layout.archive_dir());
  if (!verified || !verified->ok())
    return 0;
  std::size_t n = 0;
  for (const auto& a : verified->archives)
    n += a.message_count;
  return n;
}

} // namespace

TEST_CASE("an owner archives relayed messages, seeds them and publishes one verified link",
          "[actors][node][integration]") {
  test::temp_dir dir("annals-node");
  auto community = synthetic_community::make(3, 42);
  auto pub = community.key.public_key();
  archive_layout layout{dir / "owner", pub.community_id()};
  std::string magnet;
  {
    owner_run owner(dir / "owner", pub);
    REQUIRE(owner.create(community) == pub.community_id());
    owner.post(community, 300);
    REQUIRE(wait_for([&] { return owner.log->count("annals.magnetlinkPublished") >= 1; }));
    // Two more intervals without new messages: re-seeded, never re-announced.
    REQUIRE(wait_for([&] { return owner.log->count("community.noHistoryArchivesCreated") >= 2; }));
    CHECK(owner.log->count("annals.magnetlinkPublished") == 1);
    REQUIRE(owner.log->envelope_count() == 1);

    auto types = owner.log->types();
    std::vector<std::string> first(types.begin(), types.begin() + 4);
    CHECK(first == std::vector<std::string>{"community.creatingHistoryArchives",
                                            "community.historyArchivesCreated",
                                            "community.historyArchivesSeeding",
                                            "annals.magnetlinkPublished"});
    CHECK(archived_messages(layout) == 300);

    waku::WakuMessage message;
    REQUIRE(message.ParseFromString(owner.log->envelopes.front().message));
    auto opened = open_magnetlink_waku_message(message, magnetlink_channel::of(pub));
    REQUIRE(opened);
    magnet = opened->message.link.magnet_uri;
    auto torrent = read_archive_torrent(layout.torrent_file());
    REQUIRE(torrent);
    CHECK(magnet_info_hash(magnet) == torrent->info_hash);

    // The link leads to a real seeder: fetch it from another session.
    auto member = torrent_session::start(loopback_session_options());
    REQUIRE(member);
    auto hash = (*member)->fetch(magnet, dir / "member" / "archivedata");
    REQUIRE(hash);
    REQUIRE(wait_for([&] {
      (*member)->poll(0ms);
      auto p = (*member)->progress(*hash);
      return p && (p->finished || p->seeding);
    }));
    archive_layout copy{dir / "member", pub.community_id()};
    CHECK(test::read_file(copy.data_file()) == test::read_file(layout.data_file()));
  }

  SECTION("a restarted owner re-seeds, builds nothing twice and publishes no second link") {
    auto index_before = test::read_file(layout.index_file());
    owner_run owner(dir / "owner", pub);
    REQUIRE(wait_for([&] { return owner.log->count("community.historyArchivesSeeding") >= 1; }));
    REQUIRE(wait_for([&] { return owner.log->count("community.noHistoryArchivesCreated") >= 1; }));
    CHECK(owner.log->count("annals.magnetlinkPublished") == 0);
    CHECK(owner.log->envelope_count() == 0);
    CHECK(test::read_file(layout.index_file()) == index_before);
    auto db_messages = [&] {
      // The node holds the store open; count through a fresh read of the index.
      return archived_messages(layout);
    };
    CHECK(db_messages() == 300);
  }
}

TEST_CASE("a taken torrent port fails the node's start and names the port",
          "[actors][node][integration]") {
  test::temp_dir dir("annals-node");
  auto holder = torrent_session::start(loopback_session_options());
  REQUIRE(holder);
  auto port = std::to_string((*holder)->listen_port());
  integration_config cfg;
  caf::actor_system sys{cfg};
  node_config config;
  config.data_dir = dir.path();
  config.torrent.listen = "127.0.0.1:" + port;
  config.torrent.loopback = true;
  auto node = spawn_node(sys, config);
  REQUIRE_FALSE(node);
  CHECK(sys.render(node.error()).find("127.0.0.1:" + port) != std::string::npos);
  CHECK(sys.render(node.error()).find("address already in use") != std::string::npos);
}

TEST_CASE("the scheduler probe measures its wake-ups and reports their lateness",
          "[actors][probe]") {
  node_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto probe = sys.spawn(scheduler_probe, std::chrono::milliseconds(1));
  component_status status;
  REQUIRE(annals::test::eventually([&] {
    self->request(probe, caf::infinite, status_atom::value)
      .receive([&](const component_status& s) { status = s; }, [](const caf::error&) {});
    return status.value_of("annals_scheduler_probes_total") >= 20;
  }));
  auto p50 = status.value_of("annals_scheduler_lateness_ms", {"quantile", "0.5"});
  auto p99 = status.value_of("annals_scheduler_lateness_ms", {"quantile", "0.99"});
  auto max = status.value_of("annals_scheduler_lateness_ms", {"quantile", "1"});
  CHECK(p50 >= 0);
  CHECK(p50 <= p99);
  CHECK(p99 <= max);
  CHECK(status.component == "scheduler_latency");
  self->send_exit(probe, caf::exit_reason::user_shutdown);
}
