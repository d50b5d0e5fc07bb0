// The multiaddr subset a Waku peer needs: /ip4, /ip6, /tcp, /udp, /dns,
// /dns4, /dns6, /dnsaddr, /ws, /wss and /p2p, in text form (config, logs)
// and binary form (identify listenAddrs, ENR `multiaddrs`).
#pragma once

#include "core/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace annals::p2p {

/// Multicodec protocol codes, written as uvarints in the binary form.
enum class multiaddr_protocol : std::uint64_t {
  ip4 = 4,
  tcp = 6,
  ip6 = 41,
  dns = 53,
  dns4 = 54,
  dns6 = 55,
  dnsaddr = 56,
  udp = 273,
  p2p = 421,
  ws = 477,
  wss = 478,
};

struct multiaddr_component {
  multiaddr_protocol protocol;
  /// The value in binary form: 4 or 16 address bytes, a 2-byte big-endian
  /// port, nothing for /ws and /wss, the peer-id multihash or the host name
  /// (without its length prefix) for /p2p and /dns*.
  std::string value;

  friend bool operator==(const multiaddr_component& a, const multiaddr_component& b) {
    return a.protocol == b.protocol && a.value == b.value;
  }
};

class multiaddr {
public:
  /// "/ip4/127.0.0.1/tcp/60021/p2p/16Uiu2HAm..."; strict: no empty or
  /// trailing components, no leading zeros in ports or IPv4 octets.
  static result<multiaddr> parse(std::string_view text);
  /// The binary form: (uvarint code || value)*.
  static result<multiaddr> from_bytes(std::string_view bytes);

  std::string to_string() const;
  std::string to_bytes() const;
  const std::vector<multiaddr_component>& components() const { return components_; }

  friend bool operator==(const multiaddr& a, const multiaddr& b) {
    return a.components_ == b.components_;
  }

private:
  std::vector<multiaddr_component> components_;
};

/// What a TCP dial needs from a multiaddr: "/ip4|ip6/ADDR/tcp/PORT[/p2p/ID]".
struct tcp_address {
  std::string ip;  // 4 or 16 address bytes
  std::uint16_t port = 0;
  std::string peer;  // the /p2p/ peer-id multihash bytes, empty when not named
};

/// Parses a dialable or listenable TCP multiaddr; /ws, /wss, /udp and host
/// names are refused as unsupported, a missing address or port as invalid.
/// Errors name `text`.
result<tcp_address> parse_tcp_address(std::string_view text);

/// Whether a host can listen on `text` (a TCP multiaddr), checked before
/// anything binds; the error names `text` and the problem.
result<void> check_listen_address(std::string_view text);
/// Whether `text` can be announced as an address this host is reachable at
/// (an external address): a TCP multiaddr with a real IP and port and no
/// /p2p/ (the host appends its own ID).
result<void> check_external_address(std::string_view text);
/// Whether `text` names a peer a host can dial and authenticate: a TCP
/// multiaddr ending in /p2p/<ID> whose ID embeds the public key Noise checks.
result<void> check_peer_address(std::string_view text);

} // namespace annals::p2p
