// A node in a host's actor system: call register_types before constructing
// the actor_system, then spawn_node. The `annals` binary does the same.
#pragma once

#include "actors/scheduler.hpp"
#include "actors/scheduler_probe.hpp"
#include "actors/storage_io.hpp"
#include "actors/store_sync.hpp"
#include "core/archive_format.hpp"
#include "core/identity.hpp"
#include "core/status_envelope.hpp"
#include "messages/actors.hpp"
#include "storage/store_options.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace annals {

class store;

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
  /// Answers store queries on the relay's I/O thread (the libp2p host's
  /// store_query); the node attaches its store to it. None: nothing is
  /// recorded or served.
  std::shared_ptr<store_query_server> store_server;

  /// The relay to use ([relay] configures the libp2p one `annals run` spawns); a default handle makes the node spawn its own
  /// in-process relay (then only this node is on it).
  relay_actor relay;
  /// Subscribed before anything starts, so no signal is missed.
  std::vector<signal_sink_actor> subscribers;
  /// Unix seconds for the scheduler (tests move it by hand).
  unix_clock now = system_unix_clock();
  /// Names this node in observations and logs ("owner", "member3").
  std::string name = "node";
  /// Optional: told of every batch of messages stored, archived or imported
  /// (load benches measure per-message latency with it).
  message_observer_actor observer;
  /// Measure the scheduler's responsiveness (actors/scheduler_probe): 100
  /// wake-ups a second, so off unless asked for.
  bool probe_scheduler = false;
};

/// A channel of an owned community whose messages this node keeps.
struct kept_channel {
  public_key community;
  topic4 topic{};
  std::string chat_id;
  /// Derived on the channel's first message: 65,356 PBKDF2 rounds each would
  /// make a community of 10,000 channels take minutes to start.
  std::optional<symmetric_key> key;
};

struct node_state {
  static inline const char* name = "node";
  node_config config;
  std::shared_ptr<store> db;
  private_key identity;
  signal_bus_actor bus;
  relay_actor relay;
  archive_builder_actor builder;
  archive_distribution_actor distribution;
  scheduler_actor scheduler;
  magnetlink_publisher_actor publisher;
  control_node_gate_actor gate;
  downloader_actor downloader;
  importer_actor importer;
  store_sync_actor store_sync;  // none unless the store serves or syncs
  scheduler_probe_actor probe;  // none unless config.probe_scheduler
  storage_io_actor io;          // the storage thread

  std::map<std::string, kept_channel> channels;  // by content topic
  /// Joined communities: their channel messages (from store syncs) are
  /// history, never queued for archiving.
  std::set<std::string> member_communities;
  std::map<std::string, std::vector<archive_message>> pending;  // community ID -> unsaved
  /// The same messages as they travelled, for the Waku store (empty when
  /// it does not serve); written in the same batch as `pending`.
  std::map<std::string, std::vector<stored_relay_message>> pending_relayed;
  bool records_relayed = false;  // the node serves the Waku store
  bool flush_armed = false;
  std::uint64_t kept = 0;
  std::uint64_t unreadable = 0;
  std::uint64_t store_failures = 0;
  std::uint64_t unsaved_dropped = 0;  // over max_unsaved_messages while writes failed
  bool store_failing = false;         // the last write was refused: retry on the timer
  bool flush_in_flight = false;       // a write of kept messages is on the storage thread
};

/// Opens the node's store and identity, starts its libtorrent session and
/// spawns its stages. Fails, naming the cause, when the data directory is
/// unusable or the torrent port is taken.
caf::expected<node_actor> spawn_node(caf::actor_system& sys, node_config config);

} // namespace annals
