// `annals bench net`: annals off loopback. Every node is a real `annals run`
// process on its own host of a network-namespace testbed (bench/testbed):
// wildcard listen addresses, the non-loopback torrent profile, a tracker and
// a DHT inside the testbed and no x.pe shortcut between members, over capped
// and lossy links, through partitions, churn and an owner that goes away.
// Each scenario ends with an independent check of every node's files.
#pragma once

#include "bench/load_tally.hpp"
#include "core/distribution.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace annals::bench {

struct net_options {
  /// steady, swarm, owner-offline, partition, churn, or all; a comma list.
  std::string scenario = "all";
  std::size_t hosts = 16;          // nodes: one owner, the rest members
  std::size_t messages = 50'000;   // posted in the steady scenario (others scale from it)
  double rate = 500;               // messages per second
  double uplink_mbit = 10;
  double downlink_mbit = 10;
  double owner_uplink_mbit = 0;    // 0: as --uplink-mbit (swarm: 2)
  double loss = 1;                 // percent of packets dropped, each way
  double seconds = 0;              // per-scenario time limit; 0: the scenario's own
  std::uint64_t interval = 10;     // the owner's archive interval, seconds
  std::size_t payload = 200;       // bytes of text per message
  std::size_t swarm_mb = 200;      // swarm: MB of archives the late member fetches
  double partition_seconds = 60;
  double churn_seconds = 180;
  /// Messages per second during churn; 0: --rate. Lower than the steady
  /// rate: 16 nodes relaying 500/s already keep both cores of the 2-core
  /// machine busy, and a restarted node's catch-up needs CPU on top.
  double churn_rate = 200;
  /// How relay peers are found: "static" (each node lists the owner and two
  /// ring neighbours) or "dns" (no peer lists: one enrtree:// URL, served by
  /// dnsmasq on the tracker host from the nodes' own records).
  std::string discovery = "static";
  std::size_t target_peers = 8;  // [relay] target_peers with discovery dns or discv5
  std::filesystem::path report;    // CSV and plots; empty: none
  std::filesystem::path data_dir;  // kept when given; default a temp dir, removed
  std::filesystem::path annals_binary;
};

/// One node at the end of a scenario.
struct net_node_result {
  std::string name;
  std::string ip;
  std::string role;                 // owner, member, poster, late
  double peak_rss_mb = 0;           // anonymous
  std::uint64_t messages = 0;       // held at the end (its store)
  std::uint64_t missing = 0;        // of the owner's stored set
  std::uint64_t extra = 0;          // held but not in the owner's set
  std::uint64_t restarts = 0;
  double converged_s = -1;          // when it first held the owner's set
  double relay_delivery = -1;       // channel messages its relay took / posted; -1 unknown
  /// How late a 10 ms timer fired on its scheduler (ms; -1 unknown).
  double lateness_p50_ms = -1, lateness_p99_ms = -1, lateness_max_ms = -1;
  std::vector<transfer_source> sources;  // archive bytes by sender, named by host
  double relay_peers = -1;       // connected relay peers at the last check
  double peers_discovered = -1;  // candidates its DNS discovery or discv5 found
};

/// One sample per node per second, for the report's series.
struct net_sample {
  double seconds = 0;
  std::string node;
  std::uint64_t messages = 0;
  std::uint64_t imported = 0;
  double rss_mb = 0;
};

struct net_scenario_result {
  std::string scenario;
  bool passed = false;
  std::vector<std::string> failures;  // each a condition that did not hold
  std::size_t hosts = 0;
  std::uint64_t posted = 0;
  std::uint64_t stored = 0;       // by the owner, read from its store
  std::uint64_t archived = 0;     // distinct messages in the owner's archive files
  std::uint64_t lost = 0;         // (member, message) pairs of the owner's set missing
  std::uint64_t duplicated = 0;   // extra copies in archives or store entries
  double converged_s = -1;
  double seconds = 0;             // the scenario's whole run
  latency_summary post_to_imported;  // ms; the archive path, 1 s resolution
  double relay_delivery_min = -1, relay_delivery_median = -1;
  double lateness_p99_ms = -1, lateness_max_ms = -1;  // the worst node's
  std::vector<net_node_result> nodes;
  std::vector<net_sample> samples;
  std::vector<std::string> notes;  // what happened (kills, cuts, heals) with its time
  // swarm and owner-offline: the late member's fetch.
  double late_fetch_s = -1;
  std::uint64_t late_bytes = 0;
  double late_member_share = -1;   // of its archive bytes, from members
  double owner_alone_s = -1;       // what the owner's uplink alone would take
};

struct net_result {
  std::vector<net_scenario_result> scenarios;
  bool passed = false;
  bool netem = false;  // whether the kernel could have delayed packets too
};

/// Runs the scenarios; `line` receives progress lines. Throws when the
/// testbed cannot be made (naming why).
net_result run_net(const net_options& options, const std::function<void(const std::string&)>& line);

/// The JSON object `annals bench net` prints.
std::string net_json(const net_options& options, const net_result& result);
/// CSV series and gnuplot plots (SVG) in `dir`; an error text, or empty.
std::string write_net_report(const std::filesystem::path& dir, const net_result& result);

} // namespace annals::bench
