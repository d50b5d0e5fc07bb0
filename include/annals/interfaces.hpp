// The typed interfaces a host application talks to: a node, the Waku relay
// it runs on, signal sinks, and the messages and status records they carry.
// The node's own stages (builder, distribution, downloader, ...) are private
// to annals; their interfaces are in its sources, not here.
#pragma once

#include <annals/errors.hpp>
#include <annals/signals.hpp>
#include <annals/status.hpp>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace annals {

// -- errors --------------------------------------------------------------------------

/// The CAF error category of annals' errc codes (register_types adds it).
inline constexpr caf::atom_value error_category = caf::atom("annals");

/// The annals error a node's actor replied with (its code and detail);
/// nullopt for CAF's own errors (timeouts, a receiver that went down).
std::optional<error> from_caf_error(const caf::error& err);

// -- atoms ---------------------------------------------------------------------------
using publish_atom = caf::atom_constant<caf::atom("publish")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("unsubscr")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using create_atom = caf::atom_constant<caf::atom("create")>;
using peers_atom = caf::atom_constant<caf::atom("peers")>;
using relay_atom = caf::atom_constant<caf::atom("relay")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using index_atom = caf::atom_constant<caf::atom("index")>;
using join_atom = caf::atom_constant<caf::atom("join")>;
using peer_info_atom = caf::atom_constant<caf::atom("peerinfo")>;
using store_query_atom = caf::atom_constant<caf::atom("storequery")>;

// -- the status contract (include/annals/status.hpp) ----------------------------------------
// Every actor below answers `status_atom` with a component_status: the run
// status lines, the REST API and /metrics read nothing else.

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, status_metric& x) {
  return f(caf::meta::type_name("annals::status_metric"), x.name, x.help, x.kind, x.labels,
           x.value);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, status_histogram& x) {
  return f(caf::meta::type_name("annals::status_histogram"), x.name, x.help, x.bounds, x.counts,
           x.sum, x.count);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, component_status& x) {
  return f(caf::meta::type_name("annals::component_status"), x.component, x.state, x.healthy,
           x.details, x.metrics, x.histograms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, relay_peer_info& x) {
  return f(caf::meta::type_name("annals::relay_peer_info"), x.peer_id, x.address, x.protocols,
           x.agent, x.connected_unix_ms, x.inbound, x.source);
}

// -- relay -----------------------------------------------------------------------------

/// A 14/WAKU2-MESSAGE as it crossed the relay. The message stays in its wire
/// bytes so a relay forwards it without re-encoding (gossipsub's message ID is
/// sha256 of exactly these bytes); the decoded fields ride along for routing.
struct waku_envelope {
  std::string pubsub_topic;
  std::string content_topic;
  std::string message;  // serialized annals::waku::WakuMessage
  std::string hash;     // deterministic message hash, 32 bytes
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, waku_envelope& x) {
  return f(caf::meta::type_name("annals::waku_envelope"), x.pubsub_topic, x.content_topic,
           x.message, x.hash);
}

/// Receives relayed messages that match its subscription.
using relay_sink_actor = caf::typed_actor<
  // A message on a subscribed pubsub topic and content topic.
  caf::reacts_to<waku_envelope>>;

/// A relay peer came, told what it serves, or went: pushed to whoever
/// subscribed, so nobody polls the peer list.
struct relay_peer_event {
  enum kind_type : std::uint8_t { connected = 0, identified = 1, disconnected = 2 };
  std::string peer_id;
  std::uint8_t kind = connected;
  std::vector<std::string> protocols;  // identified: what identify listed
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, relay_peer_event& x) {
  return f(caf::meta::type_name("annals::relay_peer_event"), x.peer_id, x.kind, x.protocols);
}

using relay_peer_sink_actor = caf::typed_actor<
  // A peer connected, was identified or disconnected.
  caf::reacts_to<relay_peer_event>>;

/// Waku relay: pub/sub over pubsub topics with content-topic filters. The
/// in-process backend connects every node of one actor system; the libp2p
/// backend speaks the same interface to the network.
using relay_actor = caf::typed_actor<
  // Publishes a serialized WakuMessage on a pubsub topic; replies with its
  // deterministic hash (hex).
  caf::replies_to<publish_atom, std::string, std::string>::with<std::string>,
  // Delivers messages on the pubsub topic whose content topic is listed
  // (all when the list is empty) to the sink; repeated calls add topics.
  caf::reacts_to<subscribe_atom, std::string, std::vector<std::string>, relay_sink_actor>,
  // Removes every subscription of the sink.
  caf::reacts_to<unsubscribe_atom, relay_sink_actor>,
  // Pushes peer events to the sink from now on (the peers connected and
  // identified so far first); dropped when the sink terminates.
  caf::reacts_to<subscribe_atom, peers_atom, relay_peer_sink_actor>,
  // Names of the peers this relay reaches (node IDs or peer IDs).
  caf::replies_to<peers_atom>::with<std::vector<std::string>>,
  // The peers with what identify told of them, for operators.
  caf::replies_to<peer_info_atom>::with<std::vector<relay_peer_info>>,
  // Sends one Waku store query (13/WAKU2-STORE v3 request bytes) to a peer
  // (empty: any connected peer that serves the store); replies with the
  // answer's bytes, or an error naming why there is none.
  caf::replies_to<store_query_atom, std::string, std::string>::with<std::string>,
  // Peers, messages in and out, refusals and drops.
  caf::replies_to<status_atom>::with<component_status>>;

// -- signal bus ----------------------------------------------------------------------

/// Receives signals from the bus.
using signal_sink_actor = caf::typed_actor<
  // One status-go or annals signal.
  caf::reacts_to<signal>>;

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, transfer_source& x) {
  return f(caf::meta::type_name("annals::transfer_source"), x.address, x.bytes);
}

/// What a node holds of a community, for operators, demos and tests.
struct community_status {
  std::string community_id;
  std::string role;                    // "owner" or "member"
  std::uint64_t messages = 0;          // stored
  std::uint64_t unarchived = 0;        // owner: stored but in no archive yet
  std::uint64_t archives = 0;          // recorded (built or downloaded)
  std::uint64_t imported = 0;          // archives imported
  std::uint64_t bytes_fetched = 0;     // payload bytes of the last finished download
  std::uint64_t magnetlink_clock = 0;   // newest link accepted (member) or published (owner)
  std::string last_magnet_uri;
  /// Member: the clock of the link last_magnet_uri came from, once fetched
  /// whole; below magnetlink_clock a newer link is not fetched yet.
  std::uint64_t completed_clock = 0;
  /// Member: since the node started, a store peer answered its query for
  /// the community's newest links or a signed link came on the relay.
  bool links_checked = false;
  /// Token-gated: the hash-ratchet key its archives wait for (empty: none).
  std::string missing_key;
  /// Member: what its download is doing ("waiting for metadata (attempt
  /// 1/2)", "fetching the index", "fetching archives: 3 of 7 recorded";
  /// empty when none runs) and why the last one failed (empty: it did not).
  std::string download;
  std::string last_error;
  /// The running download: bytes in place of what it wants, payload rate
  /// and peers (all 0 when none runs or before the index is read).
  std::uint64_t download_bytes_done = 0;
  std::uint64_t download_bytes_total = 0;
  std::uint64_t download_rate = 0;  // bytes/s
  std::uint64_t download_peers = 0;
  /// Member: who sent the community's archive bytes since the node started
  /// (a peer's IP, a web seed's URL), most first.
  std::vector<transfer_source> download_sources = {};
  /// What an operator should know and the node cannot fix ("no magnet link
  /// seen for this community since …"); empty: nothing.
  std::vector<std::string> warnings = {};
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, community_status& x) {
  return f(caf::meta::type_name("annals::community_status"), x.community_id, x.role, x.messages,
           x.unarchived, x.archives, x.imported, x.bytes_fetched, x.magnetlink_clock, x.last_magnet_uri,
           x.missing_key, x.download, x.last_error, x.download_bytes_done, x.download_bytes_total,
           x.download_rate, x.download_peers, x.download_sources, x.completed_clock,
           x.links_checked, x.warnings);
}

/// One archive a node holds, for `/archive/v1/communities/{id}`.
struct archive_entry {
  std::string id;             // 0x + keccak-256 hex
  std::uint64_t from = 0;     // unix s
  std::uint64_t to = 0;       // unix s, exclusive
  bool imported = false;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, archive_entry& x) {
  return f(caf::meta::type_name("annals::archive_entry"), x.id, x.from, x.to, x.imported);
}

// -- the node -------------------------------------------------------------------------

/// A community this node creates and controls.
struct community_spec {
  std::string private_key_hex;           // empty: generate one
  std::vector<std::string> channel_ids;  // chat ID = communityID + channel ID
  /// Token-gated: archives and index encrypted with the newest key of
  /// `keys_file` (hash-ratchet keys, `annals hrkey`), as status-go does.
  bool encrypted = false;
  std::string keys_file = {};
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, community_spec& x) {
  return f(caf::meta::type_name("annals::community_spec"), x.private_key_hex, x.channel_ids,
           x.encrypted, x.keys_file);
}

/// A community this node joins as a member.
struct membership_spec {
  std::string community_id;              // 0x + 66 hex
  std::vector<std::string> channel_ids;
  /// Token-gated: the hash-ratchet keys that open its archives.
  std::string keys_file = {};
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, membership_spec& x) {
  return f(caf::meta::type_name("annals::membership_spec"), x.community_id, x.channel_ids,
           x.keys_file);
}

/// The node supervisor: owns the stages, the store and the identity, and keeps
/// the messages relayed on its owned communities' channels (what the owner
/// archives; status-go's storeWakuMessages).
using node_actor = relay_sink_actor::extend<
  // Creates (or re-opens) an owned community and starts its archive task;
  // replies with the community ID.
  caf::replies_to<create_atom, community_spec>::with<std::string>,
  // Joins a community as a member: listens for its magnet links, downloads
  // and imports its archives; replies with the community ID.
  caf::replies_to<join_atom, membership_spec>::with<std::string>,
  // The node's own status first, then each stage's (a stage that does not
  // answer within 2 s is reported as "not answering"; the builder and the
  // importer as busy).
  caf::replies_to<status_atom>::with<std::vector<component_status>>,
  // What the node holds of a community.
  caf::replies_to<status_atom, std::string>::with<community_status>,
  // Every community it owns or joined, as status.
  caf::replies_to<index_atom>::with<std::vector<community_status>>,
  // The archives it holds of a community, oldest first.
  caf::replies_to<index_atom, std::string>::with<std::vector<archive_entry>>,
  // Adds a signal subscriber (forwarded to the bus).
  caf::reacts_to<subscribe_atom, signal_sink_actor>,
  // The relay this node publishes to and listens on.
  caf::replies_to<relay_atom>::with<relay_actor>,
  // Internal: write kept channel messages to the store.
  caf::reacts_to<flush_atom>>;

} // namespace annals
