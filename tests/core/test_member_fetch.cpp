#include "core/member_fetch.hpp"
#include "core/file_io.hpp"
#include "tests/temp_dir.hpp"

#include <fstream>

#include <catch2/catch.hpp>

using namespace annals;
using namespace std::chrono_literals;

namespace {

const std::string community = "0x02" + std::string(64, 'c');
const auto t = member_fetch::clock::time_point{} + 1000s;

fetch_progress located(std::uint64_t data_size = 3 * archive_piece_length) {
  fetch_progress p;
  p.located = true;
  p.summary = {community, data_size, 500};
  return p;
}

} // namespace

TEST_CASE("member_fetch retries locating once, then names the timeout and the last peer error",
          "[member_fetch]") {
  test::temp_dir dir("annals-member-fetch");
  member_fetch fetch(community, dir.path(), {}, {}, t);
  fetch_progress nothing;
  nothing.peer_error = "127.0.0.1:1: connection refused";
  CHECK(fetch.advance(nothing, t + 20s).kind == member_step::wait);
  CHECK(fetch.advance(nothing, t + 21s).kind == member_step::relocate);
  CHECK(fetch.attempts() == 2);
  CHECK(fetch.advance(nothing, t + 40s).kind == member_step::wait);
  auto failed = fetch.advance(nothing, t + 42s);
  CHECK(failed.kind == member_step::fail);
  CHECK_THAT(failed.reason, Catch::Contains("metadata from peers, 20 s 2 times")
                              && Catch::Contains("last peer error: 127.0.0.1:1: connection refused"));
  CHECK(fetch.advance(located(), t + 43s).kind == member_step::wait);  // over
}

TEST_CASE("member_fetch refuses what must not be fetched before wanting anything",
          "[member_fetch]") {
  test::temp_dir dir("annals-member-fetch");
  SECTION("the backend's refusal") {
    member_fetch fetch(community, dir.path(), {}, {}, t);
    fetch_progress refused;
    refused.refusal = "3 files; an archive torrent has exactly data and index";
    auto step = fetch.advance(refused, t);
    CHECK(step.kind == member_step::refuse);
    CHECK(step.reason == refused.refusal);
  }
  SECTION("a shape rule of the archive set") {
    member_fetch fetch(community, dir.path(), {}, {}, t);
    auto step = fetch.advance(located(3 * archive_piece_length - 1), t);
    CHECK(step.kind == member_step::refuse);
    CHECK_THAT(step.reason, Catch::Contains("not a multiple of the piece length"));
  }
  SECTION("a disk without room for it") {
    member_fetch_options options;
    options.disk_headroom = std::uint64_t{1} << 62;
    member_fetch fetch(community, dir.path() / "not-yet", {}, options, t);
    auto step = fetch.advance(located(), t);
    CHECK(step.kind == member_step::refuse);
    CHECK_THAT(step.reason, Catch::Contains("not enough disk space in"));
  }
}

TEST_CASE("member_fetch wants the index first and fails on a missing or stalled index",
          "[member_fetch]") {
  test::temp_dir dir("annals-member-fetch");
  member_fetch fetch(community, dir.path(), {}, {}, t);
  auto first = fetch.advance(located(), t);
  CHECK(first.kind == member_step::want_index);
  // Nothing held: every archive will be wanted, so the data comes along.
  CHECK(first.with_data);
  member_fetch holding(community, dir.path(), {"0x" + std::string(64, 'a')}, {}, t);
  auto partial = holding.advance(located(), t);
  CHECK(partial.kind == member_step::want_index);
  CHECK_FALSE(partial.with_data);  // which archives are missing waits for the index
  auto progress = located();
  progress.received = 100;
  CHECK(fetch.advance(progress, t + 50s).kind == member_step::wait);
  CHECK(fetch.advance(progress, t + 109s).kind == member_step::wait);
  SECTION("no byte for 60 s") {
    auto step = fetch.advance(progress, t + 111s);
    CHECK(step.kind == member_step::fail);
    CHECK(step.reason == "no data from any peer for 60 s");
  }
  SECTION("an index the backend calls ready but that is not there") {
    progress.index_ready = true;
    auto step = fetch.advance(progress, t + 60s);
    CHECK(step.kind == member_step::fail);
    CHECK_THAT(step.reason, Catch::Contains("fetched index"));
  }
}

TEST_CASE("member_fetch counts what an earlier fetch of the set wrote as room", "[member_fetch]") {
  test::temp_dir dir("annals-member-fetch-room");
  archive_layout layout{dir.path(), community};
  std::filesystem::create_directories(layout.archive_dir());
  constexpr std::uint64_t written = 32ull << 20;
  {
    std::ofstream data(layout.data_file());
  }
  std::filesystem::resize_file(layout.data_file(), written);  // sparse: no real space used
  auto free = free_disk_bytes(dir.path());
  REQUIRE(free);
  auto set = located();
  member_fetch_options options;
  // Room for the set only when the 32 MiB already written count.
  options.disk_headroom = *free - set.summary.data_size - set.summary.index_size + (16ull << 20);
  member_fetch resumed(community, dir.path(), {}, options, t);
  CHECK(resumed.advance(set, t).kind == member_step::want_index);
  std::filesystem::remove(layout.data_file());
  member_fetch fresh(community, dir.path(), {}, options, t);
  CHECK(fresh.advance(set, t).kind == member_step::refuse);
}
