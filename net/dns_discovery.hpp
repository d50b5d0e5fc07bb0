// DNS discovery (EIP-1459) on a thread of its own: reads each configured
// enrtree:// tree at start, again after `interval` (an unchanged root costs
// one query), and sooner after a failure (backoff), handing the verified
// records to `found`. Lookups block, so they never run on an I/O thread.
#pragma once

#include "core/enr_tree.hpp"
#include "net/dns_txt.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace annals {

struct dns_discovery_config {
  std::vector<std::string> trees;  // enrtree:// URLs, each checked by start()
  dns_resolver_options resolver;
  std::chrono::milliseconds interval{30 * 60 * 1000};
  std::chrono::milliseconds retry_initial{5000};
  std::chrono::milliseconds retry_max{5 * 60 * 1000};
  enrtree_limits limits;
};

struct dns_discovery_stats {
  std::uint64_t syncs = 0;     // walks that read a verified root
  std::uint64_t failures = 0;  // walks whose root could not be read or verified
  std::uint64_t entries_failed = 0;  // entries refused or unreachable below a root
  std::uint64_t lookups = 0;
  std::uint64_t records = 0;   // records handed on (each walk's, not only new ones)
  std::string last_error;
};

class dns_discovery {
public:
  /// Records (enr: text) one walk of `url` found; called on the discovery thread.
  using found_fn = std::function<void(std::vector<std::string> records, const std::string& url)>;
  /// A line to log; `problem` for failures.
  using log_fn = std::function<void(bool problem, const std::string& line)>;

  /// Checks every URL and the server, then starts the thread.
  static result<std::unique_ptr<dns_discovery>> start(dns_discovery_config config, found_fn found,
                                                      log_fn log);
  /// Returns at once: a lookup under way finishes on its own, and nothing
  /// is called after this.
  ~dns_discovery();
  dns_discovery_stats stats() const;

  struct shared;

private:
  explicit dns_discovery(std::shared_ptr<shared> state) : state_(std::move(state)) {}
  std::shared_ptr<shared> state_;
};

} // namespace annals
