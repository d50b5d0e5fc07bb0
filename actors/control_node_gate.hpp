#pragma once

#include "actors/storage_io.hpp"
#include "core/status_envelope.hpp"
#include "messages/actors.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace annals {

class store;

struct control_node_gate_config {
  /// Republish the current magnet link this often (seconds; 0 = never).
  /// status-go never does, so a member that missed the one announcement
  /// waits a week (status-app#10322).
  std::uint64_t republish_interval = 8 * 3600;
  /// Announce the current links again when a relay peer appears, at most
  /// once per this many seconds per community (0 = never): without a Waku
  /// store, a member that connects after an announcement would otherwise
  /// wait for the next republish. Off by default: the in-process relay's
  /// "peers" are its local subscribers, which never miss a link.
  std::uint64_t welcome_gap = 0;
  /// How long after a peer appears its welcome goes out (its topic
  /// subscription arrives meanwhile).
  std::chrono::milliseconds welcome_delay{2000};
  /// Where store reads and writes run (none: in line, for tests on the
  /// deterministic coordinator).
  storage_io_actor io = {};
};

struct control_node_gate_state {
  static inline const char* name = "control_node_gate";
  control_node_gate_config config;
  std::shared_ptr<store> db;
  magnetlink_publisher_actor publisher;
  std::set<std::string> republishing;  // communities with a republish timer
  std::set<std::string> publishing;    // info hashes with a publication in flight
  std::set<std::string> controlled;    // communities we publish links for
  /// The link of the torrent seeded in this run, by community: what a
  /// republish or a welcome announces (after a restart on another port the
  /// stored link names the old address in x.pe).
  std::map<std::string, std::string> current_links;
  std::map<std::string, std::chrono::steady_clock::time_point> welcomed;     // last welcome
  std::map<std::string, std::chrono::steady_clock::time_point> welcome_due;  // pending
  bool welcome_armed = false;  // a timer for the next due welcome runs

  // member half
  relay_actor relay;
  downloader_actor downloader;
  signal_bus_actor bus;
  std::map<std::string, magnetlink_channel> channels;  // by content topic
  /// Links refused, by (community ID, cause); accepted, by community ID.
  std::map<std::pair<std::string, std::string>, std::uint64_t> rejections;
  std::map<std::string, std::uint64_t> accepted;
  std::uint64_t publish_failures = 0;
};

/// status-go's handleCommunitiesHistoryArchivesSubscription, owner half: a
/// seeding signal becomes a magnet-link publication only where this node
/// holds the community's private key, and only once per torrent: a seed of
/// the torrent whose link was already published (startup, a week without
/// new messages) publishes nothing. status-go's HandleHistoryArchiveMagnetlinkMessage
/// is the member half: every refusal is counted by cause and emitted as
/// annals.magnetlinkRejected.
control_node_gate_actor::behavior_type
control_node_gate(control_node_gate_actor::stateful_pointer<control_node_gate_state> self,
                  control_node_gate_config config, std::shared_ptr<store> db,
                  magnetlink_publisher_actor publisher, relay_actor relay,
                  downloader_actor downloader, signal_bus_actor bus);

} // namespace annals
