// Which peers a relay host dials beyond its static ones: candidates found by
// discovery (DNS trees, discv5, peer exchange, enr: static entries), each
// vetted once (a record that verifies, offers relay, shares our cluster and a
// shard, and gives a TCP address another host can reach), dialled while the
// host is below its target peer count, with a backoff per peer that doubles
// on each failure. Pure bookkeeping: the host feeds it events and the time,
// and does what it answers.
#pragma once

#include "core/enr.hpp"
#include "core/result.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace annals::p2p {

/// Where a peer came from (the /admin/v1/peers `source` field and the
/// annals_discovery_peers_found_total label).
enum class peer_source : std::uint8_t { static_list, dns, discv5, peer_exchange, inbound };
inline constexpr std::size_t peer_source_count = 5;
std::string_view to_string(peer_source source);

struct peer_manager_config {
  /// Relay peers to hold; below it, candidates are dialled and connected
  /// peers asked for more. 0 turns discovery dialling off.
  std::size_t target_peers = 8;
  std::uint32_t cluster_id = 16;
  std::vector<std::uint32_t> shards{32};
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{300000};
  /// Candidates kept at once: a flood of records costs at most this many.
  std::size_t max_candidates = 1000;
  /// A connected peer is asked for peers at most this often; each answer
  /// that brings no new peer doubles its wait, up to exchange_interval_max
  /// (an idle node below its target then asks every few minutes, not
  /// every half minute).
  std::chrono::milliseconds exchange_interval{30000};
  std::chrono::milliseconds exchange_interval_max{600000};
};

/// Why a record was not taken, for counters and logs.
enum class record_refusal : std::uint8_t {
  malformed,        // does not decode or verify
  not_relay,        // waku2 without the relay bit, or no waku2 field
  other_cluster,    // rs/rsv of another cluster, or no shard in common
  no_address,       // no TCP address a relay host can dial
  unroutable,       // only 0.0.0.0, multicast, or 127.x from a peer off loopback
  self,             // our own record
  table_full,       // max_candidates reached
};
inline constexpr std::size_t record_refusal_count = 7;
std::string_view to_string(record_refusal reason);

struct peer_manager_counters {
  std::array<std::uint64_t, peer_source_count> found{};  // new candidates by source
  std::array<std::uint64_t, record_refusal_count> refused{};
  std::uint64_t dials = 0;
  std::uint64_t dials_failed = 0;
  std::uint64_t exchanges_asked = 0;
  std::uint64_t exchanges_failed = 0;  // no answer, refused, or not an answer
  std::uint64_t exchanges_served = 0;
  std::uint64_t exchanges_refused = 0;  // malformed or too soon (429)
  std::uint64_t records_served = 0;
};

class peer_manager {
public:
  using clock = std::chrono::steady_clock;

  explicit peer_manager(peer_manager_config config, std::string self_peer_id);

  /// Takes a verified record found by `source`. `loopback_ok`: a 127.x
  /// address is acceptable (it came from this host's operator or from a
  /// peer on loopback). A newer record (higher seq) of a known peer replaces
  /// the old one. Answers whether the peer is new; an error names the
  /// refusal (counted).
  result<bool> add_record(const enr_record& record, peer_source source, bool loopback_ok,
                          clock::time_point now);
  /// The same for RLP bytes (peer exchange); a record that does not decode
  /// or verify is refused as malformed.
  result<bool> add_record_bytes(std::string_view rlp, peer_source source, bool loopback_ok,
                                clock::time_point now);

  /// A connection to `peer` was established (inbound or not).
  void on_connected(const std::string& peer, bool inbound);
  /// The peer's identify listed relay (it may be given to others).
  void on_relay_identified(const std::string& peer);
  /// The peer's last connection closed.
  void on_disconnected(const std::string& peer, clock::time_point now);
  /// A dial this manager asked for failed before the handshake finished.
  void on_dial_failed(const std::string& peer, clock::time_point now);

  struct dial { std::string peer, address; };
  /// Candidates to dial now: enough to reach the target with the peers
  /// connected and dials under way, skipping those connected, dialling or
  /// backing off. Each is marked as dialling until connected or failed.
  std::vector<dial> take_dials(clock::time_point now);
  /// Whether more peers are wanted.
  bool below_target() const;
  /// A connected peer serving peer exchange that may be asked now, marked
  /// as asked; `serving` lists the connected peers whose identify lists it.
  std::optional<std::string> take_exchange_peer(const std::vector<std::string>& serving,
                                                clock::time_point now);
  /// What asking `peer` brought: `added` new candidates.
  void on_exchange_answer(const std::string& peer, std::size_t added, clock::time_point now);
  /// When to look again while below target: the earliest backoff or
  /// exchange interval ending; nothing when at target or nothing waits.
  std::optional<clock::time_point> next_wakeup(const std::vector<std::string>& serving) const;

  /// Records for a peer-exchange answer to `asker`: up to `n` of the peers
  /// this host has connected to and seen speak relay, other than the asker,
  /// in random order; 127.x ones only when `loopback_ok`.
  std::vector<std::string> exchange_records(std::size_t n, const std::string& asker,
                                            bool loopback_ok);

  /// Where `peer` came from: its candidate's source, else inbound.
  std::optional<peer_source> source_of(const std::string& peer) const;
  std::size_t connected_count() const { return connected_; }
  std::size_t candidate_count() const { return candidates_.size(); }
  const peer_manager_counters& counters() const { return counters_; }
  peer_manager_counters& counters() { return counters_; }

private:
  struct candidate {
    std::string address;
    std::string record;  // RLP
    std::uint64_t seq = 0;
    bool loopback = false;
    peer_source source = peer_source::static_list;
    bool dialled_here = true;  // false for static peers: the host redials those itself
    bool dialling = false;
    bool verified = false;  // connected once and identified relay
    std::chrono::milliseconds backoff{0};  // 0: the last attempt did not fail
    clock::time_point next_dial{};
  };
  struct connected_peer {
    unsigned connections = 0;
    clock::time_point next_exchange{};
    std::chrono::milliseconds exchange_wait{0};
  };

  result<bool> refuse(record_refusal reason, std::string detail);

  peer_manager_config config_;
  std::string self_;
  std::map<std::string, candidate> candidates_;
  std::map<std::string, connected_peer> connected_peers_;
  std::size_t connected_ = 0;
  peer_manager_counters counters_;
  std::minstd_rand rng_{std::random_device{}()};
};

} // namespace annals::p2p
