// Many hosts on this one machine: Linux network namespaces joined by a
// bridge in a "switch" namespace, each host with its own address in
// 10.77.0.0/16, links capped with tc tbf (uplink and downlink per host), and
// nft rules for random loss and partitions. Nothing is added to the root
// namespace's interfaces; every namespace carries the prefix "annb-" so a
// crashed run's leftovers are found and removed by the next one. Needs
// root, iproute2 (ip, tc) and nftables. No actors here.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace annals::bench {

/// A program run to its end; `output` holds stdout and stderr together.
struct command_result {
  int status = -1;
  std::string output;
};

/// Runs `args` (args[0] looked up on PATH) with `input` on stdin, waiting at
/// most `limit`, then killing it (status -1).
command_result run_command(const std::vector<std::string>& args, const std::string& input = {},
                           std::chrono::seconds limit = std::chrono::seconds(30));
/// The same; throws naming the command and what it printed when it fails.
std::string must_run(const std::vector<std::string>& args, const std::string& input = {});

struct testbed_host {
  std::string name;         // "owner", "m3", "tracker"
  std::string netns;        // "annb-owner"
  std::string ip;           // "10.77.0.1"
  std::string switch_port;  // the veth end in the switch namespace
  double uplink_mbit = 0;   // 0: not capped
  double downlink_mbit = 0;
};

class testbed {
public:
  /// The bench's namespaces; a test uses its own prefix, so the two never
  /// remove each other's.
  static constexpr const char* bench_prefix = "annb-";
  /// The switch side of the network: every host's address is in it.
  static constexpr const char* network = "10.77.0.0/16";

  /// Why a testbed cannot be made here (not root, a tool missing, network
  /// namespaces refused), or nullopt.
  static std::optional<std::string> missing_requirements();
  /// Removes the namespaces whose names carry `prefix` (a crashed run's);
  /// returns how many.
  static std::size_t remove_stale(const std::string& prefix = bench_prefix);
  /// Whether this kernel has the netem qdisc (delay); these VMs do not.
  static bool netem_available();

  /// Creates the switch namespace and its bridge. `monitor_ip`: the address
  /// exempt from loss and partitions (the bench's own monitoring host).
  explicit testbed(std::string monitor_ip = "10.77.1.254", std::string prefix = bench_prefix);
  ~testbed();
  testbed(const testbed&) = delete;
  testbed& operator=(const testbed&) = delete;

  /// A new host with its own namespace, veth into the bridge, address and
  /// loopback; its nft table is ready for loss and partitions.
  const testbed_host& add_host(const std::string& name, const std::string& ip);
  const testbed_host& host(const std::string& name) const;
  const std::vector<testbed_host>& hosts() const { return hosts_; }

  /// Caps the host's uplink (its egress) and downlink (the switch port's
  /// egress) with tbf; 0 removes a cap.
  void shape(const std::string& name, double uplink_mbit, double downlink_mbit);
  /// Drops this share (percent, 0..100) of every host's inbound packets at
  /// random (nft numgen), the monitor's excepted.
  void set_loss(double percent);
  /// Cuts every host of `a` off from every host of `b`, both ways.
  void cut(const std::vector<std::string>& a, const std::vector<std::string>& b);
  /// Removes every cut.
  void heal();

  /// The command prefix that runs a program inside the host's namespace.
  std::vector<std::string> exec_prefix(const std::string& name) const;
  /// Moves the calling thread into the host's network namespace (sockets it
  /// opens afterwards live there). Throws when it cannot.
  void enter(const std::string& name) const;

  /// Removes every namespace of this testbed (also done by the destructor).
  void destroy();

private:
  void nft(const std::string& netns, const std::string& script);

  std::string monitor_ip_;
  std::string prefix_;
  std::string switch_ns_;
  std::vector<testbed_host> hosts_;
  std::map<std::string, std::vector<std::string>> cut_from_;  // host -> IPs it cannot reach
  bool destroyed_ = false;
};

} // namespace annals::bench
