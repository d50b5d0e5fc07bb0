// Token-gated communities from the command line: hrkey, archive build,
// inspect and fetch with --keys, as an owner and a member run them.
#include "core/hash_ratchet.hpp"
#include "core/identity.hpp"
#include "core/message_jsonl.hpp"
#include "core/synthetic.hpp"
#include "net/torrent_file.hpp"
#include "net/torrent_session.hpp"
#include "proto/protocol_message.pb.h"
#include "tests/app/community_files.hpp"
#include "tests/app/run_annals.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <fstream>
#include <thread>

using namespace annals;
using namespace annals::test;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t t0 = cli_t0;
constexpr std::uint64_t week = cli_week;

/// A community whose archives are built with --keys.
struct gated_community : community_files {
  fs::path keys = dir / "keys.jsonl";
  archive_layout layout{dir / "owner", community.id()};

  gated_community() : community_files(3000, 3, 21, 1024, "annals-hrkey-cli") {}

  run_result build(std::uint64_t from, std::uint64_t to) {
    return run_annals("archive build --community-key " + key_file.string() + " --messages "
                        + messages_file.string() + " --from " + std::to_string(from) + " --to "
                        + std::to_string(to) + " --out " + layout.root.string() + " --keys "
                        + keys.string(),
                      dir);
  }
};

} // namespace

TEST_CASE("a token-gated community's archives: hrkey new, build --keys, inspect with and "
          "without keys",
          "[cli][hrkey]") {
  gated_community g;
  auto made = run_annals("hrkey new --community " + g.community.id() + " --keys " + g.keys.string(),
                         g.dir);
  INFO(made.err);
  REQUIRE(made.code == 0);
  auto key_id = trim(made.out);
  CHECK(key_id.size() == 64);

  auto built = g.build(t0, t0 + 2 * week);
  INFO(built.err);
  REQUIRE(built.code == 0);
  auto inspected = run_annals("archive inspect " + g.layout.root.string() + " --keys " + g.keys.string(), g.dir);
  INFO(inspected.err);
  REQUIRE(inspected.code == 0);
  auto report = nlohmann::json::parse(inspected.out);
  CHECK(report["archives"].size() == 2);
  CHECK(report["ok"] == true);

  auto locked = run_annals("archive inspect " + g.layout.root.string(), g.dir);
  CHECK(locked.code == 1);
  CHECK_THAT(locked.err, Catch::Contains("missing key") && Catch::Contains(key_id));

  // A rotation: a newer key seals the next build; both keys open the whole set.
  auto rotated = run_annals("hrkey new --community " + g.community.id() + " --keys " + g.keys.string(), g.dir);
  REQUIRE(rotated.code == 0);
  CHECK(trim(rotated.out) != key_id);
  REQUIRE(g.build(t0 + 2 * week, t0 + 3 * week).code == 0);
  auto after = run_annals("archive inspect " + g.layout.root.string() + " --keys " + g.keys.string(), g.dir);
  INFO(after.err);
  REQUIRE(after.code == 0);
  CHECK(nlohmann::json::parse(after.out)["messages"] == g.messages);

  // A keys file holding another community's key only.
  auto other_keys = g.dir / "other.jsonl";
  auto other = private_key::generate().public_key().community_id();
  REQUIRE(run_annals("hrkey new --community " + other + " --keys " + other_keys.string(), g.dir).code == 0);
  auto refused = run_annals("archive build --community-key " + g.key_file.string() + " --messages "
                              + g.messages_file.string() + " --from " + std::to_string(t0)
                              + " --to " + std::to_string(t0 + week) + " --out "
                              + (g.dir / "elsewhere").string() + " --keys " + other_keys.string(),
                            g.dir);
  CHECK(refused.code == 1);
  CHECK_THAT(refused.err, Catch::Contains("holds no key of community " + g.community.id()));
}

TEST_CASE("hrkey import takes status-go's encryption_keys_v2 blob", "[cli][hrkey]") {
  temp_dir dir("annals-hrkey-import");
  auto community = private_key::generate().public_key();
  encryption::HRHeader blob;
  blob.set_group_id(std::string(as_view(community.compressed())));
  auto* key = blob.mutable_keys()->add_keys();
  key->set_key(std::string(32, '\x42'));
  key->set_timestamp(1'700'000'000'000);
  auto keys = dir / "keys.jsonl";
  auto imported = run_annals("hrkey import --keys " + keys.string() + " --hex "
                               + to_hex(blob.SerializeAsString()),
                             dir);
  INFO(imported.err);
  REQUIRE(imported.code == 0);
  hr_key expected{std::string(as_view(community.compressed())), 1'700'000'000'000, {}};
  expected.key.fill(0x42);
  CHECK(trim(imported.out) == to_hex(expected.key_id()));
  auto again = run_annals("hrkey import --keys " + keys.string() + " --hex "
                            + to_hex(blob.SerializeAsString()),
                          dir);
  CHECK_THAT(again.err, Catch::Contains("added 0 of 1"));
  CHECK(run_annals("hrkey import --keys " + keys.string() + " --hex zz", dir).code == 2);
  CHECK(run_annals("hrkey import --keys " + keys.string() + " --hex 0102", dir).code != 0);
}

TEST_CASE("archive fetch --keys opens a token-gated community's set from a seeder",
          "[cli][hrkey][transfer]") {
  gated_community g;
  REQUIRE(run_annals("hrkey new --community " + g.community.id() + " --keys " + g.keys.string(), g.dir).code == 0);
  auto built = g.build(t0, t0 + 3 * week);
  REQUIRE(built.code == 0);
  auto magnet = trim(built.out);

  auto seeder = torrent_session::start(loopback_session_options());
  REQUIRE(seeder);
  REQUIRE((*seeder)->seed(g.layout.torrent_file(), g.layout.root / "archivedata"));
  auto peer = "127.0.0.1:" + std::to_string((*seeder)->listen_port());
  std::atomic<bool> stop{false};
  std::thread serve([&] {
    while (!stop)
      (*seeder)->poll(std::chrono::milliseconds(50));
  });
  auto fetched = run_annals("archive fetch '" + magnet + "' --out " + (g.dir / "member").string()
                              + " --peer " + peer + " --timeout 60 --keys " + g.keys.string(),
                            g.dir);
  auto locked = run_annals("archive fetch '" + magnet + "' --out " + (g.dir / "locked").string()
                             + " --peer " + peer + " --timeout 60",
                           g.dir);
  stop = true;
  serve.join();
  INFO(fetched.err);
  REQUIRE(fetched.code == 0);
  CHECK(nlohmann::json::parse(fetched.out)["messages"] == g.messages);
  CHECK(locked.code == 1);
  CHECK_THAT(locked.err, Catch::Contains("missing key"));
}
