#include "bench/testbed.hpp"

#include "net/loopback.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace annals::bench {

namespace {

std::string joined(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args)
    out += (out.empty() ? "" : " ") + a;
  return out;
}

std::string format_rate(double mbit) {
  // tc takes kbit without rounding surprises.
  return std::to_string(static_cast<long long>(std::llround(mbit * 1000))) + "kbit";
}

/// tbf's bucket: at least one jiffy of the rate (HZ may be 100) and a few
/// full-size packets, or the cap undershoots.
std::string bucket_for(double mbit) {
  auto bytes = std::max<long long>(32 * 1024, std::llround(mbit * 1e6 / 8 / 100));
  return std::to_string(bytes);
}

} // namespace

command_result run_command(const std::vector<std::string>& args, const std::string& input,
                           std::chrono::seconds limit) {
  command_result out;
  int in_pipe[2], out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0)
    return out;
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    ::close(in_pipe[0]);
    ::close(in_pipe[1]);
    return out;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDERR_FILENO);
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int spawned = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  if (spawned != 0) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    out.output = "cannot start " + args.front() + ": " + std::strerror(spawned);
    return out;
  }
  for (std::size_t written = 0; written < input.size();) {
    auto n = ::write(in_pipe[1], input.data() + written, input.size() - written);
    if (n <= 0)
      break;
    written += static_cast<std::size_t>(n);
  }
  ::close(in_pipe[1]);
  auto deadline = std::chrono::steady_clock::now() + limit;
  char buffer[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      out.output += "\n(killed after " + std::to_string(limit.count()) + " s)";
      break;
    }
    pollfd p{out_pipe[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      continue;
    auto n = ::read(out_pipe[0], buffer, sizeof buffer);
    if (n <= 0)
      break;
    out.output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(out_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  out.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

std::string must_run(const std::vector<std::string>& args, const std::string& input) {
  auto r = run_command(args, input);
  if (r.status != 0)
    throw std::runtime_error(joined(args) + " failed (" + std::to_string(r.status)
                             + "): " + r.output);
  return r.output;
}

std::optional<std::string> testbed::missing_requirements() {
  if (::geteuid() != 0)
    return std::string("the testbed makes network namespaces, which needs root (run as root or "
                       "with sudo)");
  for (const char* tool : {"ip", "tc", "nft"}) {
    auto r = run_command({tool, "-V"});
    if (r.status == -1 && r.output.rfind("cannot start", 0) == 0)
      return std::string(tool) + " is not installed (scripts/setup.sh installs iproute2 and "
                                 "nftables)";
  }
  auto probe = std::string(bench_prefix) + "probe";
  auto added = run_command({"ip", "netns", "add", probe});
  if (added.status != 0)
    return "ip netns add refused: " + added.output;
  auto nft = run_command({"ip", "netns", "exec", probe, "nft", "add", "table", "inet", "probe"});
  run_command({"ip", "netns", "del", probe});
  if (nft.status != 0)
    return "nft cannot make a table inside a namespace: " + nft.output;
  return std::nullopt;
}

std::size_t testbed::remove_stale(const std::string& prefix) {
  auto listed = run_command({"ip", "netns", "list"});
  std::size_t removed = 0;
  std::istringstream lines(listed.output);
  for (std::string line; std::getline(lines, line);) {
    auto name = line.substr(0, line.find(' '));
    if (name.rfind(prefix, 0) != 0)
      continue;
    // Processes still inside (a crashed run's nodes) go first.
    auto pids = run_command({"ip", "netns", "pids", name});
    std::istringstream ids(pids.output);
    for (std::string id; ids >> id;)
      if (auto pid = std::atoi(id.c_str()); pid > 1)
        ::kill(pid, SIGKILL);
    if (run_command({"ip", "netns", "del", name}).status == 0)
      ++removed;
  }
  return removed;
}

bool testbed::netem_available() {
  auto ns = std::string(bench_prefix) + "netem";
  if (run_command({"ip", "netns", "add", ns}).status != 0)
    return false;
  run_command({"ip", "-n", ns, "link", "set", "lo", "up"});
  auto r = run_command({"ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "lo", "root",
                        "netem", "delay", "1ms"});
  run_command({"ip", "netns", "del", ns});
  return r.status == 0;
}

testbed::testbed(std::string monitor_ip, std::string prefix)
  : monitor_ip_(std::move(monitor_ip)), prefix_(std::move(prefix)), switch_ns_(prefix_ + "switch") {
  must_run({"ip", "netns", "add", switch_ns_});
  must_run({"ip", "-n", switch_ns_, "link", "set", "lo", "up"});
  // Not "br": `ip link add br ...` parses it as the broadcast keyword.
  must_run({"ip", "-n", switch_ns_, "link", "add", "sw0", "type", "bridge"});
  must_run({"ip", "-n", switch_ns_, "link", "set", "sw0", "up"});
}

testbed::~testbed() {
  try {
    destroy();
  } catch (...) {
  }
}

const testbed_host& testbed::add_host(const std::string& name, const std::string& ip) {
  testbed_host h;
  h.name = name;
  h.netns = prefix_ + name;
  h.ip = ip;
  h.switch_port = "p" + std::to_string(hosts_.size());
  must_run({"ip", "netns", "add", h.netns});
  // Both ends are made inside namespaces: the root namespace never sees them.
  must_run({"ip", "-n", h.netns, "link", "add", "eth0", "type", "veth", "peer", "name",
            h.switch_port, "netns", switch_ns_});
  must_run({"ip", "-n", h.netns, "addr", "add", ip + "/16", "dev", "eth0"});
  must_run({"ip", "-n", h.netns, "link", "set", "eth0", "up"});
  must_run({"ip", "-n", h.netns, "link", "set", "lo", "up"});
  must_run({"ip", "-n", switch_ns_, "link", "set", h.switch_port, "master", "sw0"});
  must_run({"ip", "-n", switch_ns_, "link", "set", h.switch_port, "up"});
  // Inbound on eth0 only (the host's own loopback traffic is never dropped):
  // the monitor passes, cut addresses drop, then the loss chain.
  nft(h.netns, "table inet annb {\n"
               "  set cut { type ipv4_addr; }\n"
               "  chain lossy { }\n"
               "  chain input {\n"
               "    type filter hook input priority 0; policy accept;\n"
               "    iifname != \"eth0\" accept\n"
               "    ip saddr " + monitor_ip_ + " accept\n"
               "    ip saddr @cut drop\n"
               "    jump lossy\n"
               "  }\n"
               "  chain output {\n"
               "    type filter hook output priority 0; policy accept;\n"
               "    oifname != \"eth0\" accept\n"
               "    ip daddr @cut drop\n"
               "  }\n"
               "}\n");
  hosts_.push_back(std::move(h));
  return hosts_.back();
}

const testbed_host& testbed::host(const std::string& name) const {
  for (const auto& h : hosts_)
    if (h.name == name)
      return h;
  throw std::runtime_error("testbed: no host " + name);
}

void testbed::shape(const std::string& name, double uplink_mbit, double downlink_mbit) {
  auto& h = const_cast<testbed_host&>(host(name));
  auto apply = [](const std::string& netns, const std::string& dev, double mbit) {
    if (mbit <= 0) {
      run_command({"ip", "netns", "exec", netns, "tc", "qdisc", "del", "dev", dev, "root"});
      return;
    }
    // 200 ms of queue at the rate: a capped uplink buffers like a home
    // router, not unboundedly.
    must_run({"ip", "netns", "exec", netns, "tc", "qdisc", "replace", "dev", dev, "root", "tbf",
              "rate", format_rate(mbit), "burst", bucket_for(mbit), "latency", "200ms"});
  };
  apply(h.netns, "eth0", uplink_mbit);
  apply(switch_ns_, h.switch_port, downlink_mbit);
  h.uplink_mbit = uplink_mbit;
  h.downlink_mbit = downlink_mbit;
}

void testbed::set_loss(double percent) {
  auto per_10000 = static_cast<long long>(std::llround(std::clamp(percent, 0.0, 100.0) * 100));
  for (const auto& h : hosts_) {
    if (h.ip == monitor_ip_)
      continue;  // watching must not disturb what it watches
    std::string script = "flush chain inet annb lossy\n";
    if (per_10000 > 0)
      script += "add rule inet annb lossy numgen random mod 10000 < " + std::to_string(per_10000)
                + " drop\n";
    nft(h.netns, script);
  }
}

void testbed::cut(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  auto add = [&](const std::string& from, const std::vector<std::string>& to) {
    std::string elements;
    for (const auto& t : to)
      elements += (elements.empty() ? "" : ", ") + host(t).ip;
    if (elements.empty())
      return;
    nft(host(from).netns, "add element inet annb cut { " + elements + " }\n");
    for (const auto& t : to)
      cut_from_[from].push_back(host(t).ip);
  };
  for (const auto& x : a)
    add(x, b);
  for (const auto& y : b)
    add(y, a);
}

void testbed::heal() {
  for (const auto& [name, ips] : cut_from_)
    nft(host(name).netns, "flush set inet annb cut\n");
  cut_from_.clear();
}

std::vector<std::string> testbed::exec_prefix(const std::string& name) const {
  // An absolute path: the caller may spawn it without a PATH search.
  static const std::string ip = [] {
    auto found = find_program("ip");
    return found ? found->string() : std::string("/usr/sbin/ip");
  }();
  return {ip, "netns", "exec", host(name).netns};
}

void testbed::enter(const std::string& name) const {
  auto path = "/run/netns/" + host(name).netns;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  int r = ::setns(fd, CLONE_NEWNET);
  int err = errno;
  ::close(fd);
  if (r != 0)
    throw std::runtime_error("cannot enter " + path + ": " + std::strerror(err));
}

void testbed::destroy() {
  if (destroyed_)
    return;
  destroyed_ = true;
  for (const auto& h : hosts_)
    run_command({"ip", "netns", "del", h.netns});
  run_command({"ip", "netns", "del", switch_ns_});
}

void testbed::nft(const std::string& netns, const std::string& script) {
  must_run({"ip", "netns", "exec", netns, "nft", "-f", "-"}, script);
}

} // namespace annals::bench
