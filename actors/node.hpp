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
#include <annals/node.hpp>

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

/// What a node's tests and benches attach that is not a setting: the clock
/// the scheduler reads, an observer of every stored, archived and imported
/// batch (load benches measure per-message latency with it), and the
/// libp2p host's store-query server (`annals run` attaches its relay's).
struct node_hooks {
  /// Unix seconds for the scheduler (tests move it by hand).
  unix_clock now = system_unix_clock();
  message_observer_actor observer;
  /// Answers store queries on the relay's I/O thread (the libp2p host's
  /// store_query); the node attaches its store to it. None: nothing is
  /// recorded or served.
  std::shared_ptr<store_query_server> store_server;
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
  node_hooks hooks;
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
  /// Member: when this node started listening for the community's links
  /// (wall clock), for link_patience.
  std::map<std::string, std::chrono::system_clock::time_point> listening_since;
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
  /// Stopping: the stages still going down, then the storage thread. The
  /// node goes down last, so its down message means the store and the
  /// torrent port are released (a host may start it again at once).
  std::optional<caf::error> stopping;
  std::set<caf::actor_addr> stopping_stages;
};

/// spawn_node (annals/node.hpp) with hooks.
caf::expected<node_actor> spawn_node(caf::actor_system& sys, node_config config,
                                     node_hooks hooks);

} // namespace annals
