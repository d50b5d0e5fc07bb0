#include "core/archive_builder.hpp"
#include "core/archive_reader.hpp"
#include "core/file_io.hpp"
#include "core/identity.hpp"
#include "core/piece_hasher.hpp"
#include "tests/core/archive_fixtures.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace annals;
using namespace annals::test;

namespace {

constexpr auto L = archive_piece_length;

struct archive_fixture {
  temp_dir dir{"annals-builder"};
  archive_layout layout{dir.path(), private_key::generate().public_key().community_id()};

  build_report build(std::vector<archive_message> messages, std::uint64_t from,
                     std::uint64_t to, std::uint64_t partition = 7 * day) {
    build_request request{from, to, partition, {topic_a, topic_b}};
    auto report = build_archives(layout, request, memory_source(std::move(messages)));
    if (!report)
      FAIL(report.error().to_string());
    return *report;
  }
};

} // namespace

TEST_CASE("padding follows status-go's formula at every edge", "[archive]") {
  CHECK(pad_archive(1).size == L);
  CHECK(pad_archive(1).padding == L - 1);
  CHECK(pad_archive(L - 1).padding == 1);
  // raw == L: one piece, no padding.
  CHECK(pad_archive(L).size == L);
  CHECK(pad_archive(L).padding == 0);
  CHECK(pad_archive(L + 1).size == 2 * L);
  CHECK(pad_archive(L + 1).padding == L - 1);
  // raw = k*L > L: status-go adds a whole zero piece.
  CHECK(pad_archive(2 * L).size == 3 * L);
  CHECK(pad_archive(2 * L).padding == L);
  CHECK(pad_archive(5 * L).size == 6 * L);
}

TEST_CASE("index metadata serializes as Go's proto.Marshal and hashes to the ID", "[archive]") {
  pb::WakuMessageArchiveIndexMetadata entry;
  entry.mutable_metadata()->set_from(1);
  entry.mutable_metadata()->set_to(2);
  entry.mutable_metadata()->add_contenttopic(std::string("\xaa\xbb\xcc\xdd", 4));
  entry.set_size(102400);
  entry.set_padding(100);
  // Hand-encoded: field 2 (metadata) {from=1, to=2, topic}, offset 0 omitted,
  // size=102400 (varint 80 a0 06), padding=100; version 0 omitted everywhere.
  const std::string expected("\x12\x0a\x10\x01\x18\x02\x22\x04\xaa\xbb\xcc\xdd"
                             "\x20\x80\xa0\x06\x28\x64",
                             18);
  CHECK(to_hex(serialize_deterministic(entry)) == to_hex(expected));
  CHECK(archive_id(entry) == to_hex0x(keccak256(expected)));
}

TEST_CASE("status-go's creation cases: one week, and 20 days in 7-day partitions", "[archive]") {
  SECTION("7 d range, 7 d partition: one archive, the out-of-range message excluded") {
    archive_fixture f;
    auto report = f.build({make_message(t0 + 10, topic_a), make_message(t0 + 20, topic_b),
                           make_message(t0 + 7 * day, topic_a)},
                          t0, t0 + 7 * day);
    REQUIRE(report.archives.size() == 1);
    CHECK(report.archives[0].message_count == 2);
    const auto& meta = report.archives[0].entry.metadata();
    CHECK(meta.from() == t0);
    CHECK(meta.to() == t0 + 7 * day);
    // contentTopic lists every channel topic, not only those with messages.
    REQUIRE(meta.contenttopic_size() == 2);
  }
  SECTION("20 d range: three archives with 2/1/1 messages, the last window cut at the end") {
    archive_fixture f;
    auto report = f.build({make_message(t0 + 1, topic_a), make_message(t0 + 2, topic_a),
                           make_message(t0 + 8 * day, topic_b),
                           make_message(t0 + 15 * day, topic_a)},
                          t0, t0 + 20 * day);
    REQUIRE(report.archives.size() == 3);
    CHECK(report.archives[0].message_count == 2);
    CHECK(report.archives[1].message_count == 1);
    CHECK(report.archives[2].message_count == 1);
    CHECK(report.archives[2].entry.metadata().from() == t0 + 14 * day);
    CHECK(report.archives[2].entry.metadata().to() == t0 + 20 * day);
    CHECK(report.windows == 3);
    CHECK(report.empty_windows == 0);
  }
}

TEST_CASE("empty windows produce nothing, and an empty build touches no file", "[archive]") {
  archive_fixture f;
  auto none = f.build({}, t0, t0 + 3 * day, day);
  CHECK(none.archives.empty());
  CHECK(none.windows == 3);
  CHECK(none.empty_windows == 3);
  CHECK_FALSE(std::filesystem::exists(f.layout.data_file()));
  CHECK_FALSE(std::filesystem::exists(f.layout.index_file()));

  auto report = f.build({make_message(t0 + 5, topic_a), make_message(t0 + 2 * day + 5, topic_b)},
                        t0, t0 + 3 * day, day);
  REQUIRE(report.archives.size() == 2);
  CHECK(report.empty_windows == 1);
  CHECK(report.archives[0].entry.metadata().from() == t0);
  CHECK(report.archives[1].entry.metadata().from() == t0 + 2 * day);
  CHECK(report.archives[1].entry.offset() == L);
}

TEST_CASE("messages on other topics are not archived", "[archive]") {
  archive_fixture f;
  auto other = chat_topic("another community's channel");
  auto report = f.build({make_message(t0 + 1, other)}, t0, t0 + day, day);
  CHECK(report.archives.empty());
}

TEST_CASE("a lone message over the 30 MB cap is dropped and reported", "[archive]") {
  archive_fixture f;
  auto huge = make_message(t0 + 1, topic_a, max_archive_payload - 64, 'h');  // +65 sig
  REQUIRE(huge.cap_size() == max_archive_payload + 1);
  auto small = make_message(t0 + 2, topic_a);
  auto report = f.build({huge, small, make_message(t0 + day + 1, topic_b, 0, 'x')}, t0,
                        t0 + 2 * day, day);
  REQUIRE(report.dropped.size() == 1);
  CHECK(report.dropped[0].hash == huge.hash);
  CHECK(report.dropped[0].cap_size == max_archive_payload + 1);
  REQUIRE(report.archives.size() == 2);
  CHECK(report.archives[0].message_count == 1);
  auto archive = read_archive(f.layout.data_file(), report.archives[0].entry);
  REQUIRE(archive);
  CHECK(archive->messages(0).hash() == small.hash);

  SECTION("a window holding only oversized messages makes no empty archive") {
    archive_fixture g;
    auto only = g.build({huge}, t0, t0 + day, day);
    CHECK(only.archives.empty());
    CHECK(only.dropped.size() == 1);
    CHECK(only.empty_windows == 1);
  }
}

TEST_CASE("chunks split when payload+sig would pass the cap, not at it", "[archive]") {
  archive_fixture f;
  // Two messages of exactly half the cap fit one chunk (the check is '>').
  auto half = max_archive_payload / 2 - 65;
  auto report = f.build({make_message(t0 + 1, topic_a, half, '1'),
                         make_message(t0 + 2, topic_a, half, '2'),
                         make_message(t0 + 3, topic_a, 1, '3')},
                        t0, t0 + day, day);
  REQUIRE(report.archives.size() == 2);
  CHECK(report.archives[0].message_count == 2);
  CHECK(report.archives[1].message_count == 1);
  // Both chunks share the window's metadata but differ in offset and ID.
  CHECK(report.archives[0].entry.metadata().from() == report.archives[1].entry.metadata().from());
  CHECK(report.archives[1].entry.offset() == report.archives[0].entry.size());
  CHECK(report.archives[0].id != report.archives[1].id);
  auto verified = verify_archive_dir(f.layout.archive_dir());
  REQUIRE(verified);
  CHECK(verified->ok());
}

TEST_CASE("a second build appends and keeps earlier offsets and IDs", "[archive]") {
  archive_fixture f;
  auto first = f.build({make_message(t0 + 1, topic_a, 150'000)}, t0, t0 + 7 * day);
  REQUIRE(first.archives.size() == 1);
  auto data_before = read_file(f.layout.data_file());
  CHECK(data_before.size() == 2 * L);

  auto second = f.build({make_message(t0 + 7 * day + 1, topic_b)}, t0 + 7 * day, t0 + 14 * day);
  REQUIRE(second.archives.size() == 1);
  CHECK(second.archives[0].entry.offset() == 2 * L);

  auto index = read_index(f.layout.index_file());
  REQUIRE(index);
  REQUIRE(index->archives().size() == 2);
  const auto& kept = index->archives().at(first.archives[0].id);
  CHECK(kept.offset() == 0);
  CHECK(kept.size() == 2 * L);
  auto data_after = read_file(f.layout.data_file());
  CHECK(data_after.size() == 3 * L);
  CHECK(data_after.substr(0, data_before.size()) == data_before);
}

TEST_CASE("IDs recomputed from the index bytes match their keys", "[archive]") {
  archive_fixture f;
  f.build({make_message(t0 + 1, topic_a), make_message(t0 + 8 * day, topic_b)}, t0,
          t0 + 14 * day);
  pb::WakuMessageArchiveIndex index;
  REQUIRE(index.ParseFromString(read_file(f.layout.index_file())));
  REQUIRE(index.archives().size() == 2);
  for (const auto& [id, entry] : index.archives()) {
    pb::WakuMessageArchiveIndexMetadata copy = entry;
    CHECK(id == to_hex0x(keccak256(copy.SerializeAsString())));
  }
  // Equal indexes serialize to equal bytes (sorted map keys).
  CHECK(serialize_deterministic(index) == read_file(f.layout.index_file()));
}

TEST_CASE("archived messages read back field for field", "[archive]") {
  archive_fixture f;
  auto message = make_message(t0 + 42, topic_b, 10, 'q');
  message.third_party_id = "discord-123";
  message.padding = "pad";
  auto report = f.build({message}, t0, t0 + day, day);
  REQUIRE(report.archives.size() == 1);
  auto archive = read_archive(f.layout.data_file(), report.archives[0].entry);
  REQUIRE(archive);
  REQUIRE(archive->messages_size() == 1);
  auto back = from_proto(archive->messages(0));
  CHECK(back.timestamp == message.timestamp);
  CHECK(back.topic == message.topic);
  CHECK(back.payload == message.payload);
  CHECK(back.sig == message.sig);
  CHECK(back.hash == message.hash);
  CHECK(back.padding == message.padding);
  CHECK(back.third_party_id == message.third_party_id);
}

TEST_CASE("a torn append from a crashed build is cut off by the next build", "[archive]") {
  archive_fixture f;
  f.build({make_message(t0 + 1, topic_a)}, t0, t0 + day, day);
  {
    std::ofstream out(f.layout.data_file(), std::ios::binary | std::ios::app);
    out << std::string(5000, 'z');  // an archive appended, index never replaced
  }
  auto report = f.build({make_message(t0 + day + 1, topic_a)}, t0 + day, t0 + 2 * day, day);
  CHECK(report.recovered_tail == 5000);
  REQUIRE(report.archives.size() == 1);
  CHECK(report.archives[0].entry.offset() == L);
  auto verified = verify_archive_dir(f.layout.archive_dir());
  REQUIRE(verified);
  CHECK(verified->ok());
}

TEST_CASE("a build refuses to append to an index it cannot read", "[archive]") {
  archive_fixture f;
  f.build({make_message(t0 + 1, topic_a)}, t0, t0 + day, day);
  write_file(f.layout.index_file(), "\xff\xff\xff garbage");
  build_request request{t0 + day, t0 + 2 * day, day, {topic_a}};
  auto report = build_archives(f.layout, request, memory_source({make_message(t0 + day + 1, topic_a)}));
  REQUIRE_FALSE(report);
  CHECK(report.error().code == errc::malformed);
  CHECK(read_file(f.layout.index_file()) == "\xff\xff\xff garbage");
  CHECK(read_file(f.layout.data_file()).size() == L);
}

TEST_CASE("bad requests are refused with a cause", "[archive]") {
  archive_fixture f;
  auto source = memory_source({});
  CHECK(build_archives(f.layout, {t0, t0 + day, 0, {topic_a}}, source).error().code
        == errc::invalid_argument);
  CHECK(build_archives(f.layout, {t0, t0 + day, day, {}}, source).error().code
        == errc::invalid_argument);
  auto failing = [](std::uint64_t, std::uint64_t, const std::vector<topic4>&,
                    const message_visitor&) -> result<void> {
    return make_error(errc::io, "store unavailable");
  };
  auto report = build_archives(f.layout, {t0, t0 + day, day, {topic_a}}, failing);
  REQUIRE_FALSE(report);
  CHECK(report.error().message == "store unavailable");
}

TEST_CASE("append_wire writes protobuf's bytes and read_wire reads them back", "[archive][wire]") {
  std::vector<archive_message> cases;
  cases.push_back(make_message(t0, topic_a));
  cases.push_back(make_message(t0 + 1, topic_b, 0));   // no payload
  cases.push_back(make_message(t0 + 2, topic_a, 200'000));  // 3-byte length varints
  auto bare = make_message(0, topic_a, 7);
  bare.sig.clear();  // no timestamp, no sig
  cases.push_back(bare);
  auto padded = make_message(t0, topic_b, 33);
  padded.padding = std::string(17, '\0');
  cases.push_back(padded);
  auto imported = make_message(t0, topic_b, 5);
  imported.third_party_id = "discord-123";
  cases.push_back(imported);

  for (const auto& message : cases) {
    pb::WakuMessage proto;
    to_proto(message, proto);
    std::string bytes;
    append_wire(bytes, message);
    CHECK(bytes == proto.SerializeAsString());
    auto wire = read_wire(bytes);
    if (!message.third_party_id.empty()) {
      CHECK_FALSE(wire);  // a string field: left to protobuf's UTF-8 check
      continue;
    }
    REQUIRE(wire);
    CHECK(wire->bytes == bytes);
    CHECK(wire->timestamp == message.timestamp);
    CHECK(wire->hash == message.hash);
    CHECK(wire->cap_size == message.cap_size());
  }
}

TEST_CASE("read_wire refuses bytes that protobuf would not write again as they are",
          "[archive][wire]") {
  std::string good;
  append_wire(good, make_message(t0, topic_a, 3));
  REQUIRE(read_wire(good));
  // sig (field 1) after timestamp (field 2): parses, but out of order.
  std::string swapped = good.substr(67) + good.substr(0, 67);
  CHECK_FALSE(read_wire(swapped));
  // The same field twice.
  CHECK_FALSE(read_wire(good + good.substr(0, 67)));
  // An unknown field 9 (varint 1).
  CHECK_FALSE(read_wire(good + std::string("\x48\x01", 2)));
  // A zero timestamp written out, and a padded length varint.
  CHECK_FALSE(read_wire(std::string("\x10\x00", 2)));
  CHECK_FALSE(read_wire(std::string("\x22\x84\x00" "abcd", 7)));
  // An empty bytes field written out.
  CHECK_FALSE(read_wire(std::string("\x0a\x00", 2)));
  // A length past the end, and a varint cut short.
  CHECK_FALSE(read_wire(std::string("\x22\x05" "abc", 5)));
  CHECK_FALSE(read_wire(std::string("\x10\x80", 2)));
  // A wrong wire type for a bytes field.
  CHECK_FALSE(read_wire(std::string("\x20\x05", 2)));
}

TEST_CASE("a build's piece hashes are those of the bytes it appended", "[archive]") {
  archive_fixture f;
  std::vector<archive_message> first, second;
  for (std::uint64_t i = 0; i < 40; ++i)
    first.push_back(make_message(t0 + i * 3600, i % 2 ? topic_a : topic_b, 9000));
  for (std::uint64_t i = 0; i < 30; ++i)
    second.push_back(make_message(t0 + 20 * day + i * 3600, topic_a, 12000));
  auto one = f.build(first, t0, t0 + 14 * day);
  auto size_one = std::filesystem::file_size(f.layout.data_file());
  auto two = f.build(second, t0 + 14 * day, t0 + 28 * day);
  auto data = read_file_bytes(f.layout.data_file());
  REQUIRE(data);

  std::string all;
  sha1_pieces(*data, all);
  CHECK(one.appended_pieces.first == 0);
  CHECK(one.appended_pieces.digests == all.substr(0, size_one / L * 20));
  CHECK(two.appended_pieces.first == size_one / L);
  CHECK(two.appended_pieces.digests == all.substr(size_one / L * 20));
}

TEST_CASE("piece_hasher hashes buffers in the order they were added", "[archive]") {
  std::string joined, expected;
  piece_hasher hasher(1);
  for (int i = 0; i < 12; ++i) {
    auto bytes = std::make_shared<page_buffer>((i % 3 + 1) * L, static_cast<char>('a' + i));
    (*bytes)[static_cast<std::size_t>(i)] = 'x';
    joined += *bytes;
    REQUIRE(hasher.add(bytes));
  }
  sha1_pieces(joined, expected);
  CHECK(hasher.finish().value() == expected);
  CHECK(expected.size() == joined.size() / L * 20);
}

TEST_CASE("piece_hasher hands each buffer to its sink in order and stops at its first error",
          "[archive]") {
  std::string sunk;
  piece_hasher in_order(1, [&](std::string_view bytes) -> result<void> {
    sunk += bytes;
    return {};
  });
  std::string joined;
  for (int i = 0; i < 6; ++i) {
    auto bytes = std::make_shared<page_buffer>(L, static_cast<char>('a' + i));
    joined += *bytes;
    REQUIRE(in_order.add(bytes));
  }
  REQUIRE(in_order.finish());
  CHECK(sunk == joined);

  int calls = 0;
  piece_hasher failing(1, [&](std::string_view) -> result<void> {
    if (++calls == 2)
      return make_error(errc::io, "data: write: No space left on device");
    return {};
  });
  result<void> added;
  for (int i = 0; i < 20 && added; ++i)
    added = failing.add(std::make_shared<page_buffer>(L, 'z'));
  auto finished = failing.finish();
  REQUIRE_FALSE(finished);
  CHECK(finished.error().message == "data: write: No space left on device");
  CHECK(calls == 2);  // nothing was written after the failure
}

TEST_CASE("aligned appends write page buffers as they are and other bytes through a copy, "
          "with the same result",
          "[archive][file]") {
  temp_dir dir{"annals-append"};
  auto file = dir / "data";
  auto out = append_file::open(file);
  REQUIRE(out);
  page_buffer aligned(3 * 4096 + 8 * 4096, 'a');
  aligned[5] = 'x';
  REQUIRE(reinterpret_cast<std::uintptr_t>(aligned.data()) % 4096 == 0);
  // Off a page boundary on purpose: the copy path.
  std::string backing(1 + 5 * 4096, 'b');
  std::string_view unaligned = std::string_view(backing).substr(1);
  REQUIRE(reinterpret_cast<std::uintptr_t>(unaligned.data()) % 4096 != 0);
  REQUIRE(out->write_aligned(aligned));
  REQUIRE(out->write_aligned(unaligned));
  REQUIRE(out->write_aligned(aligned));
  // A tail that is not whole blocks goes through write().
  REQUIRE(out->write_aligned("tail"));
  REQUIRE(out->sync());
  auto written = read_file_bytes(file);
  REQUIRE(written);
  std::string expected;
  expected.append(aligned.data(), aligned.size());
  expected.append(unaligned);
  expected.append(aligned.data(), aligned.size());
  expected += "tail";
  CHECK(*written == expected);
  CHECK(*out->size() == expected.size());
}

TEST_CASE("a build that fails part-way leaves data as it found it, at once", "[archive]") {
  archive_fixture f;
  f.build({make_message(t0 + 1, topic_a)}, t0, t0 + day, day);
  auto before = read_file(f.layout.data_file());
  auto index_before = read_file(f.layout.index_file());
  // Two windows are appended, then the source fails (as a full disk or a
  // store error would) in the third.
  auto messages = memory_source({make_message(t0 + day + 1, topic_a, 150'000),
                                 make_message(t0 + 2 * day + 1, topic_a, 150'000)});
  message_source failing = [&](std::uint64_t from, std::uint64_t to,
                               const std::vector<topic4>& topics,
                               const message_visitor& visit) -> result<void> {
    if (from >= t0 + 3 * day)
      return make_error(errc::io, "No space left on device");
    return messages(from, to, topics, visit);
  };
  build_request request{t0 + day, t0 + 4 * day, day, {topic_a, topic_b}};
  auto report = build_archives(f.layout, request, failing);
  REQUIRE_FALSE(report);
  CHECK_THAT(report.error().message, Catch::Contains("No space left on device"));
  CHECK_THAT(report.error().message, Catch::Contains("cut back to its last good end"));
  CHECK(read_file(f.layout.data_file()) == before);
  CHECK(read_file(f.layout.index_file()) == index_before);
  auto verified = verify_archive_dir(f.layout.archive_dir());
  REQUIRE(verified);
  CHECK(verified->ok());
}
