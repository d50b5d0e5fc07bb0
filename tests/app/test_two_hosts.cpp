// Two `annals run` nodes on two hosts of a network-namespace testbed, with
// the config docs/across-hosts.md gives (wildcard listen addresses, the
// owner's address in its magnet link): the member syncs, and nothing names
// 0.0.0.0 or a loopback address to the other host. Needs root (namespaces);
// as another user it says so and checks nothing.
#include "bench/testbed.hpp"
#include "core/hex.hpp"
#include "core/identity.hpp"
#include "net/p2p/peer_id.hpp"
#include "tests/app/run_annals.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

using namespace annals;
using namespace annals::test;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

TEST_CASE("two annals run nodes on two hosts sync with wildcard listen addresses and advertise "
          "only addresses the other host can dial",
          "[cli][run][hosts]") {
  if (::geteuid() != 0) {
    WARN("not root: network namespaces cannot be made, so the two-host test did not run");
    return;
  }
  const std::string prefix = "annt-";
  bench::testbed::remove_stale(prefix);
  bench::testbed net("10.77.1.254", prefix);
  net.add_host("owner", "10.77.0.1");
  net.add_host("member", "10.77.0.2");
  // A home uplink; the owner's own address is all the member is told.
  net.shape("owner", 20, 20);
  net.shape("member", 20, 20);
  net.set_loss(0.5);

  temp_dir dir("two-hosts");
  auto community = private_key::generate();
  REQUIRE(community.save(dir / "community.key"));
  auto owner_relay = private_key::generate();
  REQUIRE(owner_relay.save(dir / "owner-relay.key"));
  auto owner_id = p2p::peer_id::from_secp256k1(owner_relay.public_key()).to_string();

  std::ofstream(dir / "owner.toml")
    << "data_dir = \"owner\"\n"
       "events = \"owner-events.jsonl\"\n"
       "[torrent]\n"
       "listen = \"0.0.0.0:6881\"\n"
       "dht = false\n"
       "lsd = false\n"
       "advertise_address = true\n"
       "[relay]\n"
       "listen = [\"/ip4/0.0.0.0/tcp/60000\"]\n"
       "key_file = \"" << (dir / "owner-relay.key").string() << "\"\n"
       "[archives]\n"
       "interval = 5\n"
       "[[community]]\n"
       "role = \"owner\"\n"
       "key_file = \"community.key\"\n"
       "channels = [\"general\"]\n"
       "[community.traffic]\n"
       "messages = 300\n"
       "rate = 1000\n";
  std::ofstream(dir / "member.toml")
    << "data_dir = \"member\"\n"
       "[torrent]\n"
       "listen = \"0.0.0.0:6881\"\n"
       "dht = false\n"
       "lsd = false\n"
       "[relay]\n"
       "listen = [\"/ip4/0.0.0.0/tcp/60000\"]\n"
       "peers = [\"/ip4/10.77.0.1/tcp/60000/p2p/" << owner_id << "\"]\n"
       "[[community]]\n"
       "role = \"member\"\n"
       "id = \"" << community.public_key().community_id() << "\"\n"
       "channels = [\"general\"]\n";

  auto in_host = [&](const std::string& host, const std::string& args) {
    std::string command;
    for (const auto& part : net.exec_prefix(host))
      command += part + " ";
    return command + ANNALS_BINARY + " " + args;
  };
  auto owner_out = dir / "owner.out", owner_err = dir / "owner.err";
  auto owner_command = in_host("owner", "run --seconds 120 --status-interval 0 --config "
                                          + (dir / "owner.toml").string())
                       + " >" + owner_out.string() + " 2>" + owner_err.string() + " &";
  REQUIRE(std::system(owner_command.c_str()) == 0);
  auto member = run_program(in_host("member", "run --until-synced --seconds 90 "
                                              "--status-interval 0 --config "
                                                + (dir / "member.toml").string()),
                            "", dir);
  // The owner is done once the member is (or gives up).
  auto stop = net.exec_prefix("owner");
  for (const char* part : {"pkill", "-TERM", "-f", "owner.toml"})
    stop.push_back(part);
  bench::run_command(stop);
  std::this_thread::sleep_for(1s);
  // Progress lines go to stdout, errors to stderr.
  auto owner_log = slurp(owner_out) + slurp(owner_err);
  auto member_log = member.out + member.err;
  INFO("member:\n" << member_log << "\nowner:\n" << owner_log);
  CHECK(member.code == 0);
  CHECK_THAT(member_log, Catch::Contains("synced " + community.public_key().community_id()));
  CHECK_THAT(member_log, Catch::Contains("300 messages"));

  // What each host told the other.
  CHECK_THAT(owner_log, Catch::Contains("relay: listening /ip4/10.77.0.1/tcp/60000/p2p/" + owner_id));
  CHECK_THAT(owner_log, !Catch::Contains("listening /ip4/0.0.0.0"));
  CHECK_THAT(owner_log, !Catch::Contains("listening /ip4/127."));
  CHECK_THAT(owner_log, Catch::Contains("sees this host at /ip4/10.77.0.1/tcp/60000"));
  auto events = slurp(dir / "owner-events.jsonl");
  CHECK_THAT(events, Catch::Contains("x.pe=10.77.0.1%3A6881"));
  CHECK_THAT(events, !Catch::Contains("x.pe=127."));
  CHECK_THAT(events, !Catch::Contains("x.pe=0.0.0.0"));
}
