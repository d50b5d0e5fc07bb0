// Every typed actor interface of a node, and the messages between them. The
// pipeline mirrors status-go's signal-and-subscription flow:
//   relay --envelope--> node (stores channel messages)
//   scheduler --build--> archive builder --signals--> bus
//   scheduler --seed--> distribution (BitTorrent) --historyArchivesSeeding--> bus
//   bus --> control-node gate --publish--> publisher
//   publisher --WakuMessage on <communityID>-magnetlinks--> relay
//   relay --> gate (member) --fetch--> downloader --fetch/want/progress--> distribution
//   downloader --import--> importer
#pragma once

#include "core/distribution.hpp"
#include <annals/interfaces.hpp>

#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace annals {

// -- atoms of the private stages (annals/interfaces.hpp has the public ones) ---------
using build_atom = caf::atom_constant<caf::atom("build")>;
using seed_atom = caf::atom_constant<caf::atom("seed")>;
using unseed_atom = caf::atom_constant<caf::atom("unseed")>;
using start_atom = caf::atom_constant<caf::atom("start")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using poll_atom = caf::atom_constant<caf::atom("poll")>;
using fetch_atom = caf::atom_constant<caf::atom("fetch")>;
using want_atom = caf::atom_constant<caf::atom("want")>;
using progress_atom = caf::atom_constant<caf::atom("progress")>;
using save_atom = caf::atom_constant<caf::atom("save")>;
using import_atom = caf::atom_constant<caf::atom("import")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using republish_atom = caf::atom_constant<caf::atom("republish")>;
using received_atom = caf::atom_constant<caf::atom("received")>;
using listen_atom = caf::atom_constant<caf::atom("listen")>;
using store_answer_atom = caf::atom_constant<caf::atom("storeans")>;
using sync_atom = caf::atom_constant<caf::atom("sync")>;
using progressed_atom = caf::atom_constant<caf::atom("progressed")>;
using checked_atom = caf::atom_constant<caf::atom("checked")>;

/// The relay on a libp2p network (see net/p2p/host.hpp): the relay
/// interface plus what only a networked relay has.
using libp2p_relay_actor = relay_actor::extend<
  // Internal, from the host's I/O thread: a gossipsub message accepted on a
  // subscribed pubsub topic (topic, WakuMessage bytes, sender peer ID).
  caf::reacts_to<received_atom, std::string, std::string, std::string>,
  // Internal, from the host's I/O thread: the outcome of store query `id`
  // (answer bytes, or the reason there is none when the flag is false).
  caf::reacts_to<store_answer_atom, std::uint64_t, bool, std::string>,
  // Internal, from the host's I/O thread: a peer came, was identified or went.
  caf::reacts_to<relay_peer_event>,
  // Our peer ID and listen multiaddrs (with /p2p/).
  caf::replies_to<listen_atom>::with<std::string, std::vector<std::string>>,
  // Replaces the static peers (a config reload): new ones are dialled,
  // dropped ones no longer redialled; each change is logged.
  caf::reacts_to<peers_atom, std::vector<std::string>>>;

/// Fans signals out to every subscriber: the event writer, the demo's
/// progress lines, the control-node gate, a host app.
using signal_bus_actor = caf::typed_actor<
  // Emits a signal to all current subscribers, in emission order.
  caf::reacts_to<publish_atom, signal>,
  // Adds a subscriber; it is dropped when it terminates.
  caf::reacts_to<subscribe_atom, signal_sink_actor>,
  // Removes a subscriber.
  caf::reacts_to<unsubscribe_atom, signal_sink_actor>,
  // Subscribers and signals emitted, by name.
  caf::replies_to<status_atom>::with<component_status>>;

// -- message observers (load benches, tests) ----------------------------------------

/// What happened to a batch of messages in one node: stored by the owner
/// (relay traffic kept), put in a committed archive, imported by a member,
/// or posted (a traffic generator's message accepted by its relay).
struct message_observation {
  enum kind_type : std::uint8_t { stored = 0, archived = 1, imported = 2, posted = 3 };
  std::string node;          // node_config::name
  std::string community_id;
  std::uint8_t kind = stored;
  std::vector<std::string> hashes;  // message hashes (bytes)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_observation& x) {
  return f(caf::meta::type_name("annals::message_observation"), x.node, x.community_id, x.kind,
           x.hashes);
}

/// Receives every observation of the nodes that name it in their config.
using message_observer_actor = caf::typed_actor<
  // One batch of messages that reached a stage.
  caf::reacts_to<message_observation>>;

// -- archive pipeline ------------------------------------------------------------------

/// What the scheduler asks the builder for: status-go's
/// CreateHistoryArchiveTorrentFromDB(community, topics, from, to, partition),
/// where `from` is the builder's to know: the last end date, and every
/// message still waiting to be archived below `to`.
struct build_job {
  std::string community_id;
  std::uint64_t to = 0;  // unix s, exclusive
  std::uint64_t partition = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, build_job& x) {
  return f(caf::meta::type_name("annals::build_job"), x.community_id, x.to, x.partition);
}

struct build_outcome {
  std::string community_id;
  std::uint64_t from = 0;       // the oldest window built (a late one included)
  std::uint64_t to = 0;         // the new end date
  std::uint64_t archives = 0;   // new archives
  std::uint64_t messages = 0;   // messages in them
  std::uint64_t dropped = 0;    // messages over the 30 MB cap
  bool torrent_exists = false;  // a torrent exists (now or from earlier builds)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, build_outcome& x) {
  return f(caf::meta::type_name("annals::build_outcome"), x.community_id, x.from, x.to,
           x.archives, x.messages, x.dropped, x.torrent_exists);
}

/// Builds archives off the actor threads (a detached actor).
using archive_builder_actor = caf::typed_actor<
  // Archives every stored message not yet archived with a timestamp below
  // `to` (late ones in one extra window), rewrites the torrent, commits
  // crash-safely; emits creating and created or noHistoryArchivesCreated.
  caf::replies_to<build_atom, build_job>::with<build_outcome>,
  // Builds, archives and messages archived, build durations (answered
  // between builds: a build in progress holds it).
  caf::replies_to<status_atom>::with<component_status>>;

/// What a distribution backend reports of one community's fetch.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, archive_set_summary& x) {
  return f(caf::meta::type_name("annals::archive_set_summary"), x.name, x.data_size,
           x.index_size);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, archive_slot& x) {
  return f(caf::meta::type_name("annals::archive_slot"), x.id, x.offset, x.size);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fetch_progress& x) {
  return f(caf::meta::type_name("annals::fetch_progress"), x.located, x.summary, x.refusal,
           x.failure, x.peer_error, x.received, x.wanted_done, x.wanted_total, x.rate, x.peers,
           x.index_ready, x.ready, x.sources);
}

/// The distribution seam: how a community's archive directory reaches its
/// members. Everything is keyed by community ID and archive ID, never by a
/// backend's own handles, so the owner's scheduler, the member's downloader
/// and `annals archive fetch` work with any backend. BitTorrent is the
/// first (actors/torrent_distribution); status-go's Codex backend (one CID
/// per archive) would be a second behind the same handlers.
using archive_distribution_actor = caf::typed_actor<
  // Owner: serves the community's archive directory (re-reads it when it
  // changed); replies with the locator members fetch it by (a magnet link);
  // emits historyArchivesSeeding.
  caf::replies_to<seed_atom, std::string>::with<std::string>,
  // Stops serving or fetching the community; emits historyArchivesUnseeded
  // when it was served.
  caf::reacts_to<unseed_atom, std::string>,
  // Member: starts fetching the community's archive set by locator (a
  // magnet link or a .torrent file), nothing wanted yet, replacing any
  // earlier fetch of it; the peers ("ADDR:PORT") are dialled directly.
  // Replies with the fetch's ID (an info hash).
  caf::replies_to<fetch_atom, std::string, std::string, std::vector<std::string>>::with<
    std::string>,
  // Member: wants the index of the community's set (once it is located);
  // with `true` also all of `data` behind it (a member holding none of the
  // set wants every archive, so they need not wait for the index).
  caf::reacts_to<index_atom, std::string, bool>,
  // Member: wants these archives of the fetched index (ID and place in
  // `data`, so a backend never reads the index, which may be encrypted).
  caf::reacts_to<want_atom, std::string, std::vector<archive_slot>>,
  // Member: where the community's fetch stands. The actor that started the
  // fetch is sent `progressed` whenever it moved (metadata, pieces, a flush,
  // an error), so it asks when there is something new.
  caf::replies_to<progress_atom, std::string>::with<fetch_progress>,
  // Member: the fetch holds what was wanted; keep serving it after a
  // restart (BitTorrent: writes torrents/<communityID>.torrent).
  caf::replies_to<save_atom, std::string>::with<bool>,
  // Where it listens, what it serves and fetches, peers, rates and bytes
  // per community.
  caf::replies_to<status_atom>::with<component_status>>;

/// status-go's interval tasks, one per owned community.
using scheduler_actor = caf::typed_actor<
  // Starts the community's task with status-go's startup catch-up; a second
  // start for a running community is ignored.
  caf::reacts_to<start_atom, std::string>,
  // Stops the community's task (disable, leave) and unseeds it.
  caf::reacts_to<stop_atom, std::string>,
  // Internal: a task's timer fired; the number tells stale timers apart.
  caf::reacts_to<tick_atom, std::string, std::uint64_t>,
  // Running tasks, builds asked for and failed.
  caf::replies_to<status_atom>::with<component_status>>;

/// Signs and sends the magnet-link message of an owned community.
using magnetlink_publisher_actor = caf::typed_actor<
  // Publishes the magnet link with clock = max(now ms, last clock + 1);
  // records clock and URI; replies with the clock; emits magnetlinkPublished.
  caf::replies_to<publish_atom, std::string, std::string>::with<std::uint64_t>,
  // Links published and refused by the relay, per community.
  caf::replies_to<status_atom>::with<component_status>>;

/// The one place that decides who may publish and whose links count. Owner:
/// when the scheduler has seeded a torrent, asks for publication only where
/// this node holds the community's private key, once per new torrent, and
/// republishes the current link on a period. Member: a magnet-link message is acted on only when it
/// is signed by the community, this node is not its control node, its clock
/// is not older than the last one and its URI is new.
/// Where a store sync's magnet links go: the envelopes it found, then word
/// that a store peer answered the community's query for its newest links.
using link_sink_actor = relay_sink_actor::extend<
  // A store peer answered the community's newest-links query (sent after
  // the envelopes that answer held).
  caf::reacts_to<checked_atom, std::string>>;

using control_node_gate_actor = caf::typed_actor<
  // The scheduler seeded the community's torrent under this magnet link:
  // published if this node controls the community and the torrent is new.
  caf::reacts_to<seed_atom, std::string, std::string>,
  // Internal: the republish period of a community elapsed.
  caf::reacts_to<republish_atom, std::string>,
  // A relay peer came or went: newcomers hear the current links.
  caf::reacts_to<relay_peer_event>,
  // Internal: a welcome is due.
  caf::reacts_to<tick_atom>,
  // A message on a magnetlinks content topic this gate listens to.
  caf::reacts_to<waku_envelope>,
  // Listens for the magnet links of a joined community; replies once the
  // relay subscription is on its way (before any later publish).
  caf::replies_to<join_atom, std::string>::with<bool>,
  // A store sync asked a peer for the community's newest links and handed
  // over what it found: the downloader hears it after those links' verdicts.
  caf::reacts_to<checked_atom, std::string>,
  // Links accepted and rejected (by reason), publications asked for.
  caf::replies_to<status_atom>::with<component_status>>;

/// What a member's download of a community is doing, for status.
struct download_status {
  std::uint64_t bytes_fetched = 0;  // payload bytes of the last finished download
  std::string state;                // empty: no download runs
  std::string last_error;           // of the last download that failed
  std::uint64_t bytes_done = 0;     // of what the running download wants
  std::uint64_t bytes_total = 0;
  std::uint64_t rate = 0;           // bytes/s
  std::uint64_t peers = 0;
  /// Who sent this node the community's archive bytes since it started.
  std::vector<transfer_source> sources = {};
  /// Since the node started, a store peer answered the community's query for
  /// its newest links, or a signed link of it came on the relay: only then
  /// can "nothing newer to fetch" be told.
  bool links_checked = false;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, download_status& x) {
  return f(caf::meta::type_name("annals::download_status"), x.bytes_fetched, x.state,
           x.last_error, x.bytes_done, x.bytes_total, x.rate, x.peers, x.sources,
           x.links_checked);
}

/// A member's downloads: one task per community; a newer link cancels the
/// running task. Imports go to the importer one archive at a time.
using downloader_actor = caf::typed_actor<
  // Downloads what the magnet link's index lists that this node lacks
  // (community ID, magnet URI, clock).
  caf::reacts_to<fetch_atom, std::string, std::string, std::uint64_t>,
  // Cancels the community's task (leave, disable).
  caf::reacts_to<cancel_atom, std::string>,
  // The backend's fetch of the community moved: ask where it stands and take
  // the next step.
  caf::reacts_to<progressed_atom, std::string>,
  // Internal: the community's deadlines (metadata, stall, a newer link
  // waiting) and a fresh snapshot for status; the number tells stale ticks
  // apart.
  caf::reacts_to<tick_atom, std::string, std::uint64_t>,
  // Internal: restart fetches that wait for a key once their keys file changed.
  caf::reacts_to<poll_atom>,
  // The gate: the community's newest link was asked of a store peer, or a
  // signed one came on the relay; any fetch it started arrived before this.
  caf::reacts_to<checked_atom, std::string>,
  // Downloads running, started, failed and finished, bytes fetched.
  caf::replies_to<status_atom>::with<component_status>,
  // What the community's download is doing, what the last one received and
  // why it failed.
  caf::replies_to<progress_atom, std::string>::with<download_status>>;

/// Imports downloaded archives into the store, one archive at a time.
using importer_actor = caf::typed_actor<
  // Imports every archive of the community that is downloaded but not yet
  // imported; replies with the number of messages stored.
  caf::replies_to<import_atom, std::string>::with<std::uint64_t>,
  // The retry timer of a community whose import failed on an I/O error.
  caf::reacts_to<tick_atom, std::string>,
  // Archives and messages imported per community, import durations
  // (answered between imports).
  caf::replies_to<status_atom>::with<component_status>>;

/// The Waku store of a node (13/WAKU2-STORE v3): records the relay
/// messages of the communities it watches (channels and magnet links) so the
/// node can serve them, prunes them to the retention settings, and fills
/// gaps from store peers: on watching a community and whenever a peer that
/// serves the store connects, it asks for the newest magnet links (handed to
/// the gate) and for the channel messages since the last archive (handed to
/// the node, which checks and keeps them like relayed ones).
using store_sync_actor = relay_sink_actor::extend<
  // Watches a community: records its traffic and syncs it from store peers
  // (true: as a member, false: as its owner).
  caf::reacts_to<sync_atom, std::string, bool>,
  // A relay peer came, was identified or went.
  caf::reacts_to<relay_peer_event>,
  // A signal from the bus: an imported archive set moves a member's tail.
  caf::reacts_to<signal>,
  // Internal: a failed sync's pause ended.
  caf::reacts_to<peers_atom>,
  // Internal: write recorded messages; drop what is past retention and,
  // as an owner, verify the recent channel traffic against a store peer.
  caf::reacts_to<flush_atom>,
  caf::reacts_to<tick_atom>,
  // Internal: send the store queries whose turn has come (paced per peer).
  caf::reacts_to<poll_atom>,
  // Messages recorded, queries served and made, messages gap-filled.
  caf::replies_to<status_atom>::with<component_status>>;

} // namespace annals
