// What a relay host makes of an ENR: the peer it names and the addresses it
// can be dialled at, and the record a host gives of itself.
#pragma once

#include "core/enr.hpp"
#include "core/result.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace annals::p2p {

/// The peer ID of the record's secp256k1 key ("16Uiu2…").
std::string enr_peer_id(const enr_record& record);

/// Every address the record gives, as text multiaddrs ending in /p2p/<ID>:
/// ip + tcp, ip6 + tcp6 (tcp when tcp6 is absent, as EIP-778 says), then the
/// `multiaddrs` entries this codec reads (others are left out).
std::vector<std::string> enr_addresses(const enr_record& record);

/// The `multiaddrs` entries as text, "unsupported: <hex>" for one this
/// codec does not read (onion3, circuit relay).
std::vector<std::string> enr_multiaddr_texts(const enr_record& record);

/// The first address a TCP relay host can dial; an error naming the record's
/// peer when it has none.
result<std::string> enr_dial_address(const enr_record& record);

/// A `relay.peers` entry: a multiaddr with /p2p/, or an `enr:` record whose
/// dialable address is taken. The multiaddr to dial, or why not.
result<std::string> static_peer_address(std::string_view entry);

/// The fields of a host's own record from the addresses it advertises (text
/// multiaddrs, without /p2p/): the first /ip4/…/tcp/… as ip + tcp, the
/// first /ip6/…/tcp/… as ip6 + tcp6, every other one (more IPs, DNS names,
/// /ws) in `multiaddrs` while the record stays within 300 bytes; `waku2` and the shards as given.
enr_fields own_enr_fields(const std::vector<std::string>& advertised, std::uint8_t waku2,
                          std::optional<relay_shards> shards);

} // namespace annals::p2p
