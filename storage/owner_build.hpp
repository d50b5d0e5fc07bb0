// An owner's archive build with exactly-once bookkeeping: every message the
// store holds ends up in exactly one committed archive, whatever its
// timestamp and whenever it arrived, across crashes.
//
// A build takes a snapshot of the community's unarchived queue, appends the
// archives to `data`, writes the new index beside the old one (index.next),
// then commits in one synced store write (queue entries removed, end date,
// archive records, a commit marker), then promotes the index and rewrites
// the torrent, then clears the marker. A restart that finds a marker rolls
// the build forward; a staged index without a marker is rolled back (its
// messages are still queued, its bytes in `data` are cut by the next build).
#pragma once

#include "core/archive_builder.hpp"
#include "core/identity.hpp"

#include <functional>
#include <string>
#include <vector>

namespace annals {

class store;

struct owner_build_request {
  /// End of the partitioned windows (exclusive); they start at the last
  /// build's end, or at the oldest queued message for a first build.
  std::uint64_t to = 0;
  std::uint64_t partition = default_partition_seconds;
  std::vector<topic4> topics;  // the community's channel topics (archive metadata)
  /// A token-gated community's: archives and index sealed, and read back,
  /// with its keys (community_cipher). Null: in clear.
  std::shared_ptr<const archive_cipher> cipher = nullptr;
};

/// Points a build passes, in order, for tests that crash it on purpose.
enum class owner_build_step { staged, committed, promoted, torrent_written };

struct owner_build_hooks {
  /// Rewrites the community's torrent from `data` and `index`; the pieces
  /// the build hashed as it appended them, or null (a recovery) to hash all.
  std::function<result<void>(const data_piece_hashes*)> write_torrent;
  /// Called after each step (tests kill the process here).
  std::function<void(owner_build_step)> after_step;
  /// Report the hashes of the messages archived (load benches).
  bool collect_hashes = false;
};

struct owner_build_result {
  build_report report;
  std::uint64_t from = 0;           // the earliest window built (late ones included)
  std::uint64_t to = 0;             // the new end date
  std::uint64_t late_messages = 0;  // archived in this build's late window
  std::uint64_t left_queued = 0;    // stored, not archived yet (timestamps >= to)
  std::uint64_t requeued = 0;       // stored messages found in no archive and queued
  std::vector<std::string> hashes;  // with collect_hashes
  /// How the window from the last end date on was read: from the message
  /// bodies alone when the queue's running count showed every stored
  /// message of it queued (`stored`), else beside the queue's keys.
  enum class read_path { queue, stored, stored_then_queue };
  read_path read = read_path::queue;
};

/// "queue", "stored" or "stored then queue".
const char* to_string(owner_build_result::read_path read);

/// Queues every stored message of the community that is in none of its
/// archive files (decoded from `index` and `data`): what a store written
/// before the archive queue existed lost behind its end dates. Returns how
/// many were queued. build_owner_archives runs it once per community (a
/// setting records it); it reads every archive once and holds their message
/// hashes in memory (about 100 bytes a message).
result<std::uint64_t> queue_messages_missing_from_archives(const archive_layout& layout,
                                                           store& db,
                                                           const public_key& community,
                                                           const hr_keyring* keys = nullptr);

/// Finishes a build a crash interrupted (promotes its index, rewrites the
/// torrent) or discards an uncommitted staged index. Returns whether an
/// interrupted build was finished.
result<bool> recover_owner_build(const archive_layout& layout, store& db,
                                 const public_key& community,
                                 const std::function<result<void>(const data_piece_hashes*)>& write_torrent,
                                 const hr_keyring* keys = nullptr);

/// Recovers, then archives every queued message with a timestamp below
/// request.to: messages older than the last end date go into one late
/// window [oldest, newest + 1), the rest into the partitioned windows.
result<owner_build_result> build_owner_archives(const archive_layout& layout, store& db,
                                                const public_key& community,
                                                const owner_build_request& request,
                                                const owner_build_hooks& hooks);

} // namespace annals
