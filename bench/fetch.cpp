#include "bench/fetch.hpp"

#include "bench/process.hpp"

#include "net/loopback.hpp"
#include "net/torrent_file.hpp"

#include <chrono>
#include <fstream>
#include <unistd.h>
#include <optional>
#include <stdexcept>
#include <thread>

namespace annals::bench {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

/// How long one fetch may take before the bench gives up on it.
constexpr auto fetch_time_limit = 300s;

std::uint16_t free_port() {
  auto port = free_loopback_port();
  if (!port)
    throw std::runtime_error("no port free for both TCP and UDP on 127.0.0.1");
  return *port;
}

std::vector<std::string> aria2_args(const fs::path& aria2c, const fs::path& dir,
                                    std::uint16_t port) {
  return {aria2c.string(),          "--no-conf=true",
          "--dir=" + dir.string(),  "--enable-dht=false",
          "--enable-dht6=false",    "--bt-enable-lpd=false",
          "--enable-peer-exchange=false", "--interface=127.0.0.1",
          "--disable-ipv6=true",    "--listen-port=" + std::to_string(port),
          "--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=5",
          "--file-allocation=none", "--summary-interval=0",
          "--console-log-level=warn"};
}

/// Whether `copy`'s data and index are byte for byte `owner`'s.
bool same_files(const archive_layout& owner, const fs::path& copy_dir) {
  for (const auto* name : {"data", "index"}) {
    std::ifstream a(owner.archive_dir() / name, std::ios::binary);
    std::ifstream b(copy_dir / name, std::ios::binary);
    if (!a || !b)
      return false;
    std::string x(1 << 20, '\0'), y(1 << 20, '\0');
    for (;;) {
      a.read(x.data(), static_cast<std::streamsize>(x.size()));
      b.read(y.data(), static_cast<std::streamsize>(y.size()));
      if (a.gcount() != b.gcount()
          || x.compare(0, static_cast<std::size_t>(a.gcount()), y, 0,
                       static_cast<std::size_t>(b.gcount()))
               != 0)
        return false;
      if (a.gcount() == 0)
        break;
    }
  }
  return true;
}

/// Runs a fetch to its end and returns its seconds; throws naming the
/// client when it fails, runs too long or copies wrongly.
double timed_fetch(const std::string& who, std::vector<std::string> args, const fs::path& log,
                   const archive_layout& owner, const fs::path& copy_dir) {
  // The previous client's gigabyte is still being written back; each
  // client starts on a clean page cache, or the second pays for the first.
  ::sync();
  auto started = clock_type::now();
  process client(std::move(args), log);
  auto code = client.wait(fetch_time_limit);
  auto seconds = std::chrono::duration<double>(clock_type::now() - started).count();
  if (!code)
    throw std::runtime_error(who + " did not finish within "
                             + std::to_string(fetch_time_limit.count()) + " s:\n" + client.tail());
  if (*code != 0)
    throw std::runtime_error(who + " exited with " + std::to_string(*code) + ":\n" + client.tail());
  if (!same_files(owner, copy_dir))
    throw std::runtime_error(who + "'s copy in " + copy_dir.string()
                             + " differs from the seeder's files");
  return seconds;
}

} // namespace

fetch_figures run_fetch(const archive_layout& owner, const fs::path& work,
                        const fs::path& annals_binary,
                        const std::function<void(const std::string&)>& line) {
  fetch_figures out;
  auto aria2c = find_program("aria2c");
  auto opentracker = find_program("opentracker");
  if (!aria2c || !opentracker) {
    out.why = std::string(!aria2c ? "aria2c" : "opentracker")
              + " is not on PATH (scripts/setup.sh installs the Debian packages aria2 and "
                "opentracker)";
    return out;
  }
  fs::create_directories(work);

  // The torrent lists the tracker, which aria2 needs to find any peer. The
  // info hash does not change: trackers are outside the info dictionary.
  auto tracker_port = free_port();
  auto tracker_url = "http://127.0.0.1:" + std::to_string(tracker_port) + "/announce";
  auto torrent = write_archive_torrent(owner, {{tracker_url}, "annals", 0});
  if (!torrent)
    throw std::runtime_error("torrent: " + torrent.error().to_string());
  out.bytes = torrent->data_size + torrent->index_size;

  // Debian's opentracker serves only whitelisted hashes; as root it chroots
  // into -d and reads the whitelist as `nobody`.
  auto tracker_dir = work / "tracker";
  fs::create_directories(tracker_dir);
  std::ofstream(tracker_dir / "whitelist") << torrent->info_hash << "\n";
  fs::permissions(tracker_dir, fs::perms::owner_all | fs::perms::group_read
                                 | fs::perms::group_exec | fs::perms::others_read
                                 | fs::perms::others_exec);
  auto port = std::to_string(tracker_port);
  process tracker({opentracker->string(), "-i", "127.0.0.1", "-p", port, "-P", port, "-d",
                   tracker_dir.string(), "-w", "whitelist"},
                  work / "opentracker.log");
  if (!accepts_connections(tracker_port, 10s))
    throw std::runtime_error("opentracker did not listen on 127.0.0.1:" + port + ":\n"
                             + tracker.tail());

  // The seeder: aria2 on the owner's files, as they are.
  auto seed_port = free_port();
  auto seed_args = aria2_args(*aria2c, owner.root / "archivedata", seed_port);
  for (const char* arg : {"--seed-ratio=0.0", "--bt-seed-unverified=true",
                          "--check-integrity=false"})
    seed_args.emplace_back(arg);
  seed_args.push_back(owner.torrent_file().string());
  line("fetch: aria2 seeds " + std::to_string(out.bytes) + " bytes on 127.0.0.1:"
       + std::to_string(seed_port));
  process seeder(seed_args, work / "aria2-seeder.log");
  if (!accepts_connections(seed_port, 10s))
    throw std::runtime_error("the aria2 seeder did not listen:\n" + seeder.tail());
  std::this_thread::sleep_for(1s);  // its first announce reaches the tracker

  auto aria2_dir = work / "aria2";
  auto aria2_args_leech = aria2_args(*aria2c, aria2_dir, free_port());
  aria2_args_leech.emplace_back("--seed-time=0");
  aria2_args_leech.push_back(owner.torrent_file().string());
  line("fetch: aria2 from the aria2 seeder (peers through the tracker)");
  out.aria2_s = timed_fetch("aria2", aria2_args_leech, work / "aria2.log", owner,
                            aria2_dir / owner.community_id);

  // `annals archive fetch` from 127.0.0.1:`port` into work/`name`.
  auto annals_fetch = [&](const std::string& name, std::uint16_t port) {
    auto out_dir = work / name;
    return timed_fetch("annals archive fetch into " + name,
                       {annals_binary.string(), "archive", "fetch", owner.torrent_file().string(),
                        "--out", out_dir.string(), "--peer", "127.0.0.1:" + std::to_string(port),
                        "--timeout", std::to_string(fetch_time_limit.count())},
                       work / (name + ".log"), owner,
                       archive_layout{out_dir, owner.community_id}.archive_dir());
  };
  line("fetch: annals archive fetch from the same seeder");
  out.annals_s = annals_fetch("annals", seed_port);
  seeder.stop();

  // annals -> annals: the owner's seeder and a member's fetch.
  auto annals_seed_port = free_port();
  process annals_seeder({annals_binary.string(), "archive", "seed", owner.root.string(), "--listen",
                         "127.0.0.1:" + std::to_string(annals_seed_port), "--no-trackers"},
                        work / "annals-seeder.log");
  if (!accepts_connections(annals_seed_port, 10s))
    throw std::runtime_error("annals archive seed did not listen:\n" + annals_seeder.tail());
  line("fetch: annals archive fetch from annals archive seed");
  out.annals_from_annals_s = annals_fetch("annals-from-annals", annals_seed_port);
  out.measured = true;
  return out;
}

} // namespace annals::bench
