// `annals bench hostile`: an `annals run` owner under attack on loopback while
// honest peers use it. Attackers (raw sockets and libp2p connections driven
// by this process) hold half-open connections, finish the handshake and say
// nothing, subscribe and never read, flood valid but useless gossip, open
// streams by the thousand and send oversized frames. The bench measures the
// owner's anonymous RSS from /proc, reads its /metrics before and after, and
// checks that an honest publisher reaches an honest receiver through it and
// that an honest peer joining mid-attack gets in.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

namespace annals::bench {

struct hostile_options {
  double seconds = 30;          // attack time
  std::size_t half_open = 300;  // TCP connections that never finish Noise
  std::size_t idle = 200;       // handshakes finished, then silence
  std::size_t slow_readers = 32;// subscribe, graft, never read
  std::size_t flooders = 4;     // junk messages, IHAVE floods, subscription churn
  std::size_t stream_hogs = 8;  // 1,000 streams each, again and again
  std::size_t oversized = 4;    // a 2 MiB relay frame, reconnect, again
  std::size_t iwant_amplifiers = 2;  // one 100 KB message, then IWANTs naming it 25,000 times
  double flood_rate = 2000;     // junk messages per second, all flooders together
  std::size_t honest_messages = 2000;  // published by the honest publisher during the attack
  std::size_t owner_rate = 200;        // the owner's own traffic, messages per second
  double memory_bound_mib = 256;       // stated bound on the owner's RSS growth
  std::filesystem::path annals_binary;  // the binary to run as the owner
};

struct hostile_result {
  bool owner_alive = false;
  std::size_t honest_sent = 0;
  std::size_t honest_received = 0;   // distinct honest messages at the honest receiver
  bool late_joiner_connected = false;
  double late_joiner_seconds = 0;    // from its dial to the connection
  std::size_t late_joiner_received = 0;  // of the honest messages sent once it was in
  std::size_t late_joiner_expected = 0;
  double baseline_rss_mib = 0;       // before the attack, honest peers connected
  double peak_rss_mib = 0;           // during the attack
  double after_rss_mib = 0;          // 5 s after the attack
  /// What the attackers saw, by kind: connections made, closed by the owner.
  std::map<std::string, std::uint64_t> attacker;
  /// The owner's counters (from /metrics): value after minus before.
  std::map<std::string, double> owner_counters;
  bool ok() const;
};

hostile_result run_hostile(const hostile_options& options,
                           const std::function<void(const std::string&)>& line);
std::string hostile_json(const hostile_options& options, const hostile_result& result);

} // namespace annals::bench
