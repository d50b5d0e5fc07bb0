#include "net/p2p/peer_id.hpp"

#include "core/hex.hpp"
#include "core/keccak.hpp"
#include "net/p2p/varint.hpp"

#include <vector>

namespace annals::p2p {

namespace {

// Multihash function codes.
constexpr std::uint64_t identity_code = 0x00;
constexpr std::uint64_t sha256_code = 0x12;
// Keys whose encoding fits in 42 bytes are inlined in the ID instead of hashed.
constexpr std::size_t max_inlined_key = 42;
// A sha256 ID is 34 bytes and an identity ID at most 44, i.e. at most 61
// base58 characters; anything much longer is refused before the quadratic decode.
constexpr std::size_t max_peer_id_text = 128;

constexpr char base58_alphabet[] =
    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

std::size_t expected_key_size(key_type type) {
  return type == key_type::ed25519 ? 32 : 33;
}

} // namespace

std::string libp2p_public_key::encode() const {
  std::string out;
  out.push_back(0x08);  // field 1, varint
  append_uvarint(out, static_cast<std::uint64_t>(type));
  out.push_back(0x12);  // field 2, length-delimited
  append_uvarint(out, data.size());
  out.append(data);
  return out;
}

result<libp2p_public_key> libp2p_public_key::decode(std::string_view bytes) {
  if (bytes.size() < 2 || bytes[0] != 0x08)
    return make_error(errc::malformed, "public key: does not start with the Type field");
  auto type = decode_uvarint(bytes.substr(1));
  if (!type)
    return make_error(errc::malformed, "public key: type: " + type.error().message);
  if (type->value != 1 && type->value != 2)
    return make_error(errc::unsupported,
                      "public key: key type " + std::to_string(type->value) +
                          " (only Ed25519 and secp256k1 are supported)");
  auto rest = bytes.substr(1 + type->size);
  if (rest.empty() || rest[0] != 0x12)
    return make_error(errc::malformed, "public key: Data field missing or out of order");
  auto length = decode_uvarint(rest.substr(1));
  if (!length)
    return make_error(errc::malformed, "public key: data length: " + length.error().message);
  auto data = rest.substr(1 + length->size);
  if (length->value != data.size())
    return make_error(errc::malformed, "public key: data length " + std::to_string(length->value) +
                                           " but " + std::to_string(data.size()) +
                                           " bytes follow");
  libp2p_public_key key{static_cast<key_type>(type->value), std::string(data)};
  if (key.data.size() != expected_key_size(key.type))
    return make_error(errc::malformed, "public key: " + std::to_string(key.data.size()) +
                                           "-byte key for type " +
                                           std::to_string(type->value));
  // Only the compressed form is deterministic; libp2p never sends 0x04 keys.
  if (key.type == key_type::secp256k1 && key.data[0] != 0x02 && key.data[0] != 0x03)
    return make_error(errc::malformed, "public key: secp256k1 key is not compressed");
  return key;
}

peer_id peer_id::from_public_key(const libp2p_public_key& key) {
  auto encoded = key.encode();
  std::string multihash;
  if (encoded.size() <= max_inlined_key) {
    append_uvarint(multihash, identity_code);
    append_uvarint(multihash, encoded.size());
    multihash += encoded;
  } else {
    append_uvarint(multihash, sha256_code);
    append_uvarint(multihash, 32);
    multihash += as_view(sha256(encoded));
  }
  return peer_id(std::move(multihash));
}

libp2p_public_key libp2p_public_key::secp256k1(const annals::public_key& key) {
  return {key_type::secp256k1, std::string(as_view(key.compressed()))};
}

peer_id peer_id::from_secp256k1(const annals::public_key& key) {
  return from_public_key(libp2p_public_key::secp256k1(key));
}

peer_id peer_id::from_ed25519(const std::array<std::uint8_t, 32>& key) {
  return from_public_key({key_type::ed25519, std::string(as_view(key))});
}

result<peer_id> peer_id::from_bytes(std::string_view multihash) {
  auto code = decode_uvarint(multihash);
  if (!code)
    return make_error(errc::malformed, "peer id: hash code: " + code.error().message);
  auto length = decode_uvarint(multihash.substr(code->size));
  if (!length)
    return make_error(errc::malformed, "peer id: digest length: " + length.error().message);
  auto digest = multihash.substr(code->size + length->size);
  if (length->value != digest.size())
    return make_error(errc::malformed, "peer id: digest length " + std::to_string(length->value) +
                                           " but " + std::to_string(digest.size()) +
                                           " bytes follow");
  if (code->value == identity_code) {
    if (digest.size() > max_inlined_key)
      return make_error(errc::malformed, "peer id: inlined key longer than 42 bytes");
    // An identity ID is only useful if it holds a key we can verify with.
    if (auto key = libp2p_public_key::decode(digest); !key)
      return make_error(key.error().code, "peer id: " + key.error().message);
  } else if (code->value == sha256_code) {
    if (digest.size() != 32)
      return make_error(errc::malformed, "peer id: sha256 digest is not 32 bytes");
  } else {
    return make_error(errc::unsupported,
                      "peer id: multihash code " + std::to_string(code->value));
  }
  return peer_id(std::string(multihash));
}

result<peer_id> peer_id::parse(std::string_view text) {
  if (text.size() > max_peer_id_text)
    return make_error(errc::malformed, "peer id: text longer than " +
                                           std::to_string(max_peer_id_text) + " characters");
  // CIDv1 forms ("bafz...") are valid in libp2p too, but Waku peers print and
  // accept the base58 multihash, so only that is parsed.
  auto raw = base58btc_decode(text);
  if (!raw)
    return make_error(errc::malformed, "peer id: " + raw.error().message);
  return from_bytes(*raw);
}

std::string peer_id::to_string() const {
  return base58btc_encode(multihash_);
}

std::optional<libp2p_public_key> peer_id::public_key() const {
  // from_bytes and from_public_key guarantee an identity digest decodes.
  if (static_cast<std::uint8_t>(multihash_[0]) != identity_code)
    return std::nullopt;
  auto key = libp2p_public_key::decode(std::string_view(multihash_).substr(2));
  return *key;
}

std::string base58btc_encode(std::string_view bytes) {
  std::size_t zeros = 0;
  while (zeros < bytes.size() && bytes[zeros] == 0)
    ++zeros;
  // Base-256 to base-58 by repeated multiply-and-add, least significant first.
  std::vector<std::uint8_t> digits;
  for (std::size_t i = zeros; i < bytes.size(); ++i) {
    unsigned carry = static_cast<std::uint8_t>(bytes[i]);
    for (auto& digit : digits) {
      carry += static_cast<unsigned>(digit) << 8;
      digit = static_cast<std::uint8_t>(carry % 58);
      carry /= 58;
    }
    while (carry > 0) {
      digits.push_back(static_cast<std::uint8_t>(carry % 58));
      carry /= 58;
    }
  }
  std::string out(zeros, '1');
  for (auto it = digits.rbegin(); it != digits.rend(); ++it)
    out.push_back(base58_alphabet[*it]);
  return out;
}

result<std::string> base58btc_decode(std::string_view text) {
  std::size_t ones = 0;
  while (ones < text.size() && text[ones] == '1')
    ++ones;
  std::vector<std::uint8_t> bytes;  // little-endian base 256
  for (std::size_t i = ones; i < text.size(); ++i) {
    const char* found = nullptr;
    for (const char* c = base58_alphabet; *c != '\0'; ++c)
      if (*c == text[i])
        found = c;
    if (found == nullptr)
      return make_error(errc::malformed, "base58: invalid character at offset " +
                                             std::to_string(i));
    unsigned carry = static_cast<unsigned>(found - base58_alphabet);
    for (auto& byte : bytes) {
      carry += static_cast<unsigned>(byte) * 58;
      byte = static_cast<std::uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push_back(static_cast<std::uint8_t>(carry & 0xff));
      carry >>= 8;
    }
  }
  std::string out(ones, '\0');
  for (auto it = bytes.rbegin(); it != bytes.rend(); ++it)
    out.push_back(static_cast<char>(*it));
  return out;
}

} // namespace annals::p2p
