// The addresses a node is reachable at. A socket bound to 0.0.0.0 or :: is
// reachable at every interface's address, but 0.0.0.0 itself means "this
// host" to whoever dials it, and 127.x reaches only the same host: neither
// may be told to a peer on another host. These functions turn what a node
// listens on into what it may advertise (identify listenAddrs, magnet x.pe,
// REST), per kind of peer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace annals {

/// One address of an interface that is up.
struct interface_address {
  std::string interface;  // "eth0"
  std::string ip;         // "10.77.0.2", "fd00::2" (no brackets, no zone)
  bool v6 = false;
  bool loopback = false;    // 127.0.0.0/8, ::1
  bool link_local = false;  // 169.254/16, fe80::/10: not routable, needs a zone
};

/// The addresses of this host's interfaces that are up (getifaddrs), in the
/// kernel's order; empty if the call fails.
std::vector<interface_address> local_interface_addresses();

/// Whether `ip` (text, no brackets) is 0.0.0.0 or ::.
bool is_wildcard_ip(std::string_view ip);
/// Whether `ip` (text, no brackets) is in 127.0.0.0/8 or is ::1 (or
/// ::ffff:127.x).
bool is_loopback_ip(std::string_view ip);

/// The IPs a socket bound to `bound_ip` may be advertised at to a peer:
/// for a wildcard, the interfaces' addresses of its family (IPv4 for
/// 0.0.0.0; IPv6 for ::), without link-local ones; loopback addresses only
/// when `to_loopback_peer` (a peer that reached us over loopback). A
/// specific address is itself, unless it is a loopback one and the peer is
/// not. Non-loopback addresses come first; no repeats.
std::vector<std::string> advertised_ips(std::string_view bound_ip,
                                        const std::vector<interface_address>& interfaces,
                                        bool to_loopback_peer);

/// The "IP:PORT"s a torrent listening on `listen_ip`:`port` is advertised at
/// (magnet x.pe): `external` when set, else advertised_ips for a peer on
/// another host, or for one on loopback when that gives nothing (a host on
/// loopback alone); at most `limit`.
std::vector<std::string> advertised_endpoints(std::string_view listen_ip, unsigned port,
                                              const std::string& external,
                                              const std::vector<interface_address>& interfaces,
                                              std::size_t limit = 4);

/// "ADDR:PORT" with IPv6 in brackets.
std::string format_host_port(std::string_view ip, unsigned port);

/// Splits "ADDR:PORT" / "[V6]:PORT" into the IP (no brackets) and the port;
/// false when it is not of that shape.
bool split_host_port(std::string_view text, std::string& ip, unsigned& port);

} // namespace annals
