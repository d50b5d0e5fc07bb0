#pragma once

#include "core/member_fetch.hpp"
#include "actors/storage_io.hpp"
#include "messages/actors.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>

namespace annals {

class store;

struct downloader_config {
  std::filesystem::path archive_root;  // archivedata/ and torrents/
  member_fetch_options fetch;
  /// Steps are taken when the backend says its fetch moved; this timer only
  /// checks deadlines (metadata, stalls: tens of seconds) and refreshes the
  /// rate and peers that status shows.
  std::chrono::milliseconds tick{1000};
  /// How often a fetch waiting for a key looks at its keys file.
  std::chrono::seconds keys_poll{5};
  /// Where store reads and writes and archive files are read (none: in
  /// line, for tests on the deterministic coordinator).
  storage_io_actor io = {};
};

/// status-go's downloadAndImportHistoryArchives, member side: one task per
/// community, each a member_fetch (core/member_fetch.hpp) driven
/// by the distribution backend: it steps when the backend says the fetch
/// moved, and a timer bounds every wait. Archives are
/// recorded as downloaded as they arrive, oldest first (before importing,
/// so a crash between the two is resumed at start-up), then imported; at the
/// end the backend keeps the set for serving and the link is remembered.
/// Time is the actor clock's, so tests run it on virtual time.
struct downloader_state {
  static inline const char* name = "downloader";

  struct task {
    std::uint64_t generation = 0;
    std::string magnet;
    std::uint64_t clock = 0;
    std::optional<member_fetch> fetch;
    bool busy = false;  // a request to the backend is in flight
    bool stale = false;  // the backend moved while busy: ask again after
    fetch_progress last;  // what the backend said last, for status
    /// When the last byte arrived (or the task started): a newer link that
    /// waits takes over from a task that stopped moving.
    std::chrono::steady_clock::time_point moved;
  };

  /// For status: what this run's downloads did, per community.
  struct community_counts {
    std::uint64_t started = 0;
    std::uint64_t finished = 0;
    std::uint64_t failed = 0;
    std::uint64_t archives = 0;  // downloaded and recorded
    std::uint64_t bytes = 0;     // payload bytes received
  };

  /// A fetch that stopped on a key this node lacks: started again once the
  /// community's keys file changes, never in a loop.
  struct parked_fetch {
    std::string magnet;
    std::uint64_t clock = 0;
    std::filesystem::path keys_file;
    std::filesystem::file_time_type keys_changed;
  };

  downloader_config config;
  std::shared_ptr<store> db;
  archive_distribution_actor distribution;
  importer_actor importer;
  signal_bus_actor bus;
  std::map<std::string, task> tasks;
  std::map<std::string, std::uint64_t> bytes_fetched;  // last finished task's payload bytes
  /// A newer link that came while archives were arriving for an older one:
  /// it starts when that task ends (the newest wins), so an owner building
  /// more often than a slow member can fetch does not starve it.
  struct queued_link {
    std::string magnet;
    std::uint64_t clock = 0;
  };
  std::map<std::string, queued_link> queued;
  /// How long a task that a newer link waits for may go without a byte:
  /// the rest of an older set may be gone from every seeder (the owner
  /// seeds only its newest torrent).
  std::chrono::seconds queued_patience{10};
  /// Who sent each community's archive bytes, as the backend last said.
  std::map<std::string, std::vector<transfer_source>> sources;
  std::map<std::string, parked_fetch> parked;
  std::map<std::string, std::string> last_errors;  // why the last download failed
  std::map<std::string, community_counts> counts;
  bool polling = false;  // a poll for changed keys files is armed
  /// Communities whose newest link was checked since start (download_status).
  std::set<std::string> links_checked;
  std::uint64_t generations = 0;
};

downloader_actor::behavior_type
downloader(downloader_actor::stateful_pointer<downloader_state> self, downloader_config config,
           std::shared_ptr<store> db, archive_distribution_actor distribution,
           importer_actor importer, signal_bus_actor bus);

} // namespace annals
