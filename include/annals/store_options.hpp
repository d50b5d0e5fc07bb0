// How a node's RocksDB store is opened: a small header, so the node's
// config can carry it without RocksDB or protobuf.
#pragma once

#include <cstddef>
#include <cstdint>

namespace annals {

struct store_options {
  /// fsync the WAL on every write: an acknowledged write survives a power
  /// loss, not only a process crash. Bulk writes pay this once per batch.
  bool sync_writes = true;
  /// Create the database when the directory is empty.
  bool create_if_missing = true;
  /// Memory bounds (a node runs beside others; RocksDB's defaults allow
  /// 64 MiB per column family memtable and an 8 MiB cache per family).
  std::size_t write_buffer_bytes = 4u << 20;         // one memtable of one family
  /// One memtable of the message bodies: an archive import writes a
  /// gigabyte through it, and each flush of a small one is another L0 file
  /// for compaction to merge on the same two cores.
  std::size_t body_write_buffer_bytes = 16u << 20;
  std::size_t total_write_buffer_bytes = 48u << 20;  // every memtable of the store
  std::size_t block_cache_bytes = 8u << 20;          // one LRU cache for all families
  /// Read table files through mmap (RocksDB's allow_mmap_reads): no copy
  /// of each block out of the page cache. Off where a read error must come
  /// back as an error rather than a SIGBUS (a failing disk, say).
  bool mmap_reads = true;
  /// Writes are refused, naming the disk, while fewer bytes than this are
  /// free: RocksDB must never meet a full disk mid-write (Debian's build
  /// aborts on an assertion there), and its flushes and compactions need room.
  std::uint64_t min_free_bytes = std::uint64_t{64} << 20;
};

} // namespace annals
