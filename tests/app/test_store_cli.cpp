// The Waku store of `annals run` as an operator sees it: a member that joins
// after the only announcement (and no welcome re-announcement) learns the
// link through a store query, and `annals store query` reads an owner's
// store over libp2p, page by page, both ways.
#include "core/hex.hpp"
#include "core/identity.hpp"
#include "tests/app/run_annals.hpp"
#include "tests/app/small_disk.hpp"
#include "tests/http_get.hpp"
#include "tests/process.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <nlohmann/json.hpp>

#include <limits>
#include <set>
#include <sstream>
#include <thread>

using namespace annals;
using namespace annals::test;
using namespace std::chrono_literals;

namespace {

const std::string torrent = "[torrent]\nlisten = \"127.0.0.1:0\"\nloopback = true\ndht = false\n"
                            "advertise_address = true\n";

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty())
      out.push_back(nlohmann::json::parse(line));
  return out;
}

} // namespace

TEST_CASE("annals run: a member that joins after the only announcement syncs the link "
          "through a store query, and store query reads the owner's store",
          "[cli][run][store]") {
  temp_dir dir("store-late");
  auto owner_key = private_key::generate();
  auto community = owner_key.public_key().community_id();
  auto owner_rest = "127.0.0.1:" + std::to_string(free_port());
  auto member_rest = "127.0.0.1:" + std::to_string(free_port());
  // welcome_gap = 0: the owner never re-announces, so only the store tells
  // the member of the link.
  write_file(dir / "owner.toml",
             "data_dir = \"owner\"\n" + torrent + "[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n"
               + "[archives]\ninterval = 2\nsettle = 1\nwelcome_gap = 0\n"
               + "[rest]\nlisten = \"" + owner_rest + "\"\n"
               + "[[community]]\nrole = \"owner\"\nkey = \"" + to_hex(owner_key.bytes()) + "\"\n"
               + "channels = [\"general\"]\n[community.traffic]\nmessages = 150\nrate = 5000\n");
  auto owner = start_annals(dir, "owner", {"run", "--config", (dir / "owner.toml").string()});
  auto listening = owner->wait_for_line(
    [](const std::string& l) { return l.find("relay: listening /ip4/") != std::string::npos; }, 20s);
  REQUIRE(listening);
  auto owner_addr = listening->substr(listening->find("/ip4/"));
  INFO("owner:\n" << owner->out() << owner->err());
  REQUIRE(owner->wait_for_line(
    [](const std::string& l) { return l.find("published the signed magnet link") != std::string::npos; },
    30s));

  // store query: every message the owner recorded (150 channel messages and
  // its magnet link), each once, forward and backward, over pages of 7.
  // The store writes what it records every 100 ms: the link may need a moment.
  run_result forward;
  std::vector<nlohmann::json> lines;
  for (int attempt = 0; attempt < 50 && lines.size() < 151; ++attempt) {
    if (attempt > 0)
      std::this_thread::sleep_for(100ms);
    forward = run_annals("store query --peer " + owner_addr + " --page-size 7", dir);
    REQUIRE(forward.code == 0);
    lines = json_lines(forward.out);
  }
  INFO(forward.err);
  CHECK(lines.size() == 151);
  std::set<std::string> hashes;
  std::int64_t last = std::numeric_limits<std::int64_t>::min();
  bool ordered = true;
  for (const auto& l : lines) {
    hashes.insert(l["hash"].get<std::string>());
    ordered = ordered && l["timestamp"].get<std::int64_t>() >= last;
    last = l["timestamp"].get<std::int64_t>();
    CHECK(l["pubsubTopic"] == "/waku/2/rs/16/32");
    CHECK(!l["payload"].get<std::string>().empty());
  }
  CHECK(hashes.size() == 151);
  CHECK(ordered);
  auto backward = run_annals("store query --peer " + owner_addr + " --backward --page-size 7", dir);
  REQUIRE(backward.code == 0);
  std::set<std::string> back_hashes;
  for (const auto& l : json_lines(backward.out))
    back_hashes.insert(l["hash"].get<std::string>());
  CHECK(back_hashes == hashes);
  // Asked faster than the server allows (one message a page, 200 queries a
  // second against its 20 with a burst of 50): the 429s are pauses, and
  // every message still arrives once.
  auto hurried = run_annals("store query --peer " + owner_addr + " --page-size 1 --rate 200", dir);
  INFO(hurried.err);
  REQUIRE(hurried.code == 0);
  CHECK_THAT(hurried.err, Catch::Contains("answered 429"));
  std::set<std::string> hurried_hashes;
  auto hurried_lines = json_lines(hurried.out);
  for (const auto& l : hurried_lines)
    hurried_hashes.insert(l["hash"].get<std::string>());
  // Each once, and every message read before; the owner may have stored a
  // newer one (its next link) while the paused walk went on.
  CHECK(hurried_hashes.size() == hurried_lines.size());
  CHECK(std::includes(hurried_hashes.begin(), hurried_hashes.end(), hashes.begin(), hashes.end()));
  CHECK(hurried_hashes.size() <= hashes.size() + 2);
  // --limit stops early; a hash lookup finds that one message.
  auto first = run_annals("store query --peer " + owner_addr + " --limit 1", dir);
  REQUIRE(first.code == 0);
  auto one = json_lines(first.out);
  REQUIRE(one.size() == 1);
  auto lookup = run_annals("store query --peer " + owner_addr + " --hash "
                             + one[0]["hash"].get<std::string>(), dir);
  REQUIRE(lookup.code == 0);
  CHECK(json_lines(lookup.out).size() == 1);
  // A refusal names its status code and exits 1.
  auto refused = run_annals("store query --peer " + owner_addr
                              + " --pubsub-topic /waku/2/rs/16/32 --content-topic x"
                              + " --start 10 --end 5", dir);
  CHECK(refused.code != 0);
  auto stranger = run_annals("store query --peer /ip4/127.0.0.1/tcp/1/p2p/"
                             "16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY --seconds 2",
                             dir);
  CHECK(stranger.code == 1);
  CHECK(stranger.err.find("could not connect") != std::string::npos);

  // The member connects after the announcement; nothing is re-announced.
  write_file(dir / "member.toml",
             "data_dir = \"member\"\n" + torrent + "[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n"
               + "peers = [\"" + owner_addr + "\"]\n"
               + "[rest]\nlisten = \"" + member_rest + "\"\n"
               + "[[community]]\nrole = \"member\"\nid = \"" + community + "\"\n"
               + "channels = [\"general\"]\n");
  auto member = start_annals(dir, "member", {"run", "--config", (dir / "member.toml").string(),
                                             "--until-synced", "--seconds", "60",
                                             "--status-interval", "1"});
  // The link comes from the store: the member's sync hands it to the gate
  // (read while the member runs: --until-synced ends it once it synced).
  double links_found = 0;
  auto until = std::chrono::steady_clock::now() + 60s;
  while (links_found < 1 && std::chrono::steady_clock::now() < until) {
    if (auto metrics = http_get(member_rest, "/metrics"))
      links_found = prometheus_sample(metrics->body, "annals_store_links_found_total");
    std::this_thread::sleep_for(100ms);
  }
  INFO("member:\n" << member->out() << member->err());
  CHECK(links_found >= 1);
  auto synced = member->wait_for_line(
    [&](const std::string& l) { return l.find("synced " + community) != std::string::npos; }, 60s);
  REQUIRE(synced);
  // ...answered by the owner with 200.
  auto owner_metrics = http_get(owner_rest, "/metrics");
  REQUIRE(owner_metrics);
  CHECK(prometheus_sample(owner_metrics->body, "annals_store_queries_served_total{status=\"200\"}")
        >= 1);
  CHECK(member->wait(30s) == std::optional<int>(0));
  owner->kill(SIGTERM);
  CHECK(owner->wait(20s) == std::optional<int>(0));
}
