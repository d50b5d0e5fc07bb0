// The hash ratchet checked against an independent implementation: Crypto++'s
// Keccak-256 and AES-GCM (annals' core uses its own Keccak and OpenSSL).
#include "core/hash_ratchet.hpp"
#include "core/archive_builder.hpp"
#include "core/archive_reader.hpp"
#include "core/file_io.hpp"
#include "core/hex.hpp"
#include "proto/protocol_message.pb.h"
#include "proto/status_archive.pb.h"
#include "tests/core/archive_fixtures.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <cryptopp/aes.h>
#include <cryptopp/filters.h>
#include <cryptopp/gcm.h>
#include <cryptopp/keccak.h>

#include <sys/stat.h>

#include <fstream>

using namespace annals;

namespace {

std::string crypto_keccak(const std::string& data) {
  CryptoPP::Keccak_256 h;
  std::string out(32, '\0');
  h.CalculateDigest(reinterpret_cast<CryptoPP::byte*>(out.data()),
                    reinterpret_cast<const CryptoPP::byte*>(data.data()), data.size());
  return out;
}

/// ct ‖ tag ‖ nonce, as status-go's DecryptSymmetric reads it.
std::string crypto_gcm_open(const std::string& key, const std::string& wire) {
  auto nonce = wire.substr(wire.size() - 12);
  auto sealed = wire.substr(0, wire.size() - 12);
  CryptoPP::GCM<CryptoPP::AES>::Decryption d;
  d.SetKeyWithIV(reinterpret_cast<const CryptoPP::byte*>(key.data()), key.size(),
                 reinterpret_cast<const CryptoPP::byte*>(nonce.data()), nonce.size());
  std::string plain;
  CryptoPP::StringSource(sealed, true,
                         new CryptoPP::AuthenticatedDecryptionFilter(
                           d, new CryptoPP::StringSink(plain),
                           CryptoPP::AuthenticatedDecryptionFilter::DEFAULT_FLAGS, 16));
  return plain;
}

hr_key fixed_key() {
  hr_key k;
  k.group_id = *from_hex("02" + std::string(64, 'a'));  // 33 bytes, like a community key
  k.timestamp_ms = 1'700'000'000'123;
  for (std::size_t i = 0; i < k.key.size(); ++i)
    k.key[i] = static_cast<std::uint8_t>(i * 7 + 1);
  return k;
}

std::string le64(std::uint64_t v) {
  std::string out;
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

std::string be64(std::uint64_t v) {
  auto out = le64(v);
  std::reverse(out.begin(), out.end());
  return out;
}

} // namespace

TEST_CASE("hash-ratchet key IDs and message keys match an independent Keccak",
          "[hash_ratchet]") {
  auto k = fixed_key();
  std::string key_bytes(as_view(k.key));
  CHECK(k.key_id() == crypto_keccak(k.group_id + le64(k.timestamp_ms) + key_bytes));
  CHECK(k.key_id() != crypto_keccak(k.group_id + be64(k.timestamp_ms) + key_bytes));
  CHECK(k.deprecated_key_id() == static_cast<std::uint32_t>(1'700'000'000'123ull));
  auto h1 = crypto_keccak(key_bytes);
  auto h3 = crypto_keccak(crypto_keccak(h1));
  CHECK(std::string(as_view(hr_message_key(k.key, 1))) == h1);
  CHECK(std::string(as_view(hr_message_key(k.key, 3))) == h3);
}

TEST_CASE("a sealed archive is status-go's envelope and opens with an independent AES-GCM",
          "[hash_ratchet]") {
  auto k = fixed_key();
  auto installation = hr_installation_id();
  CHECK(installation.size() == 36);
  CHECK(installation[0] == 'f');
  CHECK(installation[14] == '4');
  auto sealed = hr_seal("archive bytes", k, 5, installation);
  REQUIRE(sealed);
  CHECK(is_hash_ratchet_message(*sealed));

  encryption::HashRatchetEnvelope envelope;
  REQUIRE(envelope.ParseFromString(*sealed));
  CHECK(envelope.installation_id() == installation);
  REQUIRE(envelope.encrypted_message().size() == 1);
  const auto& entry = envelope.encrypted_message().at("none");
  CHECK(entry.hr_header().seq_no() == 5);
  CHECK(entry.hr_header().group_id() == k.group_id);
  CHECK(entry.hr_header().key_id() == k.key_id());
  CHECK(entry.hr_header().deprecated_key_id() == k.deprecated_key_id());
  CHECK_FALSE(entry.hr_header().has_keys());
  std::string key_bytes(as_view(k.key));
  auto message_key = crypto_keccak(crypto_keccak(crypto_keccak(crypto_keccak(crypto_keccak(key_bytes)))));
  CHECK(crypto_gcm_open(message_key, entry.payload()) == "archive bytes");

  // status-go tries a plain WakuMessageArchive first and decrypts only when
  // that parse fails: the installation ID's first byte makes it fail.
  status::WakuMessageArchive plain;
  CHECK_FALSE(plain.ParseFromString(*sealed));

  SECTION("sequence number 0 and the ratchet limit are refused") {
    CHECK_FALSE(hr_seal("x", k, 0, installation));
    CHECK_FALSE(hr_seal("x", k, 100'000, installation));
  }
}

TEST_CASE("hr_open tells a missing key, a wrong key and changed bytes apart", "[hash_ratchet]") {
  auto k = fixed_key();
  auto sealed = *hr_seal("the index", k, 1, hr_installation_id());
  hr_keyring ring;
  ring.add(k);
  auto opened = hr_open(sealed, ring);
  REQUIRE(opened);
  CHECK(opened->plaintext == "the index");
  CHECK(opened->seq_no == 1);

  SECTION("missing") {
    auto r = hr_open(sealed, hr_keyring{});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::missing_key);
    CHECK_THAT(r.error().message, Catch::Contains(to_hex(k.key_id()))
                                    && Catch::Contains(to_hex0x(k.group_id)));
  }
  SECTION("wrong: same group and timestamp, other bytes") {
    auto wrong = k;
    wrong.key[0] ^= 1;
    hr_keyring other;
    other.add(wrong);
    auto r = hr_open(sealed, other);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::verification_failed);
  }
  SECTION("a changed byte") {
    encryption::HashRatchetEnvelope envelope;
    REQUIRE(envelope.ParseFromString(sealed));
    auto& payload = *(*envelope.mutable_encrypted_message())["none"].mutable_payload();
    payload[3] = static_cast<char>(payload[3] ^ 0x40);
    auto r = hr_open(envelope.SerializeAsString(), ring);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::verification_failed);
  }
  SECTION("an old-format header: no key ID, found by group and timestamp") {
    encryption::HashRatchetEnvelope envelope;
    REQUIRE(envelope.ParseFromString(sealed));
    (*envelope.mutable_encrypted_message())["none"].mutable_hr_header()->clear_key_id();
    auto r = hr_open(envelope.SerializeAsString(), ring);
    REQUIRE(r);
    CHECK(r->plaintext == "the index");
  }
  SECTION("not an encrypted message") {
    status::WakuMessageArchive plain;
    plain.set_version(1);
    plain.mutable_metadata()->set_from(1);
    CHECK_FALSE(is_hash_ratchet_message(plain.SerializeAsString()));
    CHECK(hr_open(plain.SerializeAsString(), ring).error().code == errc::malformed);
    CHECK_FALSE(is_hash_ratchet_message("\xff\xff\xff"));
  }
}

TEST_CASE("keys files append without duplicates, load with line numbers, and take status-go's "
          "key blob",
          "[hash_ratchet]") {
  test::temp_dir dir("annals-hr-keys");
  auto file = dir / "keys.jsonl";
  auto k = fixed_key();
  hr_keyring none;
  auto fresh = make_hr_key(k.group_id, k.timestamp_ms, none);
  CHECK(fresh.timestamp_ms == k.timestamp_ms + 10);
  REQUIRE(*append_hr_keys(file, {k, fresh}) == 2);
  CHECK(*append_hr_keys(file, {k}) == 0);
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto ring = load_hr_keys(file);
  REQUIRE(ring);
  CHECK(ring->size() == 2);
  CHECK(ring->newest(k.group_id)->key_id() == fresh.key_id());
  // A newer key than "now" pushes the next one past it.
  CHECK(make_hr_key(k.group_id, k.timestamp_ms, *ring).timestamp_ms == fresh.timestamp_ms + 1);

  std::ofstream(file, std::ios::app) << "{\"group_id\": \"0x02\", \"key\": \"zz\"}\n";
  auto broken = load_hr_keys(file);
  REQUIRE_FALSE(broken);
  CHECK_THAT(broken.error().message, Catch::Contains(file.string() + ":3:"));
  CHECK(load_hr_keys(dir / "absent").error().code == errc::not_found);

  encryption::HRHeader blob;
  blob.set_group_id(k.group_id);
  auto* key = blob.mutable_keys()->add_keys();
  key->set_key(std::string(as_view(k.key)));
  key->set_timestamp(k.timestamp_ms);
  key->set_deprecated_key_id(k.deprecated_key_id());
  auto parsed = parse_hr_key_blob(blob.SerializeAsString());
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 1);
  CHECK((*parsed)[0].key_id() == k.key_id());
  CHECK_FALSE(parse_hr_key_blob("garbage"));
}

TEST_CASE("a keys file that is a directory, a device or past 1 GiB is named as such, unread",
          "[hash_ratchet]") {
  test::temp_dir dir("annals-hr-keys-hostile");
  auto directory = load_hr_keys(dir.path());
  REQUIRE_FALSE(directory);
  CHECK_THAT(directory.error().message, Catch::Contains("not a regular file"));
  auto device = load_hr_keys("/dev/zero");
  REQUIRE_FALSE(device);
  CHECK_THAT(device.error().message, Catch::Contains("not a regular file"));
  // Sparse: 1.1 GiB of nothing on disk, refused by its size alone.
  auto sparse = dir / "sparse.jsonl";
  std::ofstream(sparse).put('\n');
  std::filesystem::resize_file(sparse, (std::uint64_t{11} << 30) / 10);
  auto huge = load_hr_keys(sparse);
  REQUIRE_FALSE(huge);
  CHECK_THAT(huge.error().message, Catch::Contains("more than the 1073741824"));
}

TEST_CASE("a keyring of many keys finds each by ID, by old ID and the newest of each group",
          "[hash_ratchet]") {
  hr_keyring ring;
  std::vector<hr_key> keys;
  for (std::uint64_t i = 0; i < 20'000; ++i) {
    hr_key k;
    k.group_id = std::string(1, static_cast<char>('a' + i % 7));
    k.timestamp_ms = 1'700'000'000'000 + i;
    for (std::size_t b = 0; b < k.key.size(); ++b)
      k.key[b] = static_cast<std::uint8_t>((i >> (8 * (b % 8))) + b);
    keys.push_back(k);
    REQUIRE(ring.add(k));
  }
  CHECK_FALSE(ring.add(keys[123]));
  CHECK(ring.size() == keys.size());
  for (std::size_t i = 0; i < keys.size(); i += 997) {
    CHECK(ring.find(keys[i].key_id(), "", 0) == &ring.keys()[i]);
    CHECK(ring.find("", keys[i].group_id, keys[i].deprecated_key_id()) == &ring.keys()[i]);
  }
  // The newest of group 'a' is the last index i with i % 7 == 0.
  auto last_a = (keys.size() - 1) / 7 * 7;
  CHECK(ring.newest("a")->key_id() == keys[last_a].key_id());
  CHECK(ring.newest("z") == nullptr);
  CHECK(ring.find(std::string(32, 'x'), "z", 1) == nullptr);
  // A key with the same (group, old ID) as an earlier one: the earlier is found.
  hr_key twin = keys[0];
  twin.key[0] ^= 0xff;
  REQUIRE(ring.add(twin));
  CHECK(ring.find("", twin.group_id, twin.deprecated_key_id()) == &ring.keys()[0]);
}

TEST_CASE("sequence numbers survive a restart and never repeat", "[hash_ratchet]") {
  test::temp_dir dir("annals-hr-seq");
  auto id = fixed_key().key_id();
  CHECK(*hr_sequence(dir / "seq").next(id) == 1);
  CHECK(*hr_sequence(dir / "seq").next(id) == 2);
  CHECK(*hr_sequence(dir / "seq").next(std::string(32, 'x')) == 1);
  CHECK(*hr_sequence(dir / "seq").next(id) == 3);
}

namespace {

/// The key IDs the archives of `dir` were sealed with, oldest first.
std::vector<std::string> archive_key_ids(const archive_layout& layout, const hr_keyring& keys) {
  std::vector<std::string> ids;
  auto index = read_index(layout.index_file(), &keys);
  REQUIRE(index);
  auto data = read_file_bytes(layout.data_file());
  REQUIRE(data);
  for (const auto& [id, entry] : sorted_entries(*index)) {
    auto bytes = data->substr(entry.offset(), entry.size() - entry.padding());
    auto opened = hr_open(bytes, keys);
    REQUIRE(opened);
    ids.push_back(opened->key_id);
  }
  return ids;
}

} // namespace

TEST_CASE("an encrypted archive set: sealed archives and index, rotation, missing keys",
          "[hash_ratchet][builder]") {
  using namespace annals::test;
  test::temp_dir dir("annals-hr-build");
  archive_layout layout{dir.path(), "0x02" + std::string(64, 'e')};
  auto group = *from_hex(layout.community_id);
  hr_keyring ring;
  auto first = make_hr_key(group, 1'700'000'000'000, ring);
  ring.add(first);
  auto cipher = make_archive_cipher(ring, group, dir / "seq");
  hr_sequence seq(dir / "seq");  // reads what the cipher wrote

  std::vector<archive_message> messages;
  for (std::uint64_t d = 0; d < 3; ++d)
    for (int i = 0; i < 5; ++i)
      messages.push_back(make_message(t0 + d * day + static_cast<std::uint64_t>(i), topic_a, 200,
                                      static_cast<char>('a' + i)));
  build_request request(t0, t0 + 3 * day, day, {topic_a});
  request.cipher = cipher;
  auto built = build_archives(layout, request, memory_source(messages));
  REQUIRE(built);
  REQUIRE(built->archives.size() == 3);

  // Sealed: the plain parse finds nothing, the structure says encrypted.
  auto index_bytes = *read_file_bytes(layout.index_file());
  CHECK(is_hash_ratchet_message(index_bytes));
  auto verified = verify_archive_dir(layout.archive_dir(), true, &ring);
  REQUIRE(verified);
  CHECK(verified->ok());
  std::size_t stored = 0;
  for (const auto& archive : verified->archives)
    stored += archive.message_count;
  CHECK(stored == messages.size());
  // IDs and sizes are over the sealed bytes, as status-go computes them.
  for (const auto& archive : built->archives)
    CHECK(archive.entry.size() % archive_piece_length == 0);

  auto no_keys = read_index(layout.index_file());
  REQUIRE_FALSE(no_keys);
  CHECK(no_keys.error().code == errc::missing_key);
  CHECK_THAT(no_keys.error().message, Catch::Contains(to_hex(first.key_id())));

  // Rotation: a newer key seals what is built next and the rewritten index;
  // the older archives keep the key they were sealed with.
  auto second = make_hr_key(group, first.timestamp_ms, ring);
  ring.add(second);
  cipher->keys = ring;
  for (int i = 0; i < 5; ++i)
    messages.push_back(make_message(t0 + 3 * day + static_cast<std::uint64_t>(i), topic_a));
  build_request later(t0 + 3 * day, t0 + 4 * day, day, {topic_a});
  later.cipher = cipher;
  REQUIRE(build_archives(layout, later, memory_source(messages)));
  CHECK(archive_key_ids(layout, ring)
        == std::vector<std::string>{first.key_id(), first.key_id(), first.key_id(),
                                    second.key_id()});
  CHECK(hr_open(*read_file_bytes(layout.index_file()), ring)->key_id == second.key_id());
  // Sequence numbers: 3 archives + index under the first key, 1 + index under the second.
  CHECK(*seq.next(first.key_id()) == 5);
  CHECK(*seq.next(second.key_id()) == 3);

  // A member holding only the newer key reads the index but not the old archives.
  hr_keyring newer_only;
  newer_only.add(second);
  auto partial = verify_archive_dir(layout.archive_dir(), true, &newer_only);
  REQUIRE(partial);
  CHECK(partial->problems.size() == 3);
  CHECK_THAT(partial->problems[0], Catch::Contains("missing key") || Catch::Contains("no key"));
}
