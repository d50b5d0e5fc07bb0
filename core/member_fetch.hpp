// A member's fetch of one community's archive set, as status-go's
// DownloadHistoryArchivesByMagnetlink runs it (manager_archive.go:473-642),
// free of any backend, actor or clock:
//   locate (timeout, one retry) -> refuse hostile sets -> free disk check
//   -> index first -> index checks -> the archives missing by ID
//   -> recorded oldest first as they arrive -> complete.
// The downloader actor and `annals archive fetch` both drive it with what
// their distribution backend reports (core/distribution.hpp), so the
// sequence and its limits exist once.
#pragma once

#include "core/distribution.hpp"
#include "core/fetch_plan.hpp"
#include "core/hash_ratchet.hpp"

#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace annals {

struct member_fetch_options {
  /// status-go waits 20 s for a magnet link's metadata and retries once.
  std::chrono::seconds locate_timeout{20};
  int locate_attempts = 2;
  /// No byte received for this long while something is wanted ends the
  /// fetch; status-go waits forever (status-app#10322).
  std::chrono::seconds stall_timeout{60};
  fetch_limits limits;
  /// A token-gated community's keys: its index and archives are encrypted.
  std::shared_ptr<const hr_keyring> keys;
  /// Kept free on the disk beyond what the set needs (status-app#9404).
  std::uint64_t disk_headroom = 64ull << 20;
};

/// What the driver does next.
struct member_step {
  enum kind_type {
    wait,           // nothing yet; ask again later
    relocate,       // start the fetch again (re-dial the peers)
    want_index,     // want the index
    want_archives,  // want `slots` (fetching starts: downloadingHistoryArchivesStarted)
    record,         // `archives` arrived, oldest first: record them, then import
    complete,       // everything wanted is held: keep serving it
    refuse,         // the set must not be fetched: drop it; `reason` names the rule
    fail,           // the fetch ends; `reason` names the cause
  };
  kind_type kind = wait;
  std::string reason;
  errc code = errc::io;  // fail: why, e.g. missing_key
  std::vector<archive_slot> slots;        // want_archives
  std::vector<archive_pieces> archives;
  /// With `record`: these were the last archives, so the fetch is complete.
  bool last = false;
  /// With `want_index`: the member holds none of the set's archives, so it
  /// will want all of `data`; asking for it now, behind the index, keeps
  /// the peers busy while the index arrives and is read.
  bool with_data = false;
};

class member_fetch {
public:
  using clock = std::chrono::steady_clock;
  enum class phase { locate, index, archives, done };

  /// `held` are the IDs of the archives the member already has; the files go
  /// under `archive_root`/archivedata/<community>/.
  member_fetch(std::string community_id, std::filesystem::path archive_root,
               std::set<std::string> held, member_fetch_options options, clock::time_point now);

  /// The next step, given the backend's progress at `now`. After `fail`,
  /// `refuse` and `complete` the fetch is over and answers `wait`.
  member_step advance(const fetch_progress& progress, clock::time_point now);

  phase at() const { return at_; }
  int attempts() const { return attempts_; }
  const archive_set_summary& summary() const { return summary_; }
  /// The archives this fetch wants, oldest first, and how many are recorded.
  const std::vector<archive_pieces>& missing() const { return missing_; }
  std::size_t recorded() const { return next_; }
  std::uint64_t received() const { return received_; }
  /// A token-gated community's keys, which open its index and archives.
  const hr_keyring* keys() const { return options_.keys.get(); }
  std::shared_ptr<const hr_keyring> shared_keys() const { return options_.keys; }

private:
  member_step end(member_step::kind_type kind, std::string reason);

  std::string community_id_;
  std::filesystem::path archive_root_;
  std::set<std::string> held_;
  member_fetch_options options_;
  phase at_ = phase::locate;
  clock::time_point since_;  // phase start or last byte received
  int attempts_ = 1;
  std::uint64_t received_ = 0;
  archive_set_summary summary_;
  std::vector<archive_pieces> missing_;
  std::size_t next_ = 0;  // the oldest archive not yet recorded
};

} // namespace annals
