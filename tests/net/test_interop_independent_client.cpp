// Interop with a BitTorrent implementation that shares no code with
// libtorrent-rasterbar: aria2 downloads an archive torrent that annals seeds,
// over 127.0.0.1 only. aria2 cannot be handed a peer address, so a local
// opentracker introduces the two: annals announces to it, aria2 asks it for
// peers and dials annals. The tracker speaks HTTP: aria2 1.36 sends UDP
// announces only through its DHT socket, and the DHT stays off here.
#include "core/archive_builder.hpp"
#include "core/synthetic.hpp"
#include "net/loopback.hpp"
#include "net/torrent_file.hpp"
#include "net/torrent_session.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <optional>
#include <thread>

using namespace annals;
namespace fs = std::filesystem;

namespace {

/// How long aria2 may take before it is killed and the test fails.
constexpr auto client_time_limit = std::chrono::seconds(60);

/// A program from a Debian package that scripts/setup.sh installs. Missing
/// means the machine was not set up, which must fail, not skip.
fs::path require_program(const std::string& program, const std::string& package) {
  auto found = find_program(program);
  if (!found)
    FAIL(program << " is not on PATH: run scripts/setup.sh, which installs the Debian package "
                 << package);
  return *found;
}

/// A free loopback port, or the test fails.
std::uint16_t loopback_port() {
  auto port = annals::free_loopback_port();
  if (!port)
    FAIL("no port free for both TCP and UDP on 127.0.0.1");
  return *port;
}

/// A child process run with `args` in `dir`, its output in `log`. The
/// destructor kills it if it is still running.
class child_process {
public:
  child_process(const std::vector<std::string>& args, const fs::path& dir, const fs::path& log)
    : log_(log) {
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
      // libtorrent opens its sockets without FD_CLOEXEC; the seeder's must not
      // live on in the client.
      ::close_range(3, ~0u, 0);
      if (::chdir(dir.c_str()) != 0)
        ::_exit(126);
      std::vector<char*> argv;
      for (const auto& arg : args)
        argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~child_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// The exit status once the process has ended, without blocking.
  std::optional<int> exited() {
    int status = 0;
    if (pid_ <= 0 || ::waitpid(pid_, &status, WNOHANG) != pid_)
      return std::nullopt;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::string log() const { return test::read_file(log_); }

private:
  fs::path log_;
  pid_t pid_ = -1;
};

/// An owner's archive set whose torrent lists a local opentracker, and the
/// tracker running.
struct tracked_archives {
  fs::path aria2c = require_program("aria2c", "aria2");
  fs::path opentracker = require_program("opentracker", "opentracker");
  test::temp_dir dir{"annals-interop"};
  synthetic_community community = synthetic_community::make(3, 5);
  archive_layout owner{dir / "owner", community.id()};
  std::uint16_t tracker_port = loopback_port();
  torrent_summary torrent;
  std::optional<child_process> tracker;

  tracked_archives() {
    synthetic_traffic traffic;
    traffic.count = 20'000;
    traffic.from = 1'700'000'000;
    traffic.to = traffic.from + 3 * default_partition_seconds;
    build_request request{traffic.from, traffic.to, default_partition_seconds,
                          community.channel_topics};
    auto built = build_archives(owner, request,
                                memory_source(make_synthetic_messages(community, traffic)));
    REQUIRE(built);
    REQUIRE(built->archives.size() == 3);
    auto tracker_url = "http://127.0.0.1:" + std::to_string(tracker_port) + "/announce";
    auto written = write_archive_torrent(owner, {{tracker_url}, "annals", 0});
    REQUIRE(written);
    torrent = *written;

    // Debian builds opentracker to serve only whitelisted info hashes. As
    // root it chroots into -d and drops to `nobody` before it reads the
    // whitelist, so the directory must be readable by everyone and the
    // whitelist's path is relative to it.
    auto tracker_dir = dir / "tracker";
    test::write_file(tracker_dir / "whitelist", torrent.info_hash + "\n");
    fs::permissions(tracker_dir, fs::perms::owner_all | fs::perms::group_read |
                                   fs::perms::group_exec | fs::perms::others_read |
                                   fs::perms::others_exec);
    auto port = std::to_string(tracker_port);
    tracker.emplace(std::vector<std::string>{opentracker.string(), "-i", "127.0.0.1", "-p", port,
                                             "-P", port, "-d", tracker_dir.string(), "-w",
                                             "whitelist"},
                    tracker_dir, dir / "opentracker.log");
    // A first announce that finds no tracker is retried only after a backoff.
    INFO("opentracker log:\n" << tracker->log());
    REQUIRE(accepts_connections(tracker_port, std::chrono::seconds(10)));
  }

  /// aria2 fetches the torrent, finding its peers only through the tracker;
  /// `tick` runs while it does. Checks the copy byte for byte.
  void fetch_with_aria2(const std::function<void()>& tick) {
    auto download_dir = dir / "aria2";
    fs::create_directories(download_dir);
    auto started = std::chrono::steady_clock::now();
    child_process client({aria2c.string(), "--no-conf=true", "--dir=" + download_dir.string(),
                          "--seed-time=0", "--enable-dht=false", "--enable-dht6=false",
                          "--bt-enable-lpd=false", "--enable-peer-exchange=false",
                          "--interface=127.0.0.1", "--disable-ipv6=true",
                          "--listen-port=" + std::to_string(loopback_port()),
                          "--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=5",
                          "--file-allocation=none", "--summary-interval=0",
                          "--console-log-level=warn", owner.torrent_file().string()},
                         download_dir, dir / "aria2.log");
    std::optional<int> client_exit;
    while (!(client_exit = client.exited()) &&
           std::chrono::steady_clock::now() - started < client_time_limit)
      tick();
    auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
    INFO("aria2 log:\n" << client.log());
    INFO("aria2 ran " << seconds.count() << " s");
    REQUIRE(client_exit);  // else it was still running after the time limit
    CHECK(*client_exit == 0);
    auto copy = download_dir / community.id();
    CHECK(test::read_file(copy / "data") == test::read_file(owner.data_file()));
    CHECK(test::read_file(copy / "index") == test::read_file(owner.index_file()));
  }
};

} // namespace

TEST_CASE("aria2 downloads an archive torrent that annals seeds, byte for byte",
          "[net][interop]") {
  tracked_archives t;
  // The loopback profile with trackers on: annals must announce itself.
  auto options = loopback_session_options();
  options.trackers = true;
  auto seeder = torrent_session::start(options);
  REQUIRE(seeder);
  auto seeded = (*seeder)->seed(t.owner.torrent_file(), t.owner.archive_dir().parent_path());
  REQUIRE(seeded);
  t.fetch_with_aria2([&] { (*seeder)->poll(std::chrono::milliseconds(50)); });
  CHECK((*seeder)->progress(*seeded)->total_upload >= t.torrent.data_size + t.torrent.index_size);
}

TEST_CASE("aria2 finds `annals archive seed --listen 127.0.0.1:0` through a local tracker",
          "[net][interop]") {
  tracked_archives t;
  child_process seed({ANNALS_BINARY, "archive", "seed", t.owner.root.string(), "--listen",
                      "127.0.0.1:0"},
                     t.dir.path(), t.dir / "seed.log");
  t.fetch_with_aria2([] { std::this_thread::sleep_for(std::chrono::milliseconds(50)); });
  INFO("seed log:\n" << seed.log());
  CHECK_FALSE(seed.exited());  // still seeding: aria2 got it from this process
}
