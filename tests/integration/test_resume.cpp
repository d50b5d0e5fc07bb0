// Kill a member mid-import (a real process, SIGKILL) and start it again:
// every message is present exactly once and every archive ends imported.
#include "actors/downloader.hpp"
#include "actors/importer.hpp"
#include "actors/node.hpp"
#include "actors/signal_bus.hpp"
#include "core/archive_builder.hpp"
#include "core/synthetic.hpp"
#include "net/torrent_file.hpp"
#include "storage/store.hpp"
#include "tests/integration/node_harness.hpp"
#include "tests/temp_dir.hpp"
#include "tests/app/small_disk.hpp"
#include "core/file_io.hpp"

#include <fstream>

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include <csignal>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

using namespace annals;

namespace {

/// The helper's stdout, read line by line until `wanted` or EOF.
struct child_process {
  pid_t pid = -1;
  int out = -1;

  child_process(const std::string& data_dir, const std::string& community) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::string binary = RESUME_MEMBER_BINARY;
    std::vector<char*> argv{binary.data(), const_cast<char*>(data_dir.c_str()),
                            const_cast<char*>(community.c_str()), nullptr};
    REQUIRE(::posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    out = fds[0];
  }

  std::string read_line() {
    std::string line;
    char c;
    while (::read(out, &c, 1) == 1 && c != '\n')
      line += c;
    return line;
  }

  int wait() {
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(out);
    return status;
  }
};

} // namespace

TEST_CASE("a member killed mid-import resumes at start-up and stores every message once",
          "[actors][member][resume]") {
  test::temp_dir dir("annals-resume");
  auto community = synthetic_community::make(2, 31);
  auto pub = community.key.public_key();
  // A member's disk after a download: the archives and their torrent are
  // there, the store lists them as downloaded and none as imported.
  archive_layout layout{dir.path(), pub.community_id()};
  synthetic_traffic traffic;
  traffic.count = 400'000;
  traffic.from = 1'700'000'000;
  traffic.to = traffic.from + 8 * 3600;
  traffic.max_payload = 200;
  auto report = build_archives(layout, {traffic.from, traffic.to, 3600, community.channel_topics},
                               memory_source(make_synthetic_messages(community, traffic)));
  REQUIRE(report);
  REQUIRE(report->archives.size() >= 8);
  REQUIRE(write_archive_torrent(layout, {}));
  {
    auto db = store::open(dir / "db");
    REQUIRE(db);
    record::Community member;
    member.set_public_key(std::string(as_view(pub.compressed())));
    member.set_role(record::Community::MEMBER);
    member.set_joined(true);
    member.set_archives_enabled(true);
    REQUIRE((*db)->put_community(member));
    REQUIRE((*db)->mark_archives_downloaded(pub, report->archives));
  }

  {
    child_process first(dir.path().string(), pub.community_id());
    REQUIRE(first.read_line() == "started");
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    ::kill(first.pid, SIGKILL);
    auto status = first.wait();
    REQUIRE(WIFSIGNALED(status));
  }
  {
    // The killed run must have left work behind, or this test proves nothing.
    auto db = store::open(dir / "db");
    REQUIRE(db);
    auto pending = (*db)->unimported_archives(pub);
    REQUIRE(pending);
    INFO("archives left unimported by the killed run: " << pending->size());
    CHECK_FALSE(pending->empty());
    CHECK((*db)->count_messages(pub).value() < traffic.count);
  }
  {
    child_process second(dir.path().string(), pub.community_id());
    REQUIRE(second.read_line() == "started");
    CHECK(second.read_line() == "imported " + std::to_string(traffic.count));
    auto status = second.wait();
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  auto db = store::open(dir / "db");
  REQUIRE(db);
  CHECK((*db)->count_messages(pub).value() == traffic.count);
  CHECK((*db)->unimported_archives(pub)->empty());
  // Every message once: each hash of the input is stored, nothing more.
  std::size_t seen = 0;
  REQUIRE((*db)->scan_messages(pub, 0, UINT64_MAX, {}, [&](archive_message&&) { ++seen; }));
  CHECK(seen == traffic.count);
}

TEST_CASE("an import rate cap paces the importer", "[actors][member][importer]") {
  test::temp_dir dir("annals-rate");
  auto community = synthetic_community::make(1, 8);
  auto pub = community.key.public_key();
  archive_layout layout{dir.path(), pub.community_id()};
  synthetic_traffic traffic;
  traffic.count = 600;
  traffic.from = 1'700'000'000;
  traffic.to = traffic.from + 600;
  auto report = build_archives(layout, {traffic.from, traffic.to, 600, community.channel_topics},
                               memory_source(make_synthetic_messages(community, traffic)));
  REQUIRE(report);
  std::shared_ptr<store> db(std::move(*store::open(dir / "db")));
  REQUIRE(db->mark_archives_downloaded(pub, report->archives));

  test::integration_config cfg;
  caf::actor_system sys{cfg};
  auto bus = sys.spawn(signal_bus);
  // 600 messages at 2,000 per second cannot take less than 0.3 s.
  auto capped = sys.spawn<caf::detached>(importer, dir.path(), db, bus, std::uint64_t{2000},
                                         import_observer{});
  caf::scoped_actor self{sys};
  auto started = std::chrono::steady_clock::now();
  std::uint64_t imported = 0;
  self->request(capped, std::chrono::seconds(30), import_atom::value, pub.community_id())
    .receive([&](std::uint64_t n) { imported = n; },
             [&](const caf::error& err) { FAIL(sys.render(err)); });
  CHECK(imported == 600);
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(300));
  self->send_exit(capped, caf::exit_reason::user_shutdown);
  self->send_exit(bus, caf::exit_reason::user_shutdown);
}

TEST_CASE("an import that meets a full disk is retried by itself once space returns, and every "
          "message lands once",
          "[actors][member][importer][disk]") {
  test::temp_dir dir("annals-import-disk");
  test::small_disk disk(dir / "disk", "48m");
  if (!disk.mounted) {
    WARN("cannot mount a tmpfs here (not root?): the import retry test did not run");
    return;
  }
  auto community = synthetic_community::make(1, 12);
  auto pub = community.key.public_key();
  // The archives arrived on another disk; the store's disk is the one that
  // fills between the fetch and the import.
  archive_layout layout{dir.path(), pub.community_id()};
  synthetic_traffic traffic;
  traffic.count = 6000;
  traffic.from = 1'700'000'000;
  traffic.to = traffic.from + 3 * 3600;
  traffic.max_payload = 300;
  auto report = build_archives(layout, {traffic.from, traffic.to, 3600, community.channel_topics},
                               memory_source(make_synthetic_messages(community, traffic)));
  REQUIRE(report);
  store_options options;
  options.min_free_bytes = 8u << 20;
  std::shared_ptr<store> db(std::move(*store::open(disk.at / "db", options)));
  REQUIRE(db->mark_archives_downloaded(pub, report->archives));
  // Fill the disk to 1 MiB under the reserve.
  auto free = free_disk_bytes(disk.at);
  REQUIRE(free);
  REQUIRE(*free > options.min_free_bytes);
  auto filler = disk.at / "filler";
  {
    std::ofstream out(filler, std::ios::binary);
    std::string block(1 << 20, 'x');
    for (auto left = *free - options.min_free_bytes + (1u << 20); left > 0;) {
      auto n = std::min<std::uint64_t>(left, block.size());
      out.write(block.data(), static_cast<std::streamsize>(n));
      left -= n;
    }
  }
  REQUIRE(*free_disk_bytes(disk.at) < options.min_free_bytes);

  test::integration_config cfg;
  caf::actor_system sys{cfg};
  auto log = std::make_shared<test::observed>();
  auto bus = sys.spawn(signal_bus);
  auto sink = sys.spawn(test::signal_log, log);
  caf::anon_send(bus, subscribe_atom::value, sink);
  auto imp = sys.spawn<caf::detached>(importer, dir.path(), db, bus, std::uint64_t{0},
                                      import_observer{});
  caf::scoped_actor self{sys};
  // The import fails naming the full disk, and nothing is half-stored.
  self->request(imp, std::chrono::seconds(30), import_atom::value, pub.community_id())
    .receive([&](std::uint64_t n) { FAIL("import succeeded on a full disk: " << n); },
             [&](const caf::error& err) {
               auto text = sys.render(err);
               CHECK(text.find("disk full") != std::string::npos);
               CHECK(text.find((disk.at / "db").string()) != std::string::npos);
             });
  CHECK(db->count_messages(pub).value() == 0);
  auto status = [&] {
    component_status out;
    self->request(imp, std::chrono::seconds(10), status_atom::value)
      .receive([&](component_status& s) { out = std::move(s); },
               [&](const caf::error& err) { FAIL(sys.render(err)); });
    return out;
  };
  auto sample = [](const component_status& s, const std::string& name) {
    for (const auto& m : s.metrics)
      if (m.name == name)
        return m.value;
    return -1.0;
  };
  auto waiting = status();
  CHECK(waiting.state.find("waiting to retry") != std::string::npos);
  CHECK(sample(waiting, "annals_imports_waiting_to_retry") == 1);
  CHECK(sample(waiting, "annals_import_failures_total") >= 1);
  CHECK(log->count("community.downloadingHistoryArchivesFinished") == 0);

  // Space returns: no new download, no request; the importer's own retry
  // stores every message once and says the history is in.
  std::filesystem::remove(filler);
  CHECK(test::eventually(
    [&] { return log->count("community.downloadingHistoryArchivesFinished") == 1; },
    std::chrono::seconds(30)));
  CHECK(db->count_messages(pub).value() == traffic.count);
  CHECK(db->unimported_archives(pub)->empty());
  std::size_t seen = 0;
  REQUIRE(db->scan_messages(pub, 0, UINT64_MAX, {}, [&](archive_message&&) { ++seen; }));
  CHECK(seen == traffic.count);
  auto after = status();
  CHECK(after.state.find("waiting to retry") == std::string::npos);
  CHECK(sample(after, "annals_imports_waiting_to_retry") == 0);
  CHECK(sample(after, "annals_import_retries_total") >= 1);
  self->send_exit(imp, caf::exit_reason::user_shutdown);
  self->send_exit(sink, caf::exit_reason::user_shutdown);
  self->send_exit(bus, caf::exit_reason::user_shutdown);
}
