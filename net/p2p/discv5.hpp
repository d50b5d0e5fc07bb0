// Node Discovery v5.1 (33/WAKU2-DISCV5) over UDP, on the relay host's I/O
// thread: sessions by the WHOAREYOU handshake, PING/PONG, FINDNODE/NODES, a
// Kademlia table of 256 buckets of 16, and random walks that keep it fresh.
// Records learnt are handed to the host's peer manager, which keeps only
// routable relay peers of its cluster and shards for dialling.
#pragma once

#include "core/enr.hpp"
#include "core/result.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace annals::p2p {

struct discv5_config {
  bool enabled = false;
  /// IPv4:port to bind, e.g. "0.0.0.0:9000"; port 0 picks a free one.
  std::string listen = "0.0.0.0:9000";
  /// enr: records to start from; each is checked at start.
  std::vector<std::string> bootstrap;
  /// "d5waku" is Waku's network; "discv5" Ethereum's.
  std::string protocol_id = "d5waku";
  std::chrono::milliseconds request_timeout{1000};
  /// Random walks: this often while they find new nodes (walk_interval_hungry
  /// while the host is below its target peers), doubling up to
  /// walk_interval_max while they find nothing new or get no answer.
  std::chrono::milliseconds walk_interval{30000};
  std::chrono::milliseconds walk_interval_hungry{5000};
  std::chrono::milliseconds walk_interval_max{300000};
  /// Bounds that hold under a flood: sessions and pending challenges kept,
  /// and requests answered per source address each second.
  std::size_t max_sessions = 1000;
  std::size_t max_challenges = 1000;
  double requests_per_second_per_ip = 20;
  /// Records naming 127.x are taken from a peer off loopback too (tests);
  /// otherwise only a peer on loopback may name loopback nodes.
  bool loopback_ok = false;
};

struct discv5_stats {
  std::uint64_t packets_in = 0, packets_out = 0;
  std::uint64_t malformed = 0;   // packets that did not decode or open
  std::uint64_t handshakes = 0;  // sessions established, either side
  std::uint64_t handshakes_failed = 0;
  std::uint64_t rate_limited = 0;  // requests dropped by the per-address limit
  std::uint64_t findnode_served = 0;
  std::uint64_t requests_timed_out = 0;
  std::uint64_t records_received = 0;
  std::uint64_t records_refused = 0;  // bad signature, wrong distance, too many
  std::uint64_t walks = 0;
  std::size_t table_size = 0;
  std::size_t sessions = 0;
  std::size_t challenges = 0;  // WHOAREYOUs awaiting a handshake
};

/// "IPv4:PORT" as discv5_config::listen takes it.
result<std::pair<std::string, std::uint16_t>> parse_discv5_listen(std::string_view text);
/// A bootstrap record: one that verifies and names an IPv4 address and UDP
/// port to reach it at.
result<enr_record> parse_discv5_bootstrap(std::string_view text);

class discv5_service {
public:
  /// Verified records (RLP) a NODES answer brought; on the I/O thread.
  using found_fn = std::function<void(std::vector<std::string> records)>;
  using log_fn = std::function<void(bool problem, const std::string& line)>;

  /// Binds the socket (errors name the address: port in use, bad text) and
  /// checks the bootstrap records. Nothing is sent before set_local_record.
  static result<std::unique_ptr<discv5_service>> start(boost::asio::io_context& io,
                                                       const private_key& key,
                                                       discv5_config config, found_fn found,
                                                       log_fn log);
  /// On the I/O thread, or after it stopped.
  ~discv5_service();

  std::uint16_t port() const;
  /// The record this node hands out (its udp field should name port());
  /// the first one starts the walks. I/O thread.
  void set_local_record(const enr_record& record);
  /// A walk now. I/O thread.
  void walk_now();
  /// Whether the host is below its target peers: walks come sooner while
  /// it is. I/O thread.
  void set_hungry(bool hungry);
  /// One FINDNODE to `peer` (its record names where): the records of its
  /// answer that verify and lie at the asked distances (0: its own), or
  /// errc::not_found when it does not answer in time. I/O thread; `done`
  /// runs there.
  void find_node(const enr_record& peer, std::vector<std::uint16_t> distances,
                 std::function<void(result<std::vector<enr_record>>)> done);
  /// I/O thread.
  discv5_stats stats() const;
  /// The records in the table. I/O thread.
  std::vector<enr_record> table() const;

  struct impl;

private:
  explicit discv5_service(std::shared_ptr<impl> state);
  // Shared with the socket's and timers' handlers until they have run.
  std::shared_ptr<impl> shared_;
};

} // namespace annals::p2p
