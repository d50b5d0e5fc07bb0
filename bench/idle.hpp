// `annals bench idle`: what a node costs when nothing happens. Two real
// `annals run` processes on loopback, each owning one community and a member
// of the other's, connected over the Waku relay, with a first archive built,
// published, fetched and imported; then nothing is posted and each process's
// CPU time and wakeups (context switches of all its threads) are read from
// /proc over the measured window.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace annals::bench {

struct idle_options {
  double seconds = 60;             // the measured window
  double warmup_limit = 90;        // for the first archive to be imported on both
  std::filesystem::path data_dir;  // kept when given; default a temp dir, removed
  std::filesystem::path annals_binary;
};

/// One thread (by name) of a node: its wakeups over the window.
struct idle_thread {
  std::string name;
  std::uint64_t threads = 0;   // how many threads carry the name
  double wakeups_per_s = 0;    // voluntary + involuntary context switches
  double cpu_ms = 0;
};

struct idle_node {
  std::string name;
  double cpu_percent = 0;       // of one core, over the window
  double wakeups_per_s = 0;     // context switches of all its threads
  double anon_rss_mb = 0;
  std::uint64_t threads = 0;
  std::vector<idle_thread> by_thread;  // most wakeups first
};

struct idle_result {
  double seconds = 0;           // measured
  double warmup_s = 0;          // until both had imported the other's archive
  std::vector<idle_node> nodes;
  double goal_cpu_percent = 0.2;
  bool passed = false;          // every node under the goal
};

idle_result run_idle(const idle_options& options, const std::function<void(const std::string&)>& line);
std::string idle_json(const idle_result& result);

} // namespace annals::bench
