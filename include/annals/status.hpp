// The one status contract of a node. Every actor answers one status request
// with a `component_status`: its state, whether it is healthy, and its
// numbers as metric samples. The run status lines, the REST API and the
// Prometheus endpoint all read these records; nothing formats a status of
// its own. Plain data, free of CAF (annals/interfaces.hpp adds the inspectors).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace annals {

/// One labelled number: a Prometheus sample before exposition.
struct status_metric {
  enum kind_type : std::uint8_t { counter = 0, gauge = 1 };
  /// `annals_<what>_<unit>`; counters end in `_total`.
  std::string name;
  std::string help;
  std::uint8_t kind = gauge;
  /// Label names and values, alternating: {"community", "0x02…", "reason", "stale clock"}.
  std::vector<std::string> labels;
  double value = 0;
};

/// A duration histogram (seconds) with fixed upper bounds.
struct status_histogram {
  std::string name;  // `annals_<what>_duration_seconds`
  std::string help;
  std::vector<double> bounds;         // upper bounds, ascending (+Inf implied)
  std::vector<std::uint64_t> counts;  // per bucket, not cumulative; bounds.size() + 1
  double sum = 0;
  std::uint64_t count = 0;

  /// Bounds for work that takes from milliseconds to minutes.
  static status_histogram seconds(std::string name, std::string help);
  void observe(double value);
};

/// What one actor reports of itself.
struct component_status {
  std::string component;  // "relay", "distribution", "scheduler", …
  /// One phrase for operators: "up", "listening on 127.0.0.1:9025",
  /// "2 downloads running", "not answering".
  std::string state;
  bool healthy = true;
  /// Facts for people and REST (`key`, `value` alternating): peer ID, listen
  /// addresses, the torrent listen address.
  std::vector<std::string> details;
  std::vector<status_metric> metrics;
  std::vector<status_histogram> histograms;

  /// Adds a sample; returns *this for chaining.
  component_status& counter(std::string name, std::string help, double value,
                            std::vector<std::string> labels = {});
  component_status& gauge(std::string name, std::string help, double value,
                          std::vector<std::string> labels = {});
  component_status& detail(std::string key, std::string value);
  /// The value of a detail, or empty.
  std::string detail_of(const std::string& key) const;
  /// The value of a sample with exactly these labels, or -1 when absent.
  double value_of(const std::string& name, const std::vector<std::string>& labels = {}) const;
};

/// A relay peer, for `/admin/v1/peers`.
struct relay_peer_info {
  std::string peer_id;
  std::string address;                 // multiaddr of the connection
  std::vector<std::string> protocols;  // from identify (empty until it answered)
  std::string agent;                   // identify agentVersion
  std::uint64_t connected_unix_ms = 0;
  bool inbound = false;
  /// How it came to be connected: static, dns, discv5, peer-exchange,
  /// inbound, or dial.
  std::string source;
};

/// Payload bytes one source sent this node for a community, over the run:
/// a peer's address (BitTorrent: its IP; connections come and go) or a web
/// seed's URL.
struct transfer_source {
  std::string address;
  std::uint64_t bytes = 0;
};

/// Resident memory of this process, from /proc/self/statm (bytes; anonymous
/// = resident minus file-backed pages, which excludes libtorrent's mmap).
struct process_memory {
  std::uint64_t resident = 0;
  std::uint64_t anonymous = 0;
};
process_memory read_process_memory();

/// Prometheus text exposition (version 0.0.4) of the components' samples
/// and histograms: one HELP and TYPE per name, names sorted within their
/// family in the order given; label values escaped.
std::string prometheus_text(const std::vector<component_status>& components);

/// One line for logs (after the component's name): the state, then every
/// sample without labels that is
/// not zero, as `name=value` with `annals_` and `_total` dropped.
std::string status_line(const component_status& status);

/// Milliseconds since the Unix epoch, for status timestamps.
std::uint64_t unix_ms_now();

} // namespace annals
