// SHA-1 of torrent pieces, on a second thread while a build encodes, and the
// append to `data` on a third: the owner's build then costs about one pass
// over its bytes instead of a write followed by a read-back to hash, and the
// disk's wait overlaps with both. OpenSSL's SHA-1 (SHA-NI where the CPU has
// it); no libtorrent here.
#pragma once

#include "core/archive_format.hpp"
#include "core/file_io.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace annals {

/// Appends to `digests` the SHA-1 of each `piece_length` slice of `bytes`
/// (the last one may be shorter).
void sha1_pieces(std::string_view bytes, std::string& digests,
                 std::uint64_t piece_length = archive_piece_length);

/// What a piece_hasher does with each buffer once it is hashed (a build
/// appends it to `data`), on a thread of its own, in order.
using piece_sink = std::function<result<void>(std::string_view bytes)>;

/// Hashes buffers of whole pieces in the order they are added, on its own
/// thread, and hands each to `sink` on another. At most `max_waiting`
/// buffers wait at each step (add blocks beyond that), so a build holds a
/// bounded number of archives in memory. The sink's first error stops the
/// work; add and finish return it.
class piece_hasher {
public:
  explicit piece_hasher(std::size_t max_waiting = 1, piece_sink sink = {});
  ~piece_hasher();
  piece_hasher(const piece_hasher&) = delete;
  piece_hasher& operator=(const piece_hasher&) = delete;

  /// Queues `bytes`, whose size must be a multiple of the piece length
  /// except for the last buffer added. Page-aligned, so that the sink can
  /// write them to disk without a copy.
  result<void> add(std::shared_ptr<page_buffer> bytes);

  /// Waits for every queued buffer; the digests of all pieces added, in
  /// order, or the sink's error.
  result<std::string> finish();

  /// An empty string that keeps the capacity of a buffer already hashed and
  /// sunk (or a new one): refilling it costs no page faults, which on a VM
  /// cost more than the copy itself.
  page_buffer take_spare();

private:
  using buffer = std::shared_ptr<page_buffer>;
  void keep_spare(buffer bytes);
  void hash_loop();
  void sink_loop();
  bool idle() const;

  std::size_t max_waiting_;
  piece_sink sink_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<buffer> to_hash_;
  std::deque<buffer> to_sink_;
  int busy_ = 0;  // buffers taken off a queue and not done yet
  bool stopping_ = false;
  std::optional<error> failed_;
  std::string digests_;
  std::vector<page_buffer> spares_;
  std::thread hasher_;
  std::thread sinker_;
};

} // namespace annals
