#include "core/identity.hpp"
#include "core/keccak.hpp"
#include "core/topics.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

using namespace annals;

namespace {

// The secp256k1 test key of the libp2p peer-id spec; waku-relay.md A.4 uses
// its compressed public key as a community ID for the topic vectors.
constexpr const char* spec_key_hex = "53dadf1d5a164d6b4acdb15e24aa4c5b1d3461bdbd42abedb0a4404d56ced8fb";

private_key spec_key() {
  return *private_key::from_bytes(*from_hex(spec_key_hex));
}

} // namespace

TEST_CASE("status-go topic vectors", "[topics]") {
  CHECK(topic_hex(chat_topic("status")) == "0xcd423760");
  CHECK(content_topic(chat_topic("status")) == "/waku/1/0xcd423760/rfc26");
  CHECK(to_hex(chat_symmetric_key("status")).substr(0, 12) == "36224048e42c");
  CHECK(to_hex(chat_symmetric_key("status")).substr(60) == "ecc4");

  auto community = spec_key().public_key().community_id();
  CHECK(community.substr(0, 10) == "0x037777e9");
  CHECK(community.substr(community.size() - 6) == "bfca99");
  CHECK(content_topic(chat_topic(community)) == "/waku/1/0xceb2489e/rfc26");
  auto magnet_chat = magnetlinks_chat_id(community);
  CHECK(magnet_chat == community + "-magnetlinks");
  CHECK(content_topic(chat_topic(magnet_chat)) == "/waku/1/0x0cefb52a/rfc26");
  auto key = to_hex(chat_symmetric_key(magnet_chat));
  CHECK(key.substr(0, 12) == "5b54fdc1764b");
  CHECK(key.substr(60) == "c1fd");
  CHECK(to_hex(chat_symmetric_key(community)).substr(0, 12) == "fa1ed9b0fde8");

  CHECK(channel_chat_id(community, "abc") == community + "abc");
  CHECK(pubsub_topic() == "/waku/2/rs/16/32");
  CHECK(pubsub_topic(16, 64) == "/waku/2/rs/16/64");
}

TEST_CASE("content and hex topics parse back and reject other shapes", "[topics]") {
  auto topic = chat_topic("status");
  CHECK(*parse_content_topic(content_topic(topic)) == topic);
  CHECK(*parse_topic_hex("0xcd423760") == topic);
  CHECK_FALSE(parse_content_topic("/waku/2/0xcd423760/rfc26"));
  CHECK_FALSE(parse_content_topic("/waku/1/0xcd42376/rfc26"));
  CHECK_FALSE(parse_content_topic("/toychat/2/huilong/proto"));
  CHECK_FALSE(parse_topic_hex("cd423760"));
  CHECK_FALSE(parse_topic_hex("0xcd42376g"));
}

TEST_CASE("recoverable signatures recover the signer over keccak256(payload)", "[identity]") {
  auto key = private_key::generate();
  std::string payload = "CommunityMessageArchiveMagnetlink bytes";
  auto sig = key.sign_keccak(payload);
  CHECK(sig[64] <= 1);
  auto signer = recover_keccak(payload, as_view(sig));
  REQUIRE(signer);
  CHECK(*signer == key.public_key());

  // Another payload recovers someone else; a forged signature is not the key.
  auto other = recover_keccak("tampered", as_view(sig));
  CHECK((!other || *other != key.public_key()));
  auto bad_v = sig;
  bad_v[64] = 27;  // the 26/WAKU-PAYLOAD text's V; go-ethereum refuses it
  CHECK(recover_keccak(payload, as_view(bad_v)).error().code == errc::verification_failed);
  CHECK_FALSE(recover_keccak(payload, "short"));
}

TEST_CASE("signatures are deterministic (RFC 6979) and match the spec key", "[identity]") {
  auto key = spec_key();
  CHECK(key.sign_keccak("x") == key.sign_keccak("x"));
  auto uncompressed = key.public_key().uncompressed();
  CHECK(uncompressed[0] == 0x04);
  CHECK(*public_key::parse(as_view(uncompressed)) == key.public_key());
}

TEST_CASE("community IDs parse back and reject garbage", "[identity]") {
  auto pub = private_key::generate().public_key();
  auto id = pub.community_id();
  CHECK(id.size() == 68);
  CHECK(*public_key::from_community_id(id) == pub);
  CHECK_FALSE(public_key::from_community_id(id.substr(2)));
  CHECK_FALSE(public_key::from_community_id("0x" + std::string(66, 'f')));
}

TEST_CASE("key files are 0600, never overwritten, and validated", "[identity]") {
  test::temp_dir dir;
  auto key = private_key::generate();
  auto file = dir / "community.key";
  REQUIRE(key.save(file));
  struct stat st;
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto loaded = private_key::load(file);
  REQUIRE(loaded);
  CHECK(loaded->public_key() == key.public_key());

  auto again = private_key::generate().save(file);
  REQUIRE_FALSE(again);
  CHECK(again.error().code == errc::conflict);
  CHECK(private_key::load(file)->public_key() == key.public_key());

  test::write_file(dir / "bad.key", "not a key\n");
  CHECK(private_key::load(dir / "bad.key").error().code == errc::malformed);
  test::write_file(dir / "zero.key", std::string(64, '0'));
  CHECK_FALSE(private_key::load(dir / "zero.key"));
  CHECK(private_key::load(dir / "missing.key").error().code == errc::not_found);
}

TEST_CASE("libp2p signatures are DER over SHA-256 and verify only what was signed", "[identity]") {
  auto key = private_key::generate();
  auto der = key.sign_sha256_der("noise-libp2p-static-key:abc");
  CHECK(static_cast<std::uint8_t>(der[0]) == 0x30);  // DER SEQUENCE
  CHECK(verify_sha256_der(key.public_key(), "noise-libp2p-static-key:abc", der));
  CHECK_FALSE(verify_sha256_der(key.public_key(), "noise-libp2p-static-key:abd", der));
  CHECK_FALSE(verify_sha256_der(private_key::generate().public_key(), "noise-libp2p-static-key:abc", der));
  CHECK_FALSE(verify_sha256_der(key.public_key(), "noise-libp2p-static-key:abc", "not der"));
}
