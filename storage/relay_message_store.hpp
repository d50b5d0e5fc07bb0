// The Waku store's keyspace of a node's database (13/WAKU2-STORE v3): relay
// messages as they travelled (pubsub topic, WakuMessage bytes, deterministic
// hash), indexed by time, hash, pubsub topic and content topic, pruned to the
// retention settings. It shares the node's one RocksDB handle (and its write
// lock and free-space reserve) with the other keyspaces; get it from
// store::relay_messages().
#pragma once

#include "core/result.hpp"
#include "core/store_query.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace annals {

class store;

class relay_message_store {
public:
  relay_message_store(const relay_message_store&) = delete;
  relay_message_store& operator=(const relay_message_store&) = delete;

  /// Records relay messages; a hash already recorded is skipped. Returns
  /// how many were new.
  result<std::size_t> record(const std::vector<stored_relay_message>& messages);
  /// One page for a checked query, at most `max_bytes` of messages (the
  /// page then ends early with a cursor). A cursor that names no recorded
  /// message is not_found.
  result<store_page> query(const store_query& query, std::size_t max_bytes) const;
  /// Drops, oldest first, recorded messages older than `before` (Unix ns) or
  /// beyond the newest `keep_at_most`; at most `max_drop` per call, so a
  /// large backlog goes in bounded steps. Returns how many went.
  result<std::uint64_t> prune(std::int64_t before, std::uint64_t keep_at_most,
                              std::uint64_t max_drop);
  /// Recorded messages (counted once, then kept up to date).
  result<std::uint64_t> count() const;

private:
  friend class store;
  explicit relay_message_store(store& db) : db_(&db) {}
  store* db_;
};

} // namespace annals
