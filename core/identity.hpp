// secp256k1 keys and the status-go signature scheme: 65-byte recoverable
// signatures R||S||V with V in {0,1} over keccak256(payload).
#pragma once

#include "core/hex.hpp"
#include "core/result.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace annals {

using signature65 = std::array<std::uint8_t, 65>;

class public_key {
public:
  /// Parses a 33-byte compressed or 65-byte uncompressed (0x04...) key.
  static result<public_key> parse(std::string_view bytes);
  /// Parses a community ID: "0x" + 66 hex characters.
  static result<public_key> from_community_id(std::string_view text);

  const std::array<std::uint8_t, 33>& compressed() const { return compressed_; }
  std::array<std::uint8_t, 65> uncompressed() const;

  /// "0x" + hex of the compressed key: status-go's community ID.
  std::string community_id() const { return to_hex0x(compressed_); }

  friend bool operator==(const public_key& a, const public_key& b) {
    return a.compressed_ == b.compressed_;
  }
  friend bool operator!=(const public_key& a, const public_key& b) { return !(a == b); }

private:
  std::array<std::uint8_t, 33> compressed_{};
};

class private_key {
public:
  /// A fresh key from the operating system's CSPRNG.
  static private_key generate();
  /// 32 raw bytes; fails when the scalar is zero or not below the curve order.
  static result<private_key> from_bytes(std::string_view bytes);
  /// Reads a key file: 64 hex characters (optional 0x, trailing newline ok).
  static result<private_key> load(const std::filesystem::path& file);
  /// The key in `file`, or a fresh one written there (mode 0600) when the
  /// file does not exist: a node's identity survives restarts.
  static result<private_key> load_or_create(const std::filesystem::path& file);
  /// Writes the key as hex with mode 0600; refuses to replace an existing file.
  result<void> save(const std::filesystem::path& file) const;

  const std::array<std::uint8_t, 32>& bytes() const { return bytes_; }
  annals::public_key public_key() const;

  /// Recoverable signature over a 32-byte digest.
  signature65 sign(const hash256& digest) const;
  /// status-go's crypto.Sign(keccak256(payload)).
  signature65 sign_keccak(std::string_view payload) const;
  /// libp2p's secp256k1 signature (Noise handshake, signed peer records):
  /// ECDSA over SHA-256(message), DER-encoded.
  std::string sign_sha256_der(std::string_view message) const;
  /// A 64-byte R||S signature (low S, deterministic per RFC 6979) over a
  /// 32-byte digest: the ENR "v4" scheme.
  std::array<std::uint8_t, 64> sign_compact(const hash256& digest) const;

private:
  std::array<std::uint8_t, 32> bytes_{};
};

/// Recovers the signer of a recoverable signature (V must be 0 or 1, as
/// go-ethereum's Ecrecover requires).
result<public_key> recover(const hash256& digest, std::string_view signature);
/// Checks a libp2p secp256k1 signature (DER over SHA-256(message)). High-S
/// signatures, which other implementations emit, are normalized first.
bool verify_sha256_der(const public_key& key, std::string_view message, std::string_view der);

/// Checks a 64-byte R||S signature over `digest`; a high-S signature is
/// refused, as go-ethereum's VerifySignature refuses it.
bool verify_compact(const public_key& key, const hash256& digest, std::string_view signature);

/// The same, taking a high-S signature as its low-S twin: discv5's identity
/// proof does not require low S and other implementations may send either.
bool verify_compact_any_s(const public_key& key, const hash256& digest,
                          std::string_view signature);
/// secp256k1 ECDH as discv5 uses it: the shared point itself, compressed
/// (33 bytes), not a hash of it.
std::array<std::uint8_t, 33> ecdh_compressed(const private_key& own, const public_key& peer);
/// recover(keccak256(payload), signature).
result<public_key> recover_keccak(std::string_view payload, std::string_view signature);

} // namespace annals
