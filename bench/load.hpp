// `annals bench load`: owners, members and senders as actors in one process,
// driven until every member holds every posted message or the time limit,
// then checked independently of the nodes' own status: each member's store
// is read back and each owner's archive files are decoded.
#pragma once

#include "bench/load_tally.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace annals {
class store;
class public_key;
} // namespace annals

namespace annals::bench {

struct load_options {
  std::size_t communities = 1;
  std::size_t members = 4;
  std::size_t messages = 10000;     // per community
  double rate = 10000;              // messages per second, all communities together
  double late_share = 0;
  std::uint64_t late_by = 60;
  std::string relay = "inprocess";  // or "libp2p"
  /// libp2p only: every node records and serves the Waku store and syncs
  /// from its peers, as `annals run` does.
  bool store = true;
  std::uint64_t seconds = 300;      // time limit
  std::uint64_t interval = 3;       // owners' archive interval (and partition)
  std::size_t channels = 4;         // per community
  std::size_t payload = 200;        // bytes of message text
  std::filesystem::path data_dir;   // empty: a temp dir, removed at the end
};

/// One sample of the time series, taken every second.
struct load_sample {
  double seconds = 0;
  std::uint64_t posted = 0;
  std::map<std::string, node_counts> nodes;
  double rss_anon_mb = 0;
  double rss_file_mb = 0;
};

/// What the independent check found in one node's files.
struct node_check {
  std::string node;
  std::uint64_t messages = 0;    // stored (all communities)
  std::uint64_t missing = 0;     // members: posted but not stored
  std::uint64_t archived = 0;    // owners: distinct messages in archive files
  std::uint64_t duplicated = 0;  // owners: extra copies in archives; members: extra store entries
  std::uint64_t unarchived = 0;  // owners: stored but in no archive
};

struct load_result {
  std::uint64_t posted = 0;
  std::uint64_t stored = 0;      // by the owners, from their stores
  std::uint64_t archived = 0;    // distinct posted messages in the owners' archive files
  std::uint64_t lost = 0;        // (member, message) pairs posted but missing
  std::uint64_t lost_messages = 0;  // posted messages missing from at least one member
  std::uint64_t duplicated = 0;
  std::uint64_t late_posted = 0;
  bool converged = false;
  double converged_s = 0;
  load_tally::summary latency;
  double peak_rss_anon_mb = 0;
  double peak_rss_file_mb = 0;
  double idle_rss_anon_mb = 0;  // after convergence, before shutdown
  std::size_t nodes = 0;
  std::vector<load_sample> samples;
  std::vector<node_check> checks;
  std::vector<std::string> relay_counters;  // libp2p: one line per relay
  double posting_s = 0;                     // first to last post
  /// How late a 10 ms timer fired on the shared scheduler during the run (ms).
  double lateness_p50_ms = -1, lateness_p99_ms = -1, lateness_max_ms = -1;
};

/// Runs the load; `line` receives progress lines (stderr in the CLI).
load_result run_load(const load_options& options,
                     const std::function<void(const std::string&)>& line);

/// The JSON object `annals bench load` prints.
std::string load_json(const load_options& options, const load_result& result);

/// Writes DIR/result.json, DIR/series.csv, DIR/latency.csv, gnuplot plots
/// (SVG) and DIR/index.html. Returns an error text, or empty.
std::string write_load_report(const std::filesystem::path& dir, const load_options& options,
                              const load_result& result);

/// Every message hash of `community` in a store, with how often it appears;
/// `entries` counts the store entries read.
std::unordered_map<std::string, std::uint32_t> stored_hashes(store& db, const public_key& community,
                                                             std::uint64_t& entries);

/// Resident memory of this process from /proc/self/status, MiB.
struct rss_reading {
  double anon_mb = 0;
  double file_mb = 0;
};
/// Resident memory of a process (`proc`: "self" or a PID), from /proc.
rss_reading read_rss(const std::string& proc = "self");

} // namespace annals::bench
