#include "bench/idle.hpp"

#include "bench/load.hpp"
#include "bench/process.hpp"
#include "core/identity.hpp"
#include "net/http_get.hpp"
#include "net/loopback.hpp"
#include "net/p2p/peer_id.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace annals::bench {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct thread_counters {
  std::string name;
  std::uint64_t switches = 0;  // voluntary + involuntary
  std::uint64_t ticks = 0;     // utime + stime, clock ticks
};

/// Every live thread of `pid`, by thread ID.
std::map<std::string, thread_counters> read_threads(pid_t pid) {
  std::map<std::string, thread_counters> out;
  fs::path tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(tasks, ec)) {
    thread_counters t;
    std::ifstream status(entry.path() / "status");
    for (std::string line; std::getline(status, line);) {
      auto value = [&] { return std::strtoull(line.c_str() + line.find(':') + 1, nullptr, 10); };
      if (line.rfind("Name:", 0) == 0)
        t.name = line.substr(line.find_first_not_of(" \t", 5));
      else if (line.rfind("voluntary_ctxt_switches:", 0) == 0
               || line.rfind("nonvoluntary_ctxt_switches:", 0) == 0)
        t.switches += value();
    }
    // stat: the name in parentheses may hold spaces; fields count after it.
    std::ifstream stat_file(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
    auto close = stat.rfind(')');
    if (close != std::string::npos) {
      std::istringstream rest(stat.substr(close + 2));
      std::vector<std::string> fields;
      for (std::string f; rest >> f;)
        fields.push_back(f);
      // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the name.
      if (fields.size() > 12)
        t.ticks = std::stoull(fields[11]) + std::stoull(fields[12]);
    }
    out.emplace(entry.path().filename().string(), std::move(t));
  }
  return out;
}

std::string quoted(const std::string& s) { return json(s).dump(); }

struct idle_proc {
  std::string name;
  fs::path dir;
  private_key community_key = private_key::generate();
  std::string peer_id;
  std::uint16_t relay_port = 0, rest_port = 0;
  std::unique_ptr<process> proc;
  std::string rest() const { return "127.0.0.1:" + std::to_string(rest_port); }
  std::string relay_address() const {
    return "/ip4/127.0.0.1/tcp/" + std::to_string(relay_port) + "/p2p/" + peer_id;
  }
};

std::uint16_t port_or_throw() {
  auto port = free_loopback_port();
  if (!port)
    throw std::runtime_error("no free port on 127.0.0.1");
  return *port;
}

/// Archives the node imported of `community`, or -1 when its REST API does
/// not answer.
long imported_of(const idle_proc& n, const std::string& community) {
  auto reply = http_exchange(n.rest(), "/archive/v1/communities/" + community);
  if (!reply || reply->status != 200)
    return -1;
  auto j = json::parse(reply->body, nullptr, false);
  return j.is_discarded() ? -1 : j.value("importedArchives", 0L);
}

} // namespace

idle_result run_idle(const idle_options& options,
                     const std::function<void(const std::string&)>& line) {
  fs::path root = options.data_dir;
  bool temporary = root.empty();
  if (temporary) {
    char pattern[] = "/tmp/annals-idle-XXXXXX";
    if (!::mkdtemp(pattern))
      throw std::runtime_error("cannot create a temporary directory under /tmp");
    root = pattern;
  }
  struct cleanup {
    fs::path root;
    bool on;
    ~cleanup() {
      std::error_code ec;
      if (on)
        fs::remove_all(root, ec);
    }
  } remove_after{root, temporary};

  std::vector<idle_proc> nodes(2);
  nodes[0].name = "a";
  nodes[1].name = "b";
  for (auto& n : nodes) {
    n.dir = root / n.name;
    fs::create_directories(n.dir);
    auto relay_key = private_key::generate();
    if (auto saved = relay_key.save(n.dir / "relay.key"); !saved)
      throw std::runtime_error(saved.error().to_string());
    if (auto saved = n.community_key.save(n.dir / "community.key"); !saved)
      throw std::runtime_error(saved.error().to_string());
    n.peer_id = p2p::peer_id::from_secp256k1(relay_key.public_key()).to_string();
    n.relay_port = port_or_throw();
    n.rest_port = port_or_throw();
  }
  auto community_of = [](const idle_proc& n) { return n.community_key.public_key().community_id(); };
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    auto& n = nodes[i];
    const auto& other = nodes[1 - i];
    std::ofstream toml(n.dir / "node.toml");
    toml << "data_dir = " << quoted((n.dir / "data").string()) << "\n\n"
         << "[torrent]\nlisten = \"127.0.0.1:0\"\nloopback = true\ndht = false\nlsd = false\n"
         << "trackers = []\nadvertise_address = true\n\n"
         << "[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/" << n.relay_port << "\"]\n"
         << "peers = [" << (i == 1 ? quoted(other.relay_address()) : "") << "]\n"
         << "key_file = " << quoted((n.dir / "relay.key").string()) << "\n\n"
         // Short, so the warm-up sees a first archive; no messages come
         // after it, so the window builds nothing.
         << "[archives]\ninterval = 5\n\n"
         << "[rest]\nlisten = \"127.0.0.1:" << n.rest_port << "\"\n\n"
         << "[[community]]\nrole = \"owner\"\nkey_file = "
         << quoted((n.dir / "community.key").string()) << "\nchannels = [\"general\"]\n"
         << "[community.traffic]\nmessages = 20\nrate = 20\n\n"
         << "[[community]]\nrole = \"member\"\nid = " << quoted(community_of(other))
         << "\nchannels = [\"general\"]\n";
  }
  for (auto& n : nodes)
    n.proc = std::make_unique<process>(
      std::vector<std::string>{options.annals_binary.string(), "run", "--config",
                               (n.dir / "node.toml").string(), "--status-interval", "0"},
      n.dir / "node.log");
  line("two nodes started on loopback, each the owner of one community and a member of the "
       "other's; waiting for both to import the other's first archive");

  using clock = std::chrono::steady_clock;
  auto started = clock::now();
  auto deadline = started + std::chrono::duration<double>(options.warmup_limit);
  for (;;) {
    bool ready = true;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (!nodes[i].proc->alive())
        throw std::runtime_error("node " + nodes[i].name + " exited: " + nodes[i].proc->tail());
      ready = ready && imported_of(nodes[i], community_of(nodes[1 - i])) >= 1;
    }
    if (ready)
      break;
    if (clock::now() > deadline)
      throw std::runtime_error("the nodes did not import each other's first archive within "
                               + std::to_string(int(options.warmup_limit)) + " s; logs in "
                               + root.string() + (temporary ? " (removed)" : ""));
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  idle_result result;
  result.warmup_s = std::chrono::duration<double>(clock::now() - started).count();
  // Let the last archive round, the welcome and the import's writes end.
  std::this_thread::sleep_for(std::chrono::seconds(6));
  line("both imported after " + std::to_string(int(result.warmup_s)) + " s; measuring "
       + std::to_string(int(options.seconds)) + " s of nothing");

  std::vector<std::map<std::string, thread_counters>> before;
  for (auto& n : nodes)
    before.push_back(read_threads(n.proc->pid()));
  auto window_start = clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(options.seconds));
  std::vector<std::map<std::string, thread_counters>> after;
  for (auto& n : nodes)
    after.push_back(read_threads(n.proc->pid()));
  result.seconds = std::chrono::duration<double>(clock::now() - window_start).count();

  double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  result.passed = true;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    idle_node out;
    out.name = nodes[i].name;
    out.anon_rss_mb = read_rss(std::to_string(nodes[i].proc->pid())).anon_mb;
    std::map<std::string, idle_thread> by_name;
    std::uint64_t switches = 0, ticks = 0;
    for (const auto& [tid, t] : after[i]) {
      auto was = before[i].find(tid);
      // A thread born in the window counts from zero.
      auto s = t.switches - (was != before[i].end() ? was->second.switches : 0);
      auto c = t.ticks - (was != before[i].end() ? was->second.ticks : 0);
      switches += s;
      ticks += c;
      auto& named = by_name[t.name];
      named.name = t.name;
      ++named.threads;
      named.wakeups_per_s += static_cast<double>(s) / result.seconds;
      named.cpu_ms += static_cast<double>(c) * 1000 / tick;
    }
    out.threads = after[i].size();
    out.cpu_percent = static_cast<double>(ticks) / tick / result.seconds * 100;
    out.wakeups_per_s = static_cast<double>(switches) / result.seconds;
    for (auto& [name, t] : by_name)
      out.by_thread.push_back(t);
    std::sort(out.by_thread.begin(), out.by_thread.end(),
              [](const auto& a, const auto& b) { return a.wakeups_per_s > b.wakeups_per_s; });
    result.passed = result.passed && out.cpu_percent < result.goal_cpu_percent;
    char text[200];
    std::snprintf(text, sizeof text, "node %s: %.3f %% of a core, %.1f wakeups/s, %llu threads, "
                  "%.1f MiB anonymous RSS", out.name.c_str(), out.cpu_percent, out.wakeups_per_s,
                  static_cast<unsigned long long>(out.threads), out.anon_rss_mb);
    line(text);
    result.nodes.push_back(std::move(out));
  }
  for (auto& n : nodes)
    n.proc->stop();
  return result;
}

std::string idle_json(const idle_result& r) {
  auto round = [](double x, double unit) { return std::round(x / unit) * unit; };
  json nodes = json::array();
  for (const auto& n : r.nodes) {
    json threads = json::array();
    for (const auto& t : n.by_thread)
      threads.push_back({{"name", t.name}, {"threads", t.threads},
                         {"wakeups_per_s", round(t.wakeups_per_s, 0.01)},
                         {"cpu_ms", round(t.cpu_ms, 1)}});
    nodes.push_back({{"name", n.name}, {"cpu_percent_of_core", round(n.cpu_percent, 0.001)},
                     {"wakeups_per_s", round(n.wakeups_per_s, 0.01)}, {"threads", n.threads},
                     {"anon_rss_mb", round(n.anon_rss_mb, 0.1)}, {"by_thread", threads}});
  }
  return json{{"bench", "idle"}, {"seconds", round(r.seconds, 0.1)}, {"warmup_s", round(r.warmup_s, 0.1)},
              {"goal_cpu_percent_of_core", r.goal_cpu_percent}, {"passed", r.passed}, {"nodes", nodes}}
    .dump(2);
}

} // namespace annals::bench
