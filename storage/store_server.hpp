// The Waku store (13/WAKU2-STORE v3) a node serves from its recorded relay
// messages: request bytes in, answer bytes out, thread-safe, so the relay's
// I/O thread calls it directly. Bounded per request (page size, answer
// bytes, one RocksDB snapshot) and per peer (a token bucket: 429 past it).
#pragma once

#include "core/store_query.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace annals {

class store;

struct store_server_options {
  store_query_limits limits;
  /// Queries a peer may make per second, sustained, and in a burst.
  double queries_per_second = 20;
  double burst = 50;
  /// Peers tracked by the rate limit; past it, idle buckets are forgotten.
  std::size_t max_tracked_peers = 4096;
};

struct store_server_counters {
  std::map<std::uint32_t, std::uint64_t> answers;  // by status code
  std::uint64_t messages_served = 0;
};

class store_query_server {
public:
  explicit store_query_server(store_server_options options = {});
  /// Answers from `db` from now on; until then every query gets 503.
  void attach(std::shared_ptr<store> db);
  /// The answer to one request from `peer` (never throws; a refusal is an
  /// answer with its status code).
  std::string answer(const std::string& peer, std::string_view request);
  store_server_counters counters() const;
  const store_server_options& options() const { return options_; }

private:
  bool admit(const std::string& peer);
  std::string refuse(const std::string& request_id, store_status status, std::string why);

  store_server_options options_;
  mutable std::mutex mutex_;
  std::shared_ptr<store> db_;
  struct bucket {
    double tokens;
    std::chrono::steady_clock::time_point refilled;
  };
  std::unordered_map<std::string, bucket> buckets_;
  store_server_counters counters_;
};

} // namespace annals
