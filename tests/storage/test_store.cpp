#include "storage/store.hpp"
#include "tests/temp_dir.hpp"
#include "tests/unwrap.hpp"
#include "tests/storage/store_fixtures.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace annals;
using annals::test::temp_dir;
using annals::test::require_ok;
using annals::test::unwrap;
using annals::test::message;

namespace {

std::unique_ptr<store> open_store(const temp_dir& dir) {
  return unwrap(store::open(dir / "db"));
}

public_key new_community() { return private_key::generate().public_key(); }

constexpr topic4 topic_a{0x0a, 0, 0, 1};
constexpr topic4 topic_b{0x0b, 0, 0, 2};
constexpr topic4 topic_c{0x0c, 0, 0, 3};


std::vector<std::string> scan_hashes(const store& db, const public_key& community,
                                     std::uint64_t from, std::uint64_t to,
                                     const std::vector<topic4>& topics = {}) {
  std::vector<std::string> hashes;
  require_ok(db.scan_messages(community, from, to, topics,
                              [&](archive_message&& m) { hashes.push_back(m.hash); }));
  return hashes;
}

built_archive archive(std::string id, std::uint64_t from, std::uint64_t to) {
  built_archive a;
  a.id = std::move(id);
  a.entry.mutable_metadata()->set_from(from);
  a.entry.mutable_metadata()->set_to(to);
  return a;
}

std::string archive_id_of(char digit) { return "0x" + std::string(64, digit); }

} // namespace

TEST_CASE("insert_messages skips hashes already stored", "[store]") {
  temp_dir dir;
  auto db = open_store(dir);
  auto community = new_community();
  std::vector<archive_message> messages{message(10, topic_a, "h1"), message(20, topic_b, "h2")};

  auto first = unwrap(db->insert_messages(community, messages));
  CHECK(first.inserted == 2);
  CHECK(first.duplicates == 0);

  messages.push_back(message(30, topic_a, "h3"));
  auto second = unwrap(db->insert_messages(community, messages));
  CHECK(second.inserted == 1);
  CHECK(second.duplicates == 2);
  CHECK(unwrap(db->count_messages(community)) == 3);
  CHECK(unwrap(db->has_message(community, "h3")));
  CHECK_FALSE(unwrap(db->has_message(community, "h4")));

  // The same hash in another community is a different message.
  auto other = new_community();
  CHECK_FALSE(unwrap(db->has_message(other, "h1")));
  CHECK(unwrap(db->insert_messages(other, {message(10, topic_a, "h1")})).inserted == 1);
}

TEST_CASE("insert_messages skips duplicates within one batch", "[store]") {
  temp_dir dir;
  auto db = open_store(dir);
  auto community = new_community();

  // A re-sent envelope may arrive with a different timestamp; the first wins.
  auto stats = unwrap(db->insert_messages(
    community, {message(10, topic_a, "h1"), message(11, topic_a, "h1"), message(12, topic_b, "h2")}));
  CHECK(stats.inserted == 2);
  CHECK(stats.duplicates == 1);
  CHECK(unwrap(db->count_messages(community)) == 2);
  std::vector<std::uint64_t> timestamps;
  require_ok(db->scan_messages(community, 0, 100, {},
                               [&](archive_message&& m) { timestamps.push_back(m.timestamp); }));
  CHECK(timestamps == std::vector<std::uint64_t>{10, 12});
}

TEST_CASE("insert_messages refuses a message without a hash", "[store]") {
  temp_dir dir;
  auto db = open_store(dir);
  auto community = new_community();

  auto inserted = db->insert_messages(community, {message(10, topic_a, "h1"), message(11, topic_a, "")});
  REQUIRE_FALSE(inserted);
  CHECK(inserted.error().code == errc::invalid_argument);
  // Nothing of a refused batch is written.
  CHECK(unwrap(db->count_messages(community)) == 0);
}

TEST_CASE("concurrent inserts of the same messages store each hash once", "[store]") {
  temp_dir dir;
  auto db = unwrap(store::open(dir / "db", store_options{/*sync_writes=*/false}));
  auto community = new_community();
  std::vector<archive_message> messages;
  for (int i = 0; i < 200; ++i)
    messages.push_back(message(static_cast<std::uint64_t>(i), topic_a, "h" + std::to_string(i)));

  constexpr int writers = 4;
  std::vector<insert_stats> stats(writers);
  std::vector<std::optional<error>> errors(writers);
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w)
    threads.emplace_back([&, w] {
      // Each writer sends one message per call, so the writers interleave.
      for (const auto& m : messages) {
        auto r = db->insert_messages(community, {m});
        if (!r) {
          errors[w] = r.error();
          return;
        }
        stats[w].inserted += r->inserted;
        stats[w].duplicates += r->duplicates;
      }
    });
  for (auto& t : threads)
    t.join();

  std::size_t inserted = 0;
  for (int w = 0; w < writers; ++w) {
    if (errors[w])
      FAIL(errors[w]->to_string());
    inserted += stats[w].inserted;
    CHECK(stats[w].inserted + stats[w].duplicates == messages.size());
  }
  CHECK(inserted == messages.size());
  CHECK(unwrap(db->count_messages(community)) == messages.size());
}

TEST_CASE("scan_messages returns the window in (timestamp, topic, hash) order", "[store]") {
  temp_dir dir;
  auto db = open_store(dir);
  auto community = new_community();
  auto other = new_community();

  // Inserted out of order; the scan order comes from the key layout.
  unwrap(db->insert_messages(community, {message(300, topic_a, "late"),
                                         message(200, topic_b, "b-200"),
                                         message(200, topic_a, "z-200"),
                                         message(200, topic_a, "m-200"),
                                         message(100, topic_c, "c-100"),
                                         message(99, topic_a, "early")}));
  // Another community with messages at the same times must never show up.
  unwrap(db->insert_messages(other, {message(100, topic_a, "other-100"),
                                     message(200, topic_a, "other-200"),
                                     message(300, topic_a, "other-300")}));

  SECTION("from is inclusive, to exclusive") {
    CHECK(scan_hashes(*db, community, 100, 300) ==
          std::vector<std::string>{"c-100", "m-200", "z-200", "b-200"});
  }
  SECTION("the whole range") {
    CHECK(scan_hashes(*db, community, 0, UINT64_MAX) ==
          std::vector<std::string>{"early", "c-100", "m-200", "z-200", "b-200", "late"});
  }
  SECTION("topic filter") {
    CHECK(scan_hashes(*db, community, 0, 1000, {topic_a}) ==
          std::vector<std::string>{"early", "m-200", "z-200", "late"});
    CHECK(scan_hashes(*db, community, 0, 1000, {topic_c, topic_b}) ==
          std::vector<std::string>{"c-100", "b-200"});
    CHECK(scan_hashes(*db, community, 0, 1000, {topic4{9, 9, 9, 9}}).empty());
  }
  SECTION("empty and inverted windows") {
    CHECK(scan_hashes(*db, community, 200, 200).empty());
    CHECK(scan_hashes(*db, community, 300, 100).empty());
    CHECK(scan_hashes(*db, community, 301, 1000).empty());
  }
  SECTION("messages come back whole") {
    std::vector<archive_message> seen;
    require_ok(db->scan_messages(community, 99, 100, {},
                                 [&](archive_message&& m) { seen.push_back(std::move(m)); }));
    REQUIRE(seen.size() == 1);
    auto expected = message(99, topic_a, "early");
    CHECK(seen[0].timestamp == expected.timestamp);
    CHECK(seen[0].topic == expected.topic);
    CHECK(seen[0].payload == expected.payload);
    CHECK(seen[0].sig == expected.sig);
    CHECK(seen[0].hash == expected.hash);
  }
  SECTION("the other community sees only its own") {
    CHECK(scan_hashes(*db, other, 0, UINT64_MAX) ==
          std::vector<std::string>{"other-100", "other-200", "other-300"});
  }
}

TEST_CASE("communities round trip", "[store]") {
  temp_dir dir;
  auto owned_key = private_key::generate();
  auto owned_id = owned_key.public_key();
  auto joined_id = new_community();

  record::Community owned;
  owned.set_public_key(std::string(as_view(owned_id.compressed())));
  owned.set_private_key(std::string(as_view(owned_key.bytes())));
  owned.set_role(record::Community::OWNER);
  owned.set_archives_enabled(true);
  auto* channel = owned.add_channels();
  channel->set_id("general");
  channel->set_topic(std::string(as_view(topic_a)));

  record::Community joined;
  joined.set_public_key(std::string(as_view(joined_id.compressed())));
  joined.set_joined(true);
  joined.set_shard_cluster(16);
  joined.set_shard_index(32);

  {
    auto db = open_store(dir);
    CHECK_FALSE(unwrap(db->get_community(owned_id)).has_value());
    CHECK(unwrap(db->list_communities()).empty());
    require_ok(db->put_community(owned));
    require_ok(db->put_community(joined));
  }

  // Read back after reopening, so the records come from disk.
  auto db = open_store(dir);
  auto got_owned = unwrap(db->get_community(owned_id));
  REQUIRE(got_owned);
  CHECK(got_owned->SerializeAsString() == owned.SerializeAsString());
  CHECK(got_owned->private_key() == std::string(as_view(owned_key.bytes())));
  CHECK(got_owned->channels(0).topic() == std::string(as_view(topic_a)));

  auto got_joined = unwrap(db->get_community(joined_id));
  REQUIRE(got_joined);
  CHECK(got_joined->private_key().empty());
  CHECK(got_joined->joined());
  CHECK(got_joined->shard_index() == 32);

  auto all = unwrap(db->list_communities());
  REQUIRE(all.size() == 2);
  std::vector<std::string> keys{all[0].public_key(), all[1].public_key()};
  std::sort(keys.begin(), keys.end());
  std::vector<std::string> expected{owned.public_key(), joined.public_key()};
  std::sort(expected.begin(), expected.end());
  CHECK(keys == expected);

  require_ok(db->delete_community(owned_id));
  CHECK_FALSE(unwrap(db->get_community(owned_id)).has_value());
  REQUIRE(unwrap(db->list_communities()).size() == 1);
  CHECK(unwrap(db->list_communities())[0].public_key() == joined.public_key());
  require_ok(db->delete_community(owned_id));  // deleting twice is fine

  SECTION("a record without a 33-byte key is refused") {
    record::Community bad;
    bad.set_public_key(std::string(as_view(owned_id.uncompressed())));
    auto put = db->put_community(bad);
    REQUIRE_FALSE(put);
    CHECK(put.error().code == errc::invalid_argument);
  }
}

TEST_CASE("archive info fields are independent", "[store]") {
  temp_dir dir;
  auto db = open_store(dir);
  auto community = new_community();
  auto other = new_community();

  auto empty = unwrap(db->get_archive_info(community));
  CHECK(empty.magnetlink_clock == 0);
  CHECK(empty.last_archive_end == 0);
  CHECK(empty.last_magnet_uri.empty());

  require_ok(db->set_magnetlink(community, 1'700'000'000'123, "magnet:?xt=urn:btih:aa"));
  require_ok(db->set_last_archive_end(community, 1'700'000'000));
  auto info = unwrap(db->get_archive_info(community));
  CHECK(info.magnetlink_clock == 1'700'000'000'123);
  CHECK(info.last_archive_end == 1'700'000'000);
  CHECK(info.last_magnet_uri == "magnet:?xt=urn:btih:aa");

  require_ok(db->set_magnetlink_clock(community, 1'700'000'000'456));
  info = unwrap(db->get_archive_info(community));
  CHECK(info.magnetlink_clock == 1'700'000'000'456);
  CHECK(info.last_archive_end == 1'700'000'000);
  CHECK(info.last_magnet_uri == "magnet:?xt=urn:btih:aa");

  // A store from before completed_clock: the link it holds counts as the
  // newest one fetched whole.
  CHECK(info.completed_clock == info.magnetlink_clock);

  // A member completes an older link than the newest accepted one.
  require_ok(db->set_completed_link(community, "magnet:?xt=urn:btih:bb", 1'700'000'000'400));
  require_ok(db->set_last_archive_end(community, 1'700'600'000));
  info = unwrap(db->get_archive_info(community));
  CHECK(info.magnetlink_clock == 1'700'000'000'456);
  CHECK(info.last_archive_end == 1'700'600'000);
  CHECK(info.last_magnet_uri == "magnet:?xt=urn:btih:bb");
  CHECK(info.completed_clock == 1'700'000'000'400);

  auto untouched = unwrap(db->get_archive_info(other));
  CHECK(untouched.magnetlink_clock == 0);
  CHECK(untouched.last_archive_end == 0);
  CHECK(untouched.last_magnet_uri.empty());
}

TEST_CASE("archive import bookkeeping", "[store]") {
  temp_dir dir;
  auto db = open_store(dir);
  auto community = new_community();
  const auto week1 = archive_id_of('1');
  const auto week2 = archive_id_of('2');
  const auto week3 = archive_id_of('3');

  CHECK(unwrap(db->unimported_archives(community)).empty());
  // IDs sort differently from their `from`, so the order below comes from `from`.
  require_ok(db->mark_archives_downloaded(
    community, {archive(week3, 1000, 2000), archive(week1, 0, 500), archive(week2, 500, 1000)}));
  CHECK(unwrap(db->unimported_archives(community)) == std::vector<std::string>{week1, week2, week3});
  CHECK(unwrap(db->unimported_archives(new_community())).empty());

  auto first = unwrap(db->import_archive_messages(
    community, week2, {message(600, topic_a, "m1"), message(700, topic_a, "m2")}, false));
  CHECK(first.inserted == 2);
  CHECK(unwrap(db->unimported_archives(community)) == std::vector<std::string>{week1, week2, week3});

  // The last batch repeats a message already stored live: skipped, not an error.
  auto last = unwrap(db->import_archive_messages(
    community, week2, {message(700, topic_a, "m2"), message(800, topic_b, "m3")}, true));
  CHECK(last.inserted == 1);
  CHECK(last.duplicates == 1);
  CHECK(unwrap(db->count_messages(community)) == 3);
  CHECK(unwrap(db->unimported_archives(community)) == std::vector<std::string>{week1, week3});

  // An archive can be done with an empty last batch.
  unwrap(db->import_archive_messages(community, week3, {}, true));
  CHECK(unwrap(db->unimported_archives(community)) == std::vector<std::string>{week1});

  // Recording the archives again (e.g. after a rebuild) keeps the imported flags.
  require_ok(db->mark_archives_downloaded(
    community, {archive(week1, 0, 500), archive(week2, 500, 1000), archive(week3, 1000, 2000)}));
  CHECK(unwrap(db->unimported_archives(community)) == std::vector<std::string>{week1});

  auto listed = unwrap(db->list_archives(community));
  REQUIRE(listed.size() == 3);
  std::sort(listed.begin(), listed.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  CHECK(listed[0].first == week1);
  CHECK_FALSE(listed[0].second.imported());
  CHECK(listed[1].first == week2);
  CHECK(listed[1].second.from() == 500);
  CHECK(listed[1].second.to() == 1000);
  CHECK(listed[1].second.imported());
  CHECK(listed[2].second.imported());

  SECTION("ties in from are ordered by ID") {
    const auto tie = archive_id_of('0');
    require_ok(db->mark_archives_downloaded(community, {archive(tie, 0, 500)}));
    CHECK(unwrap(db->unimported_archives(community)) == std::vector<std::string>{tie, week1});
  }
  SECTION("importing into an archive never recorded fails and writes nothing") {
    auto unknown = db->import_archive_messages(community, archive_id_of('9'),
                                               {message(900, topic_a, "m9")}, true);
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().code == errc::not_found);
    CHECK_FALSE(unwrap(db->has_message(community, "m9")));
  }
}

TEST_CASE("settings round trip", "[store]") {
  temp_dir dir;
  auto db = open_store(dir);
  CHECK_FALSE(unwrap(db->get_setting("identity")).has_value());
  require_ok(db->put_setting("identity", std::string("\x00\x01key", 5)));
  CHECK(unwrap(db->get_setting("identity")) == std::optional<std::string>{std::string("\x00\x01key", 5)});
  require_ok(db->put_setting("identity", "replaced"));
  CHECK(unwrap(db->get_setting("identity")) == std::optional<std::string>{"replaced"});
}

TEST_CASE("writes acknowledged before a crash are there after reopening", "[store]") {
  temp_dir dir;
  const auto db_dir = dir / "db";
  const auto community = new_community();

  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // No Catch2 in the child: report through the exit status and die by
    // SIGKILL without running a destructor, as a crash would. fork() copied
    // only this thread, so a lock held by another thread at the fork could
    // hang the child; the alarm turns that into a visible SIGALRM.
    ::alarm(60);
    int step = 1;
    try {
      auto opened = store::open(db_dir);
      if (!opened)
        ::_exit(step);
      auto& db = **opened;
      ++step;
      if (!db.insert_messages(community, {message(10, topic_a, "h1"), message(20, topic_b, "h2")}))
        ::_exit(step);
      ++step;
      if (!db.set_magnetlink(community, 42, "magnet:?xt=urn:btih:cc"))
        ::_exit(step);
      ++step;
      if (!db.set_last_archive_end(community, 604800))
        ::_exit(step);
      ++step;
      if (!db.mark_archives_downloaded(community, {archive(archive_id_of('1'), 0, 604800)}))
        ::_exit(step);
      std::raise(SIGKILL);
    } catch (...) {
      ::_exit(100 + step);
    }
    ::_exit(99);  // SIGKILL returned
  }

  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  INFO("child exit code " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1)
                          << " (failed step; >100: exception)");
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);

  auto db = unwrap(store::open(db_dir));
  CHECK(unwrap(db->count_messages(community)) == 2);
  CHECK(scan_hashes(*db, community, 0, 100) == std::vector<std::string>{"h1", "h2"});
  auto info = unwrap(db->get_archive_info(community));
  CHECK(info.magnetlink_clock == 42);
  CHECK(info.last_magnet_uri == "magnet:?xt=urn:btih:cc");
  CHECK(info.last_archive_end == 604800);
  CHECK(unwrap(db->unimported_archives(community)) == std::vector<std::string>{archive_id_of('1')});
}

TEST_CASE("opening a regular file fails with the path in the message", "[store]") {
  temp_dir dir;
  const auto file = dir / "not-a-db";
  annals::test::write_file(file, "plain bytes");

  auto opened = store::open(file);
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code == errc::io);
  CHECK_THAT(opened.error().message, Catch::Contains(file.string()));

  auto without_create = store::open(file, store_options{true, /*create_if_missing=*/false});
  REQUIRE_FALSE(without_create);
  CHECK_THAT(without_create.error().message, Catch::Contains(file.string()));
}

TEST_CASE("opening a database held by another store fails with the path", "[store]") {
  temp_dir dir;
  auto first = open_store(dir);
  auto second = store::open(dir / "db");
  REQUIRE_FALSE(second);
  CHECK(second.error().code == errc::io);
  CHECK_THAT(second.error().message, Catch::Contains((dir / "db").string()));
  CHECK_THAT(second.error().message, Catch::Contains("lock"));

  // The first store is unaffected and the lock goes with it.
  require_ok(first->put_setting("k", "v"));
  first.reset();
  auto reopened = unwrap(store::open(dir / "db"));
  CHECK(unwrap(reopened->get_setting("k")) == std::optional<std::string>{"v"});
}

TEST_CASE("a write that would eat the disk's reserve is refused, named, counted, and writes "
          "nothing",
          "[store][disk]") {
  temp_dir dir;
  auto community = new_community();
  {
    auto db = open_store(dir);
    unwrap(db->insert_messages(community, {message(10, topic_a, "kept")}));
    CHECK(db->refused_writes() == 0);
  }
  store_options options;
  // A reserve no disk here has free: every write must be refused.
  options.min_free_bytes = std::uint64_t(1) << 62;
  auto db = unwrap(store::open(dir / "db", options));
  auto refused = db->insert_messages(community, {message(20, topic_a, "refused")});
  REQUIRE_FALSE(refused);
  auto text = refused.error().to_string();
  CHECK(text.find("disk full") != std::string::npos);
  CHECK(text.find("min_free_bytes") != std::string::npos);
  CHECK(text.find((dir / "db").string()) != std::string::npos);
  CHECK_FALSE(db->set_last_archive_end(community, 99));
  CHECK(db->refused_writes() == 2);
  // What was stored before stays, and nothing of the refused writes landed.
  CHECK(scan_hashes(*db, community, 0, 100) == std::vector<std::string>{"kept"});
  CHECK(unwrap(db->get_archive_info(community)).last_archive_end != 99);
}

TEST_CASE("settle writes the memtables to table files, and what was stored stays", "[store]") {
  temp_dir dir;
  auto community = new_community();
  auto tables = [&] {
    std::size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir / "db"))
      n += entry.path().extension() == ".sst";
    return n;
  };
  {
    auto db = open_store(dir);
    CHECK(unwrap(db->insert_messages(community, {message(10, topic_a, "h1"),
                                                 message(20, topic_b, "h2")}))
            .inserted == 2);
    CHECK(tables() == 0);  // a few messages: still in the memtables
    require_ok(db->settle());
    CHECK(tables() > 0);
    // At rest, a second settle has nothing to wait for.
    require_ok(db->settle(std::chrono::milliseconds(0)));
  }
  auto db = open_store(dir);
  CHECK(unwrap(db->count_messages(community)) == 2);
  CHECK(unwrap(db->has_message(community, "h2")));
}
