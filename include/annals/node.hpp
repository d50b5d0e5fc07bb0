// Running annals nodes in a host's CAF actor system: the supported API.
//
//   struct host_config : caf::actor_system_config {
//     host_config() { annals::register_types(*this); }
//   };
//   caf::actor_system sys{cfg};
//   annals::node_config config;
//   config.data_dir = "/var/lib/annals";
//   config.subscribers.push_back(my_signal_sink);
//   auto node = annals::spawn_node(sys, config);   // caf::expected<node_actor>
//
// A node answers the requests of node_actor (annals/interfaces.hpp): create or
// join a community, status, archives held. What it does comes out as signals
// (annals/signals.hpp) to its subscribers; its log lines go where
// annals/log.hpp says. Everything else in annals' sources is private and may
// change without notice.
#pragma once

#include <annals/interfaces.hpp>
#include <annals/store_options.hpp>

#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace annals {

/// [store] of `annals run`, the Waku store part.
struct waku_store_settings {
  /// Record the watched communities' relay messages and answer store
  /// queries from them (with a libp2p relay; identify lists the protocol).
  bool serve = true;
  /// Query store peers when a community is watched and whenever a peer that
  /// serves the store connects (the relay pushes peer events): newest magnet
  /// links, then the channel messages since the last archive.
  bool sync = true;
  std::uint64_t max_age = 30 * 24 * 3600;  // seconds a recorded message is kept
  std::uint64_t max_messages = 1'000'000;  // recorded messages kept, newest first
  /// Pages of 100 one sync of one community reads at most from one peer.
  std::uint64_t max_sync_pages = 1000;
  /// Magnet-link messages asked for, newest first (handed to the gate
  /// newest first, so the older ones are merely stale to it).
  std::uint64_t magnetlink_page = 5;
  /// Owner: how often the recent channel traffic is checked against a store
  /// peer (message hashes only; what is missing is fetched by hash), as
  /// status-go's missing-message verification does. A message the relay
  /// lost on the way (a slow link dropped it, a partition) is archived all
  /// the same. Zero: never.
  std::chrono::seconds verify_interval{60};
  /// Queries to one store peer at most this often (its server answers 429
  /// past 20 a second).
  std::chrono::milliseconds query_spacing{70};
};

/// Adds every annals message type and annals' error category to the
/// config; call before the actor_system exists (CAF 0.17 cannot register
/// types later).
void register_types(caf::actor_system_config& cfg);

/// The actor system config of a process that runs annals nodes (the
/// `annals` binary, benches, tests, the embedding example): every type
/// registered, CAF's own logger quiet, `threads` scheduler threads. A host
/// with its own config calls register_types instead.
struct node_system_config : caf::actor_system_config {
  explicit node_system_config(std::size_t threads = 2);
};

/// Messages an actor handles before it lets the next one run, as
/// node_system_config sets it ("scheduler.max-throughput"). CAF 0.17's
/// default is unlimited, which lets one busy actor hold a scheduler thread
/// for seconds; a host with its own config should set it too.
inline constexpr int scheduler_max_throughput = 50;

/// [torrent]: the BitTorrent distribution backend.
struct torrent_settings {
  std::string listen = "0.0.0.0:0";   // ADDR:PORT; port 0 picks one
  bool loopback = false;              // TCP only, many peers per IP, no DHT/LSD
  bool dht = true;
  bool use_trackers = true;
  std::vector<std::string> trackers;  // announce-list of new torrents
  /// x.pe in published links: external_address, or the listen address (a
  /// wildcard as the interfaces' addresses; 127.x only on a loopback-only
  /// host).
  bool advertise_address = false;
  /// "IP:PORT" peers can reach this node's torrent port at when it cannot
  /// see that address itself (NAT, a port forward); told to trackers too.
  std::string external_address;
  /// DHT routers ("HOST:PORT"); empty = libtorrent's public ones.
  std::vector<std::string> dht_bootstrap;
  bool lsd = true;                    // local service discovery (multicast)
  /// Peers on private addresses (a LAN, a testbed): lifts libtorrent's DHT
  /// limit of one node per /24, which keeps a DHT of a few LAN hosts from
  /// forming.
  bool private_network = false;
};

/// [archives]: the owner's builds and links, the member's downloads.
struct archive_settings {
  std::uint64_t interval = 7 * 24 * 3600;     // seconds; also the partition
  std::uint64_t republish_interval = 8 * 3600;  // seconds; 0 = never
  /// Re-announce current links when a relay peer appears, at most this often
  /// (seconds; 0 = never). For network relays: a member connecting after an
  /// announcement otherwise waits for the republish. `annals run` uses 60.
  std::uint64_t welcome_gap = 0;
  std::uint64_t settle = 2;  // seconds a window stays open after its end
  std::chrono::seconds metadata_timeout{20};
  std::chrono::seconds stall_timeout{60};
  std::uint64_t import_rate = 0;  // messages per second; 0 = no limit
  /// A member with no verified magnet link this long after it started
  /// listening says so in its status (seconds; 0 = never).
  std::uint64_t link_patience = 600;
};

/// A node's settings, grouped as `annals run`'s TOML groups them.
struct node_config {
  std::filesystem::path data_dir;  // db/, identity.key, archivedata/, torrents/
  torrent_settings torrent;
  archive_settings archives;
  store_options store;  // RocksDB under data_dir/db
  /// The Waku store: what is recorded and served, and syncing from store
  /// peers. `annals run` syncs and serves by default; an embedder opts in.
  waku_store_settings waku_store{false, false};

  /// The relay to use ([relay] configures the libp2p one `annals run`
  /// spawns; spawn_inprocess_relay gives one for nodes of one actor system);
  /// a default handle makes the node spawn its own in-process relay (then
  /// only this node is on it).
  relay_actor relay;
  /// Subscribed before anything starts, so no signal is missed.
  std::vector<signal_sink_actor> subscribers;
  /// Names this node in observations and logs ("owner", "member3").
  std::string name = "node";
  /// Measure the scheduler's responsiveness (a probe actor, /metrics): 100
  /// wake-ups a second, so off unless asked for.
  bool probe_scheduler = false;
};

/// Opens the node's store and identity, starts its libtorrent session and
/// spawns its stages. Fails, naming the cause, when the data directory is
/// unusable or the torrent port is taken. Stop it with an exit message
/// (caf::exit_reason::user_shutdown); it stops what it spawned.
caf::expected<node_actor> spawn_node(caf::actor_system& sys, node_config config);

/// A Waku relay inside this actor system: every node given the same one
/// hears the others' messages (no network). Stop it after its nodes.
relay_actor spawn_inprocess_relay(caf::actor_system& sys);

} // namespace annals
