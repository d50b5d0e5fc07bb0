#pragma once

#include "core/fetch_plan.hpp"
#include "messages/actors.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace annals {

class store;

struct downloader_config {
  std::filesystem::path archive_root;  // archivedata/ and torrents/
  /// status-go waits 20 s for metadata and retries once.
  std::chrono::seconds metadata_timeout{20};
  int metadata_attempts = 2;
  /// No byte received for this long while pieces are wanted ends the task;
  /// status-go waits forever (status-app#10322).
  std::chrono::seconds stall_timeout{60};
  std::chrono::milliseconds tick{250};
  fetch_limits limits;
  /// Kept free on the disk beyond what the torrent needs (status-app#9404).
  std::uint64_t disk_headroom = 64ull << 20;
};

/// status-go's downloadAndImportHistoryArchives, member side, one task per
/// community, driven by a timer so no wait is unbounded:
///   metadata (timeout, retry) -> hostile-torrent checks -> free disk check
///   -> index first -> index checks -> missing archives by ID set
///   -> each archive's pieces, oldest first -> recorded as downloaded
///   -> importer; at the end the torrent is saved for re-seeding.
struct downloader_state {
  static inline const char* name = "downloader";

  enum class phase { metadata, index, archives };
  struct task {
    std::uint64_t generation = 0;
    std::string magnet;
    std::uint64_t clock = 0;
    std::string info_hash;
    phase at = phase::metadata;
    int attempts = 1;
    std::chrono::steady_clock::time_point since;  // phase start or last progress
    std::uint64_t downloaded = 0;
    torrent_summary meta;
    std::vector<archive_pieces> missing;
    std::size_t next = 0;  // index into missing: the oldest archive not yet recorded
    std::size_t ready = 0; // archives from `next` on whose pieces are all had
    bool busy = false;     // a request to the seeder is in flight
  };

  downloader_config config;
  std::shared_ptr<store> db;
  seeder_actor seeder;
  importer_actor importer;
  signal_bus_actor bus;
  std::map<std::string, task> tasks;
  std::map<std::string, std::uint64_t> bytes_fetched;  // last finished task's payload bytes
  std::uint64_t generations = 0;
};

downloader_actor::behavior_type
downloader(downloader_actor::stateful_pointer<downloader_state> self, downloader_config config,
           std::shared_ptr<store> db, seeder_actor seeder, importer_actor importer,
           signal_bus_actor bus);

} // namespace annals
