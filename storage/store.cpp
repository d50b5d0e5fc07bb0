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
namespace {

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
constexpr const char* column_family_names[cf_count] = {
  "default",  "messages", "message_hashes", "communities",
  "archive_info", "archives", "settings",       "unarchived",
  "relay_messages", "relay_hashes", "relay_by_topic", "relay_by_content",
};

enum class info_field : char {
  magnetlink_clock = 0x01,
  last_archive_end = 0x02,
  last_magnet_uri = 0x03,
  build_commit = 0x04,  // record::BuildCommit of a build not yet finished
};

constexpr std::size_t community_key_size = 33;
constexpr std::size_t message_timestamp_offset = community_key_size;
constexpr std::size_t message_topic_offset = message_timestamp_offset + 8;
constexpr std::size_t message_hash_offset = message_topic_offset + 4;

std::string be64(std::uint64_t value) {
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
encoded_messages encode_messages(const std::vector<archive_message>& messages) {
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

std::uint64_t read_be64(std::string_view bytes) {
  std::uint64_t value = 0;
  for (char byte : bytes.substr(0, 8))
    value = value << 8 | static_cast<std::uint8_t>(byte);
  return value;
}

std::string community_key(const public_key& community) {
  return std::string(as_view(community.compressed()));
}

std::string info_key(const public_key& community, info_field field) {
  return community_key(community) + static_cast<char>(field);
}

/// The smallest key greater than every key starting with `prefix`; "" when
/// there is none (all bytes 0xff), which scan() reads as "no upper bound".
std::string prefix_successor(std::string prefix) {
  while (!prefix.empty() && static_cast<std::uint8_t>(prefix.back()) == 0xff)
    prefix.pop_back();
  if (!prefix.empty())
    prefix.back() = static_cast<char>(static_cast<std::uint8_t>(prefix.back()) + 1);
  return prefix;
}

std::string_view view(const rocksdb::Slice& slice) {
  return {slice.data(), slice.size()};
}

rocksdb::Slice slice(std::string_view bytes) {
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

} // namespace

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

store::store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
store::~store() = default;

const std::filesystem::path& store::path() const { return impl_->path; }

std::uint64_t store::refused_writes() const { return impl_->refused_writes.load(); }

result<void> store::settle(std::chrono::milliseconds limit) {
  auto& d = *impl_;
  rocksdb::FlushOptions flush;
  flush.wait = true;
  if (auto status = d.db->Flush(flush, d.handles); !status.ok())
    return d.db_error("settle", status);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    std::uint64_t errors = 0;
    std::uint64_t running = 0;
    d.db->GetIntProperty("rocksdb.background-errors", &errors);
    d.db->GetIntProperty("rocksdb.num-running-compactions", &running);
    if (errors)
      return make_error(errc::io, d.path.string() + ": settle: RocksDB stopped on "
                                    + std::to_string(errors) + " background error(s)");
    bool pending = false;
    for (auto* handle : d.handles) {
      std::uint64_t needed = 0;
      d.db->GetIntProperty(handle, "rocksdb.compaction-pending", &needed);
      pending = pending || needed;
    }
    if (!pending && !running)
      return {};
    if (std::chrono::steady_clock::now() >= deadline)
      return make_error(errc::io, d.path.string() + ": settle: still compacting after "
                                    + std::to_string(limit.count()) + " ms");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

result<std::unique_ptr<store>> store::open(const std::filesystem::path& dir,
                                           store_options options) {
  if (options.create_if_missing) {
    // RocksDB creates only the last path component.
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
      return make_error(errc::io, dir.string() + ": cannot create the database directory: " +
                                    ec.message());
  }
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = true;
  // Bounded memory: all memtables together, one small shared block cache.
  db_options.db_write_buffer_size = options.total_write_buffer_bytes;
  db_options.max_background_jobs = 2;
  // Reads map the table files instead of copying each block out of the
  // page cache: an archive build reads a week of bodies once, and that
  // copy was a tenth of it. The pages are file-backed, not the process's.
  db_options.allow_mmap_reads = options.mmap_reads;
  // A flush or compaction that meets a full disk stops writes; with a file
  // manager RocksDB resumes by itself once space returns.
  db_options.sst_file_manager.reset(rocksdb::NewSstFileManager(rocksdb::Env::Default()));
  rocksdb::BlockBasedTableOptions table_options;
  table_options.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  // Dedup asks for every message's hash, and a new message's is nowhere:
  // a Bloom filter answers that without reading a block (10 bits a key).
  table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions family_options;
  family_options.write_buffer_size = options.write_buffer_bytes;
  family_options.max_write_buffer_number = 2;
  family_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
  // Message bodies: read in long runs (archive builds, store queries) and
  // made of encrypted payloads that do not compress. 64 KiB blocks (some
  // 60 messages) cost a build a block-cache lookup and a checksum call per
  // 60 messages instead of per 15; a point read checks 64 KiB of mapped
  // pages (microseconds). Snappy would only burn the flushes' CPU finding
  // that the payloads do not compress (RocksDB keeps such blocks raw).
  auto bodies_table = table_options;
  bodies_table.block_size = 64u << 10;
  auto relay_bodies = family_options;
  relay_bodies.compression = rocksdb::kNoCompression;
  relay_bodies.table_factory.reset(rocksdb::NewBlockBasedTableFactory(bodies_table));
  // Archive imports write message bodies in bulk; relayed ones arrive live,
  // so only the former get the larger memtable.
  auto bodies = relay_bodies;
  bodies.write_buffer_size = options.body_write_buffer_bytes;
  // Dedup looks up every incoming hash, and a new one is in no memtable:
  // a Bloom filter over the memtable's whole keys answers without walking
  // its skiplist (as the table filter does for SST files).
  auto hashes = family_options;
  hashes.memtable_prefix_bloom_size_ratio = 0.1;
  hashes.memtable_whole_key_filtering = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (std::size_t cf = 0; cf < cf_count; ++cf)
    descriptors.emplace_back(column_family_names[cf],
                             cf == cf_messages         ? bodies
                             : cf == cf_relay_messages ? relay_bodies
                             : cf == cf_message_hashes || cf == cf_relay_hashes ? hashes
                                                                                : family_options);

  auto state = std::make_unique<impl>();
  state->path = dir;
  state->write_options.sync = options.sync_writes;
  state->min_free_bytes = options.min_free_bytes;
  rocksdb::DB* db = nullptr;
  auto status = rocksdb::DB::Open(db_options, dir.string(), descriptors, &state->handles, &db);
  if (!status.ok())
    return state->db_error("open", status);
  state->db.reset(db);
  if (auto counted = state->count_archive_records(); !counted)
    return counted.error();
  return std::unique_ptr<store>(new store(std::move(state)));
}

// -- messages -----------------------------------------------------------------

result<insert_stats> store::impl::insert(const public_key& community,
                                         const std::vector<archive_message>& messages,
                                         const std::vector<stored_relay_message>& relayed,
                                         bool queue_for_archive, std::string_view operation) {
  std::lock_guard lock(write_mutex);
  rocksdb::WriteBatch batch;
  auto key = community_key(community);
  auto stats = stage_messages(key, messages, batch, operation, queue_for_archive);
  if (!stats)
    return stats;
  auto recorded = stage_relay(batch, relayed, operation);
  if (!recorded)
    return recorded.error();
  if (auto written = write(batch, operation); !written)
    return written.error();
  auto inserted = static_cast<std::int64_t>(stats->inserted);
  add_counts(key, inserted, queue_for_archive ? inserted : 0);
  if (queue_for_archive && inserted > 0)
    ++queue_writes;
  add_relay_count(*recorded);
  return stats;
}

result<insert_stats> store::insert_messages(const public_key& community,
                                            const std::vector<archive_message>& messages,
                                            const std::vector<stored_relay_message>& relayed) {
  return impl_->insert(community, messages, relayed, true, "insert_messages");
}

result<insert_stats> store::insert_member_messages(
  const public_key& community, const std::vector<archive_message>& messages,
  const std::vector<stored_relay_message>& relayed) {
  return impl_->insert(community, messages, relayed, false, "insert_member_messages");
}

result<void> store::scan_messages(const public_key& community, std::uint64_t from,
                                  std::uint64_t to, const std::vector<topic4>& topics,
                                  const std::function<void(archive_message&&)>& visit) const {
  if (from >= to)
    return {};
  auto& d = *impl_;
  auto prefix = community_key(community);
  topic_filter filter(topics);
  pb::WakuMessage proto;
  return d.scan(cf_messages, prefix + be64(from), prefix + be64(to), "scan_messages",
                [&](std::string_view key, std::string_view value) -> result<bool> {
                  if (key.size() < message_hash_offset)
                    return d.malformed(cf_messages, key, "key is shorter than its fixed part");
                  if (!filter.admits(key.substr(message_topic_offset, 4)))
                    return true;
                  if (!proto.ParseFromArray(value.data(), static_cast<int>(value.size())))
                    return d.malformed(cf_messages, key, "value is not a WakuMessage");
                  visit(from_proto(proto));
                  return true;
                });
}

// -- the owner's archive queue -------------------------------------------------

struct unarchived_view::impl {
  const store::impl* db = nullptr;
  const rocksdb::Snapshot* snapshot = nullptr;
  std::string prefix;  // the community key
  std::uint64_t queue_writes = 0;  // the store's count when the snapshot was taken
  std::optional<std::uint64_t> queued;  // the running count of keys at the snapshot

  ~impl() {
    if (snapshot)
      db->db->ReleaseSnapshot(snapshot);
  }

  /// Visits the view's queued keys with timestamp in [from, to).
  template <class Visit>
  result<void> keys(std::uint64_t from, std::uint64_t to, std::string_view operation,
                    Visit&& visit) const {
    auto upper = to == UINT64_MAX ? prefix_successor(prefix) : prefix + be64(to);
    return db->scan(
      cf_unarchived, prefix + be64(from), upper, operation,
      [&](std::string_view key, std::string_view) -> result<bool> {
        if (key.size() < message_hash_offset)
          return db->malformed(cf_unarchived, key, "key is shorter than its fixed part");
        return visit(key);
      },
      snapshot);
  }
};

unarchived_view::unarchived_view(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
unarchived_view::~unarchived_view() = default;

result<std::optional<std::uint64_t>> unarchived_view::oldest() const {
  std::optional<std::uint64_t> out;
  auto scanned = impl_->keys(0, UINT64_MAX, "unarchived oldest",
                             [&](std::string_view key) -> result<bool> {
                               out = read_be64(key.substr(message_timestamp_offset, 8));
                               return false;
                             });
  if (!scanned)
    return scanned.error();
  return out;
}

result<std::optional<queued_span>> unarchived_view::span(std::uint64_t below) const {
  std::optional<queued_span> out;
  auto scanned = impl_->keys(0, below, "unarchived span", [&](std::string_view key) -> result<bool> {
    auto ts = read_be64(key.substr(message_timestamp_offset, 8));
    if (!out)
      out.emplace(queued_span{ts, ts, 0});
    out->newest = ts;
    ++out->count;
    return true;
  });
  if (!scanned)
    return scanned.error();
  return out;
}

namespace {

/// Queued keys in order, packed: key i is bytes[ends[i-1], ends[i]).
struct key_batch {
  std::string bytes;
  std::vector<std::uint32_t> ends;

  std::size_t size() const { return ends.size(); }
  std::string_view key(std::size_t i) const {
    auto begin = i == 0 ? 0 : ends[i - 1];
    return std::string_view(bytes).substr(begin, ends[i] - begin);
  }
  void clear() {
    bytes.clear();
    ends.clear();
  }
};

/// Walks the queue's keys of one range on a thread of its own and hands
/// them over in batches. A build iterates the queue and the messages side
/// by side, each a RocksDB iterator of a few hundred nanoseconds a step;
/// on one thread they were most of the build, on two they overlap.
class queue_reader {
public:
  template <class Walk>
  explicit queue_reader(Walk walk) {
    thread_ = std::thread([this, walk = std::move(walk)] {
      key_batch batch = take_spare();
      auto walked = walk([&](std::string_view key) -> result<bool> {
        batch.bytes.append(key);
        batch.ends.push_back(static_cast<std::uint32_t>(batch.bytes.size()));
        if (batch.size() < batch_keys)
          return true;
        return hand_over(batch);
      });
      if (walked && !batch.ends.empty())
        (void)hand_over(batch);  // false only when stopped: nobody reads it
      std::lock_guard lock(mutex_);
      status_ = std::move(walked);
      done_ = true;
      changed_.notify_all();
    });
  }

  ~queue_reader() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      changed_.notify_all();
    }
    thread_.join();
  }

  queue_reader(const queue_reader&) = delete;
  queue_reader& operator=(const queue_reader&) = delete;

  /// The next batch into `out` (whose buffers are reused); false once the
  /// walk is over, when status() says whether it failed.
  bool next(key_batch& out) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !ready_.empty() || done_; });
    if (ready_.empty())
      return false;
    spares_.push_back(std::move(out));
    out = std::move(ready_.front());
    ready_.pop_front();
    changed_.notify_all();
    return true;
  }

  result<void> status() {
    std::lock_guard lock(mutex_);
    return status_;
  }

private:
  static constexpr std::size_t batch_keys = 4096;
  static constexpr std::size_t max_ready = 4;

  key_batch take_spare() {
    std::lock_guard lock(mutex_);
    return pop_spare();
  }

  /// A batch that held keys before, empty (or a new one); mutex_ held.
  key_batch pop_spare() {
    if (spares_.empty())
      return {};
    auto batch = std::move(spares_.back());
    spares_.pop_back();
    batch.clear();
    return batch;
  }

  /// Queues `batch` (then a spare in its place); false when the reader
  /// is being stopped.
  result<bool> hand_over(key_batch& batch) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return ready_.size() < max_ready || stopping_; });
    if (stopping_)
      return false;
    ready_.push_back(std::move(batch));
    changed_.notify_all();
    batch = pop_spare();
    return true;
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<key_batch> ready_;
  std::vector<key_batch> spares_;
  bool done_ = false;
  bool stopping_ = false;
  result<void> status_;
  std::thread thread_;  // last: it uses everything above
};

} // namespace

namespace {

/// Hands on one stored message's bytes: as they are when canonical, else
/// (written by another version, say) parsed and encoded again, as an
/// archive must hold canonical bytes.
template <class Store>
result<void> visit_stored(const Store& d, std::string_view key, std::string_view value,
                          pb::WakuMessage& proto, const message_visitor& visit) {
  if (auto wire = read_wire(value)) {
    visit(*wire);
    return {};
  }
  if (!proto.ParseFromArray(value.data(), static_cast<int>(value.size())))
    return d.malformed(cf_messages, key, "value is not a WakuMessage");
  visit_encoded(visit, from_proto(proto));
  return {};
}

/// The community's message bodies of [from, to) under a view's snapshot,
/// positioned at `from`: one pass, not kept in the block cache.
struct body_walk {
  std::string upper;
  rocksdb::Slice upper_bound;
  std::unique_ptr<rocksdb::Iterator> it;

  template <class View>  // unarchived_view::impl, private to the view
  body_walk(const View& v, std::uint64_t from, std::uint64_t to)
    : upper(to == UINT64_MAX ? prefix_successor(v.prefix) : v.prefix + be64(to)),
      upper_bound(slice(upper)) {
    rocksdb::ReadOptions read_options;
    read_options.snapshot = v.snapshot;
    read_options.iterate_upper_bound = &upper_bound;
    read_options.fill_cache = false;  // one pass; keep the cache for live reads
    read_options.readahead_size = 2u << 20;
    it.reset(v.db->db->NewIterator(read_options, v.db->handles[cf_messages]));
    it->Seek(slice(v.prefix + be64(from)));
  }
  body_walk(const body_walk&) = delete;
  body_walk& operator=(const body_walk&) = delete;
};

} // namespace

std::optional<std::uint64_t> unarchived_view::queued() const { return impl_->queued; }

result<std::uint64_t> unarchived_view::count(std::uint64_t from, std::uint64_t to) const {
  std::uint64_t n = 0;
  if (from >= to)
    return n;
  auto walked = impl_->keys(from, to, "unarchived count", [&](std::string_view) -> result<bool> {
    ++n;
    return true;
  });
  if (!walked)
    return walked.error();
  return n;
}

message_source unarchived_view::stored_source() const {
  return [this](std::uint64_t from, std::uint64_t to, const std::vector<topic4>&,
                const message_visitor& visit) -> result<void> {
    if (from >= to)
      return {};
    const auto& d = *impl_->db;
    body_walk walk(*impl_, from, to);
    auto& messages = walk.it;
    pb::WakuMessage proto;
    for (; messages->Valid(); messages->Next())
      if (auto r = visit_stored(d, view(messages->key()), view(messages->value()), proto, visit);
          !r)
        return r;
    if (!messages->status().ok())
      return d.db_error("stored source", messages->status());
    return {};
  };
}

message_source unarchived_view::source() const {
  return [this](std::uint64_t from, std::uint64_t to, const std::vector<topic4>&,
                const message_visitor& visit) -> result<void> {
    if (from >= to)
      return {};
    const auto& d = *impl_->db;
    // The queue and the messages share their keys and their order, so one
    // iterator walks the messages beside the queue's (read on a second
    // thread): mostly Next(), a Seek only past messages archived already.
    // A point Get per message cost more than the rest of the build
    // together. Values are the messages' canonical bytes and go into the
    // archive as they are.
    body_walk walk(*impl_, from, to);
    auto& messages = walk.it;
    queue_reader queue([view = impl_.get(), from, to](auto&& visit_key) {
      return view->keys(from, to, "unarchived source", visit_key);
    });
    pb::WakuMessage proto;
    key_batch batch;
    while (queue.next(batch)) {
      for (std::size_t i = 0; i < batch.size(); ++i) {
        auto key = batch.key(i);
        if (messages->Valid() && view(messages->key()) < key) {
          messages->Next();
          if (messages->Valid() && view(messages->key()) < key)
            messages->Seek(slice(key));
        }
        if (!messages->Valid() || view(messages->key()) != key) {
          if (!messages->status().ok())
            return d.db_error("unarchived source", messages->status());
          return d.malformed(cf_unarchived, key, "queued for archiving but not stored");
        }
        if (auto r = visit_stored(d, key, view(messages->value()), proto, visit); !r)
          return r;
      }
    }
    if (auto walked = queue.status(); !walked)
      return walked;
    if (!messages->status().ok())
      return d.db_error("unarchived source", messages->status());
    return {};
  };
}

result<std::unique_ptr<unarchived_view>> store::unarchived(const public_key& community) const {
  auto view_impl = std::make_unique<unarchived_view::impl>();
  view_impl->db = impl_.get();
  {
    std::lock_guard lock(impl_->write_mutex);
    view_impl->snapshot = impl_->db->GetSnapshot();
    view_impl->queue_writes = impl_->queue_writes;
    view_impl->queued =
      impl_->known_count(community_key(community), &impl::running_counts::unarchived);
  }
  view_impl->prefix = community_key(community);
  return std::unique_ptr<unarchived_view>(new unarchived_view(std::move(view_impl)));
}

result<std::uint64_t> store::count_unarchived(const public_key& community) const {
  return impl_->cached_count(community_key(community), &impl::running_counts::unarchived,
                             cf_unarchived, "count_unarchived");
}

result<std::uint64_t>
store::queue_unarchived_except(const public_key& community,
                               const std::function<bool(std::string_view)>& archived) {
  auto& d = *impl_;
  auto prefix = community_key(community);
  std::lock_guard lock(d.write_mutex);
  rocksdb::WriteBatch batch;
  std::uint64_t queued = 0;
  std::string existing;
  auto scanned = d.scan(cf_messages, prefix, prefix_successor(prefix), "queue_unarchived_except",
                        [&](std::string_view key, std::string_view) -> result<bool> {
                          if (key.size() < message_hash_offset)
                            return d.malformed(cf_messages, key,
                                               "key is shorter than its fixed part");
                          if (archived(key.substr(message_hash_offset)))
                            return true;
                          auto status = d.db->Get(rocksdb::ReadOptions{}, d.handles[cf_unarchived],
                                                  slice(key), &existing);
                          if (status.ok())
                            return true;  // queued already
                          if (!status.IsNotFound())
                            return d.db_error("queue_unarchived_except", status);
                          if (auto r = d.put(batch, cf_unarchived, key, {}, "queue_unarchived_except");
                              !r)
                            return r.error();
                          ++queued;
                          return true;
                        });
  if (!scanned)
    return scanned.error();
  if (auto r = d.write(batch, "queue_unarchived_except"); !r)
    return r.error();
  d.add_counts(prefix, 0, static_cast<std::int64_t>(queued));
  if (queued > 0)
    ++d.queue_writes;
  return queued;
}

result<void> store::commit_build(const public_key& community, const unarchived_view& view,
                                 const build_commit& commit) {
  auto& d = *impl_;
  auto prefix = community_key(community);
  if (view.impl_->prefix != prefix)
    return make_error(errc::invalid_argument, d.path.string() +
                                                ": commit_build: the view is of another community");
  std::lock_guard lock(d.write_mutex);
  rocksdb::WriteBatch batch;
  std::int64_t removed = 0;
  // Nothing queued since the view: every queued key below archived_below
  // is the view's, so one range deletion drops exactly them. Otherwise a
  // late message may sit in that range unarchived; delete key by key.
  const bool whole_range = d.queue_writes == view.impl_->queue_writes;
  // With one range deletion the keys are not walked again (a second pass
  // over a week's queue cost a fifth of the build): the running count, if
  // it is known, drops by what lies below the range's end, which is the
  // count less the few keys of the window still open above it.
  std::optional<std::int64_t> known_removed;
  bool any_below = false;
  auto staged = view.impl_->keys(0, commit.archived_below, "commit_build",
                                 [&](std::string_view key) -> result<bool> {
                                   any_below = true;
                                   if (whole_range)
                                     return false;
                                   ++removed;
                                   auto status = batch.Delete(d.handles[cf_unarchived], slice(key));
                                   if (!status.ok())
                                     return d.db_error("commit_build", status);
                                   return true;
                                 });
  if (!staged)
    return staged;
  if (!whole_range)
    known_removed = removed;
  else if (auto held = d.known_count(prefix, &impl::running_counts::unarchived)) {
    std::int64_t above = 0;
    if (commit.archived_below != UINT64_MAX) {
      auto counted = view.impl_->keys(commit.archived_below, UINT64_MAX, "commit_build",
                                      [&](std::string_view) -> result<bool> {
                                        ++above;
                                        return true;
                                      });
      if (!counted)
        return counted;
    }
    known_removed = static_cast<std::int64_t>(*held) - above;
  }
  if (whole_range && any_below) {
    auto end = commit.archived_below == UINT64_MAX ? prefix_successor(prefix)
                                                   : prefix + be64(commit.archived_below);
    auto status = batch.DeleteRange(d.handles[cf_unarchived], slice(prefix + be64(0)), slice(end));
    if (!status.ok())
      return d.db_error("commit_build", status);
  }
  if (auto r = d.put(batch, cf_archive_info, info_key(community, info_field::last_archive_end),
                     be64(commit.archive_end), "commit_build");
      !r)
    return r;
  // The owner's own archives hold messages it stored already: imported.
  auto added = d.stage_archive_records(batch, prefix, commit.archives, true, "commit_build");
  if (!added)
    return added.error();
  record::BuildCommit marker;
  for (const auto& archive : commit.archives)
    marker.add_archive_ids(archive.id);
  if (!commit.archives.empty())
    if (auto r = d.put(batch, cf_archive_info, info_key(community, info_field::build_commit),
                       marker.SerializeAsString(), "commit_build");
        !r)
      return r;
  if (auto r = d.write(batch, "commit_build"); !r)
    return r;
  if (known_removed)
    d.add_counts(prefix, 0, -*known_removed);
  else
    d.forget_count(prefix, &impl::running_counts::unarchived);
  d.add_archive_counts(prefix, *added);
  return {};
}

result<std::optional<std::vector<std::string>>>
store::pending_build_commit(const public_key& community) const {
  auto& d = *impl_;
  auto key = info_key(community, info_field::build_commit);
  auto stored = d.get(cf_archive_info, key, "pending_build_commit");
  if (!stored)
    return stored.error();
  if (!*stored)
    return std::optional<std::vector<std::string>>{};
  record::BuildCommit marker;
  if (!marker.ParseFromString(**stored))
    return d.malformed(cf_archive_info, key, "value is not a BuildCommit record");
  return std::optional<std::vector<std::string>>{
    std::vector<std::string>(marker.archive_ids().begin(), marker.archive_ids().end())};
}

result<void> store::clear_build_commit(const public_key& community) {
  auto& d = *impl_;
  auto status = d.db->Delete(d.write_options, d.handles[cf_archive_info],
                             slice(info_key(community, info_field::build_commit)));
  if (!status.ok())
    return d.db_error("clear_build_commit", status);
  return {};
}

result<bool> store::has_message(const public_key& community, std::string_view hash) const {
  auto stored = impl_->get(cf_message_hashes, community_key(community) + std::string(hash),
                           "has_message");
  if (!stored)
    return stored.error();
  return stored->has_value();
}

result<std::uint64_t> store::count_messages(const public_key& community) const {
  // message_hashes holds one small entry per message, cheaper to walk than
  // the messages themselves; the walk happens once per community.
  return impl_->cached_count(community_key(community), &impl::running_counts::messages,
                             cf_message_hashes, "count_messages");
}

// -- communities --------------------------------------------------------------

result<void> store::put_community(const record::Community& community) {
  const auto& key = community.public_key();
  if (key.size() != community_key_size)
    return make_error(errc::invalid_argument,
                      impl_->path.string() + ": put_community: public_key has " +
                        std::to_string(key.size()) + " bytes, expected a 33-byte compressed key");
  return impl_->put(cf_communities, key, community.SerializeAsString(), "put_community");
}

result<std::optional<record::Community>> store::get_community(const public_key& id) const {
  auto& d = *impl_;
  auto key = community_key(id);
  auto stored = d.get(cf_communities, key, "get_community");
  if (!stored)
    return stored.error();
  if (!*stored)
    return std::optional<record::Community>{};
  record::Community community;
  if (!community.ParseFromString(**stored))
    return d.malformed(cf_communities, key, "value is not a Community record");
  return std::optional<record::Community>{std::move(community)};
}

result<std::vector<record::Community>> store::list_communities() const {
  auto& d = *impl_;
  std::vector<record::Community> communities;
  auto scanned = d.scan(cf_communities, {}, {}, "list_communities",
                        [&](std::string_view key, std::string_view value) -> result<bool> {
                          record::Community community;
                          if (!community.ParseFromArray(value.data(),
                                                        static_cast<int>(value.size())))
                            return d.malformed(cf_communities, key,
                                               "value is not a Community record");
                          communities.push_back(std::move(community));
                          return true;
                        });
  if (!scanned)
    return scanned.error();
  return communities;
}

result<void> store::delete_community(const public_key& id) {
  auto& d = *impl_;
  auto status = d.db->Delete(d.write_options, d.handles[cf_communities],
                             slice(community_key(id)));
  if (!status.ok())
    return d.db_error("delete_community", status);
  return {};
}

// -- archive info ---------------------------------------------------------------

result<archive_info> store::get_archive_info(const public_key& community) const {
  auto& d = *impl_;
  auto prefix = community_key(community);
  archive_info info;
  auto scanned = d.scan(
    cf_archive_info, prefix, prefix_successor(prefix), "get_archive_info",
    [&](std::string_view key, std::string_view value) -> result<bool> {
      if (key.size() != community_key_size + 1)
        return d.malformed(cf_archive_info, key, "expected the community key and one tag byte");
      auto read_u64 = [&](std::uint64_t& field) -> result<bool> {
        if (value.size() != 8)
          return d.malformed(cf_archive_info, key,
                             "expected an 8-byte integer, got " +
                               std::to_string(value.size()) + " bytes");
        field = read_be64(value);
        return true;
      };
      switch (static_cast<info_field>(key.back())) {
      case info_field::magnetlink_clock:
        return read_u64(info.magnetlink_clock);
      case info_field::last_archive_end:
        return read_u64(info.last_archive_end);
      case info_field::last_magnet_uri:
        info.last_magnet_uri = std::string(value);
        return true;
      case info_field::build_commit:
        return true;  // pending_build_commit reads it
      }
      return d.malformed(cf_archive_info, key, "unknown field tag");
    });
  if (!scanned)
    return scanned.error();
  return info;
}

result<void> store::set_magnetlink_clock(const public_key& community, std::uint64_t clock) {
  return impl_->put(cf_archive_info, info_key(community, info_field::magnetlink_clock),
                    be64(clock), "set_magnetlink_clock");
}

result<void> store::set_last_archive_end(const public_key& community, std::uint64_t end) {
  return impl_->put(cf_archive_info, info_key(community, info_field::last_archive_end),
                    be64(end), "set_last_archive_end");
}

result<void> store::set_last_magnet_uri(const public_key& community, std::string_view uri) {
  return impl_->put(cf_archive_info, info_key(community, info_field::last_magnet_uri), uri,
                    "set_last_magnet_uri");
}

result<void> store::set_magnetlink(const public_key& community, std::uint64_t clock,
                                   std::string_view uri) {
  auto& d = *impl_;
  rocksdb::WriteBatch batch;
  if (auto r = d.put(batch, cf_archive_info, info_key(community, info_field::magnetlink_clock),
                     be64(clock), "set_magnetlink");
      !r)
    return r;
  if (auto r = d.put(batch, cf_archive_info, info_key(community, info_field::last_magnet_uri),
                     uri, "set_magnetlink");
      !r)
    return r;
  return d.write(batch, "set_magnetlink");
}

// -- archive IDs ------------------------------------------------------------------

result<void> store::mark_archives_downloaded(const public_key& community,
                                             const std::vector<built_archive>& archives,
                                             bool imported) {
  auto& d = *impl_;
  auto prefix = community_key(community);
  std::lock_guard lock(d.write_mutex);
  rocksdb::WriteBatch batch;
  auto added = d.stage_archive_records(batch, prefix, archives, imported,
                                       "mark_archives_downloaded");
  if (!added)
    return added.error();
  if (auto r = d.write(batch, "mark_archives_downloaded"); !r)
    return r;
  d.add_archive_counts(prefix, *added);
  return {};
}

result<insert_stats> store::import_archive_messages(const public_key& community,
                                                    std::string_view archive_id,
                                                    const std::vector<archive_message>& messages,
                                                    bool archive_done) {
  auto encoded = encode_messages(messages);
  return import_archive_wires(community, archive_id, encoded.wires.data(), encoded.wires.size(),
                              archive_done);
}

result<insert_stats> store::import_archive_wires(const public_key& community,
                                                 std::string_view archive_id,
                                                 const message_wire* messages, std::size_t count,
                                                 bool archive_done) {
  auto& d = *impl_;
  auto prefix = community_key(community);
  auto archive_key = prefix + std::string(archive_id);
  std::lock_guard lock(d.write_mutex);
  auto archive = d.get_archive(archive_key, "import_archive_messages");
  if (!archive)
    return archive.error();
  if (!*archive)
    return make_error(errc::not_found,
                      d.path.string() + ": import_archive_messages: archive " +
                        std::string(archive_id) + " of community " + community.community_id() +
                        " is not recorded; mark it downloaded first");
  rocksdb::WriteBatch batch;
  auto stats = d.stage_wires(prefix, messages, count, batch, "import_archive_messages", false);
  if (!stats)
    return stats;
  archive_counts added;
  if (archive_done && !(*archive)->imported()) {
    (*archive)->set_imported(true);
    added.imported = 1;
    if (auto r = d.put(batch, cf_archives, archive_key, (*archive)->SerializeAsString(),
                       "import_archive_messages");
        !r)
      return r.error();
  }
  if (auto written = d.write(batch, "import_archive_messages"); !written)
    return written.error();
  d.add_counts(prefix, static_cast<std::int64_t>(stats->inserted), 0);
  d.add_archive_counts(prefix, added);
  return stats;
}

result<std::vector<std::pair<std::string, record::Archive>>>
store::list_archives(const public_key& community) const {
  auto& d = *impl_;
  auto prefix = community_key(community);
  std::vector<std::pair<std::string, record::Archive>> archives;
  auto scanned = d.scan(cf_archives, prefix, prefix_successor(prefix), "list_archives",
                        [&](std::string_view key, std::string_view value) -> result<bool> {
                          record::Archive archive;
                          if (!archive.ParseFromArray(value.data(),
                                                      static_cast<int>(value.size())))
                            return d.malformed(cf_archives, key,
                                               "value is not an Archive record");
                          archives.emplace_back(std::string(key.substr(community_key_size)),
                                                std::move(archive));
                          return true;
                        });
  if (!scanned)
    return scanned.error();
  return archives;
}

archive_counts store::count_archives(const public_key& community) const {
  std::lock_guard lock(impl_->counts_mutex);
  auto it = impl_->archive_tally.find(community_key(community));
  return it == impl_->archive_tally.end() ? archive_counts{} : it->second;
}

result<std::vector<std::string>> store::unimported_archives(const public_key& community) const {
  auto archives = list_archives(community);
  if (!archives)
    return archives.error();
  auto& all = *archives;
  all.erase(std::remove_if(all.begin(), all.end(),
                           [](const auto& archive) { return archive.second.imported(); }),
            all.end());
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.second.from(), std::string_view(a.first)) <
           std::make_pair(b.second.from(), std::string_view(b.first));
  });
  std::vector<std::string> ids;
  ids.reserve(all.size());
  for (auto& archive : all)
    ids.push_back(std::move(archive.first));
  return ids;
}

// -- settings -------------------------------------------------------------------

result<std::optional<std::string>> store::get_setting(std::string_view key) const {
  return impl_->get(cf_settings, key, "get_setting");
}

result<void> store::put_setting(std::string_view key, std::string_view value) {
  return impl_->put(cf_settings, key, value, "put_setting");
}

record::Community community_record(const public_key& community,
                                   const std::vector<std::string>& channel_ids,
                                   record::Community::Role role) {
  record::Community out;
  out.set_public_key(std::string(as_view(community.compressed())));
  for (const auto& id : channel_ids) {
    auto* channel = out.add_channels();
    channel->set_id(id);
    channel->set_topic(
      std::string(as_view(chat_topic(channel_chat_id(community.community_id(), id)))));
  }
  out.set_shard_cluster(default_shard_cluster);
  out.set_shard_index(default_shard_index);
  out.set_joined(true);
  out.set_role(role);
  out.set_archives_enabled(true);
  return out;
}

std::vector<topic4> channel_topics(const record::Community& community) {
  std::vector<topic4> topics;
  for (const auto& channel : community.channels()) {
    const auto& bytes = channel.topic();
    if (bytes.size() != 4)
      continue;
    topic4 topic;
    std::memcpy(topic.data(), bytes.data(), topic.size());
    topics.push_back(topic);
  }
  return topics;
}

std::string community_pubsub_topic(const record::Community& community) {
  if (community.shard_cluster() == 0 && community.shard_index() == 0)
    return pubsub_topic();
  return pubsub_topic(community.shard_cluster(), community.shard_index());
}


// -- relay messages: the Waku store this node serves -----------------------------

namespace {

constexpr std::size_t relay_hash_size = 32;
constexpr std::size_t relay_suffix_size = 8 + relay_hash_size;

/// Signed nanoseconds as 8 bytes that sort like the numbers.
std::string time_key(std::int64_t ns) {
  return be64(static_cast<std::uint64_t>(ns) ^ (std::uint64_t{1} << 63));
}

std::int64_t read_time_key(std::string_view bytes) {
  return static_cast<std::int64_t>(read_be64(bytes) ^ (std::uint64_t{1} << 63));
}

/// A length-prefixed topic, so one topic's keys never run into another's.
std::string topic_part(std::string_view topic) {
  std::string out;
  out.push_back(static_cast<char>(topic.size() >> 8));
  out.push_back(static_cast<char>(topic.size() & 0xff));
  out.append(topic);
  return out;
}

std::string relay_value(const stored_relay_message& m) {
  return topic_part(m.pubsub_topic) + topic_part(m.content_topic) + m.message;
}

std::optional<stored_relay_message> parse_relay_value(std::string_view key,
                                                      std::string_view value) {
  auto take = [&](std::string& out) {
    if (value.size() < 2)
      return false;
    auto n = std::size_t(std::uint8_t(value[0])) << 8 | std::uint8_t(value[1]);
    if (value.size() < 2 + n)
      return false;
    out.assign(value.substr(2, n));
    value.remove_prefix(2 + n);
    return true;
  };
  stored_relay_message m;
  if (key.size() != relay_suffix_size || !take(m.pubsub_topic) || !take(m.content_topic))
    return std::nullopt;
  m.timestamp = read_time_key(key);
  m.hash.assign(key.substr(8));
  m.message.assign(value);
  return m;
}

/// One index range of a query: keys `prefix` + (time key, hash) in [lo, hi].
struct relay_range {
  std::string prefix;
  std::unique_ptr<rocksdb::Iterator> it;
  std::string_view suffix() const {
    return view(it->key()).substr(prefix.size());
  }
};

} // namespace

result<std::size_t> store::impl::stage_relay(rocksdb::WriteBatch& batch,
                                             const std::vector<stored_relay_message>& messages,
                                             std::string_view operation) const {
  std::unordered_set<std::string_view> staged;
  std::size_t added = 0;
  for (const auto& m : messages) {
    if (m.hash.size() != relay_hash_size)
      return make_error(errc::invalid_argument, std::string(operation) + ": a hash of "
                                                  + std::to_string(m.hash.size()) + " bytes");
    if (m.pubsub_topic.size() > 0xffff || m.content_topic.size() > 0xffff)
      return make_error(errc::invalid_argument,
                        std::string(operation) + ": a topic over 65535 bytes");
    if (!staged.insert(m.hash).second)
      continue;
    auto known = get(cf_relay_hashes, m.hash, operation);
    if (!known)
      return known.error();
    if (*known)
      continue;
    auto suffix = time_key(m.timestamp) + m.hash;
    auto pubsub = topic_part(m.pubsub_topic);
    for (auto [cf, key, value] :
         {std::tuple{cf_relay_messages, suffix, relay_value(m)},
          std::tuple{cf_relay_hashes, m.hash, time_key(m.timestamp)},
          std::tuple{cf_relay_by_topic, pubsub + suffix, std::string()},
          std::tuple{cf_relay_by_content, pubsub + topic_part(m.content_topic) + suffix,
                     std::string()}})
      if (auto r = put(batch, cf, key, value, operation); !r)
        return r.error();
    ++added;
  }
  return added;
}

result<std::size_t> store::record_relay_messages(const std::vector<stored_relay_message>& messages) {
  auto& d = *impl_;
  std::lock_guard lock(d.write_mutex);
  rocksdb::WriteBatch batch;
  auto added = d.stage_relay(batch, messages, "record_relay_messages");
  if (!added)
    return added;
  if (auto written = d.write(batch, "record_relay_messages"); !written)
    return written.error();
  d.add_relay_count(*added);
  return added;
}

result<std::uint64_t> store::count_relay_messages() const {
  auto& d = *impl_;
  {
    std::lock_guard counts(d.counts_mutex);
    if (d.relay_count)
      return *d.relay_count;
  }
  std::lock_guard writers(d.write_mutex);
  std::uint64_t n = 0;
  auto scanned = d.scan(cf_relay_hashes, std::string(), std::string(), "count_relay_messages",
                        [&](std::string_view, std::string_view) -> result<bool> {
                          ++n;
                          return true;
                        });
  if (!scanned)
    return scanned.error();
  std::lock_guard counts(d.counts_mutex);
  d.relay_count = n;
  return n;
}

result<store_page> store::query_relay_messages(const store_query& query,
                                               std::size_t max_bytes) const {
  auto& d = *impl_;
  const rocksdb::Snapshot* snapshot = d.db->GetSnapshot();
  struct release {
    const impl& d;
    const rocksdb::Snapshot* s;
    ~release() { d.db->ReleaseSnapshot(s); }
  } released{d, snapshot};
  rocksdb::ReadOptions read;
  read.snapshot = snapshot;
  auto fetch = [&](const std::string& suffix) -> result<std::optional<stored_relay_message>> {
    auto value = d.get(cf_relay_messages, suffix, "query_relay_messages", snapshot);
    if (!value)
      return value.error();
    if (!*value)
      return std::optional<stored_relay_message>{};
    auto m = parse_relay_value(suffix, **value);
    if (!m)
      return d.malformed(cf_relay_messages, suffix, "value does not hold two topics");
    return m;
  };
  // A hash's place in the order: its time key, then itself.
  auto time_of = [&](const std::string& hash) -> result<std::optional<std::string>> {
    auto value = d.get(cf_relay_hashes, hash, "query_relay_messages", snapshot);
    if (!value || !*value)
      return value;
    return std::optional<std::string>(**value + hash);
  };

  // Where the cursor stands, exclusive.
  std::optional<std::string> at;
  if (query.cursor) {
    auto found = time_of(*query.cursor);
    if (!found)
      return found.error();
    if (!*found)
      return make_error(errc::not_found, "the pagination cursor names no stored message");
    at = **found;
  }

  // The candidates, in query order (forward: ascending), at most limit + 1.
  if (!query.content_topics.empty() && !query.pubsub_topic)
    return make_error(errc::invalid_argument, "content topics need a pubsub topic");
  // parse_store_query clamps the page; a direct caller gets the same sense.
  auto limit = std::clamp<std::uint64_t>(query.limit, 1, 100'000);
  std::vector<std::string> picked;
  auto wanted = static_cast<std::size_t>(limit) + 1;
  if (!query.message_hashes.empty()) {
    for (const auto& hash : query.message_hashes) {
      auto found = time_of(hash);
      if (!found)
        return found.error();
      if (*found)
        picked.push_back(**found);
    }
    std::sort(picked.begin(), picked.end());
    picked.erase(std::unique(picked.begin(), picked.end()), picked.end());
    if (at)
      picked.erase(std::remove_if(picked.begin(), picked.end(),
                                  [&](const std::string& s) {
                                    return query.forward ? s <= *at : s >= *at;
                                  }),
                   picked.end());
    if (!query.forward)
      std::reverse(picked.begin(), picked.end());
    if (picked.size() > wanted)
      picked.resize(wanted);
  } else {
    auto lo = time_key(query.time_start.value_or(std::numeric_limits<std::int64_t>::min()))
              + std::string(relay_hash_size, '\0');
    auto hi = time_key(query.time_end.value_or(std::numeric_limits<std::int64_t>::max()))
              + std::string(relay_hash_size, '\xff');
    if (at && query.forward)
      lo = std::max(lo, *at);
    if (at && !query.forward)
      hi = std::min(hi, *at);
    column_family cf = cf_relay_messages;
    std::vector<std::string> prefixes{std::string()};
    if (query.pubsub_topic && query.content_topics.empty()) {
      cf = cf_relay_by_topic;
      prefixes = {topic_part(*query.pubsub_topic)};
    } else if (query.pubsub_topic) {
      cf = cf_relay_by_content;
      prefixes.clear();
      auto sorted = query.content_topics;
      std::sort(sorted.begin(), sorted.end());
      sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
      for (const auto& ct : sorted)
        prefixes.push_back(topic_part(*query.pubsub_topic) + topic_part(ct));
    }
    std::vector<relay_range> ranges;
    for (auto& prefix : prefixes) {
      relay_range r{std::move(prefix), std::unique_ptr<rocksdb::Iterator>(
                                         d.db->NewIterator(read, d.handles[cf]))};
      if (query.forward)
        r.it->Seek(slice(r.prefix + lo));
      else
        r.it->SeekForPrev(slice(r.prefix + hi));
      ranges.push_back(std::move(r));
    }
    // Skips what lies outside the range or is the cursor itself.
    auto settle = [&](relay_range& r) {
      while (r.it->Valid()) {
        auto key = view(r.it->key());
        if (key.size() != r.prefix.size() + relay_suffix_size
            || key.substr(0, r.prefix.size()) != r.prefix)
          return false;
        auto suffix = key.substr(r.prefix.size());
        if (suffix < std::string_view(lo) || suffix > std::string_view(hi))
          return false;
        if (at && suffix == std::string_view(*at)) {
          query.forward ? r.it->Next() : r.it->Prev();
          continue;
        }
        return true;
      }
      return false;
    };
    std::vector<relay_range*> live;
    for (auto& r : ranges)
      if (settle(r))
        live.push_back(&r);
    while (picked.size() < wanted && !live.empty()) {
      auto best = live.begin();
      for (auto it = live.begin(); it != live.end(); ++it) {
        bool better = query.forward ? (*it)->suffix() < (*best)->suffix()
                                    : (*it)->suffix() > (*best)->suffix();
        if (better)
          best = it;
      }
      picked.emplace_back((*best)->suffix());
      query.forward ? (*best)->it->Next() : (*best)->it->Prev();
      if (!settle(**best))
        live.erase(best);
    }
    for (auto& r : ranges)
      if (!r.it->status().ok())
        return d.db_error("query_relay_messages", r.it->status());
  }

  store_page page;
  std::size_t bytes = 0;
  bool more = picked.size() > limit;
  if (more)
    picked.pop_back();
  for (const auto& suffix : picked) {
    auto m = fetch(suffix);
    if (!m)
      return m.error();
    if (!*m)
      continue;  // dropped by retention since the index was read
    // Bounded answers: stop before the budget, but always carry one message.
    if (!page.messages.empty() && bytes + (*m)->message.size() > max_bytes) {
      more = true;
      break;
    }
    bytes += (*m)->message.size();
    page.messages.push_back(std::move(**m));
  }
  if (!query.forward)
    std::reverse(page.messages.begin(), page.messages.end());
  if (more && !page.messages.empty())
    page.cursor = query.forward ? page.messages.back().hash : page.messages.front().hash;
  return page;
}

result<std::uint64_t> store::prune_relay_messages(std::int64_t before,
                                                  std::uint64_t keep_at_most,
                                                  std::uint64_t max_drop) {
  auto total = count_relay_messages();
  if (!total)
    return total.error();
  auto& d = *impl_;
  std::lock_guard lock(d.write_mutex);
  auto over = *total > keep_at_most ? *total - keep_at_most : 0;
  auto limit = time_key(before);
  rocksdb::WriteBatch batch;
  std::uint64_t dropped = 0;
  std::unique_ptr<rocksdb::Iterator> it(
    d.db->NewIterator(rocksdb::ReadOptions{}, d.handles[cf_relay_messages]));
  for (it->SeekToFirst(); it->Valid() && dropped < max_drop; it->Next()) {
    auto key = view(it->key());
    if (dropped >= over && key.substr(0, 8) >= std::string_view(limit))
      break;
    auto m = parse_relay_value(key, view(it->value()));
    if (!m)
      return d.malformed(cf_relay_messages, key, "value does not hold two topics");
    auto pubsub = topic_part(m->pubsub_topic);
    batch.Delete(d.handles[cf_relay_messages], slice(key));
    batch.Delete(d.handles[cf_relay_hashes], slice(m->hash));
    batch.Delete(d.handles[cf_relay_by_topic], slice(pubsub + std::string(key)));
    batch.Delete(d.handles[cf_relay_by_content],
                 slice(pubsub + topic_part(m->content_topic) + std::string(key)));
    ++dropped;
  }
  if (!it->status().ok())
    return d.db_error("prune_relay_messages", it->status());
  // Deletes free space; they are never refused for want of it.
  if (dropped > 0) {
    auto status = d.db->Write(d.write_options, &batch);
    if (!status.ok())
      return d.db_error("prune_relay_messages", status);
  }
  std::lock_guard counts(d.counts_mutex);
  if (d.relay_count)
    *d.relay_count -= std::min(*d.relay_count, dropped);
  return dropped;
}

} // namespace annals
