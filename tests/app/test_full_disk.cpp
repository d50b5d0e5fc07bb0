// A full disk under an owner taking traffic, on a tmpfs this test mounts
// (root only, as CI runs): writes are refused naming the disk before RocksDB
// meets it, the node keeps serving, and once space returns it stores and
// archives every message, each once.
#include "core/hex.hpp"
#include "core/identity.hpp"
#include "tests/app/run_annals.hpp"
#include "tests/app/small_disk.hpp"
#include "tests/http_get.hpp"
#include "tests/process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace annals;
using namespace annals::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST_CASE("a full disk: the owner refuses writes naming the disk, keeps serving, and stores "
          "and archives every message once space returns",
          "[cli][run][disk]") {
  temp_dir dir("full-disk");
  small_disk disk(dir / "disk", "12m");
  if (!disk.mounted) {
    // Mounting needs root (CI runs as root); nothing else here can stand in.
    WARN("cannot mount a tmpfs here (not root?): the full-disk test did not run");
    return;
  }
  auto owner_key = private_key::generate();
  auto community = owner_key.public_key().community_id();
  int rest_port = free_port();
  auto rest = "127.0.0.1:" + std::to_string(rest_port);
  write_file(dir / "owner.toml",
             "data_dir = \"" + (disk.at / "owner").string() + "\"\n"
               + "[torrent]\nlisten = \"127.0.0.1:0\"\nloopback = true\ndht = false\n"
               + "[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n"
               + "[archives]\ninterval = 1\nsettle = 0\n"
               + "[store]\nmin_free_mb = 2\n"
               + "[rest]\nlisten = \"" + rest + "\"\n"
               + "[[community]]\nrole = \"owner\"\nkey = \"" + to_hex(owner_key.bytes())
               + "\"\nchannels = [\"general\", \"random\"]\n"
               + "[community.traffic]\nmessages = 20000\nrate = 5000\n");
  std::vector<std::string> args{ANNALS_BINARY, "run", "--config", (dir / "owner.toml").string(),
                                "--status-interval", "1"};
  child_process owner(args, dir / "owner.out", dir / "owner.err");
  auto full = owner.wait_for_line(
    [](const std::string& l) { return l.find("disk full") != std::string::npos; }, 40s);
  INFO("owner:\n" << owner.out() << owner.err());
  REQUIRE(full);
  // The refusal names the disk and the reserve, and nothing crashed.
  CHECK(full->find((disk.at / "owner").string()) != std::string::npos);
  CHECK(full->find("min_free_bytes") != std::string::npos);
  CHECK(owner.running());
  // Still serving, and the failure is counted where operators look.
  // /health says the store refuses writes while it does (503).
  std::optional<http_reply> health;
  for (int i = 0; i < 20; ++i) {
    health = http_get(rest, "/health");
    if (health && health->status == 503)
      break;
    std::this_thread::sleep_for(250ms);
  }
  REQUIRE(health);
  CHECK(health->status == 503);
  CHECK_THAT(health->body, Catch::Contains("refusing writes"));
  auto metrics = http_get(rest, "/metrics");
  REQUIRE(metrics);
  CHECK(prometheus_sample(metrics->body, "annals_store_write_failures_total") >= 1);

  // Space returns: everything held is written, archived once, and verifies.
  REQUIRE(disk.grow("256m"));
  nlohmann::json status;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(500ms);
    auto reply = http_get(rest, "/archive/v1/communities/" + community);
    if (!reply || reply->status != 200)
      continue;
    status = nlohmann::json::parse(reply->body);
    if (status["messages"] == 20000 && status["unarchivedMessages"] == 0)
      break;
  }
  REQUIRE(status["messages"] == 20000);
  CHECK(status["unarchivedMessages"] == 0);
  CHECK(prometheus_sample(http_get(rest, "/metrics")->body, "annals_messages_unsaved_dropped_total") == 0);
  CHECK(owner.running());
  owner.kill(SIGTERM);
  CHECK(owner.wait(20s) == std::optional<int>(0));
  auto inspect = run_annals("archive inspect " + (disk.at / "owner").string(), dir);
  INFO(inspect.err);
  REQUIRE(inspect.code == 0);
  CHECK(nlohmann::json::parse(inspect.out)["messages"] == 20000);
}
