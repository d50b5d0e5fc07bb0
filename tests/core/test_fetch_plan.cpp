#include "core/fetch_plan.hpp"
#include "tests/core/archive_fixtures.hpp"

#include <catch2/catch.hpp>

using namespace annals;
using namespace annals::test;

namespace {

constexpr auto L = archive_piece_length;

const std::string community = "0x02" + std::string(64, 'c');

/// An index of archives laid out back to back in `data`, as build_archives
/// appends them, built in memory.
struct index_fixture {
  pb::WakuMessageArchiveIndex index;
  std::vector<std::string> ids;  // in append order
  std::uint64_t data_size = 0;

  /// Appends an archive of [from, to) holding one message of `payload` bytes.
  void append(std::uint64_t from, std::uint64_t to, std::size_t payload = 100) {
    auto encoded =
      encode_archive(from, to, {topic_a}, {make_message(from, topic_a, payload)}, data_size);
    (*index.mutable_archives())[encoded.archive.id] = encoded.archive.entry;
    ids.push_back(encoded.archive.id);
    data_size += encoded.archive.entry.size();
  }

  /// Replaces archive `n` by `edit`ed copy under its new, correct ID, so only
  /// the edited rule is broken; returns the new ID.
  template <class Edit>
  std::string rekey(std::size_t n, Edit edit) {
    auto entry = index.archives().at(ids[n]);
    index.mutable_archives()->erase(ids[n]);
    edit(entry);
    ids[n] = archive_id(entry);
    (*index.mutable_archives())[ids[n]] = entry;
    return ids[n];
  }

  /// Three archives of one week each; the second spans two pieces.
  static index_fixture three_weeks() {
    index_fixture f;
    f.append(t0, t0 + 7 * day);
    f.append(t0 + 7 * day, t0 + 14 * day, 150'000);
    f.append(t0 + 14 * day, t0 + 21 * day);
    return f;
  }
};

archive_set_summary summary_of(std::uint64_t data_size, std::uint64_t index_size) {
  return {community, data_size, index_size};
}

std::string fault(const result<void>& checked) {
  REQUIRE_FALSE(checked);
  CHECK(checked.error().code == errc::verification_failed);
  return checked.error().message;
}

} // namespace

TEST_CASE("check_archive_set_for_fetch refuses archive sets a member must not fetch", "[fetch_plan]") {
  fetch_limits limits;
  CHECK(limits.max_data_size == 64ull << 30);
  CHECK(limits.max_index_size == 64ull << 20);
  CHECK(check_archive_set_for_fetch(summary_of(3 * L, 500), community, limits));

  SECTION("named after another community") {
    auto other = "0x03" + std::string(64, 'd');
    CHECK_THAT(fault(check_archive_set_for_fetch(summary_of(3 * L, 500), other, limits)),
               Catch::Contains("named \"" + community + "\", not the expected community " + other));
  }
  SECTION("empty index") {
    CHECK_THAT(fault(check_archive_set_for_fetch(summary_of(3 * L, 0), community, limits)),
               Catch::Contains("index is empty"));
  }
  SECTION("data above its cap") {
    limits.max_data_size = 2 * L;
    CHECK_THAT(fault(check_archive_set_for_fetch(summary_of(3 * L, 500), community, limits)),
               Catch::Contains("data is 307200 bytes, above the limit of 204800 bytes"));
    CHECK(check_archive_set_for_fetch(summary_of(2 * L, 500), community, limits));
  }
  SECTION("index above its cap") {
    limits.max_index_size = 499;
    CHECK_THAT(fault(check_archive_set_for_fetch(summary_of(3 * L, 500), community, limits)),
               Catch::Contains("index is 500 bytes, above the limit of 499 bytes"));
  }
  SECTION("data not piece-aligned") {
    CHECK_THAT(fault(check_archive_set_for_fetch(summary_of(3 * L - 1, 500), community, limits)),
               Catch::Contains("not a multiple of the piece length"));
  }
}

TEST_CASE("check_index_for_torrent names the first archive it cannot trust", "[fetch_plan]") {
  auto f = index_fixture::three_weeks();
  REQUIRE(f.data_size == 4 * L);
  CHECK(check_index_for_torrent(f.index, f.data_size));
  // Bytes after the last archive are verify_archive_dir's business, not a
  // reason to stop fetching.
  CHECK(check_index_for_torrent(f.index, f.data_size + L));

  SECTION("an ID that is not the hash of its entry") {
    (*f.index.mutable_archives())[f.ids[1]].mutable_metadata()->set_to(t0);
    CHECK_THAT(fault(check_index_for_torrent(f.index, f.data_size)),
               Catch::Contains("archive " + f.ids[1] + ": ID does not match its entry"));
  }
  SECTION("an offset inside a piece") {
    auto id = f.rekey(2, [](auto& entry) { entry.set_offset(entry.offset() + 1); });
    CHECK_THAT(fault(check_index_for_torrent(f.index, f.data_size)),
               Catch::Contains("archive " + id + ": offset 307201 / size 102400 are not whole"));
  }
  SECTION("an empty archive") {
    auto id = f.rekey(0, [](auto& entry) { entry.set_size(0); });
    CHECK_THAT(fault(check_index_for_torrent(f.index, f.data_size)),
               Catch::Contains("archive " + id + ": offset 0 / size 0"));
  }
  SECTION("an archive past the end of data") {
    CHECK_THAT(fault(check_index_for_torrent(f.index, 3 * L)),
               Catch::Contains("archive " + f.ids[2] +
                               ": offset 307200 + size 102400 lies outside data (307200 bytes)"));
  }
  SECTION("an offset so large that offset + size wraps around") {
    auto id = f.rekey(2, [](auto& entry) { entry.set_offset(~std::uint64_t(0) / L * L); });
    CHECK_THAT(fault(check_index_for_torrent(f.index, f.data_size)),
               Catch::Contains("archive " + id + ": offset 18446744073709465600 + size 102400 "
                               "lies outside data"));
  }
  SECTION("overlapping archives") {
    auto id = f.rekey(2, [](auto& entry) { entry.set_offset(2 * L); });
    CHECK_THAT(fault(check_index_for_torrent(f.index, f.data_size)),
               Catch::Contains("archive " + id + ": overlaps archive " + f.ids[1] +
                               ", which ends at 307200"));
  }
}

TEST_CASE("missing_archives lists what the member lacks, oldest first", "[fetch_plan]") {
  index_fixture f;
  f.append(t0 + 7 * day, t0 + 14 * day);             // offset 0
  f.append(t0, t0 + 7 * day, 150'000);               // offset L, two pieces, oldest
  f.append(t0 + 14 * day, t0 + 21 * day);            // offset 3L
  f.append(t0 + 14 * day, t0 + 21 * day, 120'000);   // same window, a later chunk
  REQUIRE(check_index_for_torrent(f.index, f.data_size));

  SECTION("a member holding nothing fetches every archive") {
    auto missing = missing_archives(f.index, {});
    REQUIRE(missing.size() == 4);
    CHECK(missing[0].id == f.ids[1]);
    CHECK(missing[0].first_piece == 1);
    CHECK(missing[0].end_piece == 3);
    CHECK(missing[1].id == f.ids[0]);
    CHECK(missing[1].first_piece == 0);
    CHECK(missing[1].end_piece == 1);
    // Chunks of one window come in the order they were appended.
    CHECK(missing[2].id == f.ids[2]);
    CHECK(missing[3].id == f.ids[3]);
    CHECK(missing[3].first_piece == 4);
    CHECK(missing[3].end_piece == 6);
    CHECK(missing[3].entry.SerializeAsString() ==
          f.index.archives().at(f.ids[3]).SerializeAsString());
  }
  SECTION("held archives are matched by ID, not counted") {
    // As many IDs as the index lists, so status-go's count comparison would
    // report "no new archives"; two of them belong to no archive here.
    std::set<std::string> held{f.ids[0], f.ids[3], "0xstale-1", "0xstale-2"};
    auto missing = missing_archives(f.index, held);
    REQUIRE(missing.size() == 2);
    CHECK(missing[0].id == f.ids[1]);
    CHECK(missing[1].id == f.ids[2]);
  }
  SECTION("a member holding everything fetches nothing") {
    CHECK(missing_archives(f.index, {f.ids.begin(), f.ids.end()}).empty());
  }
}
