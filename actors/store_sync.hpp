// The node's Waku store (13/WAKU2-STORE v3): what it records and serves,
// and how it fills gaps from store peers. The answering itself runs on the
// relay's I/O thread (storage/store_server.hpp); this actor records, prunes
// and syncs.
#pragma once

#include "actors/storage_io.hpp"
#include "core/identity.hpp"
#include <annals/status.hpp>
#include "core/store_query.hpp"
#include "messages/actors.hpp"
#include <annals/node.hpp>  // waku_store_settings

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <utility>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace annals {

class store;
class store_query_server;

struct store_sync_state {
  static inline const char* name = "store_sync";
  struct watched {
    bool member = false;  // or its owner
    std::string pubsub_topic;
    std::string magnetlink_topic;
    std::vector<std::string> channel_topics;
    public_key community;
    /// Member: the archive end its last channel sync started from (0: none
    /// yet; a member syncs channels only once archives gave it a start).
    std::uint64_t channels_from = 0;
    /// Owner: the gap a start may have left, in Unix ns: from a little
    /// before the newest channel message it recorded (or its last build)
    /// to a little after it started listening. None: a fresh community.
    std::optional<std::pair<std::int64_t, std::int64_t>> owner_gap;
    /// Owner: the gap was filled (or is being filled) since this start; an
    /// owner that is up hears its channels itself.
    bool owner_synced = false;
    /// Owner: how far (Unix ns) the channel traffic was verified against
    /// each store peer, and whether a verification runs. Per peer, because
    /// what one peer lacks too (a message its publisher could not get out)
    /// may still be at another.
    std::map<std::string, std::int64_t> verified_until;
    bool verifying = false;
  };
  waku_store_settings config;
  std::shared_ptr<store> db;
  /// Where every read and write of `db` runs (a default handle: in line,
  /// for tests on the deterministic coordinator).
  storage_io_actor io = {};
  std::shared_ptr<store_query_server> server;  // null: record nothing
  relay_actor relay;
  relay_sink_actor node;  // channel messages a sync found
  link_sink_actor gate;  // magnet links a sync found, then word the sync ended
  std::map<std::string, watched> communities;  // by community ID
  std::set<std::string> magnetlink_topics;     // of the watched communities
  std::set<std::string> store_capable;  // connected, identify lists the store protocol
  std::set<std::string> store_peers;    // of those, synced from (not pausing)
  bool retry_armed = false;             // a timer for the next pause to end runs
  /// Peers whose sync failed (not open yet, reset, timeout): asked again
  /// after a pause that doubles, 2 s to 5 min.
  struct retry {
    std::chrono::steady_clock::time_point after;
    std::chrono::seconds pause{2};
  };
  std::map<std::string, retry> retries;
  bool listening = false;  // subscribed to the relay's peer events
  /// Store peers that went away, and when (Unix ns): an owner verifies what
  /// it may have missed from them when they are back (a partition healed).
  std::map<std::string, std::int64_t> store_peers_left;
  std::size_t verify_turn = 0;  // round robin over the store peers
  /// Hashes a verification fetched lately, oldest first: the node writes
  /// them a moment later, and a verification started meanwhile (the next
  /// one starts at once) must not fetch them again.
  std::set<std::string> recovered_hashes;
  std::deque<std::string> recovered_order;
  /// Store queries waiting for their turn, by when; and per peer when the
  /// next may go.
  std::multimap<std::chrono::steady_clock::time_point, std::function<void()>> paced;
  std::map<std::string, std::chrono::steady_clock::time_point> next_query;
  std::chrono::steady_clock::time_point last_prune;

  std::vector<stored_relay_message> pending;  // recorded, not yet written
  bool flush_armed = false;
  std::uint64_t recorded = 0;
  std::uint64_t record_failures = 0;
  std::uint64_t pruned = 0;
  bool pruning = false;  // a prune runs on the storage thread
  std::uint64_t syncs = 0;
  std::uint64_t syncs_failed = 0;
  std::uint64_t queries = 0;
  std::uint64_t links_found = 0;
  std::uint64_t messages_found = 0;     // channel messages handed to the node
  std::uint64_t answers_refused = 0;    // a non-200 answer
  std::uint64_t answers_throttled = 0;  // 429s, each followed by a pause and the same query
  std::uint64_t messages_forged = 0;    // hash, topic or relay rule wrong
  std::uint64_t verifications = 0;      // owner: windows checked against a store peer
  std::uint64_t verifications_failed = 0;
  std::uint64_t hashes_checked = 0;     // message hashes a verification compared
  std::uint64_t messages_recovered = 0; // missing messages a verification fetched
  status_histogram sync_seconds =
    status_histogram::seconds("annals_store_sync_duration_seconds",
                              "One community's sync from one store peer, first query to last page");
};

/// A relay message as the store records it: the message's own time, or now
/// for one without (as nwaku does).
stored_relay_message relay_record(const waku_envelope& envelope, std::int64_t message_timestamp);

store_sync_actor::behavior_type
store_sync(store_sync_actor::stateful_pointer<store_sync_state> self, waku_store_settings config,
           std::shared_ptr<store> db, storage_io_actor io,
           std::shared_ptr<store_query_server> server, relay_actor relay, relay_sink_actor node,
           link_sink_actor gate);

} // namespace annals
