// Waku relay on the network for an embedded node (14/WAKU2-MESSAGE over
// libp2p gossipsub, as status-go's nodes speak it). Give the handle to
// node_config::relay; without one a node runs on an in-process relay.
#pragma once

#include <annals/interfaces.hpp>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace annals {

/// [relay] of `annals run`, the part a host sets.
struct network_relay_settings {
  /// The node's libp2p key (64 hex characters, created with mode 0600 when
  /// missing): its peer ID stays the same across restarts. Empty: a fresh
  /// key each start.
  std::filesystem::path identity_file;
  /// Listen multiaddrs such as /ip4/0.0.0.0/tcp/60000; none: dial only.
  std::vector<std::string> listen;
  /// Addresses peers reach this host at that it cannot see (NAT, a port
  /// forward): /ip4/203.0.113.7/tcp/60000.
  std::vector<std::string> external_addresses;
  /// Peers kept connected: /ip4/…/tcp/…/p2p/<peer ID>.
  std::vector<std::string> static_peers;
  std::uint32_t cluster_id = 16;       // status-go's
  std::vector<std::uint32_t> shards{32};
  std::size_t max_connections = 256;
};

/// Binds the listen addresses, dials the static peers and spawns the actor
/// that owns the connections. Fails naming the cause (port in use, a bad
/// multiaddr, an unreadable key). Its lines go to annals' log. Stop it with
/// an exit message after the nodes that use it.
caf::expected<relay_actor> spawn_network_relay(caf::actor_system& sys,
                                               const network_relay_settings& settings);

} // namespace annals
