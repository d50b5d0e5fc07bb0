#include "core/archive_reader.hpp"
#include "core/identity.hpp"
#include "tests/core/archive_fixtures.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace annals;
using namespace annals::test;

namespace {

constexpr auto L = archive_piece_length;

/// Two archives (one and two pieces) in a fresh directory.
struct built_dir {
  temp_dir dir{"annals-reader"};
  archive_layout layout{dir.path(), private_key::generate().public_key().community_id()};
  build_report report;

  built_dir() {
    build_request request{t0, t0 + 2 * day, day, {topic_a, topic_b}};
    report = *build_archives(layout, request,
                             memory_source({make_message(t0 + 1, topic_a),
                                            make_message(t0 + 2, topic_b),
                                            make_message(t0 + day + 1, topic_a, 150'000)}));
  }

  /// Rewrites the index after `edit` changed it, keeping the keys as they are.
  template <class Edit>
  void tamper_index(Edit edit) {
    auto index = *read_index(layout.index_file());
    edit(*index.mutable_archives());
    write_file(layout.index_file(), serialize_deterministic(index));
  }

  std::string problems() {
    auto verified = verify_archive_dir(layout.archive_dir());
    REQUIRE(verified);
    std::string all;
    for (const auto& p : verified->problems)
      all += p + "\n";
    return all;
  }
};

} // namespace

TEST_CASE("a built directory verifies and reports each archive", "[reader]") {
  built_dir b;
  auto verified = verify_archive_dir(b.layout.archive_dir());
  REQUIRE(verified);
  CHECK(verified->ok());
  REQUIRE(verified->archives.size() == 2);
  CHECK(verified->archives[0].message_count == 2);
  CHECK(verified->archives[1].message_count == 1);
  CHECK(verified->archives[1].entry.offset() == L);
  CHECK(verified->data_size == 3 * L);
}

TEST_CASE("malformed, empty and encrypted-looking indexes are told apart", "[reader]") {
  CHECK(parse_index("").error().code == errc::malformed);
  CHECK(parse_index("\xff\xff\xff\xff").error().code == errc::malformed);
  // Valid protobuf with no archives that is not a hash-ratchet message either.
  CHECK(parse_index(std::string("\x10\x01", 2)).error().code == errc::malformed);
  built_dir b;
  write_file(b.layout.index_file(), "\x0a\x05garbage");
  auto verified = verify_archive_dir(b.layout.archive_dir());
  REQUIRE_FALSE(verified);
  CHECK(verified.error().message.find("index") != std::string::npos);
}

TEST_CASE("missing files are named", "[reader]") {
  built_dir b;
  std::filesystem::remove(b.layout.data_file());
  auto verified = verify_archive_dir(b.layout.archive_dir());
  REQUIRE_FALSE(verified);
  CHECK(verified.error().code == errc::not_found);
  CHECK(verified.error().message.find("data") != std::string::npos);
}

TEST_CASE("truncated data is caught", "[reader]") {
  built_dir b;
  std::filesystem::resize_file(b.layout.data_file(), 2 * L);
  auto problems = b.problems();
  CHECK(problems.find(b.report.archives[1].id + ": extends past the end of data") != std::string::npos);
  CHECK_FALSE(read_archive(b.layout.data_file(), b.report.archives[1].entry));
}

TEST_CASE("wrong sizes and offsets break the ID and the alignment checks", "[reader]") {
  built_dir b;
  const auto& id = b.report.archives[0].id;
  b.tamper_index([&](auto& archives) { archives[id].set_size(L + 7); });
  auto problems = b.problems();
  CHECK(problems.find(id + ": ID does not match its entry") != std::string::npos);
  CHECK(problems.find(id + ": offset 0 / size 102407 are not aligned") != std::string::npos);
  // Everything after it now starts at the wrong place.
  CHECK(problems.find("overlaps the previous archive") != std::string::npos);
}

TEST_CASE("an entry whose ID key was swapped is reported", "[reader]") {
  built_dir b;
  b.tamper_index([&](auto& archives) {
    auto entry = archives[b.report.archives[0].id];
    archives.erase(b.report.archives[0].id);
    archives["0x" + std::string(64, 'a')] = entry;
  });
  CHECK(b.problems().find("0x" + std::string(64, 'a') + ": ID does not match") != std::string::npos);
}

TEST_CASE("non-zero padding and trailing bytes are reported", "[reader]") {
  built_dir b;
  {
    std::fstream data(b.layout.data_file(), std::ios::in | std::ios::out | std::ios::binary);
    data.seekp(L - 1);
    data.put('x');  // last byte of archive 0 is padding
  }
  {
    std::ofstream data(b.layout.data_file(), std::ios::binary | std::ios::app);
    data << "tail";
  }
  auto problems = b.problems();
  CHECK(problems.find(b.report.archives[0].id + ": padding holds non-zero bytes") != std::string::npos);
  CHECK(problems.find("data: 4 trailing bytes belong to no archive") != std::string::npos);
}

TEST_CASE("bytes that are not an archive are reported, not crashed on", "[reader]") {
  built_dir b;
  {
    std::fstream data(b.layout.data_file(), std::ios::in | std::ios::out | std::ios::binary);
    data.seekp(0);
    data << std::string(64, '\xff');
  }
  auto problems = b.problems();
  CHECK(problems.find(b.report.archives[0].id + ": bytes at offset 0 are not a WakuMessageArchive")
        != std::string::npos);
  CHECK(read_archive(b.layout.data_file(), b.report.archives[0].entry).error().code == errc::malformed);
}

TEST_CASE("verification reads any archive protobuf parses, and names messages outside the window "
          "and metadata unlike the entry",
          "[reader]") {
  temp_dir dir{"annals-reader"};
  archive_layout layout{dir.path(), private_key::generate().public_key().community_id()};
  // An archive as another encoder might write it: a message with its
  // fields out of number order (protobuf parses it; read_wire refuses it),
  // one whose timestamp lies past the window, and an unknown field.
  pb::WakuMessageArchive archive;
  archive.mutable_metadata()->set_from(t0);
  archive.mutable_metadata()->set_to(t0 + day);
  archive.mutable_metadata()->add_contenttopic(std::string(as_view(topic_a)));
  std::string canonical;
  append_wire(canonical, make_message(t0 + 5, topic_a));
  std::string reordered = canonical.substr(67) + canonical.substr(0, 67);  // sig last
  REQUIRE_FALSE(read_wire(reordered));
  std::string bytes = archive.SerializeAsString();
  for (const auto& message : {canonical, reordered}) {
    bytes.push_back(static_cast<char>(3 << 3 | 2));
    append_varint(bytes, message.size());
    bytes += message;
  }
  std::string late;
  append_wire(late, make_message(t0 + day + 7, topic_a));
  bytes.push_back(static_cast<char>(3 << 3 | 2));
  append_varint(bytes, late.size());
  bytes += late;
  bytes += std::string("\x48\x01", 2);  // field 9, varint 1: unknown, skipped
  pb::WakuMessageArchive parsed;
  REQUIRE(parsed.ParseFromString(bytes));
  REQUIRE(parsed.messages_size() == 3);

  auto padded = pad_archive(bytes.size());
  pb::WakuMessageArchiveIndexMetadata entry;
  *entry.mutable_metadata() = archive.metadata();
  entry.mutable_metadata()->set_to(t0 + 2 * day);  // the entry claims a longer window
  entry.set_size(padded.size);
  entry.set_padding(padded.padding);
  pb::WakuMessageArchiveIndex index;
  (*index.mutable_archives())[archive_id(entry)] = entry;
  write_file(layout.data_file(), bytes + std::string(padded.padding, '\0'));
  write_file(layout.index_file(), serialize_deterministic(index));

  auto verified = verify_archive_dir(layout.archive_dir());
  REQUIRE(verified);
  REQUIRE(verified->archives.size() == 1);
  CHECK(verified->archives[0].message_count == 3);
  std::string all;
  for (const auto& p : verified->problems)
    all += p + "\n";
  CHECK(all.find("archive metadata differs from its index entry") != std::string::npos);

  // With the entry's window equal to the archive's, the late message is named.
  entry.mutable_metadata()->set_to(t0 + day);
  index.clear_archives();
  (*index.mutable_archives())[archive_id(entry)] = entry;
  write_file(layout.index_file(), serialize_deterministic(index));
  verified = verify_archive_dir(layout.archive_dir());
  REQUIRE(verified);
  REQUIRE(verified->problems.size() == 1);
  CHECK(verified->problems[0].find("message at " + std::to_string(t0 + day + 7)
                                   + " lies outside the archive window")
        != std::string::npos);
}

TEST_CASE("wire_archive hands over canonical messages as views of the archive and writes the "
          "others again as protobuf would",
          "[reader][wire]") {
  pb::WakuMessageArchive archive;
  archive.mutable_metadata()->set_from(t0);
  archive.mutable_metadata()->set_to(t0 + day);
  std::string bytes = archive.SerializeAsString();
  auto add = [&](const std::string& message) {
    bytes.push_back(static_cast<char>(3 << 3 | 2));
    append_varint(bytes, message.size());
    bytes += message;
  };
  auto first = make_message(t0 + 5, topic_a, 300);
  auto second = make_message(t0 + 9, topic_b, 40);
  std::string canonical, other;
  append_wire(canonical, first);
  append_wire(other, second);
  add(canonical);
  // Fields out of number order: protobuf parses it, read_wire refuses it.
  std::string reordered = other.substr(67) + other.substr(0, 67);
  REQUIRE_FALSE(read_wire(reordered));
  add(reordered);
  // A topic of three bytes: the store keys four, as from_proto pads it.
  pb::WakuMessage short_topic;
  to_proto(make_message(t0 + 11, topic_a, 20), short_topic);
  short_topic.set_topic(std::string("\x0a\x00\x00", 3));
  add(short_topic.SerializeAsString());

  auto wired = wire_archive(bytes);
  REQUIRE(wired);
  CHECK(wired->metadata.from() == t0);
  REQUIRE(wired->messages.size() == 3);
  // The canonical one is the archive's own bytes, not a copy.
  const auto& a = wired->messages[0];
  CHECK(a.bytes == canonical);
  CHECK(a.bytes.data() >= bytes.data());
  CHECK(a.bytes.data() < bytes.data() + bytes.size());
  CHECK(a.timestamp == t0 + 5);
  CHECK(a.hash == first.hash);
  CHECK(a.topic == as_view(topic_a));
  CHECK(a.cap_size == first.cap_size());
  // The others: what importing through the protobuf stored.
  CHECK(wired->messages[1].bytes == other);
  CHECK(wired->messages[1].hash == second.hash);
  std::string padded;
  append_wire(padded, from_proto(short_topic));
  CHECK(wired->messages[2].bytes == padded);
  CHECK(wired->messages[2].topic == std::string("\x0a\x00\x00\x00", 4));
  // The result keeps what it re-encoded when moved.
  auto moved = std::move(*wired);
  CHECK(moved.messages[1].bytes == other);

  // Malformed archives are refused with a cause, never half read.
  CHECK_FALSE(wire_archive(bytes.substr(0, bytes.size() - 3)));
  CHECK_FALSE(wire_archive(bytes.substr(archive.SerializeAsString().size())));  // no metadata
  std::string junk = bytes;
  junk += std::string("\x1a\x05\xff\xff\xff\xff\xff", 7);  // a message that does not parse
  auto refused = wire_archive(junk);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message, Catch::Contains("not a WakuMessage"));
}
