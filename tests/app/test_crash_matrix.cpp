// The crash matrix: an owner and a member as `annals run` processes, killed
// with SIGKILL at many points of their work (storing relayed batches,
// building, promoting the index, writing the torrent, seeding, announcing;
// locating, fetching, recording, importing) and restarted at once. After the
// last restart every message the owner stored is in exactly one archive, its
// archive directory verifies, and the member holds exactly the owner's set.
#include "core/archive_format.hpp"
#include "core/hex.hpp"
#include "core/identity.hpp"
#include "tests/app/run_annals.hpp"
#include "tests/app/small_disk.hpp"
#include "tests/http_get.hpp"
#include "tests/process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <map>
#include <sstream>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace annals;
using namespace annals::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

/// "1 archive", "3 archives": as `run` prints counts.
std::string counted(std::uint64_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}


std::unique_ptr<child_process> start(const temp_dir& dir, const std::string& tag, int round,
                                     std::vector<std::string> args) {
  args.insert(args.begin(), ANNALS_BINARY);
  return std::make_unique<child_process>(
    std::move(args), dir / (tag + "-" + std::to_string(round) + ".out"),
    dir / (tag + "-" + std::to_string(round) + ".err"));
}

/// What the process was doing when it died: its last progress line's words.
std::string phase_of(const std::string& log) {
  static const std::vector<std::pair<std::string, std::string>> phases = {
    {"published the signed magnet link", "announcing"},
    {"seeding the torrent", "seeding"},
    {"archives created", "after a build"},
    {"nothing new to archive", "after an empty build"},
    {"creating archives", "building"},
    {"posting", "storing relayed traffic"},
    {"downloaded the archive", "recording/importing"},
    {"verified the owner's magnet link", "fetching"},
    {"download and import finished", "after import"},
    {"joined community", "waiting for a link"},
    {"owns community", "starting"},
    {"listening", "starting"},
  };
  auto last = std::string::npos;
  std::string found = "before its first line";
  for (const auto& [needle, name] : phases) {
    auto at = log.rfind(needle);
    if (at != std::string::npos && (last == std::string::npos || at > last)) {
      last = at;
      found = name;
    }
  }
  return found;
}

nlohmann::json rest(int port, const std::string& path) {
  auto reply = http_get("127.0.0.1:" + std::to_string(port), path);
  if (!reply || reply->status != 200)
    return nullptr;
  return nlohmann::json::parse(reply->body, nullptr, false);
}


/// The [torrent] table of a loopback node that advertises its address.
std::string torrent_table(int port) {
  return "[torrent]\nlisten = \"127.0.0.1:" + std::to_string(port)
         + "\"\nloopback = true\ndht = false\nadvertise_address = true\n";
}

/// An owner's config: relay and REST on fixed ports, builds every
/// `interval` seconds, its own traffic.
std::string owner_toml(const private_key& key, int torrent, int relay, int rest_port,
                       int interval, const std::string& channels, const std::string& traffic) {
  return "data_dir = \"owner\"\n" + torrent_table(torrent) + "[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/"
         + std::to_string(relay) + "\"]\n" + "[archives]\ninterval = " + std::to_string(interval)
         + "\nsettle = 0\nwelcome_gap = 1\n" + "[rest]\nlisten = \"127.0.0.1:"
         + std::to_string(rest_port) + "\"\n" + "[[community]]\nrole = \"owner\"\nkey = \""
         + to_hex(key.bytes()) + "\"\nchannels = [" + channels + "]\n" + "[community.traffic]\n"
         + traffic;
}

/// Waits (60 s at most) until the owner's community is settled: everything
/// stored archived and the count unchanged for 3 s. Its REST view, or null.
nlohmann::json wait_until_settled(int rest_port, const std::string& community) {
  nlohmann::json owned;
  std::uint64_t stable_messages = 0;
  int stable_polls = 0;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline && stable_polls < 6) {
    std::this_thread::sleep_for(500ms);
    owned = rest(rest_port, "/archive/v1/communities/" + community);
    if (owned.is_null() || owned["unarchivedMessages"] != 0 || owned["messages"] == 0) {
      stable_polls = 0;
      continue;
    }
    auto messages = owned["messages"].get<std::uint64_t>();
    stable_polls = messages == stable_messages ? stable_polls + 1 : 0;
    stable_messages = messages;
  }
  return stable_polls >= 6 ? owned : nlohmann::json(nullptr);
}
} // namespace

TEST_CASE("crash matrix: owner and member killed with SIGKILL at many points keep every "
          "message exactly once and converge",
          "[cli][run][crash]") {
  temp_dir dir("crash-matrix");
  auto owner_key = private_key::generate();
  auto community = owner_key.public_key().community_id();
  int owner_relay = free_port(), owner_torrent = free_port(), owner_rest = free_port();
  int member_torrent = free_port(), member_rest = free_port();
  write_file(dir / "owner.toml",
             owner_toml(owner_key, owner_torrent, owner_relay, owner_rest, 1,
                        "\"general\", \"random\"", "messages = 1500\nrate = 1000\n"));
  std::map<std::string, int> owner_phases, member_phases;

  // A kill point: SIGKILL `after` the process printed `trigger` (at once
  // after start when empty; after 15 s at most when it never does).
  struct kill_point {
    std::string trigger;
    int after_ms;
  };
  int round = 0;
  auto run_and_kill = [&](const std::string& tag, const std::string& config, const kill_point& k,
                          std::map<std::string, int>& phases) {
    auto p = start(dir, tag, round++, {"run", "--config", config});
    if (!k.trigger.empty())
      (void)p->wait_for_line(
        [&](const std::string& l) { return l.find(k.trigger) != std::string::npos; }, 15s);
    std::this_thread::sleep_for(std::chrono::milliseconds(k.after_ms));
    auto log = p->out();
    p->kill(SIGKILL);
    ++phases[phase_of(log)];
  };

  // The owner, killed while traffic arrives, builds run every second, the
  // index is promoted, the torrent written, seeded and announced.
  const std::vector<kill_point> owner_kills = {
    {"", 120},  {"", 600},  {"posting", 50},  {"creating archives", 0},
    {"creating archives", 3},  {"archives created", 0}, {"seeding the torrent", 0},
    {"seeding the torrent", 5}, {"published the signed magnet link", 0}, {"", 1750},
    {"", 2600}, {"", 3200}};
  for (const auto& k : owner_kills)
    run_and_kill("owner", (dir / "owner.toml").string(), k, owner_phases);
  auto owner = start(dir, "owner", round++, {"run", "--config", (dir / "owner.toml").string()});
  auto listening = owner->wait_for_line(
    [](const std::string& l) { return l.find("relay: listening /ip4/") != std::string::npos; }, 20s);
  INFO("owner:\n" << owner->out() << owner->err());
  REQUIRE(listening);
  auto owner_addr = listening->substr(listening->find("/ip4/"));

  // Settled: everything stored is archived and stays so.
  auto owned = wait_until_settled(owner_rest, community);
  REQUIRE_FALSE(owned.is_null());
  auto stable_messages = owned["messages"].get<std::uint64_t>();
  // Each run posts its own traffic: at least one run's worth is stored.
  CHECK(stable_messages >= 1500);

  // Exactly once: the archives verify, and their messages add up to the
  // stored set with nothing left over.
  auto inspect = run_annals("archive inspect " + (dir / "owner").string(), dir);
  INFO(inspect.err);
  REQUIRE(inspect.code == 0);
  auto report = nlohmann::json::parse(inspect.out);
  CHECK(report["messages"].get<std::uint64_t>() == stable_messages);
  CHECK(owned["archives"] == report["archives"].size());

  // The member, killed while it waits for a link, locates, fetches, records
  // and imports; each restart resumes the stored link or hears a welcome.
  write_file(dir / "member.toml",
             "data_dir = \"member\"\n" + torrent_table(member_torrent)
               + "[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\npeers = [\"" + owner_addr + "\"]\n"
               + "[rest]\nlisten = \"127.0.0.1:" + std::to_string(member_rest) + "\"\n"
               + "[[community]]\nrole = \"member\"\nid = \"" + community
               + "\"\nchannels = [\"general\", \"random\"]\n");
  const std::vector<kill_point> member_kills = {
    {"joined community", 100},
    {"verified the owner's magnet link", 0},
    {"verified the owner's magnet link", 40},
    {"downloaded the archive", 0},
    {"downloaded the archive", 20},
    {"downloaded the archive", 60},
    {"", 900}};
  for (const auto& k : member_kills)
    run_and_kill("member", (dir / "member.toml").string(), k, member_phases);
  auto member = start(dir, "member", round++,
                      {"run", "--config", (dir / "member.toml").string(), "--until-synced",
                       "--seconds", "90"});
  auto code = member->wait(95s);
  INFO("member:\n" << member->out() << member->err());
  REQUIRE(code == std::optional<int>(0));
  // `synced` holds once the member imported every archive of the link; the
  // REST view confirms it holds the owner's messages, each once.
  auto synced = member->out();
  CHECK(synced.find("synced " + community + ": " + counted(report["archives"].size(), "archive")
                    + ", " + counted(stable_messages, "message"))
        != std::string::npos);

  std::cout << "crash matrix: " << owner_kills.size() + member_kills.size()
            << " SIGKILLs; owner killed while:";
  for (const auto& [phase, n] : owner_phases)
    std::cout << " " << phase << " ×" << n << ";";
  std::cout << " member killed while:";
  for (const auto& [phase, n] : member_phases)
    std::cout << " " << phase << " ×" << n << ";";
  std::cout << " " << stable_messages << " messages, " << report["archives"].size()
            << " archives, each message in exactly one\n";
  owner->kill(SIGTERM);
  CHECK(owner->wait(20s) == std::optional<int>(0));
}

// The member's download-and-record path, killed while the owner keeps
// publishing newer sets: after every kill the member's archive directory is
// one version (its .torrent verifies `index` and `data`, a newer set's bytes
// only past its end), and a restart with --until-synced ends only once the
// newest set is imported, not on a link remembered from before a kill.
TEST_CASE("crash points: a member killed while newer sets arrive keeps a one-version archive "
          "directory and says synced only with the newest set",
          "[cli][run][crash]") {
  temp_dir dir("crash-member");
  auto owner_key = private_key::generate();
  auto community = owner_key.public_key().community_id();
  int owner_relay = free_port(), owner_torrent = free_port(), owner_rest = free_port();
  int member_torrent = free_port(), member_rest = free_port();
  write_file(dir / "owner.toml", owner_toml(owner_key, owner_torrent, owner_relay, owner_rest, 3,
                                            "\"general\"", "messages = 28000\nrate = 800\n"));
  auto owner = start(dir, "owner", 0, {"run", "--config", (dir / "owner.toml").string()});
  auto listening = owner->wait_for_line(
    [](const std::string& l) { return l.find("relay: listening /ip4/") != std::string::npos; }, 20s);
  INFO("owner:\n" << owner->out() << owner->err());
  REQUIRE(listening);
  auto owner_addr = listening->substr(listening->find("/ip4/"));
  write_file(dir / "member.toml",
             "data_dir = \"member\"\n" + torrent_table(member_torrent)
               + "[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\npeers = [\"" + owner_addr + "\"]\n"
               + "[rest]\nlisten = \"127.0.0.1:" + std::to_string(member_rest) + "\"\n"
               + "[[community]]\nrole = \"member\"\nid = \"" + community
               + "\"\nchannels = [\"general\"]\n");

  // One version: whatever a kill left, the .torrent in place verifies the
  // directory's index and data.
  archive_layout member{dir / "member", community};
  auto check_one_version = [&](const std::string& after) {
    std::error_code ec;
    if (!fs::exists(member.torrent_file(), ec))
      return;
    auto inspect = run_annals("archive inspect " + (dir / "member").string(), dir);
    if (inspect.code != 0)
      std::cout << "after " << after << ": " << inspect.err << "\n";
    CHECK(inspect.code == 0);
  };

  // First a whole early set, then kills inside later fetches: right after
  // the link is verified, while archives arrive and are recorded.
  struct kill_point {
    std::string trigger;
    int after_ms;
  };
  const std::vector<kill_point> kills = {{"download and import finished", 0},
                                         {"verified the owner's magnet link", 0},
                                         {"downloaded the archive", 0},
                                         {"verified the owner's magnet link", 60},
                                         {"downloaded the archive", 15},
                                         {"verified the owner's magnet link", 250}};
  int round = 1, triggered = 0;
  for (const auto& k : kills) {
    auto p = start(dir, "member", round++, {"run", "--config", (dir / "member.toml").string()});
    auto seen = p->wait_for_line(
      [&](const std::string& l) { return l.find(k.trigger) != std::string::npos; }, 15s);
    if (seen)
      ++triggered;
    else
      std::cout << "no \"" << k.trigger << "\" in 15 s:\n" << p->out() << p->err() << "\n";
    std::this_thread::sleep_for(std::chrono::milliseconds(k.after_ms));
    auto log = p->out();
    p->kill(SIGKILL);
    std::cout << "member killed while: " << phase_of(log) << " (" << k.trigger << ")\n";
    check_one_version("a kill after \"" + k.trigger + "\" + " + std::to_string(k.after_ms) + " ms");
  }
  CHECK(triggered >= 3);  // at least half the kills fell inside fetches

  // The owner settles: every stored message archived, nothing new.
  auto owned = wait_until_settled(owner_rest, community);
  REQUIRE_FALSE(owned.is_null());
  auto stable_messages = owned["messages"].get<std::uint64_t>();
  auto archives = owned["archives"].get<std::uint64_t>();

  // The member's stored link is older than the owner's newest: "synced"
  // comes only with the newest set, whole.
  auto last = start(dir, "member", round++,
                    {"run", "--config", (dir / "member.toml").string(), "--until-synced",
                     "--seconds", "90"});
  auto code = last->wait(95s);
  INFO("member:\n" << last->out() << last->err());
  REQUIRE(code == std::optional<int>(0));
  CHECK(last->out().find("synced " + community + ": " + counted(archives, "archive") + ", "
                         + counted(stable_messages, "message"))
        != std::string::npos);
  check_one_version("synced");
  CHECK_FALSE(fs::exists(member.fetching_index_file()));
  auto inspect = run_annals("archive inspect " + (dir / "member").string(), dir);
  REQUIRE(inspect.code == 0);
  auto report = nlohmann::json::parse(inspect.out);
  CHECK(report["messages"].get<std::uint64_t>() == stable_messages);
  owner->kill(SIGTERM);
  CHECK(owner->wait(20s) == std::optional<int>(0));
}
