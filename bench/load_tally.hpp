// What a load run observed, message by message: when each posted message
// was accepted by the relay, stored by its owner, archived and imported by
// each member. Filled by the load observer actor, read by the driver.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace annals::bench {

/// Milliseconds since the run started; negative = not seen.
using stamp = float;

struct message_times {
  stamp posted = -1;
  stamp stored = -1;
  stamp archived = -1;
  std::uint16_t archived_count = 0;  // how often it reached a committed archive
  std::vector<stamp> imported;       // per member, -1 = not yet
};

struct latency_summary {
  std::size_t count = 0;
  double p50 = 0, p99 = 0, max = 0;  // milliseconds
};

latency_summary summarize(std::vector<double> samples);

/// Counts per node for the time series.
struct node_counts {
  std::uint64_t stored = 0;    // owners: messages stored
  std::uint64_t archived = 0;  // owners: messages archived
  std::uint64_t imported = 0;  // members: distinct messages imported
};

class load_tally {
public:
  load_tally(std::vector<std::string> members, std::chrono::steady_clock::time_point start);

  /// Observer side (the observer actor's thread).
  void observe(const std::string& node, const std::string& community, std::uint8_t kind,
               const std::vector<std::string>& hashes);
  void build_started(const std::string& community);
  void build_finished(const std::string& community);

  /// Driver side.
  std::uint64_t posted() const;
  /// Posted message hashes by community ID.
  std::unordered_map<std::string, std::vector<std::string>> posted_hashes() const;
  std::map<std::string, node_counts> counts() const;
  /// Every member holds every posted message of every community.
  bool all_imported(std::uint64_t expected_posted) const;
  /// Members that do not hold every posted message yet, with how many they lack.
  std::map<std::string, std::uint64_t> lagging() const;

  struct summary {
    latency_summary stored, archived, imported;  // from posting
    double build_seconds = 0;                    // in builds, all owners
    std::uint64_t builds = 0;
    std::uint64_t archived_messages = 0;
    double first_import_ms = -1, last_import_ms = -1;
    std::uint64_t imported_messages = 0;         // (member, message) pairs
    /// post -> imported latency at the quantiles 0.001, 0.002, ..., 1 (ms).
    std::vector<double> imported_quantiles;
  };
  summary summarize_all() const;

  stamp now() const;
  /// Times count from here (the first post); call before any message moves.
  void restart_clock(std::chrono::steady_clock::time_point start);

private:
  message_times& entry(const std::string& hash);

  mutable std::mutex mutex_;
  std::chrono::steady_clock::time_point start_;
  std::vector<std::string> members_;
  std::unordered_map<std::string, std::size_t> member_index_;
  std::unordered_map<std::string, message_times> messages_;
  std::map<std::string, node_counts> counts_;
  std::uint64_t posted_ = 0;
  std::unordered_map<std::string, std::vector<std::string>> posted_by_community_;
  std::vector<std::uint64_t> member_imported_;  // distinct posted-or-not messages
  std::map<std::string, stamp> build_started_;
  double build_ms_ = 0;
  std::uint64_t builds_ = 0;
  double first_import_ = -1, last_import_ = -1;
};

} // namespace annals::bench
