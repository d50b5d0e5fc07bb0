// The store's internals, shared by the files that implement it, one file
// per keyspace: store.cpp (opening, the messages), store_archive_queue.cpp
// (the owner's archive queue and builds), store_communities.cpp (community
// records, archive records, settings) and relay_message_store.cpp (the
// relay messages the Waku store serves, a keyspace class of its own). Not installed; nothing outside
// storage/ includes it.
//
// Key layout. Every key except in "communities" and "settings" starts with the
// 33-byte compressed community key, so a community's records are one key
// range. Integers are big-endian so byte order is numeric order.
//
//   messages        community ‖ be64(timestamp) ‖ topic(4) ‖ hash → WakuMessage
//   message_hashes  community ‖ hash → the message's key after the community
//   communities     community → record::Community
//   archive_info    community ‖ field tag(1) → be64 | URI text
//   archives        community ‖ archive ID text → record::Archive
//   settings        key → value
//   unarchived      a message key (as in messages) → "": stored by the owner,
//                   in no committed archive yet. Written in the batch that
//                   stores the message and deleted in the batch that commits
//                   the archive holding it, so every message is archived once.
#pragma once

#include "storage/store.hpp"

#include "core/file_io.hpp"
#include "core/topics.hpp"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_manager.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <tuple>
#include <cstring>
#include <mutex>
#include <chrono>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace annals {
namespace store_detail {


enum column_family : std::size_t {
  cf_default,
  cf_messages,
  cf_message_hashes,
  cf_communities,
  cf_archive_info,
  cf_archives,
  cf_settings,
  cf_unarchived,
  cf_relay_messages,    // time key (8) + hash (32) -> topics + WakuMessage bytes
  cf_relay_hashes,      // hash -> time key: dedup, hash lookups, cursors
  cf_relay_by_topic,    // topic(pubsub) + time key + hash
  cf_relay_by_content,  // topic(pubsub) + topic(content) + time key + hash
  cf_count,
};

// Indexed by column_family: DB::Open returns the handles in descriptor order.
// RocksDB refuses to open a database without its "default" family, even
// though nothing is stored there.
inline constexpr const char* column_family_names[cf_count] = {
  "default",  "messages", "message_hashes", "communities",
  "archive_info", "archives", "settings",       "unarchived",
  "relay_messages", "relay_hashes", "relay_by_topic", "relay_by_content",
};

enum class info_field : char {
  magnetlink_clock = 0x01,
  last_archive_end = 0x02,
  last_magnet_uri = 0x03,
  build_commit = 0x04,  // record::BuildCommit of a build not yet finished
  completed_clock = 0x05,  // clock of the link last_magnet_uri was downloaded from
};

inline constexpr std::size_t community_key_size = 33;
inline constexpr std::size_t message_timestamp_offset = community_key_size;
inline constexpr std::size_t message_topic_offset = message_timestamp_offset + 8;
inline constexpr std::size_t message_hash_offset = message_topic_offset + 4;

inline std::string be64(std::uint64_t value) {
  std::string bytes;
  for (int shift = 56; shift >= 0; shift -= 8)
    bytes.push_back(static_cast<char>(value >> shift));
  return bytes;
}

/// Messages in the canonical bytes the store keeps, straight from their
/// fields (no proto built and copied in between), as an archive build
/// reads them back; the wires view `bytes` and the messages.
struct encoded_messages {
  std::vector<std::string> bytes;
  std::vector<message_wire> wires;
};
inline encoded_messages encode_messages(const std::vector<archive_message>& messages) {
  encoded_messages out;
  out.bytes.resize(messages.size());
  out.wires.resize(messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    append_wire(out.bytes[i], m);
    out.wires[i] = {out.bytes[i], m.timestamp, m.hash, m.cap_size(), as_view(m.topic)};
  }
  return out;
}

inline std::uint64_t read_be64(std::string_view bytes) {
  std::uint64_t value = 0;
  for (char byte : bytes.substr(0, 8))
    value = value << 8 | static_cast<std::uint8_t>(byte);
  return value;
}

inline std::string community_key(const public_key& community) {
  return std::string(as_view(community.compressed()));
}

inline std::string info_key(const public_key& community, info_field field) {
  return community_key(community) + static_cast<char>(field);
}

/// The smallest key greater than every key starting with `prefix`; "" when
/// there is none (all bytes 0xff), which scan() reads as "no upper bound".
inline std::string prefix_successor(std::string prefix) {
  while (!prefix.empty() && static_cast<std::uint8_t>(prefix.back()) == 0xff)
    prefix.pop_back();
  if (!prefix.empty())
    prefix.back() = static_cast<char>(static_cast<std::uint8_t>(prefix.back()) + 1);
  return prefix;
}

inline std::string_view view(const rocksdb::Slice& slice) {
  return {slice.data(), slice.size()};
}

inline rocksdb::Slice slice(std::string_view bytes) {
  return {bytes.data(), bytes.size()};
}

/// Topics a scan admits; an empty filter admits every topic.
class topic_filter {
public:
  explicit topic_filter(std::vector<topic4> topics) : topics_(std::move(topics)) {
    std::sort(topics_.begin(), topics_.end());
  }

  bool admits(std::string_view topic_bytes) const {
    if (topics_.empty())
      return true;
    topic4 topic;
    std::memcpy(topic.data(), topic_bytes.data(), topic.size());
    return std::binary_search(topics_.begin(), topics_.end(), topic);
  }

private:
  std::vector<topic4> topics_;
};


} // namespace store_detail

using namespace store_detail;

struct store::impl {
  std::filesystem::path path;
  rocksdb::WriteOptions write_options;
  std::uint64_t min_free_bytes = 0;
  mutable std::atomic<std::uint64_t> refused_writes{0};
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // indexed by column_family
  /// Serializes read-modify-write sequences (dedup on insert, keeping the
  /// imported flag) so two writers can't both act on the same stale read.
  mutable std::mutex write_mutex;  // const counting waits for writers too
  /// Writes that queued messages for archiving, under write_mutex: a build
  /// whose view saw the last of them may drop its range of the queue with
  /// one range deletion instead of a tombstone per message.
  std::uint64_t queue_writes = 0;
  /// Running counts per community (messages stored, messages queued for
  /// archiving), counted once from the keys on first use and then kept up
  /// to date under write_mutex, so status queries do not walk every key.
  struct running_counts {
    std::optional<std::uint64_t> messages, unarchived;
  };
  mutable std::mutex counts_mutex;
  mutable std::unordered_map<std::string, running_counts> counts;
  /// Archive records per community, counted from every key at open and then
  /// added to by each write of a record (under write_mutex), so status
  /// queries never list them. Under counts_mutex.
  std::unordered_map<std::string, archive_counts> archive_tally;
  /// Recorded relay messages, counted on first use (under write_mutex).
  mutable std::optional<std::uint64_t> relay_count;
  /// Adds to `batch` the relay messages whose hash is not recorded yet; the
  /// caller holds write_mutex until the batch is written, then adds the
  /// returned count with add_relay_count.
  result<std::size_t> stage_relay(rocksdb::WriteBatch& batch,
                                  const std::vector<stored_relay_message>& messages,
                                  std::string_view operation) const;
  /// Messages of a community and their relay records in one batch;
  /// `queue_for_archive` for what an owner will archive.
  result<insert_stats> insert(const public_key& community,
                              const std::vector<archive_message>& messages,
                              const std::vector<stored_relay_message>& relayed,
                              bool queue_for_archive, std::string_view operation);
  void add_relay_count(std::size_t added) const {
    std::lock_guard counts(counts_mutex);
    if (relay_count)
      *relay_count += added;
  }

  /// Adds to a count that is known; an unknown count is left to be counted.
  void add_counts(const std::string& community, std::int64_t messages, std::int64_t unarchived) {
    std::lock_guard lock(counts_mutex);
    auto it = counts.find(community);
    if (it == counts.end())
      return;
    if (it->second.messages)
      *it->second.messages += static_cast<std::uint64_t>(messages);
    if (it->second.unarchived)
      *it->second.unarchived += static_cast<std::uint64_t>(unarchived);
  }

  /// A running count if it is known (not counted here).
  std::optional<std::uint64_t> known_count(const std::string& community,
                                           std::optional<std::uint64_t> running_counts::*field) const {
    std::lock_guard lock(counts_mutex);
    auto it = counts.find(community);
    return it == counts.end() ? std::nullopt : it->second.*field;
  }
  /// Drops a running count so that its next use counts the keys again.
  void forget_count(const std::string& community,
                    std::optional<std::uint64_t> running_counts::*field) const {
    std::lock_guard lock(counts_mutex);
    if (auto it = counts.find(community); it != counts.end())
      it->second.*field = std::nullopt;
  }

  /// Adds what a written batch of archive records changed.
  void add_archive_counts(const std::string& community, const archive_counts& added) {
    if (added.archives == 0 && added.imported == 0)
      return;
    std::lock_guard lock(counts_mutex);
    auto& tally = archive_tally[community];
    tally.archives += added.archives;
    tally.imported += added.imported;
  }

  /// Counts every archive record, once, when the store opens.
  result<void> count_archive_records() {
    return scan(cf_archives, {}, {}, "open: counting archives",
                [&](std::string_view key, std::string_view value) -> result<bool> {
                  record::Archive archive;
                  if (key.size() <= community_key_size
                      || !archive.ParseFromArray(value.data(), static_cast<int>(value.size())))
                    return malformed(cf_archives, key, "not a community's Archive record");
                  auto& tally = archive_tally[std::string(key.substr(0, community_key_size))];
                  ++tally.archives;
                  tally.imported += archive.imported() ? 1 : 0;
                  return true;
                });
  }

  /// The count `field` of `community`, counting the keys of `cf` once.
  result<std::uint64_t> cached_count(const std::string& community,
                                     std::optional<std::uint64_t> running_counts::*field,
                                     column_family cf, std::string_view operation) const {
    {
      std::lock_guard lock(counts_mutex);
      auto it = counts.find(community);
      if (it != counts.end() && it->second.*field)
        return *(it->second.*field);
    }
    // Writers hold write_mutex while they write and add, so the walk and
    // the counts they add cannot interleave.
    std::lock_guard writers(write_mutex);
    std::uint64_t n = 0;
    auto scanned = scan(cf, community, prefix_successor(community), operation,
                        [&](std::string_view, std::string_view) -> result<bool> {
                          ++n;
                          return true;
                        });
    if (!scanned)
      return scanned.error();
    std::lock_guard lock(counts_mutex);
    counts[community].*field = n;
    return n;
  }

  ~impl() {
    if (!db)
      return;
    for (auto* handle : handles)
      db->DestroyColumnFamilyHandle(handle);
    // A destructor cannot report a failed close; every acknowledged write is
    // already in the WAL, which the next open replays.
    db->Close();
  }

  error db_error(std::string_view operation, const rocksdb::Status& status) const {
    auto code = status.IsCorruption() ? errc::malformed : errc::io;
    return make_error(code, path.string() + ": " + std::string(operation) + ": " +
                              status.ToString());
  }

  error malformed(column_family cf, std::string_view key, std::string_view what) const {
    return make_error(errc::malformed, path.string() + ": " + column_family_names[cf] +
                                         " key " + to_hex0x(key) + ": " +
                                         std::string(what));
  }

  result<std::optional<std::string>> get(column_family cf, std::string_view key,
                                         std::string_view operation,
                                         const rocksdb::Snapshot* snapshot = nullptr) const {
    rocksdb::ReadOptions read_options;
    read_options.snapshot = snapshot;
    std::string value;
    auto status = db->Get(read_options, handles[cf], slice(key), &value);
    if (status.IsNotFound())
      return std::optional<std::string>{};
    if (!status.ok())
      return db_error(operation, status);
    return std::optional<std::string>{std::move(value)};
  }

  /// Which of `keys` exist in `cf`: one batched lookup (RocksDB sorts the
  /// keys and reads each block once) instead of a Get per key.
  result<std::vector<bool>> exist(column_family cf, const std::vector<std::string>& keys,
                                  std::string_view operation) const {
    std::vector<rocksdb::Slice> slices;
    slices.reserve(keys.size());
    for (const auto& key : keys)
      slices.emplace_back(key);
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    db->MultiGet(rocksdb::ReadOptions{}, handles[cf], keys.size(), slices.data(), values.data(),
                 statuses.data());
    std::vector<bool> out(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (statuses[i].IsNotFound())
        continue;
      if (!statuses[i].ok())
        return db_error(operation, statuses[i]);
      out[i] = true;
    }
    return out;
  }

  /// Visits the keys in [lower, upper) of `cf` in order, from one consistent
  /// view (`snapshot`'s when given); an empty `upper` means up to the end.
  /// `visit(key, value)` returns false to stop early, or an error to abort
  /// the scan with it.
  template <class Visit>
  result<void> scan(column_family cf, const std::string& lower, const std::string& upper,
                    std::string_view operation, Visit&& visit,
                    const rocksdb::Snapshot* snapshot = nullptr) const {
    rocksdb::ReadOptions read_options;
    read_options.snapshot = snapshot;
    rocksdb::Slice upper_bound = slice(upper);
    if (!upper.empty())
      read_options.iterate_upper_bound = &upper_bound;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read_options, handles[cf]));
    for (it->Seek(slice(lower)); it->Valid(); it->Next()) {
      result<bool> more = visit(view(it->key()), view(it->value()));
      if (!more)
        return more.error();
      if (!*more)
        return {};
    }
    if (!it->status().ok())
      return db_error(operation, it->status());
    return {};
  }

  result<void> put(rocksdb::WriteBatch& batch, column_family cf, std::string_view key,
                   std::string_view value, std::string_view operation) const {
    auto status = batch.Put(handles[cf], slice(key), slice(value));
    if (!status.ok())
      return db_error(operation, status);
    return {};
  }

  /// A write of `bytes` leaves the reserve free, or is refused before
  /// RocksDB sees it.
  result<void> check_space(std::size_t bytes, std::string_view operation) const {
    if (min_free_bytes == 0)
      return {};
    auto free = free_disk_bytes(path);
    if (!free || *free >= min_free_bytes + bytes)
      return {};
    ++refused_writes;
    return make_error(errc::io, path.string() + ": " + std::string(operation)
                                  + ": disk full: " + std::to_string(*free)
                                  + " bytes free, below the reserve of "
                                  + std::to_string(min_free_bytes)
                                  + " (min_free_bytes); nothing was written");
  }

  result<void> put(column_family cf, std::string_view key, std::string_view value,
                   std::string_view operation) const {
    if (auto room = check_space(key.size() + value.size(), operation); !room)
      return room;
    auto status = db->Put(write_options, handles[cf], slice(key), slice(value));
    if (!status.ok()) {
      ++refused_writes;
      return db_error(operation, status);
    }
    return {};
  }

  result<void> write(rocksdb::WriteBatch& batch, std::string_view operation) const {
    if (batch.Count() == 0)
      return {};
    if (auto room = check_space(batch.GetDataSize(), operation); !room)
      return room;
    auto status = db->Write(write_options, &batch);
    if (!status.ok()) {
      ++refused_writes;
      return db_error(operation, status);
    }
    return {};
  }

  /// Adds to `batch` the messages whose hash is neither stored for the
  /// community nor earlier in `messages`. The caller holds write_mutex until
  /// the batch is written, so "not stored" stays true.
  result<insert_stats> stage_messages(const std::string& community,
                                      const std::vector<archive_message>& messages,
                                      rocksdb::WriteBatch& batch,
                                      std::string_view operation,
                                      bool queue_for_archive) const {
    auto encoded = encode_messages(messages);
    return stage_wires(community, encoded.wires.data(), encoded.wires.size(), batch, operation,
                       queue_for_archive);
  }

  /// Adds to `batch` the messages whose hash is not stored yet (nor earlier
  /// in `messages`): their bytes as they are under (timestamp, topic, hash),
  /// the hash's record and, for an owner, the archive queue's key.
  result<insert_stats> stage_wires(const std::string& community, const message_wire* messages,
                                   std::size_t count, rocksdb::WriteBatch& batch,
                                   std::string_view operation, bool queue_for_archive) const {
    insert_stats stats;
    std::vector<std::string> hash_keys;
    hash_keys.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      const auto& message = messages[i];
      if (message.hash.empty())
        return make_error(errc::invalid_argument,
                          path.string() + ": " + std::string(operation) +
                            ": message with timestamp " + std::to_string(message.timestamp) +
                            " has no hash, which is its deduplication key");
      if (message.topic.size() != 4)
        return make_error(errc::invalid_argument,
                          path.string() + ": " + std::string(operation) +
                            ": message with timestamp " + std::to_string(message.timestamp) +
                            " has a topic of " + std::to_string(message.topic.size()) +
                            " bytes, not 4");
      hash_keys.push_back(community);
      hash_keys.back().append(message.hash);
    }
    auto held = exist(cf_message_hashes, hash_keys, operation);
    if (!held)
      return held.error();
    // The hash index is written in hash order: each key then lands beside
    // the previous one in the memtable's skiplist, whose insert resumes
    // from there instead of searching from the top (in message order the
    // hashes are random, and those searches were a fifth of an import).
    // Sorted, a batch's own repeats sit side by side; the first is kept.
    std::vector<std::uint32_t> by_hash(count);
    for (std::size_t i = 0; i < count; ++i)
      by_hash[i] = static_cast<std::uint32_t>(i);
    std::stable_sort(by_hash.begin(), by_hash.end(), [&](std::uint32_t a, std::uint32_t b) {
      return messages[a].hash < messages[b].hash;
    });
    std::vector<char> store_it(count, 0);
    for (std::size_t n = 0; n < count; ++n) {
      auto i = by_hash[n];
      bool repeat = n > 0 && messages[by_hash[n - 1]].hash == messages[i].hash;
      store_it[i] = !(*held)[i] && !repeat;
      if (!store_it[i])
        ++stats.duplicates;
    }
    std::string key;
    auto message_key = [&](const message_wire& message) {
      key.assign(community);
      key.append(be64(message.timestamp));
      key.append(message.topic);
      key.append(message.hash);
    };
    for (std::size_t i = 0; i < count; ++i) {
      if (!store_it[i])
        continue;
      message_key(messages[i]);
      if (auto r = put(batch, cf_messages, key, messages[i].bytes, operation); !r)
        return r.error();
      if (queue_for_archive)
        if (auto r = put(batch, cf_unarchived, key, {}, operation); !r)
          return r.error();
      ++stats.inserted;
    }
    for (auto i : by_hash) {
      if (!store_it[i])
        continue;
      message_key(messages[i]);
      auto suffix = std::string_view(key).substr(community.size());
      if (auto r = put(batch, cf_message_hashes, hash_keys[i], suffix, operation); !r)
        return r.error();
    }
    return stats;
  }

  /// Adds to `batch` a record per archive (its window; `imported` sets the
  /// flag, an existing record keeps its own).
  /// Stages the records; returns how many are new and newly imported, for
  /// add_archive_counts once the batch is written (the caller holds
  /// write_mutex until then).
  result<archive_counts> stage_archive_records(rocksdb::WriteBatch& batch,
                                               const std::string& community,
                                               const std::vector<built_archive>& archives,
                                               bool imported, std::string_view operation) const {
    archive_counts added;
    std::map<std::string, record::Archive> staged;  // an ID listed twice is one record
    for (const auto& archive : archives) {
      auto key = community + archive.id;
      record::Archive updated;
      if (auto it = staged.find(key); it != staged.end()) {
        updated = it->second;
      } else {
        auto stored = get_archive(key, operation);
        if (!stored)
          return stored.error();
        if (*stored)
          updated = std::move(**stored);
        else
          ++added.archives;
      }
      updated.set_from(archive.entry.metadata().from());
      updated.set_to(archive.entry.metadata().to());
      if (imported && !updated.imported()) {
        updated.set_imported(true);
        ++added.imported;
      }
      if (auto r = put(batch, cf_archives, key, updated.SerializeAsString(), operation); !r)
        return r.error();
      staged[key] = std::move(updated);
    }
    return added;
  }

  result<std::optional<record::Archive>> get_archive(std::string_view key,
                                                     std::string_view operation) const {
    auto stored = get(cf_archives, key, operation);
    if (!stored)
      return stored.error();
    if (!*stored)
      return std::optional<record::Archive>{};
    record::Archive archive;
    if (!archive.ParseFromString(**stored))
      return malformed(cf_archives, key, "value is not an Archive record");
    return std::optional<record::Archive>{std::move(archive)};
  }
};

} // namespace annals
