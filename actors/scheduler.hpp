#pragma once

#include "actors/storage_io.hpp"
#include "messages/actors.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>

namespace annals {

class store;

/// Unix seconds; injectable so deterministic tests move time by hand.
using unix_clock = std::function<std::uint64_t()>;
unix_clock system_unix_clock();

struct scheduler_config {
  std::uint64_t interval = 7 * 24 * 3600;  // seconds between builds, and the partition
  std::filesystem::path archive_root;      // holds torrents/<communityID>.torrent
  unix_clock now = system_unix_clock();
  /// A build's windows cover [last end, now - settle): messages still on
  /// their way (relay hops, the node's 100 ms write batches) land in the next
  /// regular window rather than in a late one. Correctness does not depend
  /// on it: whatever arrives after its window was built is archived by the
  /// next build as a late message.
  std::uint64_t settle = 2;
  /// Where store reads and file checks run (none: in line, for tests).
  storage_io_actor io = {};
  /// Told each magnet link the distribution seeded, to publish it (none:
  /// nobody publishes, as in tests of the schedule alone).
  control_node_gate_actor gate = {};
};

struct scheduler_state {
  static inline const char* name = "scheduler";

  struct task {
    std::uint64_t generation = 0;  // tells this task's timers from a stopped one's
    bool building = false;
  };

  scheduler_config config;
  std::shared_ptr<store> db;
  archive_builder_actor builder;
  archive_distribution_actor distribution;
  std::map<std::string, task> tasks;
  std::uint64_t generations = 0;

  // For status: what the builds and seeds of this run did.
  struct community_counts {
    std::uint64_t builds = 0;
    std::uint64_t archives = 0;
    std::uint64_t messages = 0;
    std::uint64_t dropped = 0;  // over status-go's 30 MB archive cap
  };
  std::map<std::string, community_counts> counts;
  std::uint64_t builds_failed = 0;
  std::uint64_t seeds_failed = 0;
  std::string last_error;
  status_histogram build_seconds = status_histogram::seconds(
    "annals_build_duration_seconds", "Time from asking for a build to its outcome");
};

/// status-go's InitHistoryArchiveTasks and StartHistoryArchiveTasksInterval:
/// one interval task per owned community, with the startup catch-up:
///  - last archive end (else the oldest stored message) unknown: interval only;
///  - end older than the interval: build [end, now) at once;
///  - else: seed the existing torrent, build at end + interval.
/// Each tick builds [last end, now - settle), then seeds. At most one build per
/// community runs at a time; a tick that finds one running is skipped.
scheduler_actor::behavior_type
scheduler(scheduler_actor::stateful_pointer<scheduler_state> self, scheduler_config config,
          std::shared_ptr<store> db, archive_builder_actor builder,
          archive_distribution_actor distribution);

} // namespace annals
