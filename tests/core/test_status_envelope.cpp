// The magnet-link message on the wire, layer by layer (status-go-archives.md §10).
#include "core/identity.hpp"
#include "core/keccak.hpp"
#include "core/status_envelope.hpp"
#include "core/topics.hpp"
#include "proto/protocol_message.pb.h"
#include "proto/status_archive.pb.h"

#include <catch2/catch.hpp>
#include <openssl/evp.h>

#include <memory>
#include <random>

using namespace annals;

namespace {

const std::string magnet_uri =
  "magnet:?xt=urn:btih:3ccd0e3ac8e3e0e27d4f1d7b8d1f0b3a9c6e2f10&dn=0x02abc"
  "&tr=udp%3A%2F%2Ftracker.opentrackr.org%3A1337%2Fannounce";
const std::string installation_id = "4c1b4e51-0c7a-4b4f-9d8b-6f1a2f6a0f3e";
constexpr std::int64_t timestamp_ns = 1'729'750'000'123'456'789;

/// Reproducible randomness, so a failure replays.
random_source seeded_random(std::uint32_t seed) {
  auto engine = std::make_shared<std::mt19937>(seed);
  return [engine](std::uint8_t* out, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i)
      out[i] = static_cast<std::uint8_t>((*engine)());
    return true;
  };
}

bool zero_random(std::uint8_t* out, std::size_t size) {
  std::fill_n(out, size, 0);
  return true;
}

std::string random_bytes(std::mt19937& engine, std::size_t size) {
  std::string out(size, '\0');
  for (auto& c : out)
    c = static_cast<char>(engine());
  return out;
}

std::string varint(std::uint64_t value) {
  std::string out;
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  return out;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

/// AES-256-GCM open written against the spec, not against the code under test.
std::optional<std::string> openssl_open(std::string_view wire, const symmetric_key& key) {
  auto ciphertext = wire.substr(0, wire.size() - 28);
  std::string tag(wire.substr(wire.size() - 28, 16));
  auto nonce = wire.substr(wire.size() - 12);
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
  std::string plaintext(ciphertext.size(), '\0');
  int n = 0;
  int final_n = 0;
  auto u8 = [](auto* p) { return reinterpret_cast<unsigned char*>(const_cast<char*>(p)); };
  bool ok = EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(),
                               u8(nonce.data()))
              == 1
            && EVP_DecryptUpdate(ctx.get(), u8(plaintext.data()), &n, u8(ciphertext.data()),
                                 static_cast<int>(ciphertext.size()))
                 == 1
            && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, tag.data()) == 1
            && EVP_DecryptFinal_ex(ctx.get(), u8(plaintext.data()) + n, &final_n) == 1;
  if (!ok)
    return std::nullopt;
  return plaintext;
}

struct keys {
  private_key community = private_key::generate();
  private_key node = private_key::generate();
  magnetlink_channel channel = magnetlink_channel::of(community.public_key());
};

/// The layers of one message, built with the public functions.
struct layers {
  std::string l1, l2, l3, l4;
  waku::WakuMessage l5;

  layers(const keys& k, const magnetlink& link, std::uint32_t seed = 1) {
    auto random = seeded_random(seed);
    l1 = *encode_magnetlink_message(k.community, link);
    l2 = *encode_public_protocol_message(installation_id, l1);
    l3 = *encode_signed_waku_payload(l2, k.node, random);
    l4 = *seal_waku_payload(l3, k.channel.key, random);
    l5 = make_status_waku_message(l4, k.channel.topic, timestamp_ns);
  }
};

/// A Waku message for `channel` whose L3 plaintext is `l3`, however broken.
waku::WakuMessage wrap_plaintext(std::string_view l3, const magnetlink_channel& channel) {
  auto l4 = seal_waku_payload(l3, channel.key);
  REQUIRE(l4);
  return make_status_waku_message(*l4, channel.topic, timestamp_ns);
}

} // namespace

TEST_CASE("L1: type 43, signed by the community over keccak256(payload), status-go's ID",
          "[envelope]") {
  auto community = private_key::generate();
  magnetlink link{1'729'750'000'123, magnet_uri};
  auto bytes = encode_magnetlink_message(community, link);
  REQUIRE(bytes);

  status::CommunityMessageArchiveMagnetlink payload;
  payload.set_clock(link.clock);
  payload.set_magnet_uri(link.magnet_uri);
  auto payload_bytes = payload.SerializeAsString();
  auto signature = community.sign_keccak(payload_bytes);
  // Field order 1, 2, 3 as Go's marshaller writes it; signatures are deterministic.
  auto expected = std::string("\x0a\x41") + std::string(as_view(signature)) + "\x12"
                  + varint(payload_bytes.size()) + payload_bytes + "\x18\x2b";
  CHECK(to_hex(*bytes) == to_hex(expected));
  CHECK(signature[64] <= 1);

  status::ApplicationMetadataMessage parsed;
  REQUIRE(parsed.ParseFromString(*bytes));
  CHECK(parsed.type() == 43);
  CHECK(*recover_keccak(parsed.payload(), parsed.signature()) == community.public_key());

  auto decoded = decode_magnetlink_message(*bytes);
  REQUIRE(decoded);
  CHECK(decoded->signer == community.public_key());
  CHECK(decoded->link.clock == link.clock);
  CHECK(decoded->link.magnet_uri == link.magnet_uri);
  auto uncompressed = community.public_key().uncompressed();
  CHECK(decoded->message_id == keccak256(std::string(as_view(uncompressed)) + *bytes));
  CHECK(decoded->message_id == status_message_id(community.public_key(), *bytes));
}

TEST_CASE("L1: wrong type, bad signature and bad bytes fail with distinct causes",
          "[envelope]") {
  auto community = private_key::generate();
  auto good = *encode_magnetlink_message(community, {7, magnet_uri});
  status::ApplicationMetadataMessage message;
  REQUIRE(message.ParseFromString(good));

  SECTION("another message type") {
    message.set_type(static_cast<status::ApplicationMetadataMessage::Type>(44));
    auto r = decode_magnetlink_message(message.SerializeAsString());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::unsupported);
    CHECK(contains(r.error().message, "type 44"));
  }
  SECTION("recovery id outside {0, 1}") {
    auto signature = message.signature();
    signature[64] = 27;
    message.set_signature(signature);
    auto r = decode_magnetlink_message(message.SerializeAsString());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::verification_failed);
    CHECK(contains(r.error().message, "L1: signature"));
  }
  SECTION("no signature") {
    message.clear_signature();
    auto r = decode_magnetlink_message(message.SerializeAsString());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::verification_failed);
  }
  SECTION("a changed payload recovers someone else") {
    status::CommunityMessageArchiveMagnetlink payload;
    REQUIRE(payload.ParseFromString(message.payload()));
    payload.set_clock(8);
    message.set_payload(payload.SerializeAsString());
    auto r = decode_magnetlink_message(message.SerializeAsString());
    CHECK((!r || r->signer != community.public_key()));
  }
  SECTION("a payload that is not a magnet link") {
    std::string not_utf8 = "\x12\x02\xc3\x28";  // magnet_uri = an invalid UTF-8 sequence
    auto signature = community.sign_keccak(not_utf8);
    message.set_payload(not_utf8);
    message.set_signature(signature.data(), signature.size());
    auto r = decode_magnetlink_message(message.SerializeAsString());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::malformed);
    CHECK(contains(r.error().message, "CommunityMessageArchiveMagnetlink"));
  }
  SECTION("a field outside the signed payload") {
    // Field 15, varint 1: unsigned bytes that would give the link another ID.
    auto r = decode_magnetlink_message(good + std::string("\x78\x01", 2));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::malformed);
    CHECK(contains(r.error().message, "outside the signed payload"));
  }
  SECTION("bytes that are not protobuf") {
    auto r = decode_magnetlink_message("\xde\xad\xbe\xef");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::malformed);
    CHECK(contains(r.error().message, "L1: "));
  }
  SECTION("a URI status-go could not decode is refused when encoding") {
    auto r = encode_magnetlink_message(community, {7, "magnet:?dn=\xff"});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::invalid_argument);
  }
}

TEST_CASE("L2: ProtocolMessage{installation_id = 2, public_message = 102}, no bundles",
          "[envelope]") {
  std::string l1 = std::string(200, 'x');
  auto bytes = encode_public_protocol_message(installation_id, l1);
  REQUIRE(bytes);
  auto expected = std::string("\x12") + varint(installation_id.size()) + installation_id
                  + "\xb2\x06" + varint(l1.size()) + l1;
  CHECK(to_hex(*bytes) == to_hex(expected));

  auto decoded = decode_public_protocol_message(*bytes);
  REQUIRE(decoded);
  CHECK(decoded->installation_id == installation_id);
  CHECK(decoded->public_message == l1);

  // status-go's own messages carry a bundle (field 3); it must not stop us.
  auto with_bundle = std::string("\x1a\x03\x0a\x01\x00", 5) + *bytes;
  auto tolerant = decode_public_protocol_message(with_bundle);
  REQUIRE(tolerant);
  CHECK(tolerant->public_message == l1);

  auto no_public = decode_public_protocol_message(std::string("\x12\x01") + "a");
  REQUIRE_FALSE(no_public);
  CHECK(contains(no_public.error().message, "public_message"));
  CHECK_FALSE(decode_public_protocol_message("\xb2\x06\x05xx"));
  auto bad_id = encode_public_protocol_message("\xed\xa0\x80", l1);  // a UTF-16 surrogate
  REQUIRE_FALSE(bad_id);
  CHECK(bad_id.error().code == errc::invalid_argument);
}

TEST_CASE("L3: flags, little-endian size, padding to 256, node signature", "[envelope]") {
  auto node = private_key::generate();
  auto random = seeded_random(3);
  for (std::size_t size : {0, 1, 187, 188, 189, 190, 255, 256, 1000, 65535, 65536, 70000}) {
    INFO("data size " << size);
    std::string data(size, 'd');
    auto l3 = encode_signed_waku_payload(data, node, random);
    REQUIRE(l3);
    std::size_t n = size < 256 ? 1 : size < 65536 ? 2 : 3;
    CHECK(static_cast<std::uint8_t>((*l3)[0]) == (0x04 | n));
    std::size_t encoded_size = 0;
    for (std::size_t i = 0; i < n; ++i)
      encoded_size |= std::size_t{static_cast<std::uint8_t>((*l3)[1 + i])} << (8 * i);
    CHECK(encoded_size == size);
    CHECK(l3->substr(1 + n, size) == data);

    CHECK(l3->size() % 256 == 0);
    std::size_t padding = l3->size() - (1 + n + size + 65);
    CHECK(padding >= 1);
    CHECK(padding <= 256);
    CHECK(padding == 256 - (1 + n + size + 65) % 256);

    auto covered = std::string_view(*l3).substr(0, l3->size() - 65);
    auto signature = std::string_view(*l3).substr(l3->size() - 65);
    CHECK(static_cast<std::uint8_t>(signature[64]) <= 1);
    CHECK(*recover_keccak(covered, signature) == node.public_key());

    auto decoded = decode_signed_waku_payload(*l3);
    REQUIRE(decoded);
    CHECK(decoded->data == data);
    CHECK(decoded->signer == node.public_key());
  }
}

TEST_CASE("L3: padding is random, and an all-zero pad over 3 bytes is refused as go-waku does",
          "[envelope]") {
  auto node = private_key::generate();
  // 1 + 1 + 187 + 65 = 254: two bytes of padding, where zeros are accepted.
  auto short_pad = encode_signed_waku_payload(std::string(187, 'd'), node, zero_random);
  REQUIRE(short_pad);
  CHECK(short_pad->substr(1 + 1 + 187, 2) == std::string(2, '\0'));

  auto long_pad = encode_signed_waku_payload(std::string(100, 'd'), node, zero_random);
  REQUIRE_FALSE(long_pad);
  CHECK(long_pad.error().code == errc::io);
  CHECK(contains(long_pad.error().message, "zero bytes of padding"));

  auto no_randomness = [](std::uint8_t*, std::size_t) { return false; };
  CHECK_FALSE(encode_signed_waku_payload("d", node, no_randomness));

  auto a = *encode_signed_waku_payload("same", node, seeded_random(1));
  auto b = *encode_signed_waku_payload("same", node, seeded_random(2));
  CHECK(a.substr(0, 6) == b.substr(0, 6));
  CHECK(a.substr(6, a.size() - 6 - 65) != b.substr(6, b.size() - 6 - 65));
}

TEST_CASE("L3: unsigned, short and lying plaintexts are refused", "[envelope]") {
  auto node = private_key::generate();
  auto good = *encode_signed_waku_payload(std::string(40, 'd'), node);

  auto unsigned_copy = good;
  unsigned_copy[0] = static_cast<char>(unsigned_copy[0] & ~0x04);
  auto r = decode_signed_waku_payload(unsigned_copy);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::verification_failed);
  CHECK(contains(r.error().message, "unsigned"));

  auto lying = good;
  lying[1] = static_cast<char>(0xff);
  lying[0] = static_cast<char>(0x04 | 2);
  lying[2] = static_cast<char>(0xff);
  r = decode_signed_waku_payload(lying);
  REQUIRE_FALSE(r);
  CHECK(contains(r.error().message, "L3: size field says 65535 but only"));

  CHECK_FALSE(decode_signed_waku_payload(""));
  CHECK_FALSE(decode_signed_waku_payload(std::string(66, '\x05')));

  // A cut plaintext takes its signature from the wrong bytes: it fails, or
  // names another signer.
  for (std::size_t size = 0; size < good.size(); ++size) {
    auto cut = decode_signed_waku_payload(std::string_view(good).substr(0, size));
    CHECK((!cut || cut->signer != node.public_key()));
  }
}

TEST_CASE("L4: AES-256-GCM under the chat key, wire = ciphertext ‖ tag ‖ nonce", "[envelope]") {
  keys k;
  CHECK(k.channel.key == chat_symmetric_key(k.channel.chat_id));
  std::string plaintext(512, 'p');
  auto wire = seal_waku_payload(plaintext, k.channel.key, seeded_random(9));
  REQUIRE(wire);
  REQUIRE(wire->size() == plaintext.size() + 16 + 12);

  std::array<std::uint8_t, 12> nonce{};
  seeded_random(9)(nonce.data(), nonce.size());
  CHECK(wire->substr(wire->size() - 12) == std::string(as_view(nonce)));
  CHECK(openssl_open(*wire, k.channel.key) == plaintext);
  CHECK(*open_waku_payload(*wire, k.channel.key) == plaintext);

  for (std::size_t at : {std::size_t{0}, plaintext.size(), wire->size() - 1}) {
    INFO("flipped byte " << at);
    auto tampered = *wire;
    tampered[at] = static_cast<char>(tampered[at] ^ 0x01);
    auto r = open_waku_payload(tampered, k.channel.key);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::verification_failed);
    CHECK(r.error().message == "L4 AES-GCM: authentication failed (another key, or altered bytes)");
  }
  auto other = chat_symmetric_key("0x02-magnetlinks");
  CHECK_FALSE(open_waku_payload(*wire, other));
  auto short_wire = open_waku_payload(wire->substr(0, 27), k.channel.key);
  REQUIRE_FALSE(short_wire);
  CHECK(short_wire.error().code == errc::malformed);
  CHECK_FALSE(seal_waku_payload("p", k.channel.key, zero_random));
}

TEST_CASE("L5: status-go's WakuMessage fields and bytes", "[envelope]") {
  keys k;
  auto expected_topic = content_topic(chat_topic(k.community.public_key().community_id()
                                                 + "-magnetlinks"));
  auto message = make_status_waku_message("payload", k.channel.topic, timestamp_ns);
  CHECK(message.content_topic() == expected_topic);
  CHECK(message.version() == 1);

  auto bytes = message.SerializeAsString();
  auto zigzag = static_cast<std::uint64_t>(timestamp_ns) << 1;
  auto expected = std::string("\x0a\x07payload") + "\x12" + varint(expected_topic.size())
                  + expected_topic + "\x18\x01" + "\x50" + varint(zigzag)
                  + std::string("\x5a\x00", 2) + std::string("\xf8\x01\x00", 3);
  CHECK(to_hex(bytes) == to_hex(expected));

  waku::WakuMessage parsed;
  REQUIRE(parsed.ParseFromString(bytes));
  CHECK(parsed.timestamp() == timestamp_ns);
  CHECK(parsed.has_meta());
  CHECK(parsed.has_ephemeral());
  CHECK_FALSE(parsed.ephemeral());

  // sint64 is zigzag: -1 is 01, 1 is 02.
  auto before = make_status_waku_message("", k.channel.topic, -1).SerializeAsString();
  CHECK(contains(before, std::string("\x50\x01\x5a", 3)));
  auto after = make_status_waku_message("", k.channel.topic, 1).SerializeAsString();
  CHECK(contains(after, std::string("\x50\x02\x5a", 3)));
}

TEST_CASE("14/WAKU2-MESSAGE deterministic hash test vectors", "[envelope]") {
  // vacp2p rfc-index waku/standards/core/14/message.md, "Test vectors".
  const std::string pubsub = "/waku/2/default-waku/proto";
  waku::WakuMessage message;
  message.set_payload(*from_hex("010203045445535405060708"));
  message.set_content_topic("/waku/2/default-content/proto");
  message.set_timestamp(0x175789bfa23f8400);
  message.set_version(1);

  message.set_meta(*from_hex("73757065722d736563726574"));
  CHECK(to_hex(waku_message_hash(pubsub, message))
        == "64cce733fed134e83da02b02c6f689814872b1a0ac97ea56b76095c3c72bfe05");

  std::string meta64;
  for (int i = 0; i < 64; ++i)
    meta64.push_back(static_cast<char>(i));
  message.set_meta(meta64);
  CHECK(to_hex(waku_message_hash(pubsub, message))
        == "7158b6498753313368b9af8f6e0a0a05104f68f972981da42a43bc53fb0c1b27");

  message.clear_meta();
  CHECK(to_hex(waku_message_hash(pubsub, message))
        == "a2554498b31f5bcdfcbf7fa58ad1c2d45f0254f3f8110a85588ec3cf10720fd8");

  message.set_payload("");
  message.set_meta(*from_hex("73757065722d736563726574"));
  CHECK(to_hex(waku_message_hash(pubsub, message))
        == "483ea950cb63f9b9d6926b262bb36194d3f40a0463ce8446228350bd44e96de4");

  // go-waku waku/v2/protocol/pb/utils_test.go: an absent timestamp hashes as 0.
  message.clear_timestamp();
  CHECK(to_hex(waku_message_hash(pubsub, message))
        == "58e2fc032a82c4adeb967a8b87086d0d6fb304912f120d4404e6236add8f1f56");
  // ... and an empty meta, status-go's, adds nothing.
  message.set_payload(*from_hex("010203045445535405060708"));
  message.set_meta("");
  message.set_timestamp(123456789123456789);
  CHECK(to_hex(waku_message_hash(pubsub, message))
        == "f0183c2e370e473ff471bbe1028d0d8a940949c02f3007a1ccd21fed356852a0");
}

TEST_CASE("a magnet link survives L1..L5 and back", "[envelope]") {
  keys k;
  magnetlink link{1'729'750'000'123, magnet_uri};
  auto message = make_magnetlink_waku_message(k.community, k.node, link, timestamp_ns,
                                              installation_id, seeded_random(5));
  REQUIRE(message);
  CHECK(message->content_topic() == content_topic(k.channel.topic));
  CHECK(message->timestamp() == timestamp_ns);
  CHECK(message->payload() == layers(k, link, 5).l4);

  // As a relay delivers it: serialized and parsed again.
  waku::WakuMessage received;
  REQUIRE(received.ParseFromString(message->SerializeAsString()));
  auto opened = open_magnetlink_waku_message(received, k.channel);
  INFO((opened ? "" : opened.error().to_string()));
  REQUIRE(opened);
  CHECK(opened->message.link.clock == link.clock);
  CHECK(opened->message.link.magnet_uri == link.magnet_uri);
  CHECK(opened->message.signer == k.community.public_key());
  CHECK(opened->envelope_signer == k.node.public_key());
  auto l1 = *encode_magnetlink_message(k.community, link);
  CHECK(opened->message.message_id == status_message_id(k.community.public_key(), l1));
  CHECK(waku_message_hash(pubsub_topic(), received) == waku_message_hash(pubsub_topic(), *message));
}

TEST_CASE("a link signed by another key is reported with its signer", "[envelope]") {
  keys k;
  auto forger = private_key::generate();
  auto l1 = *encode_magnetlink_message(forger, {1, magnet_uri});
  auto l2 = *encode_public_protocol_message(installation_id, l1);
  auto l3 = *encode_signed_waku_payload(l2, k.node);
  auto r = open_magnetlink_waku_message(wrap_plaintext(l3, k.channel), k.channel);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::verification_failed);
  CHECK(r.error().message == "L1: signed by " + forger.public_key().community_id()
                               + ", not the community " + k.community.public_key().community_id());
}

TEST_CASE("another community's topic, another version or an unsigned envelope is refused",
          "[envelope]") {
  keys k;
  auto message = *make_magnetlink_waku_message(k.community, k.node, {1, magnet_uri},
                                               timestamp_ns, installation_id);
  auto elsewhere = magnetlink_channel::of(private_key::generate().public_key());
  auto r = open_magnetlink_waku_message(message, elsewhere);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::verification_failed);
  CHECK(contains(r.error().message, "L5: content topic " + message.content_topic()));

  auto garbled = message;
  garbled.set_content_topic("/toychat/2/huilong/proto");
  r = open_magnetlink_waku_message(garbled, k.channel);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::malformed);
  CHECK(contains(r.error().message, "L5: "));

  auto version0 = message;
  version0.clear_version();
  r = open_magnetlink_waku_message(version0, k.channel);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::unsupported);

  layers good(k, {1, magnet_uri});
  auto unsigned_l3 = good.l3;
  unsigned_l3[0] = static_cast<char>(unsigned_l3[0] & ~0x04);
  r = open_magnetlink_waku_message(wrap_plaintext(unsigned_l3, k.channel), k.channel);
  REQUIRE_FALSE(r);
  CHECK(contains(r.error().message, "L3: unsigned"));
}

TEST_CASE("hostile bytes at every layer fail without crashing", "[envelope]") {
  keys k;
  layers good(k, {1, magnet_uri});
  std::mt19937 engine(42);

  SECTION("random bytes") {
    for (int round = 0; round < 300; ++round) {
      auto bytes = random_bytes(engine, engine() % 700);
      CHECK_NOTHROW(decode_magnetlink_message(bytes));
      CHECK_NOTHROW(decode_public_protocol_message(bytes));
      CHECK_NOTHROW(decode_signed_waku_payload(bytes));
      CHECK_FALSE(open_waku_payload(bytes, k.channel.key));
      auto message = good.l5;
      message.set_payload(bytes);
      CHECK_FALSE(open_magnetlink_waku_message(message, k.channel));
    }
  }
  SECTION("every cut and every flipped byte of the encrypted payload") {
    for (std::size_t size = 0; size < good.l4.size(); ++size) {
      auto message = good.l5;
      message.set_payload(good.l4.substr(0, size));
      CHECK_FALSE(open_magnetlink_waku_message(message, k.channel));
    }
    for (std::size_t at = 0; at < good.l4.size(); ++at) {
      auto message = good.l5;
      (*message.mutable_payload())[at] ^= 0x20;
      CHECK_FALSE(open_magnetlink_waku_message(message, k.channel));
    }
  }
  SECTION("inner layers cut, under valid encryption (the chat key is public)") {
    for (std::size_t size = 0; size < good.l1.size(); ++size) {
      CHECK_FALSE(decode_magnetlink_message(good.l1.substr(0, size)));
      auto l2 = *encode_public_protocol_message(installation_id, good.l1.substr(0, size));
      auto l3 = *encode_signed_waku_payload(l2, k.node);
      CHECK_FALSE(open_magnetlink_waku_message(wrap_plaintext(l3, k.channel), k.channel));
    }
    for (std::size_t size = 0; size < good.l2.size(); ++size) {
      CHECK_FALSE(decode_public_protocol_message(good.l2.substr(0, size)));
      auto l3 = *encode_signed_waku_payload(good.l2.substr(0, size), k.node);
      CHECK_FALSE(open_magnetlink_waku_message(wrap_plaintext(l3, k.channel), k.channel));
    }
    // Cutting L3 inside its padding or signature leaves L2 whole: the link
    // still opens, but the envelope signer is no longer the node.
    for (std::size_t size = 0; size < good.l3.size(); ++size) {
      auto r = open_magnetlink_waku_message(wrap_plaintext(good.l3.substr(0, size), k.channel),
                                            k.channel);
      CHECK((!r || r->envelope_signer != k.node.public_key()));
    }
  }
}
