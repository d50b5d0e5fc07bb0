#include "net/p2p/noise.hpp"

#include "net/p2p/peer_id.hpp"
#include "net/p2p/varint.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>

namespace annals::p2p {

namespace {

using bytes32 = std::array<std::uint8_t, 32>;

// Exactly 32 bytes, so InitializeSymmetric uses it as h directly (no hash).
constexpr std::string_view protocol_name = "Noise_XX_25519_ChaChaPoly_SHA256";
static_assert(protocol_name.size() == 32);
constexpr std::string_view signature_prefix = "noise-libp2p-static-key:";
constexpr std::size_t tag_size = 16;

error noise_error(errc code, std::string detail) {
  return make_error(code, "noise: " + std::move(detail));
}

const std::uint8_t* u8(std::string_view s) {
  return reinterpret_cast<const std::uint8_t*>(s.data());
}

struct pkey_free { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct pkey_ctx_free { void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); } };
struct cipher_ctx_free { void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); } };
struct md_ctx_free { void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); } };
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

bytes32 sha256(std::string_view a, std::string_view b = {}) {
  bytes32 out{};
  std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx(EVP_MD_CTX_new());
  unsigned int len = 0;
  // Only allocation failure can make these fail; treat it like std::bad_alloc.
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), a.data(), a.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), b.data(), b.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1)
    throw std::bad_alloc();
  return out;
}

bytes32 hmac_sha256(const bytes32& key, std::string_view data) {
  bytes32 out{};
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), u8(data), data.size(),
            out.data(), &len))
    throw std::bad_alloc();
  return out;
}

// Noise HKDF with two outputs (XX never needs the third, psk-only one).
std::pair<bytes32, bytes32> hkdf2(const bytes32& chaining_key, std::string_view ikm) {
  bytes32 temp = hmac_sha256(chaining_key, ikm);
  bytes32 out1 = hmac_sha256(temp, "\x01");
  std::string second(as_view(out1));
  second.push_back('\x02');
  bytes32 out2 = hmac_sha256(temp, second);
  OPENSSL_cleanse(temp.data(), temp.size());
  return {out1, out2};
}

result<x25519_key> x25519_public(const x25519_key& priv) {
  pkey_ptr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, priv.data(), priv.size()));
  x25519_key pub{};
  std::size_t len = pub.size();
  if (!key || EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &len) != 1 || len != pub.size())
    return noise_error(errc::invalid_argument, "unusable X25519 private key");
  return pub;
}

// OpenSSL refuses an all-zero shared secret (a low-order remote point), which
// is the check Noise recommends against hostile public keys.
result<bytes32> x25519_dh(const x25519_key& priv, const x25519_key& remote_pub) {
  pkey_ptr own(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, priv.data(), priv.size()));
  pkey_ptr peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, remote_pub.data(),
                                            remote_pub.size()));
  if (!own || !peer)
    return noise_error(errc::malformed, "unusable X25519 key");
  std::unique_ptr<EVP_PKEY_CTX, pkey_ctx_free> ctx(EVP_PKEY_CTX_new(own.get(), nullptr));
  bytes32 out{};
  std::size_t len = out.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1 || len != out.size())
    return noise_error(errc::verification_failed, "X25519 agreement failed (low-order remote key?)");
  return out;
}

result<x25519_key> random_x25519() {
  x25519_key k{};
  if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1)
    return noise_error(errc::io, "RAND_bytes failed");
  return k;
}

x25519_key key_from(std::string_view bytes) {
  x25519_key k{};
  std::memcpy(k.data(), bytes.data(), k.size());
  return k;
}

// --- minimal protobuf ---------------------------------------------------------

void put_bytes_field(std::string& out, unsigned field, std::string_view value) {
  append_uvarint(out, (field << 3) | 2);
  append_uvarint(out, value.size());
  out.append(value);
}

std::optional<std::uint64_t> get_varint(std::string_view& in) {
  auto v = decode_uvarint(in);
  if (!v)
    return std::nullopt;
  in.remove_prefix(v->size);
  return v->value;
}

struct pb_field {
  std::uint64_t number;
  std::uint64_t wire_type;
  std::uint64_t varint = 0;  // wire type 0
  std::string_view bytes;    // wire type 2
};

// Reads one field of any valid wire type so unknown fields can be skipped.
std::optional<pb_field> next_field(std::string_view& in) {
  auto tag = get_varint(in);
  if (!tag)
    return std::nullopt;
  pb_field f;
  f.number = *tag >> 3;
  f.wire_type = *tag & 7;
  switch (f.wire_type) {
  case 0: {
    auto v = get_varint(in);
    if (!v)
      return std::nullopt;
    f.varint = *v;
    return f;
  }
  case 1:
  case 5: {
    std::size_t n = f.wire_type == 1 ? 8 : 4;
    if (in.size() < n)
      return std::nullopt;
    in.remove_prefix(n);
    return f;
  }
  case 2: {
    auto len = get_varint(in);
    if (!len || *len > in.size())
      return std::nullopt;
    f.bytes = in.substr(0, *len);
    in.remove_prefix(*len);
    return f;
  }
  default:
    return std::nullopt;
  }
}

bool verify_ed25519(std::string_view key, std::string_view message, std::string_view sig) {
  if (key.size() != 32 || sig.size() != 64)
    return false;
  pkey_ptr pub(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, u8(key), key.size()));
  std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx(EVP_MD_CTX_new());
  return pub && ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pub.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), u8(sig), sig.size(), u8(message), message.size()) == 1;
}

std::string signed_message(const x25519_key& static_public) {
  std::string m(signature_prefix);
  m.append(as_view(static_public));
  return m;
}

// Callers guarantee body.size() <= noise_max_message.
void append_frame(std::string& out, std::string_view body) {
  out.push_back(static_cast<char>(body.size() >> 8));
  out.push_back(static_cast<char>(body.size() & 0xff));
  out.append(body);
}

} // namespace

// --- framing ----------------------------------------------------------------

std::optional<std::string_view> next_noise_frame(std::string_view& buffer) {
  if (buffer.size() < 2)
    return std::nullopt;
  std::size_t len = (std::size_t(std::uint8_t(buffer[0])) << 8) | std::uint8_t(buffer[1]);
  if (buffer.size() < 2 + len)
    return std::nullopt;
  std::string_view body = buffer.substr(2, len);
  buffer.remove_prefix(2 + len);
  return body;
}

// --- CipherState ------------------------------------------------------------

result<std::string> noise_cipher_state::encrypt_with_ad(std::string_view ad,
                                                        std::string_view plaintext) {
  if (!has_key_)
    return std::string(plaintext);
  // n = 2^64-1 is reserved by the spec; reaching it means rekeying was due.
  if (nonce_ == UINT64_MAX)
    return noise_error(errc::invalid_argument, "nonce exhausted");
  if (plaintext.size() > noise_max_plaintext)
    return noise_error(errc::invalid_argument, "plaintext exceeds one Noise message");
  std::uint8_t iv[12] = {};
  for (int i = 0; i < 8; ++i)
    iv[4 + i] = static_cast<std::uint8_t>(nonce_ >> (8 * i));

  std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_free> ctx(EVP_CIPHER_CTX_new());
  std::string out(plaintext.size() + tag_size, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  int len = 0;
  bool ok = ctx &&
            EVP_EncryptInit_ex(ctx.get(), EVP_chacha20_poly1305(), nullptr, key_.data(), iv) == 1 &&
            (ad.empty() || EVP_EncryptUpdate(ctx.get(), nullptr, &len, u8(ad),
                                             static_cast<int>(ad.size())) == 1) &&
            (plaintext.empty() || EVP_EncryptUpdate(ctx.get(), dst, &len, u8(plaintext),
                                                    static_cast<int>(plaintext.size())) == 1) &&
            EVP_EncryptFinal_ex(ctx.get(), dst + plaintext.size(), &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, tag_size,
                                dst + plaintext.size()) == 1;
  if (!ok)
    return noise_error(errc::io, "ChaCha20-Poly1305 encryption failed in OpenSSL");
  ++nonce_;
  return out;
}

result<std::string> noise_cipher_state::decrypt_with_ad(std::string_view ad,
                                                        std::string_view ciphertext) {
  if (!has_key_)
    return std::string(ciphertext);
  if (nonce_ == UINT64_MAX)
    return noise_error(errc::invalid_argument, "nonce exhausted");
  if (ciphertext.size() < tag_size)
    return noise_error(errc::malformed, "ciphertext shorter than the Poly1305 tag");
  std::uint8_t iv[12] = {};
  for (int i = 0; i < 8; ++i)
    iv[4 + i] = static_cast<std::uint8_t>(nonce_ >> (8 * i));

  std::size_t body = ciphertext.size() - tag_size;
  std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_free> ctx(EVP_CIPHER_CTX_new());
  std::string out(body, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  unsigned char tag[tag_size];
  std::memcpy(tag, ciphertext.data() + body, tag_size);
  unsigned char final_block[16];
  int len = 0;
  bool ok = ctx &&
            EVP_DecryptInit_ex(ctx.get(), EVP_chacha20_poly1305(), nullptr, key_.data(), iv) == 1 &&
            (ad.empty() || EVP_DecryptUpdate(ctx.get(), nullptr, &len, u8(ad),
                                             static_cast<int>(ad.size())) == 1) &&
            (body == 0 || EVP_DecryptUpdate(ctx.get(), dst, &len, u8(ciphertext),
                                            static_cast<int>(body)) == 1) &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, tag_size, tag) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), final_block, &len) == 1;
  if (!ok)
    return noise_error(errc::verification_failed, "ChaCha20-Poly1305 authentication failed");
  ++nonce_;
  return out;
}

// --- XX handshake -----------------------------------------------------------

result<noise_xx_state> noise_xx_state::create(role r, std::string_view prologue,
                                              const x25519_key& static_private,
                                              std::optional<x25519_key> ephemeral_private) {
  noise_xx_state st;
  st.role_ = r;
  st.s_priv_ = static_private;
  auto pub = x25519_public(static_private);
  if (!pub)
    return pub.error();
  st.s_pub_ = *pub;
  st.fixed_e_ = ephemeral_private;
  std::memcpy(st.h_.data(), protocol_name.data(), protocol_name.size());
  st.ck_ = st.h_;
  // Mixed even when empty, as libp2p and the Noise spec both require.
  st.mix_hash(prologue);
  return st;
}

bool noise_xx_state::my_turn() const {
  if (failed_ || complete())
    return false;
  // The initiator writes messages 0 and 2, the responder message 1.
  return (step_ % 2 == 0) == (role_ == role::initiator);
}

void noise_xx_state::mix_hash(std::string_view data) { h_ = sha256(as_view(h_), data); }

void noise_xx_state::mix_key(std::string_view ikm) {
  auto [ck, k] = hkdf2(ck_, ikm);
  ck_ = ck;
  cipher_ = noise_cipher_state(k);
}

result<void> noise_xx_state::mix_dh(const x25519_key& priv, const x25519_key& remote_pub) {
  auto shared = x25519_dh(priv, remote_pub);
  if (!shared)
    return shared.error();
  mix_key(as_view(*shared));
  OPENSSL_cleanse(shared->data(), shared->size());
  return ok_result();
}

result<std::string> noise_xx_state::encrypt_and_hash(std::string_view plaintext) {
  auto ct = cipher_.encrypt_with_ad(as_view(h_), plaintext);
  if (ct)
    mix_hash(*ct);
  return ct;
}

result<std::string> noise_xx_state::decrypt_and_hash(std::string_view ciphertext) {
  auto pt = cipher_.decrypt_with_ad(as_view(h_), ciphertext);
  if (pt)
    mix_hash(ciphertext);
  return pt;
}

result<void> noise_xx_state::fail(result<void> r) {
  if (!r)
    failed_ = true;
  return r;
}

result<std::string> noise_xx_state::write_message(std::string_view payload) {
  if (!my_turn())
    return noise_error(errc::invalid_argument, "write_message out of turn");
  std::string out;
  auto run = [&]() -> result<void> {
    if (step_ < 2) {  // token e
      auto e = fixed_e_ ? result<x25519_key>(*fixed_e_) : random_x25519();
      if (!e)
        return e.error();
      e_priv_ = *e;
      auto pub = x25519_public(e_priv_);
      if (!pub)
        return pub.error();
      e_pub_ = *pub;
      out.append(as_view(e_pub_));
      mix_hash(as_view(e_pub_));
    }
    if (step_ == 1) {  // ee
      if (auto r = mix_dh(e_priv_, re_); !r)
        return r;
    }
    if (step_ >= 1) {  // token s
      auto s = encrypt_and_hash(as_view(s_pub_));
      if (!s)
        return s.error();
      out += *s;
      // responder: es = DH(s, re); initiator: se = DH(s, re).
      if (auto r = mix_dh(s_priv_, re_); !r)
        return r;
    }
    auto body = encrypt_and_hash(payload);
    if (!body)
      return body.error();
    out += *body;
    if (out.size() > noise_max_message)
      return noise_error(errc::invalid_argument, "handshake message exceeds 65535 bytes");
    return ok_result();
  };
  if (auto r = fail(run()); !r)
    return r.error();
  ++step_;
  return out;
}

result<std::string> noise_xx_state::read_message(std::string_view message) {
  if (failed_ || complete() || my_turn())
    return noise_error(errc::invalid_argument, "read_message out of turn");
  std::string payload;
  auto run = [&]() -> result<void> {
    if (message.size() > noise_max_message)
      return noise_error(errc::malformed, "handshake message exceeds 65535 bytes");
    if (step_ < 2) {  // token e
      if (message.size() < 32)
        return noise_error(errc::malformed, "handshake message too short for an ephemeral key");
      re_ = key_from(message);
      message.remove_prefix(32);
      mix_hash(as_view(re_));
    }
    if (step_ == 1) {  // ee
      if (auto r = mix_dh(e_priv_, re_); !r)
        return r;
    }
    if (step_ >= 1) {  // token s, encrypted since a key exists by now
      if (message.size() < 32 + tag_size)
        return noise_error(errc::malformed, "handshake message too short for a static key");
      auto s = decrypt_and_hash(message.substr(0, 32 + tag_size));
      if (!s)
        return noise_error(errc::verification_failed, "remote static key failed to decrypt");
      rs_ = key_from(*s);
      message.remove_prefix(32 + tag_size);
      // initiator: es = DH(e, rs); responder: se = DH(e, rs).
      if (auto r = mix_dh(e_priv_, rs_); !r)
        return r;
    }
    auto body = decrypt_and_hash(message);
    if (!body)
      return noise_error(errc::verification_failed, "handshake payload failed to decrypt");
    payload = std::move(*body);
    return ok_result();
  };
  if (auto r = fail(run()); !r)
    return r.error();
  ++step_;
  return payload;
}

result<std::pair<noise_cipher_state, noise_cipher_state>> noise_xx_state::split() const {
  if (!complete())
    return noise_error(errc::invalid_argument, "split before the handshake completed");
  auto [k1, k2] = hkdf2(ck_, {});
  noise_cipher_state i_to_r(k1), r_to_i(k2);
  if (role_ == role::initiator)
    return std::make_pair(i_to_r, r_to_i);
  return std::make_pair(r_to_i, i_to_r);
}

// --- libp2p payload ---------------------------------------------------------

noise_identity_payload sign_noise_payload(const private_key& identity,
                                          const x25519_key& static_public) {
  libp2p_public_key key{key_type::secp256k1, std::string(as_view(identity.public_key().compressed()))};
  return {key.encode(), identity.sign_sha256_der(signed_message(static_public))};
}

std::string encode_noise_payload(const noise_identity_payload& payload) {
  std::string out;
  put_bytes_field(out, 1, payload.identity_key);
  put_bytes_field(out, 2, payload.identity_sig);
  return out;
}

result<std::string> verify_noise_payload(std::string_view payload, const x25519_key& remote_static) {
  std::optional<std::string_view> identity_key, identity_sig;
  while (!payload.empty()) {
    auto f = next_field(payload);
    if (!f)
      return noise_error(errc::malformed, "truncated NoiseHandshakePayload");
    if (f->wire_type == 2 && f->number == 1)
      identity_key = f->bytes;
    else if (f->wire_type == 2 && f->number == 2)
      identity_sig = f->bytes;
    // Field 4 (extensions) and anything newer are not used here.
  }
  if (!identity_key || !identity_sig)
    return noise_error(errc::malformed, "NoiseHandshakePayload lacks identity_key or identity_sig");

  // Strict: the key's encoding is hashed into the peer ID the caller checks.
  auto key = libp2p_public_key::decode(*identity_key);
  if (!key)
    return noise_error(key.error().code, "identity_key: " + key.error().message);
  std::string message = signed_message(remote_static);
  bool valid = false;
  if (key->type == key_type::secp256k1) {
    auto secp = public_key::parse(key->data);
    valid = secp && verify_sha256_der(*secp, message, *identity_sig);
  } else {
    valid = verify_ed25519(key->data, message, *identity_sig);
  }
  if (!valid)
    return noise_error(errc::verification_failed,
                       "identity_sig does not sign the remote static key");
  return std::string(*identity_key);
}

// --- session ----------------------------------------------------------------

result<std::string> noise_session::encrypt(std::string_view plaintext) {
  std::string out;
  while (!plaintext.empty()) {
    auto chunk = plaintext.substr(0, noise_max_plaintext);
    auto ct = send_.encrypt_with_ad({}, chunk);
    if (!ct)
      return ct.error();
    append_frame(out, *ct);
    plaintext.remove_prefix(chunk.size());
  }
  return out;
}

result<std::string> noise_session::decrypt_frame(std::string_view ciphertext) {
  return recv_.decrypt_with_ad({}, ciphertext);
}

// --- libp2p handshake -------------------------------------------------------

result<noise_handshake> noise_handshake::create(noise_xx_state::role r, const private_key& identity,
                                                options opts) {
  auto s = opts.static_private ? result<x25519_key>(*opts.static_private) : random_x25519();
  if (!s)
    return s.error();
  auto st = noise_xx_state::create(r, {}, *s, opts.ephemeral_private);
  if (!st)
    return st.error();
  return noise_handshake(std::move(*st), identity, std::move(opts));
}

result<noise_handshake> noise_handshake::initiator(const private_key& identity, options opts) {
  return create(noise_xx_state::role::initiator, identity, std::move(opts));
}

result<noise_handshake> noise_handshake::responder(const private_key& identity, options opts) {
  return create(noise_xx_state::role::responder, identity, std::move(opts));
}

result<std::string> noise_handshake::write_message() {
  if (failed_)
    return noise_error(errc::invalid_argument, "write_message after a failed handshake");
  // Message 1 (index 0) carries nothing; messages 2 and 3 prove which
  // identity owns our static key.
  std::string payload;
  if (state_.message_index() > 0)
    payload = encode_noise_payload(sign_noise_payload(identity_, state_.local_static_public()));
  auto msg = state_.write_message(payload);
  if (!msg)
    return msg.error();
  std::string framed;
  append_frame(framed, *msg);
  return framed;
}

result<void> noise_handshake::read_message(std::string_view message) {
  auto payload = state_.read_message(message);
  if (!payload)
    return payload.error();
  // Message 1's payload is unauthenticated and libp2p leaves it empty; ignore it.
  if (state_.message_index() == 1)
    return ok_result();
  auto key = verify_noise_payload(*payload, state_.remote_static());
  if (!key) {
    failed_ = true;
    return key.error();
  }
  if (opts_.expected_remote_key && *opts_.expected_remote_key != *key) {
    failed_ = true;
    return noise_error(errc::verification_failed,
                       "remote identity key does not match the expected peer ID");
  }
  remote_identity_key_ = std::move(*key);
  return ok_result();
}

result<noise_session> noise_handshake::finish() const {
  // The Noise state completes before the payload check, so refuse here too.
  if (failed_)
    return noise_error(errc::verification_failed, "finish after a failed handshake");
  auto ciphers = state_.split();
  if (!ciphers)
    return ciphers.error();
  return noise_session(ciphers->first, ciphers->second, remote_identity_key_);
}

} // namespace annals::p2p
