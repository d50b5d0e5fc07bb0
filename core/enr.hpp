// Ethereum Node Records (EIP-778) with the "v4" identity scheme and the
// fields Waku adds (waku-org/specs enr.md, relay-sharding.md): what a node
// says about itself, signed with its secp256k1 key, in discovery.
#pragma once

#include "core/identity.hpp"
#include "core/result.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace annals {

/// EIP-778's bound on an encoded record.
inline constexpr std::size_t enr_max_bytes = 300;

/// Bits of the `waku2` field.
enum waku2_capability : std::uint8_t {
  waku2_relay = 1,
  waku2_store = 2,
  waku2_filter = 4,
  waku2_lightpush = 8,
  waku2_sync = 16,
};

/// `rs` (cluster, then up to 255 shard indices) or `rsv` (cluster, then a
/// 1024-bit vector, bit i of shard i counted from the first byte's high bit).
struct relay_shards {
  std::uint16_t cluster = 0;
  std::vector<std::uint16_t> shards;  // ascending, each below 1024
};

/// The typed fields of a record; absent ones are nullopt or empty.
struct enr_fields {
  std::optional<std::array<std::uint8_t, 4>> ip;
  std::optional<std::uint16_t> tcp, udp;
  std::optional<std::array<std::uint8_t, 16>> ip6;
  std::optional<std::uint16_t> tcp6, udp6;
  std::optional<std::uint8_t> waku2;
  /// Binary multiaddrs of the `multiaddrs` field (framing checked here, their
  /// contents by the multiaddr codec).
  std::vector<std::string> multiaddrs;
  std::optional<relay_shards> shards;
};

struct enr_record {
  std::uint64_t seq = 0;
  public_key key;
  enr_fields fields;
  /// Every key with its value's RLP encoding, in the record's (sorted) order,
  /// the unknown ones included.
  std::vector<std::pair<std::string, std::string>> pairs;
  std::string signature;  // 64 bytes R||S
  std::string encoded;    // the record's RLP

  /// "enr:" + base64url of `encoded`.
  std::string text() const;
  /// keccak-256 of the 64-byte uncompressed key: discv5's node ID.
  hash256 node_id() const;
};

/// Decodes and verifies `enr:…` text. Errors are errc::malformed or
/// errc::verification_failed and name the field at fault.
result<enr_record> parse_enr(std::string_view text);
/// The same from the record's RLP.
result<enr_record> decode_enr(std::string_view rlp_bytes);
/// Builds and signs a record; fails when it would exceed enr_max_bytes or a
/// field cannot be encoded (more than 255 shards in `rs` form, a shard past
/// 1023, a multiaddr over 65,535 bytes).
result<enr_record> make_enr(const private_key& key, std::uint64_t seq, const enr_fields& fields);

} // namespace annals
