// `annals archive import` as an operator runs it: into a node's store, with
// a member's dedup and bookkeeping, refusing damage without losing what was
// stored, resuming what a crash left half done.
#include "core/archive_reader.hpp"
#include "core/hash_ratchet.hpp"
#include "core/message_jsonl.hpp"
#include "core/synthetic.hpp"
#include "storage/store.hpp"
#include "tests/app/community_files.hpp"
#include "tests/app/run_annals.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace annals;
using namespace annals::test;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t week = cli_week;

/// A community's messages, archive sets built from them, and a node's
/// data directory to import into.
struct mirror : community_files {
  public_key key = community.key.public_key();
  fs::path node = dir / "node";

  mirror() : community_files(4000, 3, 31, 1024, "annals-import-cli") {}

  fs::path build(const std::string& name, std::uint64_t partition = week,
                 const std::string& extra = {}) {
    auto out = dir / name;
    auto built = run_annals(build_args(3, out, partition) + extra, dir);
    INFO(built.err);
    REQUIRE(built.code == 0);
    return out;
  }

  run_result import(const fs::path& from, const std::string& extra = {}) {
    return run_annals("archive import " + from.string() + " --data-dir " + node.string() + extra,
                      dir);
  }

  std::uint64_t stored() {
    auto db = store::open(node / "db");
    REQUIRE(db);
    return *(*db)->count_messages(key);
  }
};

} // namespace

TEST_CASE("archive import stores every message once, and a second import or another set of "
          "the same messages adds nothing",
          "[cli][import]") {
  mirror m;
  auto weekly = m.build("weekly");
  auto first = m.import(weekly);
  INFO(first.err);
  REQUIRE(first.code == 0);
  auto summary = nlohmann::json::parse(first.out);
  CHECK(summary["archives"] == 3);
  CHECK(summary["messages"] == m.messages);
  CHECK(summary["new_messages"] == m.messages);
  CHECK(summary["duplicates"] == 0);
  CHECK_THAT(first.err, Catch::Contains("msg/s") && Catch::Contains("ETA"));
  CHECK(m.stored() == m.messages);

  auto again = nlohmann::json::parse(m.import(weekly).out);
  CHECK(again["archives"] == 0);
  CHECK(again["already_imported"] == 3);

  // The same messages in daily archives: other IDs, nothing new.
  auto daily = nlohmann::json::parse(m.import(m.build("daily", 24 * 3600)).out);
  CHECK(daily["archives"].get<int>() > 3);
  CHECK(daily["new_messages"] == 0);
  CHECK(daily["duplicates"] == m.messages);
  CHECK(m.stored() == m.messages);

  auto db = store::open(m.node / "db");
  REQUIRE(db);
  // Held in a variable: a range-for over *list_archives(...) would walk a
  // vector the temporary result already destroyed.
  auto archives = (*db)->list_archives(m.key);
  REQUIRE(archives);
  for (const auto& [id, archive] : *archives)
    CHECK(archive.imported());
}

TEST_CASE("archive import refuses a damaged archive naming it and keeps what it stored",
          "[cli][import]") {
  mirror m;
  auto set = m.build("set");
  archive_layout layout{set, m.community.id()};
  auto index = read_index(layout.index_file());
  REQUIRE(index);
  auto entries = sorted_entries(*index);
  // Garbage in the newest archive's bytes, structure intact, and no torrent
  // (a torrent's piece hashes would refuse the whole set first).
  fs::remove(layout.torrent_file());
  {
    std::fstream data(layout.data_file(), std::ios::in | std::ios::out | std::ios::binary);
    data.seekp(static_cast<std::streamoff>(entries.back().second.offset() + 3));
    data.write("\xff\xff\xff\xff\xff\xff", 6);
  }
  auto damaged = m.import(set);
  CHECK(damaged.code == 1);
  CHECK_THAT(damaged.err, Catch::Contains(entries.back().first) && Catch::Contains("stay"));
  CHECK_THAT(damaged.err, Catch::Contains("piece hashes not checked"));
  CHECK(m.stored() > 0);
  CHECK(m.stored() < m.messages);

  // A structural fault is refused before anything is written.
  mirror other;
  auto broken = other.build("broken");
  fs::resize_file(archive_layout{broken, other.community.id()}.data_file(), archive_piece_length);
  auto refused = other.import(broken);
  CHECK(refused.code == 1);
  CHECK_THAT(refused.err, Catch::Contains("nothing imported"));
  CHECK_FALSE(fs::exists(other.node / "db"));
}

TEST_CASE("archive import resumes an archive a crash left half imported", "[cli][import]") {
  mirror m;
  auto set = m.build("set");
  archive_layout layout{set, m.community.id()};
  auto index = *read_index(layout.index_file());
  auto [id, entry] = sorted_entries(index).front();
  auto archive = *read_archive(layout.data_file(), entry);
  {
    // What a member killed mid-import leaves: recorded, some messages
    // written, not marked imported.
    auto db = *store::open(m.node / "db");
    REQUIRE(db->mark_archives_downloaded(m.key, {built_archive{id, entry, 0}}));
    std::vector<archive_message> half;
    for (int i = 0; i < archive.messages_size() / 2; ++i)
      half.push_back(from_proto(archive.messages(i)));
    REQUIRE(db->import_archive_messages(m.key, id, half, false));
  }
  auto resumed = m.import(set);
  INFO(resumed.err);
  REQUIRE(resumed.code == 0);
  auto summary = nlohmann::json::parse(resumed.out);
  CHECK(summary["archives"] == 3);
  CHECK(summary["duplicates"] == archive.messages_size() / 2);
  CHECK(m.stored() == m.messages);
}

TEST_CASE("archive import --keys opens a token-gated community's archives", "[cli][import][hrkey]") {
  mirror m;
  auto keys = m.dir / "keys.jsonl";
  REQUIRE(run_annals("hrkey new --community " + m.community.id() + " --keys " + keys.string(), m.dir).code == 0);
  auto set = m.build("gated", week, " --keys " + keys.string());
  auto locked = m.import(set);
  CHECK(locked.code == 1);
  CHECK_THAT(locked.err, Catch::Contains("missing key"));
  auto opened = m.import(set, " --keys " + keys.string());
  INFO(opened.err);
  REQUIRE(opened.code == 0);
  CHECK(nlohmann::json::parse(opened.out)["new_messages"] == m.messages);
  CHECK(m.stored() == m.messages);
}

TEST_CASE("archive import checks piece hashes when the set has its torrent: one flipped payload "
          "byte imports nothing, and the genuine set then imports every message",
          "[cli][import]") {
  mirror m;
  auto set = m.build("set");
  auto genuine = m.build("genuine");
  archive_layout layout{set, m.community.id()};
  REQUIRE(fs::exists(layout.torrent_file()));
  auto index = read_index(layout.index_file());
  REQUIRE(index);
  auto entries = sorted_entries(*index);
  // One byte near the end of the first archive: inside a message's payload
  // (the archive still decodes), so only the piece hash can tell.
  {
    const auto& first = entries.front().second;
    auto at = first.offset() + first.size() - first.padding() - 40;
    std::fstream data(layout.data_file(), std::ios::in | std::ios::out | std::ios::binary);
    data.seekg(static_cast<std::streamoff>(at));
    char byte = 0;
    data.read(&byte, 1);
    data.seekp(static_cast<std::streamoff>(at));
    byte = static_cast<char>(byte ^ 0x01);
    data.write(&byte, 1);
  }
  auto tampered = m.import(set);
  CHECK(tampered.code == 1);
  CHECK_THAT(tampered.err, Catch::Contains("does not match the torrent's hash")
                             && Catch::Contains("nothing imported"));
  CHECK_FALSE(fs::exists(m.node / "db"));

  auto good = m.import(genuine);
  INFO(good.err);
  REQUIRE(good.code == 0);
  auto summary = nlohmann::json::parse(good.out);
  CHECK(summary["pieces_checked"] == true);
  CHECK(summary["new_messages"] == m.messages);
  CHECK(m.stored() == m.messages);

  // inspect says when no piece hash was checked.
  fs::remove(layout.torrent_file());
  auto inspected = run_annals("archive inspect " + layout.archive_dir().string(), m.dir);
  CHECK_THAT(inspected.err, Catch::Contains("piece hashes not checked"));
  CHECK(nlohmann::json::parse(inspected.out)["pieces_checked"] == false);
}
