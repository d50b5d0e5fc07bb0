// A community key and a JSONL file of its synthetic messages, the input
// `annals archive build` takes, in a temp dir.
#pragma once

#include "core/identity.hpp"
#include "core/message_jsonl.hpp"
#include "core/synthetic.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

namespace annals::test {

inline constexpr std::uint64_t cli_week = 7 * 24 * 3600;
inline constexpr std::uint64_t cli_t0 = 1'700'000'000;

struct community_files {
  temp_dir dir;
  synthetic_community community;
  std::filesystem::path key_file = dir / "community.key";
  std::filesystem::path messages_file = dir / "messages.jsonl";
  std::size_t messages;

  /// `count` messages over [t0, t0 + weeks), payloads up to `max_payload`.
  community_files(std::size_t count, std::uint64_t weeks = 2, std::uint64_t seed = 11,
                  std::size_t max_payload = 256, const char* tag = "annals-cli")
    : dir(tag), community(synthetic_community::make(3, seed)), messages(count) {
    REQUIRE(community.key.save(key_file));
    synthetic_traffic traffic;
    traffic.count = count;
    traffic.from = cli_t0;
    traffic.to = cli_t0 + weeks * cli_week;
    traffic.max_payload = max_payload;
    std::ofstream out(messages_file);
    for (const auto& m : make_synthetic_messages(community, traffic))
      out << message_to_json(m) << "\n";
  }

  /// `annals archive build` of [t0, t0 + weeks) into `out` (default DIR/out).
  std::string build_args(std::uint64_t weeks = 2, std::filesystem::path out = {},
                         std::uint64_t partition = cli_week) const {
    if (out.empty())
      out = dir / "out";
    return "archive build --community-key " + key_file.string() + " --messages "
           + messages_file.string() + " --from " + std::to_string(cli_t0) + " --to "
           + std::to_string(cli_t0 + weeks * cli_week) + " --partition "
           + std::to_string(partition) + " --out " + out.string();
  }
};

} // namespace annals::test
