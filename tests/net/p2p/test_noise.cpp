#include "net/p2p/noise.hpp"

#include "core/hex.hpp"

#include <catch2/catch.hpp>
#include <openssl/evp.h>

#include <memory>
#include <random>

using namespace annals;
using namespace annals::p2p;

namespace {

std::string unhex(std::string_view text) {
  auto raw = from_hex(text);
  REQUIRE(raw);
  return *raw;
}

x25519_key key32(std::string_view text) {
  auto k = from_hex_fixed<32>(text);
  REQUIRE(k);
  return *k;
}

x25519_key filled(std::uint8_t byte) {
  x25519_key k;
  k.fill(byte);
  return k;
}

// Strips the u16-BE length prefix of a single frame.
std::string body_of(const std::string& framed) {
  std::string_view rest = framed;
  auto body = next_noise_frame(rest);
  REQUIRE(body);
  REQUIRE(rest.empty());
  return std::string(*body);
}

std::string secp_public_key_pb(const private_key& key) {
  return std::string("\x08\x02\x12\x21", 4) + std::string(as_view(key.public_key().compressed()));
}

struct connected {
  noise_session initiator;
  noise_session responder;
};

connected handshake(const private_key& a, const private_key& b) {
  auto i = noise_handshake::initiator(a);
  auto r = noise_handshake::responder(b);
  REQUIRE(i);
  REQUIRE(r);
  for (int n = 0; n < 3; ++n) {
    auto& writer = n % 2 == 0 ? *i : *r;
    auto& reader = n % 2 == 0 ? *r : *i;
    REQUIRE(writer.my_turn());
    auto msg = writer.write_message();
    REQUIRE(msg);
    auto read = reader.read_message(body_of(*msg));
    INFO((read ? "" : read.error().to_string()));
    REQUIRE(read);
  }
  REQUIRE(i->complete());
  REQUIRE(r->complete());
  auto si = i->finish();
  auto sr = r->finish();
  REQUIRE(si);
  REQUIRE(sr);
  return {std::move(*si), std::move(*sr)};
}

// Decrypts every frame in `wire` and concatenates the plaintexts.
std::string receive_all(noise_session& s, std::string_view wire) {
  std::string out;
  while (!wire.empty()) {
    auto body = next_noise_frame(wire);
    REQUIRE(body);
    auto pt = s.decrypt_frame(*body);
    REQUIRE(pt);
    out += *pt;
  }
  return out;
}

struct ed25519_key {
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> pkey{EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"),
                                                      EVP_PKEY_free};
  std::string public_key_pb() const {
    unsigned char pub[32];
    std::size_t len = sizeof(pub);
    REQUIRE(EVP_PKEY_get_raw_public_key(pkey.get(), pub, &len) == 1);
    return std::string("\x08\x01\x12\x20", 4) + std::string(reinterpret_cast<char*>(pub), len);
  }
  std::string sign(std::string_view msg) const {
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    unsigned char sig[64];
    std::size_t len = sizeof(sig);
    REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1);
    REQUIRE(EVP_DigestSign(ctx.get(), sig, &len,
                           reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1);
    return std::string(reinterpret_cast<char*>(sig), len);
  }
  noise_identity_payload payload_for(const x25519_key& static_public) const {
    return {public_key_pb(),
            sign(std::string("noise-libp2p-static-key:") + std::string(as_view(static_public)))};
  }
};

// Plays a responder by hand so the test controls the payload it sends.
std::string fake_responder_message2(noise_xx_state& fake, std::string_view message1,
                                    const noise_identity_payload& payload) {
  REQUIRE(fake.read_message(message1));
  auto msg = fake.write_message(encode_noise_payload(payload));
  REQUIRE(msg);
  return *msg;
}

} // namespace

TEST_CASE("noise: cacophony vector Noise_XX_25519_ChaChaPoly_SHA256", "[noise]") {
  // tests/vectors/cacophony.txt as shipped by snow, noise-c and cacophony.
  const std::string prologue = unhex("4a6f686e2047616c74");
  auto init = noise_xx_state::create(
      noise_xx_state::role::initiator, prologue,
      key32("e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1"),
      key32("893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a"));
  auto resp = noise_xx_state::create(
      noise_xx_state::role::responder, prologue,
      key32("4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893"),
      key32("bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b"));
  REQUIRE(init);
  REQUIRE(resp);

  struct step { const char* payload; const char* ciphertext; };
  const step handshake_msgs[] = {
      {"4c756477696720766f6e204d69736573",
       "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d69736573"},
      {"4d757272617920526f746862617264",
       "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f14480884381cbad1f276e038c48378ffce2b6"
       "5285e08d6b68aaa3629a5a8639392490e5b9bd5269c2f1e4f488ed8831161f19b7815528f8982ffe09be9b5c41"
       "2f8a0db50f8814c7194e83f23dbd8d162c9326ad"},
      {"462e20412e20486179656b",
       "c7195ffacac1307ff99046f219750fc47693e23c3cb08b89c2af808b444850a80ae475b9df0f169ae80a89be08"
       "65b57f58c9fea0d4ec82a286427402f113e4b6ae769a1d95941d49b25030"},
  };
  for (int n = 0; n < 3; ++n) {
    auto& writer = n % 2 == 0 ? *init : *resp;
    auto& reader = n % 2 == 0 ? *resp : *init;
    auto ct = writer.write_message(unhex(handshake_msgs[n].payload));
    REQUIRE(ct);
    CHECK(to_hex(*ct) == handshake_msgs[n].ciphertext);
    auto pt = reader.read_message(*ct);
    REQUIRE(pt);
    CHECK(to_hex(*pt) == handshake_msgs[n].payload);
  }
  REQUIRE(init->complete());
  REQUIRE(resp->complete());
  CHECK(to_hex(init->handshake_hash()) ==
        "c8e5f64e846193be2a834104c2a009868d6c9f3bd3c186299888b488b2f1f58e");
  CHECK(resp->handshake_hash() == init->handshake_hash());

  auto ic = init->split();
  auto rc = resp->split();
  REQUIRE(ic);
  REQUIRE(rc);
  // Transport messages continue alternating: the responder sends next.
  const step transport_msgs[] = {
      {"4361726c204d656e676572", "96763ed773f8e47bb3712f0e29b3060ffc956ffc146cee53d5e1df"},
      {"4a65616e2d426170746973746520536179",
       "3e40f15f6f3a46ae446b253bf8b1d9ffb6ed9b174d272328ff91a7e2e5c79c07f5"},
      {"457567656e2042f6686d20766f6e2042617765726b",
       "eb3f3515110702e047a6c9da4478b6ead94873c11c0f2d710ddb3f09fce024b3a58502ae3f"},
  };
  for (int n = 0; n < 3; ++n) {
    auto& send = n % 2 == 0 ? rc->first : ic->first;
    auto& recv = n % 2 == 0 ? ic->second : rc->second;
    auto ct = send.encrypt_with_ad({}, unhex(transport_msgs[n].payload));
    REQUIRE(ct);
    CHECK(to_hex(*ct) == transport_msgs[n].ciphertext);
    auto pt = recv.decrypt_with_ad({}, *ct);
    REQUIRE(pt);
    CHECK(to_hex(*pt) == transport_msgs[n].payload);
  }
}

TEST_CASE("noise: libp2p handshake authenticates both secp256k1 identities", "[noise]") {
  auto a = private_key::generate();
  auto b = private_key::generate();
  auto c = handshake(a, b);
  CHECK(c.initiator.remote_identity_key() == secp_public_key_pb(b));
  CHECK(c.responder.remote_identity_key() == secp_public_key_pb(a));

  SECTION("messages flow both ways") {
    auto wire = c.initiator.encrypt("hello responder");
    REQUIRE(wire);
    CHECK(receive_all(c.responder, *wire) == "hello responder");
    wire = c.responder.encrypt("hello initiator");
    REQUIRE(wire);
    CHECK(receive_all(c.initiator, *wire) == "hello initiator");
  }
  SECTION("large writes are chunked into frames of at most 65535 bytes") {
    std::string big(2 * noise_max_plaintext + 1000, '\0');
    for (std::size_t i = 0; i < big.size(); ++i)
      big[i] = static_cast<char>(i * 31 + 7);
    auto wire = c.responder.encrypt(big);
    REQUIRE(wire);
    std::string_view rest = *wire;
    std::vector<std::size_t> sizes;
    while (auto body = next_noise_frame(rest))
      sizes.push_back(body->size());
    CHECK(rest.empty());
    CHECK(sizes == std::vector<std::size_t>{noise_max_message, noise_max_message, 1016});
    CHECK(receive_all(c.initiator, *wire) == big);
  }
  SECTION("the nonce advances: equal plaintexts give different ciphertexts") {
    auto first = c.initiator.encrypt("same");
    auto second = c.initiator.encrypt("same");
    REQUIRE(first);
    REQUIRE(second);
    CHECK(*first != *second);
    CHECK(receive_all(c.responder, *first + *second) == "samesame");
  }
  SECTION("a tampered transport frame is refused") {
    auto wire = c.initiator.encrypt("payload");
    REQUIRE(wire);
    std::string body = body_of(*wire);
    body[3] ^= 1;
    auto pt = c.responder.decrypt_frame(body);
    REQUIRE_FALSE(pt);
    CHECK(pt.error().code == errc::verification_failed);
    CHECK_FALSE(c.responder.decrypt_frame("short"));
  }
  SECTION("a replayed frame is refused") {
    auto wire = c.initiator.encrypt("once");
    REQUIRE(wire);
    CHECK(receive_all(c.responder, *wire) == "once");
    CHECK_FALSE(c.responder.decrypt_frame(body_of(*wire)));
  }
  SECTION("empty input produces no frames") {
    auto wire = c.initiator.encrypt("");
    REQUIRE(wire);
    CHECK(wire->empty());
  }
}

TEST_CASE("noise: expected remote key", "[noise]") {
  auto a = private_key::generate();
  auto b = private_key::generate();
  auto check = [&](std::string expected) {
    noise_handshake::options opts;
    opts.expected_remote_key = std::move(expected);
    auto i = noise_handshake::initiator(a, opts);
    auto r = noise_handshake::responder(b);
    REQUIRE(i);
    REQUIRE(r);
    auto m1 = i->write_message();
    REQUIRE(m1);
    REQUIRE(r->read_message(body_of(*m1)));
    auto m2 = r->write_message();
    REQUIRE(m2);
    return i->read_message(body_of(*m2));
  };
  CHECK(check(secp_public_key_pb(b)));
  auto wrong = check(secp_public_key_pb(private_key::generate()));
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().code == errc::verification_failed);
  CHECK(wrong.error().message.find("peer ID") != std::string::npos);
}

TEST_CASE("noise: tampered handshake messages fail", "[noise]") {
  auto a = private_key::generate();
  auto b = private_key::generate();
  auto i = noise_handshake::initiator(a);
  auto r = noise_handshake::responder(b);
  REQUIRE(i);
  REQUIRE(r);
  auto m1 = i->write_message();
  REQUIRE(m1);
  REQUIRE(r->read_message(body_of(*m1)));
  auto m2 = r->write_message();
  REQUIRE(m2);
  std::string body = body_of(*m2);

  SECTION("flipped bit in the encrypted static key") {
    body[40] ^= 0x80;
    auto res = i->read_message(body);
    REQUIRE_FALSE(res);
    CHECK(res.error().code == errc::verification_failed);
  }
  SECTION("flipped bit in the encrypted payload") {
    body.back() ^= 1;
    CHECK_FALSE(i->read_message(body));
  }
  SECTION("truncated message") {
    CHECK_FALSE(i->read_message(body.substr(0, 50)));
    CHECK_FALSE(i->read_message(""));
  }
  // After any failure the handshake stays dead.
  CHECK_FALSE(i->complete());
  CHECK_FALSE(i->write_message());
  CHECK_FALSE(i->finish());
}

TEST_CASE("noise: a payload signed for another static key is refused", "[noise]") {
  auto a = private_key::generate();
  auto b = private_key::generate();
  auto i = noise_handshake::initiator(a);
  REQUIRE(i);
  auto m1 = i->write_message();
  REQUIRE(m1);

  auto fake = noise_xx_state::create(noise_xx_state::role::responder, {}, filled(0x42));
  REQUIRE(fake);
  // b signs some other X25519 key, not the one the fake responder uses.
  auto m2 = fake_responder_message2(*fake, body_of(*m1), sign_noise_payload(b, filled(0x43)));
  auto res = i->read_message(m2);
  REQUIRE_FALSE(res);
  CHECK(res.error().code == errc::verification_failed);
  CHECK_FALSE(i->finish());
}

TEST_CASE("noise: an Ed25519 remote identity verifies", "[noise]") {
  ed25519_key ed;
  auto i = noise_handshake::initiator(private_key::generate());
  REQUIRE(i);
  auto m1 = i->write_message();
  REQUIRE(m1);
  auto fake = noise_xx_state::create(noise_xx_state::role::responder, {}, filled(0x42));
  REQUIRE(fake);

  SECTION("full handshake with a hand-played Ed25519 responder") {
    auto m2 = fake_responder_message2(*fake, body_of(*m1), ed.payload_for(fake->local_static_public()));
    auto read = i->read_message(m2);
    INFO((read ? "" : read.error().to_string()));
    REQUIRE(read);
    auto m3 = i->write_message();
    REQUIRE(m3);
    auto their_payload = fake->read_message(body_of(*m3));
    REQUIRE(their_payload);
    CHECK(verify_noise_payload(*their_payload, fake->remote_static()));
    auto session = i->finish();
    REQUIRE(session);
    CHECK(session->remote_identity_key() == ed.public_key_pb());

    auto ciphers = fake->split();
    REQUIRE(ciphers);
    auto ct = ciphers->first.encrypt_with_ad({}, "from ed25519");
    REQUIRE(ct);
    auto pt = session->decrypt_frame(*ct);
    REQUIRE(pt);
    CHECK(*pt == "from ed25519");
  }
  SECTION("verify_noise_payload checks the signature and the static key") {
    auto payload = encode_noise_payload(ed.payload_for(filled(7)));
    auto ok = verify_noise_payload(payload, filled(7));
    REQUIRE(ok);
    CHECK(*ok == ed.public_key_pb());
    auto bad = verify_noise_payload(payload, filled(8));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == errc::verification_failed);
  }
}

TEST_CASE("noise: hostile payload bytes are rejected cleanly", "[noise]") {
  const auto s = filled(1);
  auto valid = sign_noise_payload(private_key::generate(), s);
  CHECK(verify_noise_payload(encode_noise_payload(valid), s));

  // Unknown fields (here extensions = 4 and a varint field 9) are skipped.
  std::string with_extras = encode_noise_payload(valid) + std::string("\x22\x02\x12\x00\x48\x05", 6);
  CHECK(verify_noise_payload(with_extras, s));

  CHECK_FALSE(verify_noise_payload("", s));
  CHECK_FALSE(verify_noise_payload(std::string("\x0a\xff\xff\xff\xff\x0f", 6), s));
  CHECK_FALSE(verify_noise_payload(std::string("\x0f", 1), s));  // wire type 7
  CHECK_FALSE(verify_noise_payload(encode_noise_payload({"\x08\x07\x12\x01x", "sig"}), s));
  auto rsa = verify_noise_payload(encode_noise_payload({std::string("\x08\x00\x12\x01x", 5), "s"}), s);
  REQUIRE_FALSE(rsa);
  CHECK(rsa.error().code == errc::unsupported);
  noise_identity_payload garbage_sig = valid;
  garbage_sig.identity_sig = "not DER";
  CHECK_FALSE(verify_noise_payload(encode_noise_payload(garbage_sig), s));
}

TEST_CASE("noise: random bytes never crash the handshake or the payload parser", "[noise]") {
  std::mt19937 rng(20261125);
  for (int round = 0; round < 300; ++round) {
    std::string junk(rng() % 200, '\0');
    for (auto& c : junk)
      c = static_cast<char>(rng());
    CHECK_FALSE(verify_noise_payload(junk, filled(1)));
    // The initiator expects message 2: e plus an encrypted static key.
    auto i = noise_handshake::initiator(private_key::generate());
    REQUIRE(i);
    REQUIRE(i->write_message());
    CHECK_FALSE(i->read_message(junk));
  }
}

TEST_CASE("noise: frame splitting waits for complete frames", "[noise]") {
  std::string wire("\x00\x03" "abc" "\x00\x05" "de", 9);
  std::string_view rest = wire;
  auto first = next_noise_frame(rest);
  REQUIRE(first);
  CHECK(*first == "abc");
  CHECK_FALSE(next_noise_frame(rest));
  CHECK(rest.size() == 4);
  std::string_view one_byte = "\x00";
  CHECK_FALSE(next_noise_frame(one_byte));
}

TEST_CASE("noise: low-order remote ephemeral keys are refused", "[noise]") {
  auto r = noise_handshake::responder(private_key::generate());
  REQUIRE(r);
  REQUIRE(r->read_message(std::string(32, '\0')));  // e alone needs no DH yet
  // Writing message 2 needs DH(e, re), which is all zeros for the zero point.
  auto m2 = r->write_message();
  REQUIRE_FALSE(m2);
  CHECK(m2.error().code == errc::verification_failed);
}
