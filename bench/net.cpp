#include "bench/net.hpp"

#include "bench/load.hpp"
#include "bench/process.hpp"
#include "bench/testbed.hpp"
#include "core/archive_reader.hpp"
#include "core/enr.hpp"
#include "core/enr_tree.hpp"
#include "core/file_io.hpp"
#include "core/identity.hpp"
#include "net/http_get.hpp"
#include "net/loopback.hpp"
#include "net/p2p/enr_peer.hpp"
#include "net/p2p/peer_id.hpp"
#include "net/torrent_file.hpp"
#include "storage/store.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace annals::bench {

namespace fs = std::filesystem;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;

namespace {

constexpr std::uint16_t relay_port = 60000;
constexpr std::uint16_t torrent_port = 6881;
constexpr std::uint16_t rest_port = 8645;
constexpr std::uint16_t discv5_port = 9000;
constexpr std::uint16_t tracker_port = 6969;
const std::string tracker_ip = "10.77.1.1";
/// The domain of the testbed's DNS node list (served on the tracker host).
const std::string dns_domain = "nodes.annals.test";
const std::string monitor_ip = "10.77.1.254";

/// 10.77.0.1 is the owner, members follow (at most max_net_hosts).
/// Set by SIGINT/SIGTERM: the scenario stops at its next second and every
/// namespace and node goes with it.
std::atomic<bool> interrupted{false};
extern "C" void on_interrupt(int) {
  interrupted = true;
}

std::string node_ip(std::size_t index) {
  return "10.77.0." + std::to_string(index + 1);
}

std::string quoted(const std::string& s) {
  json j = s;
  return j.dump();
}

std::string toml_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i)
    out += (i ? ", " : "") + quoted(items[i]);
  return out + "]";
}

/// The node that runs in one testbed host.
struct node_proc {
  std::string name;  // also the testbed host's name
  std::string role;  // owner, member, poster, late
  std::string ip;
  fs::path dir;
  std::string peer_id;
  std::vector<std::string> relay_peers;
  std::size_t traffic = 0;  // messages this node posts
  std::unique_ptr<process> proc;
  std::uint64_t restarts = 0;
  // What its REST API said last.
  bool answered = false;
  std::uint64_t messages = 0, archives = 0, imported = 0, unarchived = 0;
  std::string magnet;
  std::vector<transfer_source> sources;
  std::map<std::string, double> imported_at;  // archive ID -> seconds into the run
  double peak_rss = 0;
  double converged_at = -1;
  double delivered = -1;  // relay messages delivered (from /metrics)
  double lateness_p50 = -1, lateness_p99 = -1, lateness_max = -1;  // scheduler, ms
  double started_at = -1;
  double synced_at = -1;  // the late member: all archives imported
  double connected_peers = -1, peers_discovered = -1;  // from /metrics at the address check

  std::string relay_address() const {
    return "/ip4/" + ip + "/tcp/" + std::to_string(relay_port) + "/p2p/" + peer_id;
  }
  std::string rest() const { return ip + ":" + std::to_string(rest_port); }
  bool alive() const { return proc && proc->pid() > 0; }
};

/// Reads a /metrics sample by name (no labels).
double metric(const std::string& text, const std::string& name) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(name + " ", 0) == 0)
      return std::strtod(line.c_str() + name.size() + 1, nullptr);
  return -1;
}

/// The multiaddrs and endpoints a node advertises, checked for 0.0.0.0 and
/// 127.x (what a peer on another host could never dial).
std::vector<std::string> unroutable(const std::vector<std::string>& addresses) {
  std::vector<std::string> out;
  for (const auto& a : addresses)
    if (a.find("0.0.0.0") != std::string::npos || a.find("/127.") != std::string::npos
        || a.rfind("127.", 0) == 0 || a.find("=127.") != std::string::npos
        || a.find("/ip6/::/") != std::string::npos)
      out.push_back(a);
  return out;
}

/// The x.pe values of a magnet link.
std::vector<std::string> magnet_peers(const std::string& magnet) {
  std::vector<std::string> out;
  for (std::size_t at = magnet.find("x.pe="); at != std::string::npos;
       at = magnet.find("x.pe=", at + 1)) {
    auto end = magnet.find('&', at);
    out.push_back(magnet.substr(at + 5, end == std::string::npos ? std::string::npos : end - at - 5));
  }
  return out;
}

/// One scenario's testbed, nodes and clock.
class scenario_run {
public:
  scenario_run(const net_options& options, std::string name, fs::path root,
               const std::function<void(const std::string&)>& line)
    : options_(options), name_(std::move(name)), root_(std::move(root)), line_(line) {
    result_.scenario = name_;
    fs::create_directories(root_);
    community_key_ = private_key::generate();
    if (auto saved = community_key_.save(root_ / "community.key"); !saved)
      throw std::runtime_error(saved.error().to_string());
    community_ = community_key_.public_key().community_id();
    original_ns_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  }

  ~scenario_run() {
    for (auto& n : nodes_)
      n.proc.reset();
    tracker_.reset();
    dns_.reset();
    if (net_) {
      leave_testbed();
      net_.reset();
    }
    if (original_ns_ >= 0)
      ::close(original_ns_);
  }

  net_scenario_result& result() { return result_; }
  const std::string& community() const { return community_; }
  double now() const { return std::chrono::duration<double>(steady::now() - start_).count(); }

  void note(const std::string& what) {
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "%.1f s: ", now());
    result_.notes.push_back(stamp + what);
    line_(name_ + ": " + what);
  }

  // --- the testbed -----------------------------------------------------------

  /// Hosts: the owner, `members` members (the first posts), and `late`
  /// extra members started later; the tracker and the monitor.
  void build(std::size_t members, std::size_t late, std::size_t poster_messages) {
    net_ = std::make_unique<testbed>(monitor_ip);
    auto add_node = [&](const std::string& name, const std::string& role) {
      node_proc n;
      n.name = name;
      n.role = role;
      n.ip = node_ip(nodes_.size());
      n.dir = root_ / name;
      fs::create_directories(n.dir);
      auto key = private_key::generate();
      if (auto saved = key.save(n.dir / "relay.key"); !saved)
        throw std::runtime_error(saved.error().to_string());
      n.peer_id = p2p::peer_id::from_secp256k1(key.public_key()).to_string();
      net_->add_host(name, n.ip);
      nodes_.push_back(std::move(n));
    };
    add_node("owner", "owner");
    for (std::size_t i = 1; i <= members; ++i)
      add_node("m" + std::to_string(i), i == 1 && poster_messages > 0 ? "poster" : "member");
    for (std::size_t i = 1; i <= late; ++i)
      add_node("late" + std::to_string(i), "late");
    if (poster_messages > 0)
      nodes_[1].traffic = poster_messages;
    net_->add_host("tracker", tracker_ip);
    net_->add_host("monitor", monitor_ip);
    result_.hosts = nodes_.size();
    start_tracker();
    if (options_.discovery == "dns") {
      // No peer lists: every node reads one DNS tree of all nodes' records.
      start_dns();
      enter_testbed();
      return;
    }
    if (options_.discovery == "discv5") {
      // No peer lists: every node starts from one bootstrap record.
      start_discv5();
      enter_testbed();
      return;
    }
    // Relay peers: the owner and two ring neighbours, so the members stay
    // connected among themselves when the owner is gone or cut off.
    for (std::size_t i = 1; i <= members; ++i) {
      auto& n = nodes_[i];
      n.relay_peers.push_back(nodes_[0].relay_address());
      for (std::size_t step : {1, 2}) {
        auto j = (i - 1 + step) % members + 1;
        if (j != i && members > step)
          n.relay_peers.push_back(nodes_[j].relay_address());
      }
    }
    for (std::size_t i = members + 1; i < nodes_.size(); ++i)
      nodes_[i].relay_peers.push_back(nodes_[0].relay_address());
    enter_testbed();
  }

  bool dns_discovery() const { return options_.discovery == "dns"; }
  /// Nodes find their peers by DNS or discv5, with no peer lists.
  bool discovering() const { return options_.discovery != "static"; }

  testbed& net() { return *net_; }
  node_proc& node(const std::string& name) {
    for (auto& n : nodes_)
      if (n.name == name)
        return n;
    throw std::runtime_error("no node " + name);
  }
  std::vector<node_proc*> members() {
    std::vector<node_proc*> out;
    for (auto& n : nodes_)
      if (n.role != "owner")
        out.push_back(&n);
    return out;
  }

  void shape_all(double up, double down, double owner_up) {
    for (const auto& n : nodes_)
      net_->shape(n.name, n.role == "owner" ? owner_up : up, down);
  }

  // --- nodes -------------------------------------------------------------------

  void write_config(const node_proc& n, std::uint64_t interval) {
    std::ofstream toml(n.dir / "node.toml");
    std::vector<std::string> dht;
    for (std::size_t i = 0; i < std::min<std::size_t>(3, nodes_.size()); ++i)
      dht.push_back(nodes_[i].ip + ":" + std::to_string(torrent_port));
    toml << "data_dir = " << quoted((n.dir / "data").string()) << "\n"
         << "events = " << quoted((n.dir / "events.jsonl").string()) << "\n\n"
         << "[torrent]\n"
         << "listen = \"0.0.0.0:" << torrent_port << "\"\n"
         << "dht = true\n"
         << "dht_bootstrap = " << toml_list(dht) << "\n"
         << "private_network = true\n"
         << "lsd = false\n"
         << "trackers = [\"http://" << tracker_ip << ":" << tracker_port << "/announce\"]\n"
         << "advertise_address = " << (n.role == "owner" ? "true" : "false") << "\n\n"
         << "[relay]\n"
         << "listen = [\"/ip4/0.0.0.0/tcp/" << relay_port << "\"]\n"
         << "peers = " << toml_list(n.relay_peers) << "\n"
         << "key_file = " << quoted((n.dir / "relay.key").string()) << "\n";
    if (dns_discovery())
      toml << "target_peers = " << options_.target_peers << "\n\n"
           << "[discovery]\n"
           << "dns = [" << quoted(tree_url_) << "]\n"
           << "dns_server = \"" << tracker_ip << ":53\"\n"
           // The testbed's nodes start one by one: read the tree again soon.
           << "dns_interval = 15\n";
    if (options_.discovery == "discv5") {
      toml << "target_peers = " << options_.target_peers << "\n\n"
           << "[discovery]\n"
           << "discv5 = true\n"
           << "discv5_listen = \"0.0.0.0:" << discv5_port << "\"\n";
      // The first member starts from the owner, everyone else from it.
      auto& boot = &n == &nodes_[1] ? owner_enr_ : bootstrap_enr_;
      if (!boot.empty())
        toml << "bootstrap = [" << quoted(boot) << "]\n";
    }
    toml << "\n"
         << "[archives]\n"
         << "interval = " << interval << "\n"
         << "welcome_gap = 5\n\n"
         << "[store]\n"
         << "verify_interval = 20\n\n"
         << "[rest]\n"
         << "listen = \"0.0.0.0:" << rest_port << "\"\n\n"
         << "[[community]]\n";
    if (n.role == "owner") {
      toml << "role = \"owner\"\n"
           << "key_file = " << quoted((root_ / "community.key").string()) << "\n";
    } else {
      toml << "role = \"member\"\nid = " << quoted(community_) << "\n";
    }
    toml << "channels = [\"general\", \"random\", \"dev\", \"ops\"]\n";
    if (n.traffic > 0)
      toml << "[community.traffic]\n"
           << "messages = " << n.traffic << "\n"
           << "rate = " << owner_rate_override(n) << "\n"
           << "payload = " << payload_ << "\n"
           // The swarm's owner fills its own history before any member runs.
           << "wait_for_peers = " << (n.role == "owner" ? "false" : "true") << "\n";
  }

  double owner_rate_override(const node_proc& n) const {
    if (n.role == "owner" && owner_rate_ > 0)
      return owner_rate_;
    return rate_ > 0 ? rate_ : options_.rate;
  }
  /// The posting member's rate, when the scenario's differs from --rate.
  void set_rate(double rate) { rate_ = rate; }
  void set_owner_traffic(std::size_t messages, double rate, std::size_t payload) {
    nodes_[0].traffic = messages;
    owner_rate_ = rate;
    payload_ = payload;
  }
  void set_payload(std::size_t payload) { payload_ = payload; }

  void start(node_proc& n) {
    if (n.alive())
      return;
    if (n.restarts == 0 && !fs::exists(n.dir / "node.toml"))
      write_config(n, interval_);
    auto args = net_->exec_prefix(n.name);
    args.push_back(options_.annals_binary.string());
    args.push_back("run");
    args.push_back("--config");
    args.push_back((n.dir / "node.toml").string());
    args.push_back("--status-interval");
    args.push_back("10");
    args.push_back("--probe-scheduler");
    n.proc = std::make_unique<process>(args, n.dir / "node.log");
    if (n.started_at < 0)
      n.started_at = now();
  }

  void kill(node_proc& n) {
    if (!n.alive())
      return;
    read_counters(n);
    ::kill(n.proc->pid(), SIGKILL);
    n.proc->wait(std::chrono::seconds(10));
    n.proc.reset();
    n.answered = false;
  }

  void restart(node_proc& n) {
    ++n.restarts;
    start(n);
  }

  void set_interval(std::uint64_t seconds) { interval_ = seconds; }

  // --- watching ------------------------------------------------------------------

  /// Reads every live node's REST API and memory once.
  void observe() {
    for (auto& n : nodes_) {
      if (!n.alive()) {
        if (n.proc && !n.proc->alive())
          n.proc.reset();
        continue;
      }
      auto rss = read_rss(std::to_string(n.proc->pid()));
      n.peak_rss = std::max(n.peak_rss, rss.anon_mb);
      auto reply = http_exchange(n.rest(), "/archive/v1/communities/" + community_);
      if (!reply || reply->status != 200) {
        n.answered = false;
        continue;
      }
      json j = json::parse(reply->body, nullptr, false);
      if (j.is_discarded())
        continue;
      n.answered = true;
      n.messages = j.value("messages", std::uint64_t{0});
      n.archives = j.value("archives", std::uint64_t{0});
      n.imported = j.value("importedArchives", std::uint64_t{0});
      n.unarchived = j.value("unarchivedMessages", std::uint64_t{0});
      if (j.contains("magnetlink") && j["magnetlink"].is_object())
        n.magnet = j["magnetlink"].value("uri", std::string());
      n.sources.clear();
      if (j.contains("downloadSources"))
        for (const auto& s : j["downloadSources"])
          n.sources.push_back({s.value("address", std::string()), s.value("bytes", std::uint64_t{0})});
      if (j.contains("archiveList"))
        for (const auto& a : j["archiveList"])
          if (a.value("imported", false))
            n.imported_at.emplace(a.value("id", std::string()), now());
      result_.samples.push_back({now(), n.name, n.messages, n.imported, rss.anon_mb});
    }
    update_whitelist();
  }

  void read_relay_counters() {
    for (auto& n : nodes_)
      read_counters(n);
  }

  void read_counters(node_proc& n) {
    if (!n.alive())
      return;
    auto reply = http_exchange(n.rest(), "/metrics");
    if (!reply || reply->status != 200)
      return;
    n.delivered = metric(reply->body, "annals_relay_messages_delivered_total");
    // A node restarted in the run reports since its start: the worst of its
    // lives counts.
    auto lateness = [&](const char* q) {
      return metric(reply->body, std::string("annals_scheduler_lateness_ms{quantile=\"") + q + "\"}");
    };
    n.lateness_p50 = std::max(n.lateness_p50, lateness("0.5"));
    n.lateness_p99 = std::max(n.lateness_p99, lateness("0.99"));
    n.lateness_max = std::max(n.lateness_max, lateness("1"));
  }

  const node_proc& owner() const { return nodes_[0]; }
  node_proc& owner() { return nodes_[0]; }

  /// Whether `n` holds what the owner holds, every archive imported.
  bool synced(const node_proc& n, std::uint64_t owner_messages, std::uint64_t owner_archives) const {
    return n.answered && n.messages == owner_messages && n.archives >= owner_archives
           && n.archives > 0 && n.imported == n.archives;
  }

  /// Polls once a second until `done` or `limit` seconds from now; `each`
  /// runs every second first (churn, cuts). Prints a line every 5 s.
  bool wait_until(const std::function<bool()>& done, double limit, const std::string& what,
                  const std::function<void()>& each = {}) {
    auto deadline = now() + limit;
    double last_line = -10;
    for (;;) {
      auto tick = steady::now();
      if (interrupted)
        throw std::runtime_error("interrupted by a signal; the testbed is removed");
      if (each)
        each();
      observe();
      if (done())
        return true;
      if (now() >= deadline) {
        line_(name_ + ": " + what + " did not happen within " + std::to_string(int(limit)) + " s");
        return false;
      }
      if (now() - last_line >= 5) {
        last_line = now();
        line_(name_ + ": " + progress_line());
      }
      std::this_thread::sleep_until(tick + std::chrono::seconds(1));
    }
  }

  std::string progress_line() const {
    const auto& o = owner();
    std::size_t up = 0, synced_count = 0, total = 0;
    std::uint64_t least = UINT64_MAX;
    for (const auto& n : nodes_) {
      if (n.role == "owner" || n.started_at < 0)
        continue;
      ++total;
      up += n.answered;
      synced_count += synced(n, o.messages, o.archives);
      if (n.answered)
        least = std::min(least, n.messages);
    }
    char text[256];
    std::snprintf(text, sizeof text,
                  "%.0f s: owner %s %llu stored (%llu not archived), %llu archives; members "
                  "%zu/%zu up, %zu synced, fewest messages %llu",
                  now(), o.answered ? "up," : "down, last",
                  static_cast<unsigned long long>(o.messages),
                  static_cast<unsigned long long>(o.unarchived),
                  static_cast<unsigned long long>(o.archives), up, total, synced_count,
                  static_cast<unsigned long long>(least == UINT64_MAX ? 0 : least));
    return text;
  }

  /// Every started member holds the owner's set, with `expected` stored.
  bool all_synced(std::uint64_t expected) {
    const auto& o = owner();
    if (o.messages < expected || o.unarchived > 0)
      return false;
    bool all = true;
    for (auto& n : nodes_) {
      if (n.role == "owner" || n.started_at < 0)
        continue;
      bool s = synced(n, o.messages, o.archives);
      if (s && n.converged_at < 0)
        n.converged_at = now();
      all = all && s;
    }
    return all;
  }

  // --- checks --------------------------------------------------------------------

  /// What the nodes advertise: /debug/v1/info, the owner's x.pe, and
  /// identify's listenAddrs as a member on another host sees them.
  void check_addresses() {
    for (auto& n : nodes_) {
      if (!n.alive())
        continue;
      auto reply = http_exchange(n.rest(), "/debug/v1/info");
      if (!reply || reply->status != 200)
        continue;
      json info = json::parse(reply->body, nullptr, false);
      std::vector<std::string> said;
      for (const char* key : {"listenAddresses", "torrentAddresses"})
        if (info.contains(key))
          for (const auto& a : info[key])
            said.push_back(a.get<std::string>());
      for (const auto& bad : unroutable(said))
        fail(n.name + " advertises " + bad + " in /debug/v1/info");
      if (said.empty())
        fail(n.name + " advertises no address in /debug/v1/info");
      // The node record discovery would hand out (data_dir/enr).
      auto text = read_file_bytes(n.dir / "data" / "enr", 4096);
      if (!text) {
        fail(n.name + "'s node record: " + text.error().message);
        continue;
      }
      auto record = parse_enr(text->substr(0, text->find('\n')));
      if (!record) {
        fail(n.name + "'s node record: " + record.error().message);
        continue;
      }
      auto in_record = p2p::enr_addresses(*record);
      for (const auto& bad : unroutable(in_record))
        fail(n.name + " advertises " + bad + " in its node record");
      if (!p2p::enr_dial_address(*record))
        fail(n.name + "'s node record gives no address a relay can dial");
    }
    if (discovering())
      check_discovery();
    for (const auto& peer : magnet_peers(owner().magnet))
      for (const auto& bad : unroutable({peer}))
        fail("the owner's magnet link names x.pe=" + bad);
    // identify, as a peer on another host hears it.
    if (nodes_.size() > 1 && owner().alive()) {
      auto args = net_->exec_prefix(nodes_[1].name);
      for (const auto& a : {options_.annals_binary.string(), std::string("relay"),
                            std::string("probe"), owner().relay_address(), std::string("--seconds"),
                            std::string("10")})
        args.push_back(a);
      auto probe = run_command(args, {}, std::chrono::seconds(20));
      auto brace = probe.output.find('{');
      json id = brace == std::string::npos ? json()
                                           : json::parse(probe.output.substr(brace), nullptr, false);
      if (probe.status != 0 || !id.is_object()) {
        fail("relay probe of the owner from " + nodes_[1].name + " failed: " + probe.output);
      } else {
        std::vector<std::string> listen;
        for (const auto& a : id["listenAddrs"])
          listen.push_back(a.get<std::string>());
        for (const auto& bad : unroutable(listen))
          fail("the owner's identify tells " + nodes_[1].name + " it listens on " + bad);
        if (std::find_if(listen.begin(), listen.end(), [&](const std::string& a) {
              return a.find("/ip4/" + owner().ip + "/") != std::string::npos;
            }) == listen.end())
          fail("the owner's identify does not name its address " + owner().ip);
      }
    }
  }

  /// With DNS discovery or discv5 (and no peer lists), every running node
  /// walked the tree or holds a discv5 session, and holds its target, or
  /// every other running node when there are fewer.
  /// A node that just started (the late member) is given up to 30 s: a
  /// lookup lost to the links' loss waits out the resolver's timeout.
  void check_discovery() {
    std::size_t running = 0;
    for (auto& n : nodes_)
      running += n.alive();
    auto want = std::min<double>(static_cast<double>(options_.target_peers),
                                 running > 0 ? static_cast<double>(running - 1) : 0.0);
    std::vector<std::string> problems;
    auto deadline = steady::now() + std::chrono::seconds(30);
    do {
      problems.clear();
      for (auto& n : nodes_) {
        if (!n.alive())
          continue;
        auto reply = http_exchange(n.rest(), "/metrics");
        if (!reply || reply->status != 200) {
          problems.push_back(n.name + ": /metrics did not answer for the discovery check");
          continue;
        }
        n.connected_peers = metric(reply->body, "annals_relay_peers");
        // A node may meet its peers inbound or through peer exchange before
        // its own walk finishes; what must hold is that discovery worked.
        n.peers_discovered = metric(reply->body, "annals_discovery_peers_found_total{source=\""
                                                   + options_.discovery + "\"}");
        if (dns_discovery() && metric(reply->body, "annals_dns_discovery_syncs_total") < 1)
          problems.push_back(n.name + " has not completed a DNS discovery walk");
        if (!dns_discovery() && metric(reply->body, "annals_discv5_handshakes_total") < 1)
          problems.push_back(n.name + " has no discv5 session");
        if (n.connected_peers < want)
          problems.push_back(n.name + " holds " + std::to_string(int(n.connected_peers))
                             + " relay peers, below " + std::to_string(int(want)));
      }
      if (!problems.empty())
        std::this_thread::sleep_for(std::chrono::seconds(1));
    } while (!problems.empty() && steady::now() < deadline);
    for (const auto& p : problems)
      fail(p);
    if (problems.empty())
      note("discovery: every running node " + std::string(dns_discovery() ? "walked the DNS tree" : "holds a discv5 session") + " and holds "
           + std::to_string(int(want)) + " or more relay peers");
  }

  void fail(const std::string& why) {
    result_.failures.push_back(why);
    line_(name_ + ": FAIL " + why);
  }

  /// Stops every node (SIGTERM), then reads their stores and the owner's
  /// archive files: the owner's stored set is the reference.
  void final_check(std::uint64_t posted) {
    read_relay_counters();
    // All at once: SIGTERM, then each is waited for (SIGKILL after 20 s).
    for (auto& n : nodes_)
      if (n.alive())
        ::kill(n.proc->pid(), SIGTERM);
    for (auto& n : nodes_)
      n.proc.reset();
    auto pub = community_key_.public_key();
    auto read_store = [&](const node_proc& n, std::uint64_t& entries) {
      auto db = store::open(n.dir / "data" / "db");
      if (!db)
        throw std::runtime_error(n.name + ": " + db.error().to_string());
      return stored_hashes(**db, pub, entries);
    };
    std::uint64_t entries = 0;
    auto reference = read_store(owner(), entries);
    result_.posted = posted;
    result_.stored = reference.size();
    result_.duplicated += entries - reference.size();
    // Exactly once in the archive files.
    archive_layout layout{owner().dir / "data", community_};
    std::unordered_map<std::string, std::uint32_t> in_archives;
    std::map<std::string, std::vector<std::uint64_t>> archive_times;  // archive ID -> timestamps
    if (fs::exists(layout.index_file())) {
      auto index = read_index(layout.index_file());
      if (!index)
        throw std::runtime_error("owner index: " + index.error().to_string());
      for (const auto& [id, entry] : sorted_entries(*index)) {
        auto archive = read_archive(layout.data_file(), entry);
        if (!archive)
          throw std::runtime_error("owner archive " + id + ": " + archive.error().to_string());
        for (const auto& m : archive->messages()) {
          ++in_archives[m.hash()];
          archive_times[id].push_back(m.timestamp());
        }
      }
    }
    for (const auto& [hash, count] : in_archives)
      result_.duplicated += count - 1;
    result_.archived = in_archives.size();
    if (result_.stored < posted)
      fail("the owner stored " + std::to_string(result_.stored) + " of " + std::to_string(posted)
           + " posted messages");
    if (result_.archived < result_.stored)
      fail(std::to_string(result_.stored - result_.archived)
           + " stored messages are in no archive of the owner");
    std::vector<double> latencies;
    std::vector<double> delivery;
    std::map<std::string, std::string> name_of_ip;
    for (const auto& n : nodes_)
      name_of_ip[n.ip] = n.name;
    for (auto& n : nodes_) {
      net_node_result r;
      r.name = n.name;
      r.ip = n.ip;
      r.role = n.role;
      r.peak_rss_mb = n.peak_rss;
      r.restarts = n.restarts;
      r.converged_s = n.converged_at;
      r.lateness_p50_ms = n.lateness_p50;
      r.lateness_p99_ms = n.lateness_p99;
      r.lateness_max_ms = n.lateness_max;
      r.relay_peers = n.connected_peers;
      r.peers_discovered = n.peers_discovered;
      result_.lateness_p99_ms = std::max(result_.lateness_p99_ms, n.lateness_p99);
      result_.lateness_max_ms = std::max(result_.lateness_max_ms, n.lateness_max);
      for (const auto& s : n.sources) {
        auto named = name_of_ip.count(s.address) ? name_of_ip[s.address] : s.address;
        r.sources.push_back({named, s.bytes});
      }
      if (n.delivered >= 0 && posted > 0 && n.role != "poster")
        r.relay_delivery = std::min(1.0, n.delivered / static_cast<double>(posted));
      if (r.relay_delivery >= 0 && n.role != "owner" && n.role != "late")
        delivery.push_back(r.relay_delivery);
      if (n.role != "owner" && n.started_at >= 0) {
        std::uint64_t member_entries = 0;
        auto held = read_store(n, member_entries);
        r.messages = held.size();
        result_.duplicated += member_entries - held.size();
        for (const auto& [hash, count] : reference)
          r.missing += held.count(hash) ? 0 : 1;
        for (const auto& [hash, count] : held)
          r.extra += reference.count(hash) ? 0 : 1;
        result_.lost += r.missing;
        if (r.missing > 0)
          fail(n.name + " lacks " + std::to_string(r.missing) + " of the owner's "
               + std::to_string(reference.size()) + " messages");
        if (r.extra > 0)
          fail(n.name + " holds " + std::to_string(r.extra) + " messages the owner does not");
        // Post -> imported: an archive's messages were posted at their
        // timestamps and imported when its flag first showed.
        auto started = std::chrono::duration<double>(start_wall_.time_since_epoch()).count();
        for (const auto& [id, at] : n.imported_at)
          if (auto t = archive_times.find(id); t != archive_times.end())
            for (auto ts : t->second) {
              auto ms = (started + at - static_cast<double>(ts)) * 1000.0;
              if (ms >= 0)
                latencies.push_back(ms);
            }
      } else {
        r.messages = reference.size();
      }
      result_.nodes.push_back(std::move(r));
    }
    if (result_.duplicated > 0)
      fail(std::to_string(result_.duplicated) + " duplicated copies");
    result_.post_to_imported = summarize(latencies);
    if (!delivery.empty()) {
      std::sort(delivery.begin(), delivery.end());
      result_.relay_delivery_min = delivery.front();
      result_.relay_delivery_median = delivery[delivery.size() / 2];
    }
  }

  void finish() {
    result_.seconds = now();
    result_.passed = result_.failures.empty();
  }

  void restart_clock() {
    start_ = steady::now();
    start_wall_ = std::chrono::system_clock::now();
  }

private:
  void start_tracker() {
    auto dir = root_ / "tracker";
    fs::create_directories(dir);
    // A placeholder line: opentracker warns about an empty list.
    std::ofstream(dir / "whitelist") << std::string(40, '0') << "\n";
    // opentracker chroots into -d and reads the whitelist as `nobody`.
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec
                           | fs::perms::others_read | fs::perms::others_exec);
    fs::permissions(dir / "whitelist", fs::perms::owner_read | fs::perms::owner_write
                                         | fs::perms::group_read | fs::perms::others_read);
    auto args = net_->exec_prefix("tracker");
    auto opentracker = find_program("opentracker");
    if (!opentracker)
      throw std::runtime_error("opentracker is not installed (scripts/setup.sh installs it)");
    for (const auto& a : {opentracker->string(), std::string("-i"), tracker_ip,
                          std::string("-p"), std::to_string(tracker_port), std::string("-P"),
                          std::to_string(tracker_port), std::string("-d"), dir.string(),
                          std::string("-w"), std::string("whitelist")})
      args.push_back(a);
    tracker_ = std::make_unique<process>(args, root_ / "tracker.log");
    tracker_dir_ = dir;
  }

  /// The record `annals enr self` prints on the node's own host.
  std::string enr_self(node_proc& n) {
    write_config(n, interval_);
    auto args = net_->exec_prefix(n.name);
    for (const auto& a : {options_.annals_binary.string(), std::string("enr"), std::string("self"),
                          std::string("--config"), (n.dir / "node.toml").string()})
      args.push_back(a);
    auto self = run_command(args, {}, std::chrono::seconds(20));
    auto brace = self.output.find('{');
    json record = brace == std::string::npos
                    ? json()
                    : json::parse(self.output.substr(brace), nullptr, false);
    if (self.status != 0 || !record.is_object() || !record.contains("enr"))
      throw std::runtime_error("annals enr self on " + n.name + " failed: " + self.output);
    // Written again at the node's start, with what the scenario sets later.
    fs::remove(n.dir / "node.toml");
    return record["enr"].get<std::string>();
  }

  /// discv5 as a network of Waku nodes runs it: one bootstrap record (the
  /// first member's; the owner's for that member) and random walks.
  void start_discv5() {
    owner_enr_ = enr_self(nodes_[0]);
    if (nodes_.size() > 1)
      bootstrap_enr_ = enr_self(nodes_[1]);
    note("discv5 on udp " + std::to_string(discv5_port) + "; every node starts from "
         + (nodes_.size() > 1 ? nodes_[1].name : nodes_[0].name)
         + "'s record alone; no node has a peer list");
  }

  /// DNS discovery as an operator sets it up: each node's own record from
  /// `annals enr self` run on its host, a tree of them signed by
  /// `annals enr tree`, served by dnsmasq on the tracker host.
  void start_dns() {
    auto dir = root_ / "dns";
    fs::create_directories(dir);
    auto tree_key = private_key::generate();
    if (auto saved = tree_key.save(dir / "tree.key"); !saved)
      throw std::runtime_error(saved.error().to_string());
    tree_url_ = enrtree_url{tree_key.public_key(), dns_domain}.text();
    std::string records;
    for (auto& n : nodes_)
      records += enr_self(n) + "\n";
    std::ofstream(dir / "records.txt") << records;
    auto tree = run_command({options_.annals_binary.string(), "enr", "tree", "--format", "dnsmasq",
                             "--key", (dir / "tree.key").string(), "--domain", dns_domain,
                             "--records-file", (dir / "records.txt").string()},
                            {}, std::chrono::seconds(20));
    if (tree.status != 0)
      throw std::runtime_error("annals enr tree failed: " + tree.output);
    // The URL goes to stderr, which run_command mixes in: keep the records.
    std::string conf;
    std::istringstream lines(tree.output);
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("txt-record=", 0) == 0)
        conf += line + "\n";
    std::ofstream(dir / "dnsmasq.conf") << conf;
    auto dnsmasq = find_program("dnsmasq");
    if (!dnsmasq)
      throw std::runtime_error("dnsmasq is not installed (scripts/setup.sh installs dnsmasq-base)");
    auto args = net_->exec_prefix("tracker");
    for (const auto& a :
         {dnsmasq->string(), std::string("--keep-in-foreground"),
          "--conf-file=" + (dir / "dnsmasq.conf").string(), std::string("--port=53"),
          "--listen-address=" + std::string(tracker_ip), std::string("--bind-interfaces"),
          std::string("--no-resolv"), std::string("--no-hosts"), std::string("--pid-file="),
          "--local=/" + std::string(dns_domain) + "/", std::string("--log-facility=-")})
      args.push_back(a);
    dns_ = std::make_unique<process>(args, root_ / "dnsmasq.log");
    note(std::to_string(nodes_.size()) + " node records in " + tree_url_ + " (dnsmasq on "
         + tracker_ip + "); no node has a peer list");
  }

  /// Debian's opentracker serves whitelisted info hashes only: each new
  /// torrent of the owner is added, and SIGHUP makes it read the list again.
  void update_whitelist() {
    auto file = owner().dir / "data" / "torrents" / (community_ + ".torrent");
    std::error_code ec;
    auto time = fs::last_write_time(file, ec);
    if (ec || time == whitelisted_time_)
      return;
    auto torrent = read_archive_torrent(file);
    if (!torrent)
      return;  // being rewritten; next second
    whitelisted_time_ = time;
    if (!whitelisted_.insert(torrent->info_hash).second)
      return;
    std::ofstream(tracker_dir_ / "whitelist", std::ios::app) << torrent->info_hash << "\n";
    if (tracker_ && tracker_->pid() > 0)
      ::kill(tracker_->pid(), SIGHUP);
  }

  void enter_testbed() { net_->enter("monitor"); }
  void leave_testbed() {
    if (original_ns_ >= 0)
      ::setns(original_ns_, CLONE_NEWNET);
  }

  const net_options& options_;
  std::string name_;
  fs::path root_;
  const std::function<void(const std::string&)>& line_;
  private_key community_key_ = private_key::generate();
  std::string community_;
  std::unique_ptr<testbed> net_;
  std::vector<node_proc> nodes_;
  std::unique_ptr<process> tracker_;
  std::unique_ptr<process> dns_;
  std::string tree_url_;
  std::string owner_enr_, bootstrap_enr_;  // discv5's bootstrap records
  fs::path tracker_dir_;
  std::set<std::string> whitelisted_;
  fs::file_time_type whitelisted_time_{};
  int original_ns_ = -1;
  std::uint64_t interval_ = 10;
  double owner_rate_ = 0;
  double rate_ = 0;  // the posting member's, 0: --rate
  std::size_t payload_ = 200;
  steady::time_point start_ = steady::now();
  std::chrono::system_clock::time_point start_wall_ = std::chrono::system_clock::now();
  net_scenario_result result_;
};

double limit_or(const net_options& options, double fallback) {
  return options.seconds > 0 ? options.seconds : fallback;
}

std::size_t member_count(const net_options& options) {
  return options.hosts > 1 ? options.hosts - 1 : 1;
}

/// Starts the owner, then the members; waits until every relay answers.
void start_nodes(scenario_run& run, bool members_too = true) {
  run.start(run.owner());
  if (members_too)
    for (auto* m : run.members())
      if (m->role != "late")
        run.start(*m);
}

// --- scenarios -----------------------------------------------------------------

/// The end of a scenario that waited for convergence: the verdict, the
/// address check and the independent check of every node's files.
net_scenario_result conclude(scenario_run& run, bool converged, double limit,
                             std::uint64_t posted) {
  if (converged) {
    run.result().converged_s = run.now();
    run.note("converged");
  } else {
    run.fail("not converged within " + std::to_string(int(limit)) + " s: " + run.progress_line());
  }
  run.check_addresses();
  run.final_check(posted);
  run.finish();
  return std::move(run.result());
}

/// Traffic from a member host at the rate asked for, over capped, lossy
/// links: every member ends with exactly the owner's stored set.
net_scenario_result steady_scenario(const net_options& o, const fs::path& root,
                                    const std::function<void(const std::string&)>& line,
                                    bool partition) {
  scenario_run run(o, partition ? "partition" : "steady", root, line);
  auto members = member_count(o);
  run.set_interval(o.interval);
  run.set_payload(o.payload);
  run.build(members, 0, o.messages);
  run.shape_all(o.uplink_mbit, o.downlink_mbit, o.owner_uplink_mbit > 0 ? o.owner_uplink_mbit : o.uplink_mbit);
  run.net().set_loss(o.loss);
  run.restart_clock();
  run.note(std::to_string(members + 1) + " hosts, links " + std::to_string(int(o.uplink_mbit))
           + "/" + std::to_string(int(o.downlink_mbit)) + " Mbit/s, " + std::to_string(o.loss)
           + " % loss; " + std::to_string(o.messages) + " messages at " + std::to_string(int(o.rate))
           + "/s from m1");
  start_nodes(run);
  auto posting = static_cast<double>(o.messages) / o.rate;
  // Half the members (the poster among them) lose the owner and the other
  // half for partition_seconds, from a quarter into the posting.
  std::vector<std::string> side_a, side_b{"owner"};
  for (auto* m : run.members())
    (side_a.size() < (members + 1) / 2 ? side_a : side_b).push_back(m->name);
  double cut_at = 5 + posting / 4, healed_at = cut_at + o.partition_seconds;
  bool cut = false, healed = false;
  auto each = [&] {
    if (!partition)
      return;
    if (!cut && run.now() >= cut_at) {
      run.net().cut(side_a, side_b);
      cut = true;
      run.note("cut " + std::to_string(side_a.size()) + " members (m1 posting among them) off from "
               "the owner and " + std::to_string(side_b.size() - 1) + " members");
    }
    if (cut && !healed && run.now() >= healed_at) {
      run.net().heal();
      healed = true;
      run.note("healed");
    }
  };
  auto limit = limit_or(o, posting + (partition ? o.partition_seconds + 120 : 0) + 180);
  bool converged = run.wait_until(
    [&] { return (!partition || healed) && run.all_synced(o.messages); }, limit, "convergence",
    each);
  return conclude(run, converged, limit, o.messages);
}

/// A late member fetches the history while the owner's uplink is small and
/// members seed: most bytes come from members.
net_scenario_result swarm_scenario(const net_options& o, const fs::path& root,
                                   const std::function<void(const std::string&)>& line) {
  scenario_run run(o, "swarm", root, line);
  auto members = member_count(o) > 1 ? member_count(o) - 1 : 1;  // one host is the late member
  // ~1 KB messages, so the history is swarm_mb of archives.
  std::size_t payload = 900;
  auto messages = std::max<std::size_t>(1000, o.swarm_mb * 1'000'000 / 1100);
  run.set_interval(15);
  run.build(members, 1, 0);
  run.set_owner_traffic(messages, 20000, payload);
  run.restart_clock();
  run.note("preparing: the owner posts " + std::to_string(messages) + " messages of "
           + std::to_string(payload) + " B to itself");
  start_nodes(run, false);
  auto owner_ready = [&] {
    return run.owner().messages >= messages && run.owner().unarchived == 0
           && run.owner().archives > 0;
  };
  if (!run.wait_until(owner_ready, limit_or(o, 600), "the owner's archives")) {
    run.fail("the owner did not archive its history: " + run.progress_line());
    run.final_check(messages);
    run.finish();
    return std::move(run.result());
  }
  run.note("the owner holds " + std::to_string(run.owner().archives) + " archives; "
           + std::to_string(members) + " members fetch them over uncapped links");
  for (auto* m : run.members())
    if (m->role != "late")
      run.start(*m);
  auto seeded = [&] {
    for (auto* m : run.members())
      if (m->role != "late" && !run.synced(*m, run.owner().messages, run.owner().archives))
        return false;
    return true;
  };
  if (!run.wait_until(seeded, limit_or(o, 900), "the members' first sync")) {
    run.fail("the members did not sync before the late fetch: " + run.progress_line());
    run.final_check(messages);
    run.finish();
    return std::move(run.result());
  }
  double owner_up = o.owner_uplink_mbit > 0 ? o.owner_uplink_mbit : 2;
  double member_link = 20;
  run.shape_all(member_link, member_link, owner_up);
  run.net().set_loss(o.loss);
  run.note("links capped: owner uplink " + std::to_string(owner_up) + " Mbit/s, members "
           + std::to_string(member_link) + " Mbit/s each way; the late member starts");
  auto& late = run.node("late1");
  auto started = run.now();
  run.start(late);
  auto done = [&] { return run.synced(late, run.owner().messages, run.owner().archives); };
  auto ok = run.wait_until(done, limit_or(o, 1800), "the late member's fetch");
  auto& r = run.result();
  r.late_fetch_s = run.now() - started;
  std::uint64_t total = 0, from_owner = 0;
  for (const auto& s : late.sources) {
    total += s.bytes;
    if (s.address == run.owner().ip)
      from_owner += s.bytes;
  }
  r.late_bytes = total;
  r.late_member_share = total ? 1.0 - static_cast<double>(from_owner) / static_cast<double>(total) : 0;
  r.owner_alone_s = static_cast<double>(total) * 8 / (owner_up * 1e6);
  if (!ok)
    run.fail("the late member did not finish within the limit: " + run.progress_line());
  run.note("the late member fetched " + std::to_string(total / 1'000'000) + " MB in "
           + std::to_string(int(r.late_fetch_s)) + " s, "
           + std::to_string(int(std::lround(r.late_member_share * 100))) + " % from members");
  if (total < o.swarm_mb * 1'000'000 * 9 / 10)
    run.fail("the late member fetched only " + std::to_string(total) + " bytes");
  if (r.late_member_share < 0.75)
    run.fail("only " + std::to_string(int(r.late_member_share * 100))
             + " % of the late member's bytes came from members (75 % wanted)");
  if (ok && r.late_fetch_s * 4 > r.owner_alone_s)
    run.fail("the late fetch took " + std::to_string(int(r.late_fetch_s)) + " s; the owner's "
             "uplink alone needs " + std::to_string(int(r.owner_alone_s))
             + " s, and a quarter of that was wanted");
  r.converged_s = ok ? run.now() : -1;
  run.check_addresses();
  run.final_check(messages);
  run.finish();
  return std::move(run.result());
}

/// The owner goes away for good once members are in sync; a new member,
/// whose only relay peer is a member, still gets the link and every archive.
net_scenario_result owner_offline_scenario(const net_options& o, const fs::path& root,
                                           const std::function<void(const std::string&)>& line) {
  scenario_run run(o, "owner-offline", root, line);
  auto members = member_count(o) > 1 ? member_count(o) - 1 : 1;
  auto messages = std::max<std::size_t>(100, o.messages / 5);
  run.set_interval(o.interval);
  run.set_payload(o.payload);
  run.build(members, 1, messages);
  run.shape_all(o.uplink_mbit, o.downlink_mbit, o.owner_uplink_mbit > 0 ? o.owner_uplink_mbit : o.uplink_mbit);
  run.net().set_loss(o.loss);
  auto& late = run.node("late1");
  // Its one relay peer is a member that is not the poster.
  if (!run.discovering())
    late.relay_peers = {run.node(members >= 2 ? "m2" : "m1").relay_address()};
  run.restart_clock();
  start_nodes(run);
  auto posting = static_cast<double>(messages) / o.rate;
  auto& r = run.result();
  if (!run.wait_until([&] { return run.all_synced(messages); }, limit_or(o, posting + 180),
                      "the first sync")) {
    run.fail("members did not sync before the owner left: " + run.progress_line());
    run.final_check(messages);
    run.finish();
    return std::move(r);
  }
  run.kill(run.owner());
  run.note(run.dns_discovery()
             ? std::string("owner SIGKILLed; late1 starts with the DNS tree alone (the owner's "
                           "record still in it)")
           : run.discovering()
             ? std::string("owner SIGKILLed; late1 starts with m1's discv5 record alone")
             : "owner SIGKILLed; late1 starts with " + std::string(members >= 2 ? "m2" : "m1")
                 + " as its only relay peer");
  auto started = run.now();
  run.start(late);
  auto want_messages = run.owner().messages, want_archives = run.owner().archives;
  auto ok = run.wait_until([&] { return run.synced(late, want_messages, want_archives); },
                           limit_or(o, 240), "the late member's sync");
  r.late_fetch_s = run.now() - started;
  for (const auto& s : late.sources)
    r.late_bytes += s.bytes;
  r.late_member_share = r.late_bytes ? 1.0 : 0;
  if (ok) {
    r.converged_s = run.now();
    run.note("late1 synced from members alone in " + std::to_string(int(r.late_fetch_s)) + " s");
  } else {
    run.fail("late1 did not sync from members: " + run.progress_line());
  }
  run.check_addresses();
  run.final_check(messages);
  run.finish();
  return std::move(r);
}

/// Members die and come back every 10 s, the owner once, while traffic goes
/// on: at the end everyone converges.
net_scenario_result churn_scenario(const net_options& o, const fs::path& root,
                                   const std::function<void(const std::string&)>& line) {
  scenario_run run(o, "churn", root, line);
  auto members = member_count(o);
  auto rate = o.churn_rate > 0 ? o.churn_rate : o.rate;
  auto messages = static_cast<std::size_t>(rate * o.churn_seconds);
  run.set_interval(o.interval);
  run.set_payload(o.payload);
  run.set_rate(rate);
  run.build(members, 0, messages);
  run.shape_all(o.uplink_mbit, o.downlink_mbit, o.owner_uplink_mbit > 0 ? o.owner_uplink_mbit : o.uplink_mbit);
  run.net().set_loss(o.loss);
  run.restart_clock();
  start_nodes(run);
  std::mt19937 random(7);
  node_proc* down = nullptr;
  double next = 10, owner_kill_at = o.churn_seconds / 2, owner_back_at = -1;
  auto each = [&] {
    auto t = run.now();
    if (owner_back_at > 0 && t >= owner_back_at) {
      run.restart(run.owner());
      run.note("owner restarted");
      owner_back_at = -1;
    }
    if (owner_kill_at > 0 && t >= owner_kill_at) {
      run.kill(run.owner());
      run.note("owner SIGKILLed");
      owner_kill_at = -1;
      owner_back_at = t + 10;
    }
    if (t < next || t > o.churn_seconds + 10)
      return;
    next += 10;
    if (down) {
      run.restart(*down);
      down = nullptr;
    }
    if (t > o.churn_seconds)
      return;
    std::vector<node_proc*> candidates;
    for (auto* m : run.members())
      if (m->role == "member" && m->alive())
        candidates.push_back(m);
    if (candidates.empty())
      return;
    down = candidates[random() % candidates.size()];
    run.kill(*down);
    run.note(down->name + " SIGKILLed");
  };
  auto limit = limit_or(o, o.churn_seconds + 240);
  bool converged = run.wait_until(
    [&] { return run.now() > o.churn_seconds + 10 && !down && owner_back_at < 0
                 && run.all_synced(messages); },
    limit, "convergence", each);
  return conclude(run, converged, limit, messages);
}

std::vector<std::string> scenarios_of(const std::string& text) {
  static const std::vector<std::string> all{"steady", "swarm", "owner-offline", "partition",
                                            "churn"};
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string s; std::getline(in, s, ',');) {
    if (s == "all") {
      out.insert(out.end(), all.begin(), all.end());
      continue;
    }
    if (std::find(all.begin(), all.end(), s) == all.end())
      throw std::invalid_argument("unknown scenario " + s
                                  + " (steady, swarm, owner-offline, partition, churn, all)");
    out.push_back(s);
  }
  return out;
}

} // namespace

net_result run_net(const net_options& options,
                   const std::function<void(const std::string&)>& line) {
  auto scenarios = scenarios_of(options.scenario);
  if (auto missing = testbed::missing_requirements())
    throw std::runtime_error("cannot make the testbed: " + *missing);
  if (auto stale = testbed::remove_stale())
    line("removed " + std::to_string(stale) + " namespaces a crashed run left behind");
  interrupted = false;
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  net_result out;
  out.netem = testbed::netem_available();
  bool temporary = options.data_dir.empty();
  auto root = temporary ? fs::temp_directory_path() / ("annals-net-" + std::to_string(::getpid()))
                        : options.data_dir;
  fs::create_directories(root);
  out.passed = true;
  for (const auto& s : scenarios) {
    line("scenario " + s);
    net_scenario_result r;
    auto dir = root / s;
    fs::remove_all(dir);
    if (s == "steady" || s == "partition")
      r = steady_scenario(options, dir, line, s == "partition");
    else if (s == "swarm")
      r = swarm_scenario(options, dir, line);
    else if (s == "owner-offline")
      r = owner_offline_scenario(options, dir, line);
    else
      r = churn_scenario(options, dir, line);
    line(s + (r.passed ? ": PASS" : ": FAIL") + " in " + std::to_string(int(r.seconds)) + " s");
    out.passed = out.passed && r.passed;
    out.scenarios.push_back(std::move(r));
  }
  if (temporary) {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  return out;
}

std::string net_json(const net_options& options, const net_result& result) {
  json j;
  j["passed"] = result.passed;
  j["netem"] = result.netem;
  j["options"] = {{"hosts", options.hosts},
                  {"messages", options.messages},
                  {"rate", options.rate},
                  {"churn_rate", options.churn_rate},
                  {"uplink_mbit", options.uplink_mbit},
                  {"downlink_mbit", options.downlink_mbit},
                  {"owner_uplink_mbit", options.owner_uplink_mbit},
                  {"loss_percent", options.loss},
                  {"interval", options.interval},
                  {"discovery", options.discovery},
                  {"target_peers", options.target_peers}};
  j["scenarios"] = json::array();
  for (const auto& r : result.scenarios) {
    json s{{"scenario", r.scenario},
           {"passed", r.passed},
           {"failures", r.failures},
           {"hosts", r.hosts},
           {"posted", r.posted},
           {"stored", r.stored},
           {"archived", r.archived},
           {"lost", r.lost},
           {"duplicated", r.duplicated},
           {"converged_s", r.converged_s},
           {"seconds", r.seconds},
           {"post_to_imported_ms",
            {{"count", r.post_to_imported.count},
             {"p50", r.post_to_imported.p50},
             {"p99", r.post_to_imported.p99},
             {"max", r.post_to_imported.max}}},
           {"relay_delivery", {{"min", r.relay_delivery_min}, {"median", r.relay_delivery_median}}},
           {"scheduler_lateness_ms",
            {{"worst_node_p99", r.lateness_p99_ms}, {"worst_node_max", r.lateness_max_ms}}},
           {"notes", r.notes}};
    if (r.late_fetch_s >= 0)
      s["late_member"] = {{"fetch_s", r.late_fetch_s},
                          {"bytes", r.late_bytes},
                          {"from_members", r.late_member_share},
                          {"owner_uplink_alone_s", r.owner_alone_s}};
    json nodes = json::array();
    for (const auto& n : r.nodes) {
      json sources = json::object();
      for (const auto& src : n.sources)
        sources[src.address] = src.bytes;
      nodes.push_back({{"name", n.name},
                       {"ip", n.ip},
                       {"role", n.role},
                       {"peak_rss_mb", std::round(n.peak_rss_mb * 10) / 10},
                       {"messages", n.messages},
                       {"missing", n.missing},
                       {"restarts", n.restarts},
                       {"converged_s", n.converged_s},
                       {"relay_delivery", n.relay_delivery},
                       {"relay_peers", n.relay_peers},
                       {"peers_discovered", n.peers_discovered},
                       {"scheduler_lateness_ms",
                        {{"p50", n.lateness_p50_ms}, {"p99", n.lateness_p99_ms},
                         {"max", n.lateness_max_ms}}},
                       {"bytes_by_source", sources}});
    }
    s["nodes"] = nodes;
    j["scenarios"].push_back(s);
  }
  return j.dump(1);
}

std::string write_net_report(const fs::path& dir, const net_result& result) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return dir.string() + ": " + ec.message();
  std::ofstream script(dir / "plots.gnuplot");
  script << "set terminal svg size 1000,560 dynamic background rgb 'white'\n"
            "set key outside right top\nset grid\n";
  for (const auto& r : result.scenarios) {
    auto base = r.scenario;
    {
      std::ofstream csv(dir / (base + "_samples.csv"));
      csv << "seconds,node,messages,imported_archives,rss_anon_mb\n";
      for (const auto& s : r.samples)
        csv << s.seconds << "," << s.node << "," << s.messages << "," << s.imported << ","
            << s.rss_mb << "\n";
    }
    {
      std::ofstream csv(dir / (base + "_sources.csv"));
      csv << "member,source,bytes\n";
      for (const auto& n : r.nodes)
        for (const auto& src : n.sources)
          csv << n.name << "," << src.address << "," << src.bytes << "\n";
    }
    // One data block per node (gnuplot's `index`), in the order of nodes.
    std::vector<std::string> names;
    for (const auto& n : r.nodes)
      names.push_back(n.name);
    auto block_file = dir / (base + "_series.dat");
    {
      std::ofstream dat(block_file);
      for (const auto& name : names) {
        dat << "# " << name << "\n";
        for (const auto& s : r.samples)
          if (s.node == name)
            dat << s.seconds << " " << s.messages << " " << s.rss_mb << "\n";
        dat << "\n\n";
      }
    }
    auto plot_per_node = [&](const std::string& file, const std::string& title,
                             const std::string& ylabel, int column) {
      script << "set output '" << (dir / file).string() << "'\n"
             << "set title '" << title << "'\nset xlabel 'seconds'\nset ylabel '" << ylabel
             << "'\nplot ";
      for (std::size_t i = 0; i < names.size(); ++i)
        script << (i ? ", " : "") << "'" << block_file.string() << "' index " << i
               << " using 1:" << column << " with lines lw 2 lc palette frac "
               << (names.size() > 1 ? static_cast<double>(i) / static_cast<double>(names.size() - 1) : 0)
               << " title '" << names[i] << "'";
      script << "\n";
    };
    script << "set palette defined (0 '#1b9e77', 0.25 '#d95f02', 0.5 '#7570b3', 0.75 '#e7298a', 1 '#66a61e')\n"
              "unset colorbox\n";
    plot_per_node(base + "_convergence.svg", r.scenario + ": messages held per node", "messages", 2);
    plot_per_node(base + "_rss.svg", r.scenario + ": anonymous RSS per node", "MiB", 3);
    if (r.scenario == "swarm") {
      auto bars = dir / (base + "_late_sources.dat");
      std::ofstream dat(bars);
      for (const auto& n : r.nodes)
        if (n.role == "late")
          for (const auto& src : n.sources)
            dat << src.address << " " << static_cast<double>(src.bytes) / 1e6 << "\n";
      script << "set output '" << (dir / (base + "_bytes_by_source.svg")).string() << "'\n"
             << "set title 'swarm: archive bytes the late member fetched, by source'\n"
             << "set style fill solid 0.8\nset boxwidth 0.7\nset xlabel 'source'\n"
             << "set ylabel 'MB'\nset xtics rotate by -45\n"
             << "plot '" << bars.string() << "' using 0:2:xtic(1) with boxes lc rgb '#1b9e77' "
                "notitle\nset xtics norotate\n";
    }
  }
  script.close();
  auto command = "gnuplot '" + (dir / "plots.gnuplot").string() + "' 2>'"
                 + (dir / "gnuplot.log").string() + "'";
  if (std::system(command.c_str()) != 0)
    return "gnuplot failed (scripts/setup.sh installs gnuplot-nox); see "
           + (dir / "gnuplot.log").string();
  return {};
}

} // namespace annals::bench
