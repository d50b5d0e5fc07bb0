// The member's importer: downloaded archives into the store, one at a time.
#pragma once

#include "messages/actors.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

namespace annals {

class store;

/// Who hears of imported messages (load benches); no observer by default.
struct import_observer {
  std::string node;
  message_observer_actor observer;
};

struct importer_state {
  static inline const char* name = "importer";
  std::filesystem::path archive_root;
  std::shared_ptr<store> db;
  signal_bus_actor bus;
  std::size_t batch = 5000;  // messages per write batch
  /// Messages per second at most; 0 = as fast as the disk allows. status-go
  /// imports 10 per second by default; an operator sharing a slow disk with
  /// other services may want a cap.
  std::uint64_t max_rate = 0;
  import_observer observer;
  /// Communities whose import stopped on a missing key, with their keys
  /// file's time then: retried only once the file changed.
  std::map<std::string, std::filesystem::file_time_type> waiting_for_keys;
  /// Communities whose import stopped on an I/O error (a disk that filled
  /// between fetch and import): retried by a timer, without a new download,
  /// 2 s after the failure and doubling up to a minute.
  struct retry {
    std::chrono::milliseconds delay{0};
    std::string reason;
    bool armed = false;
  };
  std::map<std::string, retry> retrying;
  std::chrono::milliseconds retry_first{2000};
  std::chrono::milliseconds retry_max{60000};

  // For status.
  struct community_counts {
    std::uint64_t archives = 0;
    std::uint64_t messages = 0;    // new ones
    std::uint64_t duplicates = 0;  // held already
  };
  std::map<std::string, community_counts> counts;
  std::uint64_t failed = 0;
  std::uint64_t retries = 0;  // imports started by the retry timer
  std::string last_error;
  status_histogram seconds = status_histogram::seconds(
    "annals_archive_import_duration_seconds", "Time to import one archive into the store");
};

/// Imports downloaded archives one at a time, never the whole `data` file:
/// memory is bounded by one archive (at most about 30 MB). Each archive's
/// last batch and its imported flag are one write, so a crash re-imports at
/// most that archive, and dedup by hash keeps every message once. Spawn it
/// detached: importing blocks on disk. An import that fails on an I/O error
/// (disk full) is retried by itself until it succeeds, then announces
/// downloadingHistoryArchivesFinished; other failures wait for the next
/// download or restart.
importer_actor::behavior_type importer(importer_actor::stateful_pointer<importer_state> self,
                                       std::filesystem::path archive_root,
                                       std::shared_ptr<store> db, signal_bus_actor bus,
                                       std::uint64_t max_rate, import_observer observer);

} // namespace annals
