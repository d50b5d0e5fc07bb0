// Exactly-once archiving on the owner: the archive queue in the store, late
// messages, restarts and SIGKILL at every step of a build. Real RocksDB, real
// archive files decoded back.
#include "core/archive_reader.hpp"
#include "storage/owner_build.hpp"
#include "storage/store.hpp"
#include "tests/temp_dir.hpp"
#include "tests/unwrap.hpp"
#include "tests/storage/store_fixtures.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <map>
#include <set>
#include <sys/wait.h>
#include <unistd.h>

using namespace annals;
using annals::test::temp_dir;
using annals::test::require_ok;
using annals::test::unwrap;

namespace {


constexpr topic4 topic_a{0x0a, 0, 0, 1};
constexpr topic4 topic_b{0x0b, 0, 0, 2};
constexpr std::uint64_t t0 = 1'800'000'000;

archive_message message(std::uint64_t timestamp, std::string hash, topic4 topic = topic_a) {
  return annals::test::message(timestamp, topic, std::move(hash));
}

/// n messages with timestamps from..to (spread), hashes prefix + i.
std::vector<archive_message> messages(std::uint64_t from, std::uint64_t to, std::size_t n,
                                      const std::string& prefix) {
  std::vector<archive_message> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(message(from + (to - from) * i / n, prefix + std::to_string(i),
                          i % 2 ? topic_a : topic_b));
  return out;
}

/// How often each message hash appears in the archive files; the directory
/// must also pass the full verification (IDs, offsets, padding, decoding).
std::map<std::string, int> archived(const archive_layout& layout) {
  std::map<std::string, int> out;
  std::error_code ec;
  if (!std::filesystem::exists(layout.index_file(), ec))
    return out;
  auto report = unwrap(verify_archive_dir(layout.archive_dir()));
  INFO((report.problems.empty() ? std::string() : report.problems.front()));
  REQUIRE(report.ok());
  auto index = unwrap(read_index(layout.index_file()));
  for (const auto& [id, entry] : sorted_entries(index)) {
    auto archive = unwrap(read_archive(layout.data_file(), entry));
    for (const auto& m : archive.messages()) {
      ++out[m.hash()];
      // Every archive's metadata brackets its messages' timestamps.
      CHECK(m.timestamp() >= archive.metadata().from());
      CHECK(m.timestamp() < archive.metadata().to());
    }
  }
  return out;
}

std::vector<std::string> stored_hashes(const store& db, const public_key& community) {
  std::vector<std::string> out;
  REQUIRE(db.scan_messages(community, 0, UINT64_MAX, {},
                           [&](archive_message&& m) { out.push_back(m.hash); }));
  return out;
}

/// Every stored message is in exactly one archive, and nothing else is.
void require_exactly_once(const store& db, const public_key& community,
                          const archive_layout& layout) {
  auto in_archives = archived(layout);
  auto stored = stored_hashes(db, community);
  for (const auto& hash : stored) {
    INFO("message " << hash);
    CHECK(in_archives[hash] == 1);
  }
  CHECK(in_archives.size() == stored.size());
  CHECK(unwrap(db.count_unarchived(community)) == 0);
}

struct owner {
  temp_dir dir{"annals-owner-build"};
  public_key community = private_key::generate().public_key();
  archive_layout layout{dir.path(), community.community_id()};
  std::unique_ptr<store> db = unwrap(store::open(dir / "db"));
  int torrents_written = 0;

  owner_build_hooks hooks() {
    owner_build_hooks h;
    h.write_torrent = [this](const data_piece_hashes*) -> result<void> {
      ++torrents_written;
      return {};
    };
    return h;
  }

  owner_build_result build(std::uint64_t to, std::uint64_t partition = 100) {
    return unwrap(build_owner_archives(layout, *db, community, {to, partition, {topic_a, topic_b}},
                                       hooks()));
  }

  void reopen() {
    db.reset();
    db = unwrap(store::open(dir / "db"));
  }
};

} // namespace

TEST_CASE("the owner's archive queue holds stored messages, not imported ones", "[store][queue]") {
  owner o;
  REQUIRE(o.db->insert_messages(o.community, messages(t0, t0 + 50, 10, "relay-")));
  CHECK(unwrap(o.db->count_unarchived(o.community)) == 10);
  // A duplicate is neither stored nor queued twice.
  REQUIRE(o.db->insert_messages(o.community, {message(t0, "relay-0")}));
  CHECK(unwrap(o.db->count_unarchived(o.community)) == 10);
  // Imported messages came from an archive already.
  built_archive a;
  a.id = "0x" + std::string(64, 'a');
  REQUIRE(o.db->mark_archives_downloaded(o.community, {a}));
  REQUIRE(o.db->import_archive_messages(o.community, a.id, messages(t0, t0 + 50, 5, "import-"), true));
  CHECK(unwrap(o.db->count_unarchived(o.community)) == 10);
  CHECK(unwrap(o.db->count_messages(o.community)) == 15);
}

TEST_CASE("a build's view leaves messages stored after it for the next build", "[store][queue]") {
  owner o;
  REQUIRE(o.db->insert_messages(o.community, messages(t0, t0 + 50, 10, "before-")));
  auto view = unwrap(o.db->unarchived(o.community));
  // Arrives during the build, inside the window being built.
  REQUIRE(o.db->insert_messages(o.community, {message(t0 + 20, "during")}));
  CHECK(unwrap(view->span(UINT64_MAX))->count == 10);
  REQUIRE(o.db->commit_build(o.community, *view, {t0 + 100, t0 + 100, {}}));
  view.reset();
  CHECK(unwrap(o.db->count_unarchived(o.community)) == 1);
  auto again = unwrap(o.db->unarchived(o.community));
  auto span = unwrap(again->span(UINT64_MAX));
  REQUIRE(span);
  CHECK(span->oldest == t0 + 20);
  CHECK(span->newest == t0 + 20);
  CHECK(span->count == 1);
  CHECK(unwrap(again->oldest()) == std::optional<std::uint64_t>{t0 + 20});
}

TEST_CASE("a build with nothing stored during it empties its queue range, and messages stored "
          "later in that range stay queued",
          "[store][queue]") {
  owner o;
  REQUIRE(o.db->insert_messages(o.community, messages(t0, t0 + 50, 10, "before-")));
  REQUIRE(o.db->insert_messages(o.community, {message(t0 + 500, "after-the-window")}));
  // Counted before: the commit keeps the running count without a walk.
  REQUIRE(unwrap(o.db->count_unarchived(o.community)) == 11);
  {
    auto view = unwrap(o.db->unarchived(o.community));
    REQUIRE(o.db->commit_build(o.community, *view, {t0 + 100, t0 + 100, {}}));
  }
  CHECK(unwrap(o.db->count_unarchived(o.community)) == 1);
  // A late message inside the dropped range, stored after the commit.
  REQUIRE(o.db->insert_messages(o.community, {message(t0 + 20, "late")}));
  auto again = unwrap(o.db->unarchived(o.community));
  auto span = unwrap(again->span(UINT64_MAX));
  REQUIRE(span);
  CHECK(span->count == 2);
  CHECK(span->oldest == t0 + 20);
  CHECK(span->newest == t0 + 500);
  // A reopened store counts the same.
  again.reset();
  o.reopen();
  CHECK(unwrap(o.db->count_unarchived(o.community)) == 2);
}

TEST_CASE("a range commit on a store that has not counted its queue yet counts it afterwards",
          "[store][queue]") {
  owner o;
  REQUIRE(o.db->insert_messages(o.community, messages(t0, t0 + 50, 10, "before-")));
  REQUIRE(o.db->insert_messages(o.community, messages(t0 + 500, t0 + 600, 3, "after-")));
  o.reopen();  // no running count
  {
    auto view = unwrap(o.db->unarchived(o.community));
    REQUIRE(o.db->commit_build(o.community, *view, {t0 + 100, t0 + 100, {}}));
  }
  CHECK(unwrap(o.db->count_unarchived(o.community)) == 3);
  // And once counted, a commit of everything brings it to zero.
  {
    auto view = unwrap(o.db->unarchived(o.community));
    REQUIRE(o.db->commit_build(o.community, *view, {UINT64_MAX, t0 + 600, {}}));
  }
  CHECK(unwrap(o.db->count_unarchived(o.community)) == 0);
  o.reopen();
  CHECK(unwrap(o.db->count_unarchived(o.community)) == 0);
}

TEST_CASE("the queue's source visits every queued message once, in key order, across many "
          "batches of the queue read beside it",
          "[store][queue]") {
  owner o;
  // More keys than several of the queue reader's batches (4096 keys).
  auto all = messages(t0, t0 + 1000, 13'000, "m-");
  REQUIRE(o.db->insert_messages(o.community, all));
  // Archived already (committed below t0 + 200): the messages iterator has
  // to seek past them, as after a previous build.
  {
    auto view = unwrap(o.db->unarchived(o.community));
    REQUIRE(o.db->commit_build(o.community, *view, {t0 + 200, t0 + 200, {}}));
  }
  auto view = unwrap(o.db->unarchived(o.community));
  std::vector<std::pair<std::uint64_t, std::string>> seen;
  REQUIRE(view->source()(t0, t0 + 1000, {topic_a, topic_b}, [&](const message_wire& m) {
    seen.emplace_back(m.timestamp, std::string(m.hash));
  }));
  std::size_t expected = 0;
  for (const auto& m : all)
    expected += m.timestamp >= t0 + 200;
  CHECK(seen.size() == expected);
  CHECK(std::is_sorted(seen.begin(), seen.end(), [](const auto& a, const auto& b) {
    return a.first < b.first;
  }));
  std::set<std::string> distinct;
  for (const auto& [ts, hash] : seen) {
    CHECK(ts >= t0 + 200);
    distinct.insert(hash);
  }
  CHECK(distinct.size() == seen.size());
  // A window inside the range reads only its own messages.
  std::size_t inside = 0;
  REQUIRE(view->source()(t0 + 500, t0 + 600, {topic_a, topic_b},
                         [&](const message_wire& m) {
                           CHECK(m.timestamp >= t0 + 500);
                           CHECK(m.timestamp < t0 + 600);
                           ++inside;
                         }));
  CHECK(inside == 1300);
}

TEST_CASE("late messages go into a later archive, each message into exactly one",
          "[store][queue][late]") {
  owner o;
  REQUIRE(o.db->insert_messages(o.community, messages(t0, t0 + 300, 60, "on-time-")));
  auto first = o.build(t0 + 300);
  CHECK(first.report.messages == 60);
  CHECK(first.late_messages == 0);
  CHECK(first.from == t0);
  CHECK(first.to == t0 + 300);
  CHECK(o.torrents_written == 1);
  require_exactly_once(*o.db, o.community, o.layout);

  // Arrive after their windows were archived: timestamps in the first
  // window and in the third; plus new traffic and one from the future.
  REQUIRE(o.db->insert_messages(o.community, {message(t0 + 5, "late-1"), message(t0 + 250, "late-2"),
                                              message(t0 + 320, "new-1"),
                                              message(t0 + 10'000, "future-1")}));
  auto second = o.build(t0 + 400);
  CHECK(second.late_messages == 2);
  CHECK(second.report.messages == 3);
  CHECK(second.left_queued == 1);  // the future message waits for its window
  CHECK(second.from == t0 + 5);
  CHECK(second.to == t0 + 400);
  // The late window is bracketed by its own messages, before the new window.
  REQUIRE(second.report.archives.size() == 2);
  CHECK(second.report.archives[0].entry.metadata().from() == t0 + 5);
  CHECK(second.report.archives[0].entry.metadata().to() == t0 + 251);
  CHECK(second.report.archives[1].entry.metadata().from() == t0 + 300);
  CHECK(unwrap(o.db->get_archive_info(o.community)).last_archive_end == t0 + 400);
  auto in_archives = archived(o.layout);
  CHECK(in_archives["late-1"] == 1);
  CHECK(in_archives["late-2"] == 1);
  CHECK(in_archives.count("future-1") == 0);

  // The future message is archived once its window is built.
  o.build(t0 + 10'100);
  require_exactly_once(*o.db, o.community, o.layout);
  // Every archive the owner built is recorded as held and imported.
  auto records = unwrap(o.db->list_archives(o.community));
  auto index = unwrap(read_index(o.layout.index_file()));
  CHECK(records.size() == static_cast<std::size_t>(index.archives().size()));
  for (const auto& [id, record] : records)
    CHECK(record.imported());
}

TEST_CASE("a build with only late messages keeps the end date and archives them",
          "[store][queue][late]") {
  owner o;
  REQUIRE(o.db->insert_messages(o.community, messages(t0, t0 + 100, 10, "a-")));
  o.build(t0 + 100);
  REQUIRE(o.db->insert_messages(o.community, {message(t0 + 1, "late")}));
  // The clock went back: no new window, the late message still goes out.
  auto built = o.build(t0 + 50);
  CHECK(built.late_messages == 1);
  CHECK(built.report.archives.size() == 1);
  CHECK(unwrap(o.db->get_archive_info(o.community)).last_archive_end == t0 + 100);
  require_exactly_once(*o.db, o.community, o.layout);
}

TEST_CASE("a build reads the bodies alone when the queue's count shows its range whole, and "
          "builds again from the queue when a stored message in it is not queued",
          "[store][queue][read]") {
  owner o;
  using read = owner_build_result::read_path;
  REQUIRE(o.db->insert_messages(o.community, messages(t0, t0 + 300, 60, "first-")));
  // A store that has not counted its queue reads it beside the bodies.
  o.reopen();
  auto first = o.build(t0 + 300);
  CHECK(first.read == read::queue);
  CHECK(first.report.messages == 60);
  require_exactly_once(*o.db, o.community, o.layout);

  // The build counted what it left; new traffic, a late message below the
  // end date and one above the next: the window is whole.
  REQUIRE(o.db->insert_messages(o.community, messages(t0 + 300, t0 + 400, 40, "second-")));
  REQUIRE(o.db->insert_messages(o.community, {message(t0 + 7, "late"), message(t0 + 900, "later")}));
  auto second = o.build(t0 + 400);
  CHECK(second.read == read::stored);
  CHECK(second.late_messages == 1);
  CHECK(second.report.messages == 41);
  CHECK(second.left_queued == 1);

  // Messages from another owner's archive, stored but never queued, inside
  // the next window: the bodies' count exceeds the queue's, and the build
  // is made again from the queue, without them and without the bytes the
  // first pass appended.
  built_archive foreign;
  foreign.id = "0x" + std::string(64, 'f');
  REQUIRE(o.db->mark_archives_downloaded(o.community, {foreign}));
  REQUIRE(o.db->import_archive_messages(o.community, foreign.id,
                                        messages(t0 + 400, t0 + 500, 5, "foreign-"), true));
  REQUIRE(o.db->insert_messages(o.community, messages(t0 + 400, t0 + 500, 30, "third-")));
  auto third = o.build(t0 + 1000, 100);
  CHECK(third.read == read::stored_then_queue);
  CHECK(third.report.messages == 31);  // with "later"
  CHECK(third.report.recovered_tail == 0);
  auto in_archives = archived(o.layout);
  for (int i = 0; i < 5; ++i)
    CHECK(in_archives.count("foreign-" + std::to_string(i)) == 0);
  for (int i = 0; i < 30; ++i)
    CHECK(in_archives["third-" + std::to_string(i)] == 1);
  CHECK(in_archives["later"] == 1);
  CHECK(in_archives["late"] == 1);
  CHECK(in_archives.size() == 60 + 41 + 31);
  CHECK(unwrap(o.db->count_unarchived(o.community)) == 0);
  // Its hashes and piece digests describe the second pass only.
  auto size = std::filesystem::file_size(o.layout.data_file());
  std::uint64_t indexed = 0;
  auto index = unwrap(read_index(o.layout.index_file()));
  for (const auto& [id, entry] : index.archives())
    indexed += entry.size();
  CHECK(size == indexed);
}

TEST_CASE("a restart between storing and archiving loses nothing", "[store][queue][restart]") {
  owner o;
  REQUIRE(o.db->insert_messages(o.community, messages(t0, t0 + 100, 20, "first-")));
  o.build(t0 + 100);
  // Stored, then the node stops before any build took them; one is late.
  REQUIRE(o.db->insert_messages(o.community, messages(t0 + 100, t0 + 200, 20, "second-")));
  REQUIRE(o.db->insert_messages(o.community, {message(t0 + 50, "late")}));
  o.reopen();
  CHECK(unwrap(o.db->count_unarchived(o.community)) == 21);
  auto built = o.build(t0 + 200);
  CHECK(built.report.messages == 21);
  require_exactly_once(*o.db, o.community, o.layout);
}

TEST_CASE("SIGKILL at any step of a build: after a restart every message is archived once",
          "[store][queue][crash]") {
  using step = owner_build_step;
  auto crash_at = GENERATE(step::staged, step::committed, step::promoted, step::torrent_written);
  CAPTURE(static_cast<int>(crash_at));
  owner o;
  REQUIRE(o.db->insert_messages(o.community, messages(t0, t0 + 200, 40, "first-")));
  o.build(t0 + 200);
  REQUIRE(o.db->insert_messages(o.community, messages(t0 + 200, t0 + 400, 40, "second-")));
  REQUIRE(o.db->insert_messages(o.community, {message(t0 + 20, "late")}));
  auto index_before = annals::test::read_file(o.layout.index_file());
  o.db.reset();  // the child opens the store itself

  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::alarm(60);  // a lock held across fork() would hang: make it visible
    auto db = store::open(o.dir / "db");
    if (!db)
      ::_exit(2);
    owner_build_hooks hooks;
    hooks.write_torrent = [](const data_piece_hashes*) -> result<void> { return {}; };
    hooks.after_step = [crash_at](step s) {
      if (s == crash_at)
        std::raise(SIGKILL);
    };
    auto built = build_owner_archives(o.layout, **db, o.community,
                                      {t0 + 400, 100, {topic_a, topic_b}}, hooks);
    ::_exit(built ? 3 : 4);  // not reached: the hook kills
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  INFO("child exit code " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);

  o.reopen();
  auto marker = unwrap(o.db->pending_build_commit(o.community));
  std::error_code ec;
  bool staged = std::filesystem::exists(o.layout.staged_index_file(), ec);
  if (crash_at == step::staged) {
    // Not committed: the old index stands, the messages are still queued.
    CHECK_FALSE(marker);
    CHECK(staged);
    CHECK(annals::test::read_file(o.layout.index_file()) == index_before);
    CHECK(unwrap(o.db->count_unarchived(o.community)) == 41);
  } else {
    // Committed: the restart must finish it, whatever the files say now.
    CHECK(marker);
    CHECK(unwrap(o.db->count_unarchived(o.community)) == 0);
  }

  // What a node does on start: recover, and build what is due.
  auto recovered = unwrap(recover_owner_build(o.layout, *o.db, o.community,
                                              o.hooks().write_torrent));
  CHECK(recovered == (crash_at != step::staged));
  CHECK(o.torrents_written == (crash_at != step::staged ? 2 : 1));  // the first build wrote one
  CHECK_FALSE(unwrap(o.db->pending_build_commit(o.community)));
  CHECK_FALSE(std::filesystem::exists(o.layout.staged_index_file(), ec));
  o.build(t0 + 400);
  require_exactly_once(*o.db, o.community, o.layout);
  CHECK(stored_hashes(*o.db, o.community).size() == 81);
}

TEST_CASE("messages an older version left in no archive are queued and archived once",
          "[store][queue][upgrade]") {
  owner o;
  REQUIRE(o.db->insert_messages(o.community, messages(t0, t0 + 300, 30, "archived-")));
  o.build(t0 + 300);
  // What annals did before the queue: late messages stored behind the end
  // date and never archived (here dropped from the queue by hand).
  REQUIRE(o.db->insert_messages(o.community, messages(t0 + 10, t0 + 290, 5, "lost-")));
  {
    auto view = unwrap(o.db->unarchived(o.community));
    REQUIRE(o.db->commit_build(o.community, *view, {t0 + 300, t0 + 300, {}}));
  }
  REQUIRE(unwrap(o.db->count_unarchived(o.community)) == 0);
  REQUIRE(archived(o.layout).size() == 30);

  CHECK(unwrap(queue_messages_missing_from_archives(o.layout, *o.db, o.community)) == 5);
  CHECK(unwrap(o.db->count_unarchived(o.community)) == 5);
  // Idempotent: queued ones are not queued twice, archived ones never.
  CHECK(unwrap(queue_messages_missing_from_archives(o.layout, *o.db, o.community)) == 0);
  auto built = o.build(t0 + 400);
  CHECK(built.late_messages == 5);
  require_exactly_once(*o.db, o.community, o.layout);
}

TEST_CASE("the first build of a community checks its archives for missing messages once",
          "[store][queue][upgrade]") {
  owner o;
  REQUIRE(o.db->insert_messages(o.community, messages(t0, t0 + 100, 10, "a-")));
  auto first = o.build(t0 + 100);
  CHECK(first.requeued == 0);
  REQUIRE(o.db->insert_messages(o.community, messages(t0 + 100, t0 + 200, 10, "b-")));
  {
    auto view = unwrap(o.db->unarchived(o.community));
    REQUIRE(o.db->commit_build(o.community, *view, {t0 + 200, t0 + 200, {}}));
  }
  // Already checked for this community: a later build does not look again.
  CHECK(o.build(t0 + 300).requeued == 0);
  CHECK(unwrap(o.db->get_setting("archive_queue.reconciled." + o.community.community_id())));
}

TEST_CASE("the store's archive counts match list_archives after builds, downloads, imports and a "
          "reopen",
          "[store][counts]") {
  owner o;
  auto listed = [&](const public_key& community) {
    archive_counts c;
    for (const auto& [id, record] : unwrap(o.db->list_archives(community))) {
      ++c.archives;
      c.imported += record.imported() ? 1 : 0;
    }
    return c;
  };
  auto check_counts = [&](const public_key& community, archive_counts expected) {
    CHECK(listed(community) == expected);
    CHECK(o.db->count_archives(community) == expected);
  };
  check_counts(o.community, {0, 0});

  // Builds: the owner's own archives are recorded imported.
  REQUIRE(o.db->insert_messages(o.community, messages(t0, t0 + 250, 30, "live-")));
  auto built = o.build(t0 + 300);
  REQUIRE(built.report.archives.size() >= 2);
  auto after_build = archive_counts{built.report.archives.size(), built.report.archives.size()};
  check_counts(o.community, after_build);
  // A build with nothing new changes nothing.
  o.build(t0 + 300);
  check_counts(o.community, after_build);

  // Downloads of another community: held, not imported; an ID listed twice,
  // or recorded again, is one archive.
  auto member = private_key::generate().public_key();
  auto archive = [](char digit, std::uint64_t from) {
    built_archive a;
    a.id = "0x" + std::string(64, digit);
    a.entry.mutable_metadata()->set_from(from);
    a.entry.mutable_metadata()->set_to(from + 100);
    return a;
  };
  REQUIRE(o.db->mark_archives_downloaded(member, {archive('1', t0), archive('2', t0 + 100),
                                                  archive('1', t0)}));
  check_counts(member, {2, 0});
  REQUIRE(o.db->mark_archives_downloaded(member, {archive('2', t0 + 100), archive('3', t0 + 200)}));
  check_counts(member, {3, 0});
  check_counts(o.community, after_build);

  // Imports: an archive counts as imported once, with its last batch.
  REQUIRE(o.db->import_archive_messages(member, archive('1', t0).id,
                                        messages(t0, t0 + 100, 5, "one-"), false));
  check_counts(member, {3, 0});
  REQUIRE(o.db->import_archive_messages(member, archive('1', t0).id, {}, true));
  check_counts(member, {3, 1});
  REQUIRE(o.db->import_archive_messages(member, archive('1', t0).id, {}, true));
  check_counts(member, {3, 1});
  // Recording an imported archive again keeps it imported; marking one
  // imported on download (archive import from files) counts it.
  REQUIRE(o.db->mark_archives_downloaded(member, {archive('1', t0)}));
  REQUIRE(o.db->mark_archives_downloaded(member, {archive('2', t0 + 100)}, true));
  check_counts(member, {3, 2});
  // A refused import (no such archive) counts nothing.
  CHECK_FALSE(o.db->import_archive_messages(member, archive('9', t0).id, {}, true));
  check_counts(member, {3, 2});

  // Counted from the records again at open: the same figures.
  o.reopen();
  check_counts(member, {3, 2});
  check_counts(o.community, after_build);
  // And kept from there.
  REQUIRE(o.db->import_archive_messages(member, archive('3', t0 + 200).id, {}, true));
  check_counts(member, {3, 3});
  REQUIRE(o.db->insert_messages(o.community, messages(t0 + 300, t0 + 400, 10, "later-")));
  auto more = o.build(t0 + 500);
  REQUIRE(more.report.archives.size() >= 1);
  after_build.archives += more.report.archives.size();
  after_build.imported += more.report.archives.size();
  check_counts(o.community, after_build);
}
