// The owner pipeline under CAF's deterministic coordinator: a 7-day interval
// runs in microseconds. Real RocksDB, real archive builder and files, real
// envelope bytes; only the libtorrent session is replaced by a distribution backend that
// reads the real torrent file (libtorrent's own timers cannot run on virtual
// time; the session is tested against real sockets elsewhere).
#define CAF_TEST_NO_MAIN
#include <caf/test/unit_test_impl.hpp>

#include <caf/test/dsl.hpp>

#include "actors/archive_builder.hpp"
#include "actors/control_node_gate.hpp"
#include "actors/inprocess_relay.hpp"
#include "actors/magnetlink_publisher.hpp"
#include "actors/node.hpp"
#include "actors/scheduler.hpp"
#include "actors/signal_bus.hpp"
#include "core/archive_reader.hpp"
#include "core/synthetic.hpp"
#include "net/torrent_file.hpp"
#include "storage/owner_build.hpp"
#include "storage/store.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace annals;

namespace {

constexpr std::uint64_t day = 24 * 3600;
constexpr std::uint64_t week = 7 * day;
constexpr std::uint64_t t0 = 1'800'000'000;

using test_config = node_system_config;

/// What the stand-in distribution backend was asked to do.
struct seeder_log {
  std::vector<std::string> seeded;    // community IDs, in order
  std::vector<std::string> unseeded;
};

/// Seeds by reading the real torrent file and answering its magnet link.
archive_distribution_actor::behavior_type
recording_seeder(archive_distribution_actor::pointer self, std::filesystem::path root,
                 std::shared_ptr<seeder_log> log, signal_bus_actor bus) {
  auto fetched = [] { return caf::make_error(caf::sec::unexpected_message, "owner pipeline fetched"); };
  return {
    [=](seed_atom, const std::string& community) -> caf::result<std::string> {
      auto torrent = read_archive_torrent(archive_layout{root, community}.torrent_file());
      if (!torrent)
        return caf::make_error(caf::sec::runtime_error, torrent.error().to_string());
      log->seeded.push_back(community);
      self->send(bus, publish_atom::value, signal{history_archives_seeding{community, torrent->magnet}});
      return torrent->magnet;
    },
    [=](unseed_atom, const std::string& community) { log->unseeded.push_back(community); },
    [](status_atom) {
      component_status out;
      out.component = "distribution";
      return out;
    },
    // The owner pipeline never fetches; a call here is a test failure.
    [=](fetch_atom, const std::string&, const std::string&,
        const std::vector<std::string>&) -> caf::result<std::string> { return fetched(); },
    [](index_atom, const std::string&, bool) {},
    [](want_atom, const std::string&, const std::vector<archive_slot>&) {},
    [=](progress_atom, const std::string&) -> caf::result<fetch_progress> { return fetched(); },
    [=](save_atom, const std::string&) -> caf::result<bool> { return fetched(); },
  };
}

/// Collects every signal in order.
signal_sink_actor::behavior_type signal_recorder(signal_sink_actor::pointer,
                                                 std::shared_ptr<std::vector<signal>> out) {
  return {[=](const signal& s) { out->push_back(s); }};
}

/// Collects every relayed message.
relay_sink_actor::behavior_type relay_recorder(relay_sink_actor::pointer,
                                               std::shared_ptr<std::vector<waku_envelope>> out) {
  return {[=](const waku_envelope& e) { out->push_back(e); }};
}

struct owner_fixture : test_coordinator_fixture<test_config> {
  test::temp_dir dir{"annals-owner"};
  std::shared_ptr<store> db;
  synthetic_community community = synthetic_community::make(2, 3);
  public_key pub = community.key.public_key();
  std::string id = pub.community_id();
  std::uint64_t now = t0;

  std::shared_ptr<seeder_log> seeds = std::make_shared<seeder_log>();
  std::shared_ptr<std::vector<signal>> signals = std::make_shared<std::vector<signal>>();
  std::shared_ptr<std::vector<waku_envelope>> relayed =
    std::make_shared<std::vector<waku_envelope>>();
  std::shared_ptr<std::vector<build_job>> jobs = std::make_shared<std::vector<build_job>>();

  signal_bus_actor bus;
  relay_actor relay;
  archive_builder_actor builder;
  archive_distribution_actor seeder;
  scheduler_actor sched_actor;
  magnetlink_publisher_actor publisher;
  control_node_gate_actor gate;

  owner_fixture() {
    db = std::shared_ptr<store>(std::move(*store::open(dir / "db")));
    record::Community rec;
    rec.set_public_key(std::string(as_view(pub.compressed())));
    rec.set_private_key(std::string(as_view(community.key.bytes())));
    for (std::size_t i = 0; i < community.channel_ids.size(); ++i) {
      auto* channel = rec.add_channels();
      channel->set_id(community.channel_ids[i]);
      channel->set_topic(std::string(as_view(community.channel_topics[i])));
    }
    rec.set_role(record::Community::OWNER);
    rec.set_joined(true);
    rec.set_archives_enabled(true);
    REQUIRE(db->put_community(rec));

    bus = sys.spawn(signal_bus);
    relay = sys.spawn(inprocess_relay);
    self->send(bus, subscribe_atom::value, sys.spawn(signal_recorder, signals));
    self->send(relay, subscribe_atom::value, pubsub_topic(), std::vector<std::string>{},
               sys.spawn(relay_recorder, relayed));
    // The real builder, spawned attached so the coordinator runs it.
    auto real_builder = sys.spawn(archive_builder, archive_builder_config{dir.path(), {}, "test", "owner", {}},
                                  db, bus);
    builder = real_builder;
    seeder = sys.spawn(recording_seeder, dir.path(), seeds, bus);
    publisher = sys.spawn(magnetlink_publisher,
                          magnetlink_publisher_config{private_key::generate(), "test-device",
                                                      [this] { return now * 1000; }},
                          db, relay, bus);
    gate = sys.spawn(control_node_gate, control_node_gate_config{0}, db, publisher, relay,
                     downloader_actor{}, bus);
    sched.run();
  }

  ~owner_fixture() override {
    for (auto h : std::vector<caf::actor_addr>{bus.address(), relay.address(), builder.address(),
                                               seeder.address(), publisher.address(),
                                               gate.address()})
      if (auto a = caf::actor_cast<caf::actor>(h))
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    if (sched_actor)
      caf::anon_send_exit(sched_actor, caf::exit_reason::user_shutdown);
    // sched.run(), not run(): the fixture's run() also fires timers, and a
    // periodic timer never lets it return.
    sched.run();
  }

  /// settle 0 keeps the expected windows readable; one test covers settle.
  void spawn_scheduler(std::uint64_t interval = week, std::uint64_t settle = 0) {
    scheduler_config config{interval, dir.path(), [this] { return now; }, settle};
    config.gate = gate;
    sched_actor = sys.spawn(scheduler, config, db, builder, seeder);
  }

  void store_messages(std::uint64_t from, std::uint64_t to, std::size_t count) {
    synthetic_traffic traffic;
    traffic.count = count;
    traffic.from = from;
    traffic.to = to;
    traffic.seed = from;
    REQUIRE(db->insert_messages(pub, make_synthetic_messages(community, traffic)));
  }

  /// What an earlier run left: every stored message below `to` archived
  /// (exactly once, through the owner's queue) and the torrent written.
  void archive_until(std::uint64_t to) {
    archive_layout layout{dir.path(), id};
    owner_build_hooks hooks;
    hooks.write_torrent = [layout](const data_piece_hashes* appended) -> result<void> {
      auto torrent = write_archive_torrent(layout, {}, appended);
      if (!torrent)
        return torrent.error();
      return {};
    };
    REQUIRE(build_owner_archives(layout, *db, pub, {to, week, community.channel_topics}, hooks));
  }

  /// Moves both clocks (the scheduler's unix time and CAF's timers).
  void advance(std::uint64_t seconds) {
    now += seconds;
    advance_time(std::chrono::seconds(seconds));
    sched.run();
  }

  std::vector<std::string> signal_types() const {
    std::vector<std::string> out;
    for (const auto& s : *signals)
      out.push_back(signal_type(s));
    return out;
  }

  std::size_t count(const std::string& type) const {
    auto types = signal_types();
    return static_cast<std::size_t>(std::count(types.begin(), types.end(), type));
  }

  std::vector<std::pair<std::uint64_t, std::uint64_t>> created_ranges() const {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
    for (const auto& s : *signals)
      if (auto* c = caf::get_if<history_archives_created>(&s))
        out.emplace_back(c->from, c->to);
    return out;
  }

  std::size_t archives_in_index() const {
    auto index = read_index(archive_layout{dir.path(), id}.index_file());
    return index ? static_cast<std::size_t>(index->archives().size()) : 0;
  }
};

} // namespace

TEST_CASE_METHOD(owner_fixture, "no stored messages: the interval runs but builds nothing",
                 "[actors][scheduler]") {
  spawn_scheduler();
  self->send(sched_actor, start_atom::value, id);
  sched.run();
  advance(week);
  CHECK(signals->empty());
  CHECK(seeds->seeded.empty());
}

TEST_CASE_METHOD(owner_fixture, "first build starts at the oldest stored message, one interval in",
                 "[actors][scheduler]") {
  store_messages(t0 - day, t0, 50);
  spawn_scheduler();
  self->send(sched_actor, start_atom::value, id);
  sched.run();
  // Elapsed (1 day) < interval: nothing yet, no torrent to seed.
  CHECK(signals->empty());
  advance(week - day - 1);
  CHECK(signals->empty());
  advance(1);
  REQUIRE(created_ranges().size() == 1);
  CHECK(created_ranges()[0] == std::make_pair(t0 - day, t0 + week - day));
  CHECK(seeds->seeded == std::vector<std::string>{id});
}

TEST_CASE_METHOD(owner_fixture, "an end date older than the interval builds at once and seeds once",
                 "[actors][scheduler]") {
  store_messages(t0 - 3 * week, t0, 300);
  archive_until(t0 - 2 * week);
  REQUIRE(archives_in_index() == 1);
  spawn_scheduler();
  self->send(sched_actor, start_atom::value, id);
  sched.run();
  REQUIRE(created_ranges().size() == 1);
  CHECK(created_ranges()[0] == std::make_pair(t0 - 2 * week, t0));
  // Messages before the stored end date were archived by the earlier build.
  CHECK(archives_in_index() == 3);
  // The stale torrent is not seeded before the build: one seed, one link.
  CHECK(seeds->seeded.size() == 1);
  CHECK(count("annals.magnetlinkPublished") == 1);
  CHECK(relayed->size() == 1);
}

TEST_CASE_METHOD(owner_fixture, "a recent end date seeds the existing torrent and builds at end + interval",
                 "[actors][scheduler]") {
  // An earlier run built and published up to t0 - 2 days.
  store_messages(t0 - 10 * day, t0 - 2 * day, 40);
  archive_until(t0 - 2 * day);
  store_messages(t0 - 2 * day, t0, 40);
  auto torrent = read_archive_torrent(archive_layout{dir.path(), id}.torrent_file());
  REQUIRE(torrent);
  REQUIRE(db->get_archive_info(pub)->last_archive_end == t0 - 2 * day);
  REQUIRE(db->set_magnetlink(pub, 5, torrent->magnet));

  spawn_scheduler();
  self->send(sched_actor, start_atom::value, id);
  sched.run();
  CHECK(seeds->seeded.size() == 1);
  CHECK(count("community.historyArchivesSeeding") == 1);
  // Its link went out before the restart: not published again.
  CHECK(count("annals.magnetlinkPublished") == 0);
  CHECK(created_ranges().empty());

  advance(week - 2 * day);
  REQUIRE(created_ranges().size() == 1);
  CHECK(created_ranges()[0] == std::make_pair(t0 - 2 * day, t0 + week - 2 * day));
  CHECK(count("annals.magnetlinkPublished") == 1);
}

TEST_CASE_METHOD(owner_fixture, "each tick builds from the last end to now",
                 "[actors][scheduler]") {
  store_messages(t0 - 8 * day, t0, 80);
  spawn_scheduler();
  self->send(sched_actor, start_atom::value, id);
  sched.run();
  store_messages(t0, t0 + week, 70);
  advance(week);
  store_messages(t0 + week, t0 + 2 * week, 60);
  advance(week);
  auto ranges = created_ranges();
  REQUIRE(ranges.size() == 3);
  CHECK(ranges[0] == std::make_pair(t0 - 8 * day, t0));
  CHECK(ranges[1] == std::make_pair(t0, t0 + week));
  CHECK(ranges[2] == std::make_pair(t0 + week, t0 + 2 * week));
  CHECK(count("annals.magnetlinkPublished") == 3);
  auto info = db->get_archive_info(pub);
  REQUIRE(info);
  CHECK(info->last_archive_end == t0 + 2 * week);
}

TEST_CASE_METHOD(owner_fixture, "a window stays open for the settle time after its end",
                 "[actors][scheduler]") {
  store_messages(t0 - 8 * day, t0, 80);
  spawn_scheduler(week, 5);
  self->send(sched_actor, start_atom::value, id);
  sched.run();
  REQUIRE(created_ranges().size() == 1);
  CHECK(created_ranges()[0] == std::make_pair(t0 - 8 * day, t0 - 5));
  // A message that arrives late but inside the settle time is not lost.
  REQUIRE(db->insert_messages(pub, {make_synthetic_messages(community, {1, t0 - 3, t0 - 2, 64, 64, 1, 99})}));
  advance(week);
  REQUIRE(created_ranges().size() == 2);
  CHECK(created_ranges()[1] == std::make_pair(t0 - 5, t0 + week - 5));
  CHECK(archives_in_index() == 3);
}

TEST_CASE_METHOD(owner_fixture, "a week without messages reseeds but publishes no second link",
                 "[actors][scheduler][gate]") {
  store_messages(t0 - 8 * day, t0, 80);
  spawn_scheduler();
  self->send(sched_actor, start_atom::value, id);
  sched.run();
  REQUIRE(count("annals.magnetlinkPublished") == 1);
  advance(week);
  CHECK(count("community.noHistoryArchivesCreated") == 1);
  CHECK(count("annals.magnetlinkPublished") == 1);
  CHECK(relayed->size() == 1);
}

TEST_CASE_METHOD(owner_fixture, "a second start for a community is ignored",
                 "[actors][scheduler]") {
  store_messages(t0 - 8 * day, t0, 80);
  spawn_scheduler();
  self->send(sched_actor, start_atom::value, id);
  self->send(sched_actor, start_atom::value, id);
  sched.run();
  CHECK(count("community.creatingHistoryArchives") == 1);
  std::vector<std::string> running;
  auto status = self->request(sched_actor, caf::infinite, status_atom::value);
  sched.run();
  status.receive(
    [&](const component_status& s) {
      for (std::size_t i = 0; i + 1 < s.details.size(); i += 2)
        if (s.details[i] == "task")
          running.push_back(s.details[i + 1]);
      CHECK(s.value_of("annals_archive_tasks") == 1);
    },
                 [](const caf::error&) { FAIL("status failed"); });
  CHECK(running == std::vector<std::string>{id});
  advance(week);
  CHECK(count("community.creatingHistoryArchives") == 2);
}

TEST_CASE_METHOD(owner_fixture, "stop ends the task and unseeds", "[actors][scheduler]") {
  store_messages(t0 - day, t0, 10);
  spawn_scheduler();
  self->send(sched_actor, start_atom::value, id);
  sched.run();
  self->send(sched_actor, stop_atom::value, id);
  sched.run();
  CHECK(seeds->unseeded == std::vector<std::string>{id});
  advance(2 * week);
  CHECK(signals->empty());
}

TEST_CASE_METHOD(owner_fixture, "one build signals creating, created, seeding, published in order",
                 "[actors][signals]") {
  store_messages(t0 - 8 * day, t0, 80);
  spawn_scheduler();
  self->send(sched_actor, start_atom::value, id);
  sched.run();
  CHECK(signal_types()
        == std::vector<std::string>{"community.creatingHistoryArchives",
                                    "community.historyArchivesCreated",
                                    "community.historyArchivesSeeding",
                                    "annals.magnetlinkPublished"});
}

TEST_CASE_METHOD(owner_fixture, "the published message verifies as status-go's envelope",
                 "[actors][publisher]") {
  store_messages(t0 - 8 * day, t0, 80);
  spawn_scheduler();
  self->send(sched_actor, start_atom::value, id);
  sched.run();
  REQUIRE(relayed->size() == 1);
  const auto& envelope = relayed->front();
  CHECK(envelope.pubsub_topic == "/waku/2/rs/16/32");
  CHECK(envelope.content_topic == content_topic(chat_topic(magnetlinks_chat_id(id))));
  waku::WakuMessage message;
  REQUIRE(message.ParseFromString(envelope.message));
  CHECK(message.timestamp() == static_cast<std::int64_t>(t0) * 1'000'000'000);
  auto opened = open_magnetlink_waku_message(message, magnetlink_channel::of(pub));
  REQUIRE(opened);
  CHECK(opened->message.signer == pub);
  CHECK(opened->message.link.clock == t0 * 1000);
  auto torrent = read_archive_torrent(archive_layout{dir.path(), id}.torrent_file());
  REQUIRE(torrent);
  CHECK(opened->message.link.magnet_uri == torrent->magnet);
  auto info = db->get_archive_info(pub);
  CHECK(info->magnetlink_clock == t0 * 1000);
  CHECK(info->last_magnet_uri == torrent->magnet);
}

TEST_CASE_METHOD(owner_fixture, "the gate never publishes without the community's private key",
                 "[actors][gate]") {
  record::Community member;
  auto other = private_key::generate().public_key();
  member.set_public_key(std::string(as_view(other.compressed())));
  member.set_role(record::Community::MEMBER);
  REQUIRE(db->put_community(member));
  self->send(gate, seed_atom::value, other.community_id(),
             magnet_link(std::string(40, 'a'), other.community_id(), {}));
  // A key-less record that claims to be the owner is still not published.
  record::Community impostor = member;
  impostor.set_role(record::Community::OWNER);
  auto third = private_key::generate().public_key();
  impostor.set_public_key(std::string(as_view(third.compressed())));
  REQUIRE(db->put_community(impostor));
  self->send(gate, seed_atom::value, third.community_id(),
             magnet_link(std::string(40, 'b'), third.community_id(), {}));
  sched.run();
  CHECK(relayed->empty());
  CHECK(count("annals.magnetlinkPublished") == 0);
}

TEST_CASE_METHOD(owner_fixture, "the clock never goes backwards, and republishing repeats the link",
                 "[actors][gate][publisher]") {
  REQUIRE(db->set_magnetlink(pub, t0 * 1000 + 5000, "magnet:?xt=urn:btih:" + std::string(40, 'c')));
  auto republishing = sys.spawn(control_node_gate, control_node_gate_config{3600}, db, publisher,
                                  relay, downloader_actor{}, bus);
  auto magnet = magnet_link(std::string(40, 'd'), id, {});
  self->send(republishing, seed_atom::value, id, magnet);
  sched.run();
  REQUIRE(relayed->size() == 1);
  auto info = db->get_archive_info(pub);
  CHECK(info->magnetlink_clock == t0 * 1000 + 5001);
  advance(3600);
  REQUIRE(relayed->size() == 2);
  waku::WakuMessage second;
  REQUIRE(second.ParseFromString(relayed->back().message));
  auto opened = open_magnetlink_waku_message(second, magnetlink_channel::of(pub));
  REQUIRE(opened);
  CHECK(opened->message.link.magnet_uri == magnet);
  CHECK(opened->message.link.clock > t0 * 1000 + 5001);

  // A restart seeds the same torrent from another port: no new link at
  // once (same torrent), but the republish announces where it is now.
  auto moved = magnet_link(std::string(40, 'd'), id, {}, {"127.0.0.1:4242"});
  self->send(republishing, seed_atom::value, id, moved);
  sched.run();
  CHECK(relayed->size() == 2);
  advance(3600);
  REQUIRE(relayed->size() == 3);
  waku::WakuMessage third;
  REQUIRE(third.ParseFromString(relayed->back().message));
  auto reopened = open_magnetlink_waku_message(third, magnetlink_channel::of(pub));
  REQUIRE(reopened);
  CHECK(reopened->message.link.magnet_uri == moved);
  caf::anon_send_exit(republishing, caf::exit_reason::user_shutdown);
}

namespace {

/// How often each stored message of the community is in the archive files.
std::map<std::string, int> archive_counts(const archive_layout& layout) {
  std::map<std::string, int> out;
  auto index = read_index(layout.index_file());
  REQUIRE(index);
  for (const auto& [id, entry] : sorted_entries(*index)) {
    auto archive = read_archive(layout.data_file(), entry);
    REQUIRE(archive);
    for (const auto& m : archive->messages())
      ++out[m.hash()];
  }
  return out;
}

} // namespace

TEST_CASE_METHOD(owner_fixture, "a message stored after its window was built goes into the next build",
                 "[actors][scheduler][late]") {
  store_messages(t0 - 8 * day, t0, 80);
  spawn_scheduler();
  self->send(sched_actor, start_atom::value, id);
  sched.run();
  REQUIRE(created_ranges().size() == 1);
  CHECK(count("annals.magnetlinkPublished") == 1);
  // Reaches the owner a day after its window [t0 - 8 days, t0) was built.
  auto late = make_synthetic_messages(community, {1, t0 - 5 * day, t0 - 5 * day + 1, 64, 64, 1, 7});
  REQUIRE(db->insert_messages(pub, late));
  CHECK(db->count_unarchived(pub).value() == 1);
  advance(week);
  auto ranges = created_ranges();
  REQUIRE(ranges.size() == 2);
  // The build's range starts at the late message: its archive brackets it.
  CHECK(ranges[1] == std::make_pair(t0 - 5 * day, t0 + week));
  CHECK(db->count_unarchived(pub).value() == 0);
  auto counts = archive_counts(archive_layout{dir.path(), id});
  CHECK(counts[late.front().hash] == 1);
  CHECK(counts.size() == 81);
  for (const auto& [hash, n] : counts)
    CHECK(n == 1);
  // The new torrent is announced: members learn of the late message.
  CHECK(count("annals.magnetlinkPublished") == 2);
}

TEST_CASE_METHOD(owner_fixture, "late messages are built without waiting for a new window",
                 "[actors][scheduler][late]") {
  store_messages(t0 - 8 * day, t0, 80);
  spawn_scheduler(week, 0);
  self->send(sched_actor, start_atom::value, id);
  sched.run();
  REQUIRE(created_ranges().size() == 1);
  // The clock stands still (the end date is now): only a late message is due.
  REQUIRE(db->insert_messages(pub, make_synthetic_messages(community, {1, t0 - 60, t0 - 59, 64, 64, 1, 8})));
  self->send(sched_actor, tick_atom::value, id, std::uint64_t{1});
  sched.run();
  REQUIRE(created_ranges().size() == 2);
  CHECK(created_ranges()[1].first == t0 - 60);
  CHECK(db->count_unarchived(pub).value() == 0);
}

TEST_CASE_METHOD(owner_fixture, "a restarted owner finishes a build that crashed after its commit",
                 "[actors][scheduler][restart]") {
  store_messages(t0 - 3 * day, t0 - day, 50);
  archive_until(t0 - 2 * day);
  store_messages(t0 - day, t0, 30);
  // The process died right after the store recorded the build: the new
  // index is still staged, the torrent is the old one.
  archive_layout layout{dir.path(), id};
  owner_build_hooks hooks;
  hooks.write_torrent = [](const data_piece_hashes*) -> result<void> { return {}; };
  hooks.after_step = [](owner_build_step s) {
    if (s == owner_build_step::committed)
      throw std::runtime_error("crash");
  };
  CHECK_THROWS(build_owner_archives(layout, *db, pub, {t0, week, community.channel_topics}, hooks));
  REQUIRE(db->pending_build_commit(pub).value());
  REQUIRE(std::filesystem::exists(layout.staged_index_file()));
  auto stale = read_archive_torrent(layout.torrent_file());
  REQUIRE(stale);

  spawn_scheduler();
  self->send(sched_actor, start_atom::value, id);
  sched.run();
  // Finished before anything was seeded: one link, for the new torrent.
  CHECK_FALSE(std::filesystem::exists(layout.staged_index_file()));
  CHECK_FALSE(db->pending_build_commit(pub).value());
  auto torrent = read_archive_torrent(layout.torrent_file());
  REQUIRE(torrent);
  CHECK(torrent->info_hash != stale->info_hash);
  REQUIRE(seeds->seeded.size() == 1);
  CHECK(count("annals.magnetlinkPublished") == 1);
  auto counts = archive_counts(layout);
  CHECK(counts.size() == 80);
  for (const auto& [hash, n] : counts)
    CHECK(n == 1);
}
