// Opening the store, settling it, and the community messages; the key
// layout is in store_impl.hpp.
#include "storage/store_impl.hpp"

namespace annals {


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


} // namespace annals
