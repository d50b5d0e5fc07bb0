// Builds status-go history archives from messages (CreateHistoryArchiveTorrent
// without the torrent): windows, chunks, padding, IDs, append to `data`,
// rewrite `index`. No actors, no libtorrent; the torrent is net/torrent_file.
#pragma once

#include "core/archive_format.hpp"
#include "core/file_io.hpp"
#include "core/hash_ratchet.hpp"

#include <functional>
#include <memory>

namespace annals {

/// Takes one message's canonical bytes; the views live only for the call.
using message_visitor = std::function<void(const message_wire&)>;

/// Calls `visit` for every stored message with from <= timestamp < to whose
/// topic is in `topics`, in a stable order (timestamp, topic, hash). Returns an
/// error to abort the build. Sources that hold bytes (the store) hand them
/// on as they are; sources that hold messages use visit_encoded.
using message_source = std::function<result<void>(
  std::uint64_t from, std::uint64_t to, const std::vector<topic4>& topics,
  const message_visitor& visit)>;

/// Encodes `message` (append_wire) and visits its bytes.
void visit_encoded(const message_visitor& visit, const archive_message& message);

/// An archive's time range: metadata from/to, unix seconds, `to` exclusive.
struct archive_window {
  std::uint64_t from = 0;
  std::uint64_t to = 0;
};

struct build_request {
  build_request(std::uint64_t from = 0, std::uint64_t to = 0,
                std::uint64_t partition = default_partition_seconds,
                std::vector<topic4> topics = {})
    : from(from), to(to), partition(partition), topics(std::move(topics)) {}

  std::uint64_t from;          // unix seconds, inclusive
  std::uint64_t to;            // unix seconds, exclusive
  std::uint64_t partition;
  std::vector<topic4> topics;  // every channel topic of the community
  /// Windows built before the partitioned [from, to), each as it is (cut
  /// only by the 30 MB cap): an owner's late messages, whose timestamps lie
  /// before `from`, go into one such window per build.
  std::vector<archive_window> late;
  /// A token-gated community's archives: each archive and the index sealed
  /// (sizes, padding and IDs over the sealed bytes, as status-go), and the
  /// existing index opened, with its keys. Null: in clear.
  std::shared_ptr<const archive_cipher> cipher;
  /// Write the new index to staged_index_file() and leave index_file()
  /// alone; the caller promotes it (promote_staged_index) once it recorded
  /// the build, or a restart discards it.
  bool stage_index = false;
};

struct built_archive {
  std::string id;
  pb::WakuMessageArchiveIndexMetadata entry;
  std::size_t message_count = 0;
};

struct dropped_message {
  std::string hash;
  std::uint64_t timestamp = 0;
  std::uint64_t cap_size = 0;
};

struct build_report {
  std::vector<built_archive> archives;   // new archives, oldest first
  std::vector<dropped_message> dropped;  // single messages above the 30 MB cap
  std::size_t windows = 0;
  std::size_t empty_windows = 0;
  std::size_t messages = 0;              // messages written into archives
  std::uint64_t bytes_appended = 0;      // to `data`, padding included
  std::uint64_t recovered_tail = 0;      // bytes of a torn earlier append removed
  /// The pieces of every byte appended, hashed while they were written (on
  /// a second thread), so the torrent need not read them back.
  data_piece_hashes appended_pieces;
};

/// Progress after each window: (windows done, windows total).
using build_progress = std::function<void(std::size_t, std::size_t)>;

/// Pure encoding of one archive: serialized bytes, padding and index entry.
struct encoded_archive {
  page_buffer bytes;  // serialized WakuMessageArchive, without padding
  built_archive archive;
};
encoded_archive encode_archive(std::uint64_t from, std::uint64_t to,
                               const std::vector<topic4>& topics,
                               const std::vector<archive_message>& messages,
                               std::uint64_t offset);

/// Builds archives for [from, to) into `layout`, appending to an existing
/// archive set. Windows are [from, from+partition) capped at `to`; empty
/// windows produce nothing. Only when at least one archive was made are
/// `data` and `index` touched; `index` is replaced atomically after `data`
/// is synced, so a crash leaves the previous index valid (a torn tail of
/// `data` is cut off by the next build).
result<build_report> build_archives(const archive_layout& layout,
                                    const build_request& request,
                                    const message_source& source,
                                    const build_progress& progress = {});

/// Makes a staged index the archive set's index (an atomic, durable rename).
result<void> promote_staged_index(const archive_layout& layout);

/// Removes a staged index of a build that was never recorded; the bytes it
/// appended to `data` are cut off by the next build.
result<void> discard_staged_index(const archive_layout& layout);

/// Cuts `data` back to `end` bytes when a failed build left more behind
/// (its appended archives, which no index describes). True when it cut.
result<bool> cut_data_back(const archive_layout& layout, std::uint64_t end);

/// A message_source over messages held in memory (tests, JSONL imports).
message_source memory_source(std::vector<archive_message> messages);

} // namespace annals
