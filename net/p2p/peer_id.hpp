// libp2p keys and peer IDs (libp2p/specs peer-ids/peer-ids.md): the
// PublicKey protobuf, the multihash that names a peer, and its base58btc
// text form.
#pragma once

#include "core/identity.hpp"
#include "core/result.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace annals::p2p {

/// KeyType values of the PublicKey protobuf; RSA (0) and ECDSA (3) exist in
/// libp2p but no Waku peer uses them, so they are rejected as unsupported.
enum class key_type : std::uint8_t { ed25519 = 1, secp256k1 = 2 };

/// message PublicKey { required KeyType Type = 1; required bytes Data = 2; }
/// Data is the 32-byte Ed25519 key or the 33-byte compressed secp256k1 key.
struct libp2p_public_key {
  key_type type;
  std::string data;

  /// The deterministic encoding the spec demands (it is hashed into IDs):
  /// 0x08 type, 0x12 len data.
  std::string encode() const;
  /// Accepts exactly that encoding, so decode followed by encode gives back
  /// the same bytes and therefore the same peer ID.
  static result<libp2p_public_key> decode(std::string_view bytes);
  /// Our kind of identity: the 33-byte compressed secp256k1 key.
  static libp2p_public_key secp256k1(const annals::public_key& key);

  friend bool operator==(const libp2p_public_key& a, const libp2p_public_key& b) {
    return a.type == b.type && a.data == b.data;
  }
};

class peer_id {
public:
  /// Identity multihash of the encoded key when it is at most 42 bytes (all
  /// Ed25519 and secp256k1 keys), else sha256 multihash.
  static peer_id from_public_key(const libp2p_public_key& key);
  static peer_id from_secp256k1(const annals::public_key& key);
  static peer_id from_ed25519(const std::array<std::uint8_t, 32>& key);

  /// Parses the binary multihash, as carried in /p2p/ multiaddrs.
  static result<peer_id> from_bytes(std::string_view multihash);
  /// Parses the base58btc text form ("16Uiu2HAm...", "12D3KooW...").
  static result<peer_id> parse(std::string_view text);

  const std::string& bytes() const { return multihash_; }
  std::string to_string() const;

  /// The key inlined in an identity multihash; nullopt for a sha256 ID, whose
  /// key the peer must send separately (Noise handshake, identify).
  std::optional<libp2p_public_key> public_key() const;

  friend bool operator==(const peer_id& a, const peer_id& b) {
    return a.multihash_ == b.multihash_;
  }
  friend bool operator!=(const peer_id& a, const peer_id& b) { return !(a == b); }

private:
  explicit peer_id(std::string multihash) : multihash_(std::move(multihash)) {}
  std::string multihash_;
};

/// Bitcoin-alphabet base58; each leading zero byte becomes a leading '1'.
std::string base58btc_encode(std::string_view bytes);
/// Fails on characters outside the alphabet (0, O, I, l, and non-ASCII).
/// Quadratic in the input length, so callers bound what they pass.
result<std::string> base58btc_decode(std::string_view text);

} // namespace annals::p2p
