#include "bench/hostile.hpp"

#include "bench/load.hpp"
#include "bench/process.hpp"
#include "core/hex.hpp"
#include "core/identity.hpp"
#include "core/keccak.hpp"
#include "net/http_get.hpp"
#include "net/p2p/connection.hpp"
#include "net/p2p/host.hpp"
#include "net/p2p/multiaddr.hpp"
#include "net/p2p/tcp_target.hpp"
#include "proto/libp2p.pb.h"
#include "proto/waku_message.pb.h"

#include <boost/asio.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unistd.h>

namespace annals::bench {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

const std::string pubsub_topic = "/waku/2/rs/16/32";
const std::string honest_topic = "/annals/1/bench-honest/proto";
const std::string junk_topic = "/annals/1/bench-junk/proto";

std::string waku_message(const std::string& content_topic, std::string payload) {
  waku::WakuMessage m;
  m.set_payload(std::move(payload));
  m.set_content_topic(content_topic);
  m.set_timestamp(std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count());
  return m.SerializeAsString();
}

double rss_anon_mib(pid_t pid) { return read_rss(std::to_string(pid)).anon_mb; }

/// Every `name value` sample of Prometheus text whose name ends in _total.
std::map<std::string, double> counters(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    auto space = line.rfind(' ');
    if (space == std::string::npos)
      continue;
    auto series = line.substr(0, space);
    auto name = series.substr(0, series.find('{'));
    if (name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0)
      out[series] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return out;
}

// -- the attackers ------------------------------------------------------------------

enum class kind { half_open, idle, slow_reader, flooder, stream_hog, oversized, iwant_amplifier };
const char* name_of(kind k) {
  switch (k) {
    case kind::half_open: return "half_open";
    case kind::idle: return "idle";
    case kind::slow_reader: return "slow_reader";
    case kind::flooder: return "flooder";
    case kind::stream_hog: return "stream_hog";
    case kind::oversized: return "oversized";
    case kind::iwant_amplifier: return "iwant_amplifier";
  }
  return "?";
}

struct attack_counts {
  std::mutex mutex;
  std::map<std::string, std::uint64_t> n;
  void add(kind k, const std::string& what, std::uint64_t v = 1) {
    std::lock_guard lock(mutex);
    n[std::string(name_of(k)) + "_" + what] += v;
  }
};

struct attack {
  asio::io_context io;
  tcp::endpoint target;
  const hostile_options& options;
  attack_counts counts;
  std::atomic<bool> running{true};
  std::mt19937_64 rng{7};
  attack(tcp::endpoint t, const hostile_options& o) : target(t), options(o) {}
};

/// One hostile connection; reconnects after the owner closes it, until the
/// attack ends.
struct attacker : p2p::connection_handler, std::enable_shared_from_this<attacker> {
  attack& a;
  kind k;
  std::string source_ip;
  tcp::socket socket;
  std::unique_ptr<p2p::connection> conn;
  std::array<char, 16 * 1024> buffer{};
  std::deque<std::string> writes;
  bool writing = false;
  bool reading = true;
  bool closed = false;
  asio::steady_timer timer;
  std::uint64_t ticks = 0;
  std::string published_id;  // iwant_amplifier: the ID of its one large message

  attacker(attack& at, kind kk, std::string ip)
      : a(at), k(kk), source_ip(std::move(ip)), socket(at.io), timer(at.io) {}

  void start() {
    closed = false;
    reading = true;
    writes.clear();
    writing = false;
    conn.reset();
    boost::system::error_code ec;
    socket = tcp::socket(a.io);
    socket.open(tcp::v4(), ec);
    socket.bind(tcp::endpoint(asio::ip::make_address(source_ip), 0), ec);
    auto self = shared_from_this();
    socket.async_connect(a.target, [self](const boost::system::error_code& ec) {
      if (!self->a.running)
        return;
      if (ec) {
        self->a.counts.add(self->k, "connect_failed");
        self->again(500ms);
        return;
      }
      self->a.counts.add(self->k, "connected");
      if (self->k != kind::half_open) {
        p2p::connection_config cc;
        cc.identity = private_key::generate();
        cc.relay = self->k != kind::idle;
        self->conn = std::make_unique<p2p::connection>(p2p::connection::role::dialer,
                                                       std::move(cc), *self);
        self->write(self->conn->start());
      }
      self->read();
    });
  }

  void again(std::chrono::milliseconds after) {
    closed = true;
    boost::system::error_code ignored;
    socket.close(ignored);
    timer.cancel();
    if (!a.running)
      return;
    auto self = shared_from_this();
    timer.expires_after(after);
    timer.async_wait([self](const boost::system::error_code& ec) {
      if (!ec && self->a.running)
        self->start();
    });
  }

  void closed_by_owner(const std::string& why) {
    if (closed)
      return;
    a.counts.add(k, "closed_by_owner");
    (void)why;
    again(k == kind::half_open ? 50ms : 200ms);
  }

  void read() {
    if (!reading || closed)
      return;
    auto self = shared_from_this();
    socket.async_read_some(asio::buffer(buffer), [self](const boost::system::error_code& ec,
                                                       std::size_t n) {
      if (self->closed)
        return;
      if (ec) {
        self->closed_by_owner(ec.message());
        return;
      }
      if (self->conn) {
        if (auto r = self->conn->on_bytes(std::string_view(self->buffer.data(), n)); !r) {
          self->closed_by_owner(r.error().to_string());
          return;
        }
        self->flush();
      }
      self->read();
    });
  }

  void flush() {
    if (conn)
      write(conn->take_output());
  }

  void write(std::string bytes) {
    if (bytes.empty() || closed)
      return;
    writes.push_back(std::move(bytes));
    write_next();
  }

  void write_next() {
    if (writing || writes.empty() || closed)
      return;
    writing = true;
    auto self = shared_from_this();
    asio::async_write(socket, asio::buffer(writes.front()),
                      [self](const boost::system::error_code& ec, std::size_t) {
                        self->writing = false;
                        if (self->closed)
                          return;
                        self->writes.pop_front();
                        if (ec) {
                          self->closed_by_owner(ec.message());
                          return;
                        }
                        self->write_next();
                      });
  }

  void send_rpc(const p2p::pb::RPC& rpc) {
    if (!conn || closed)
      return;
    if (auto r = conn->send_relay_rpc(rpc.SerializeAsString()); !r)
      a.counts.add(k, "send_refused");
    flush();
  }

  void subscribe_and_graft() {
    p2p::pb::RPC rpc;
    auto* sub = rpc.add_subscriptions();
    sub->set_subscribe(true);
    sub->set_topicid(pubsub_topic);
    rpc.mutable_control()->add_graft()->set_topicid(pubsub_topic);
    send_rpc(rpc);
  }

  // -- connection_handler ----------------------------------------------------
  void on_established(const p2p::peer_id&, const std::string&) override {
    a.counts.add(k, "established");
    switch (k) {
      case kind::slow_reader:
        subscribe_and_graft();
        // Stop reading once the subscription is out: from now on everything
        // the owner sends piles up in its queues (and this socket's buffer).
        after(300ms, [](attacker& self) { self.reading = false; });
        break;
      case kind::flooder:
        subscribe_and_graft();
        tick_every(10ms, [](attacker& self) { self.flood(); });
        break;
      case kind::stream_hog:
        tick_every(1000ms, [](attacker& self) { self.open_streams(1000); });
        break;
      case kind::oversized:
        after(100ms, [](attacker& self) {
          p2p::pb::RPC rpc;
          auto* m = rpc.add_publish();
          m->set_topic(pubsub_topic);
          m->set_data(waku_message(junk_topic, std::string(2 << 20, 'x')));
          self.send_rpc(rpc);
        });
        break;
      case kind::iwant_amplifier:
        // One valid 100 KB message, then IWANTs naming it 25,000 times every
        // 2 s: an owner that answers each entry sends gigabytes.
        subscribe_and_graft();
        after(500ms, [](attacker& self) {
          p2p::pb::RPC rpc;
          auto* m = rpc.add_publish();
          m->set_topic(pubsub_topic);
          std::string payload(100 * 1024, '\0');
          for (auto& c : payload)
            c = static_cast<char>(self.a.rng());
          m->set_data(waku_message(junk_topic, std::move(payload)));
          auto id = sha256(m->data());
          self.published_id.assign(reinterpret_cast<const char*>(id.data()), id.size());
          self.send_rpc(rpc);
          self.tick_every(2000ms, [](attacker& me) { me.ask_again(); });
        });
        break;
      default:
        break;
    }
  }
  void on_relay_rpc(std::string body) override {
    if (k == kind::iwant_amplifier)
      a.counts.add(k, "bytes_received", body.size());
  }

  void ask_again() {
    p2p::pb::RPC rpc;
    for (int entry = 0; entry < 5; ++entry) {
      auto* iwant = rpc.mutable_control()->add_iwant();
      for (int i = 0; i < 5000; ++i)
        iwant->add_messageids(published_id);
    }
    a.counts.add(k, "iwant_ids", 25'000);
    send_rpc(rpc);
  }

  template <class F>
  void after(std::chrono::milliseconds delay, F f) {
    auto self = shared_from_this();
    auto t = std::make_shared<asio::steady_timer>(a.io, delay);
    t->async_wait([self, t, f](const boost::system::error_code& ec) {
      if (!ec && !self->closed && self->a.running) {
        f(*self);
        self->flush();
      }
    });
  }

  template <class F>
  void tick_every(std::chrono::milliseconds period, F f) {
    after(period, [period, f](attacker& self) {
      f(self);
      self.tick_every(period, f);
    });
  }

  void flood() {
    ++ticks;
    auto per_tick = std::max<std::size_t>(
      1, static_cast<std::size_t>(a.options.flood_rate / 100.0
                                  / std::max<std::size_t>(1, a.options.flooders)));
    p2p::pb::RPC rpc;
    for (std::size_t i = 0; i < per_tick; ++i) {
      auto* m = rpc.add_publish();
      m->set_topic(pubsub_topic);
      std::string payload(512, '\0');
      for (auto& c : payload)
        c = static_cast<char>(a.rng());
      m->set_data(waku_message(junk_topic, std::move(payload)));
    }
    a.counts.add(k, "junk_messages", per_tick);
    if (ticks % 10 == 0) {  // an IHAVE of 5,000 IDs nobody has
      auto* ihave = rpc.mutable_control()->add_ihave();
      ihave->set_topicid(pubsub_topic);
      for (int i = 0; i < 5000; ++i) {
        std::string id(32, '\0');
        for (auto& c : id)
          c = static_cast<char>(a.rng());
        ihave->add_messageids(id);
      }
      a.counts.add(k, "ihave_ids", 5000);
    }
    if (ticks % 50 == 0) {  // subscription churn: 300 topics on and off
      for (int i = 0; i < 300; ++i) {
        auto topic = "/hostile/" + std::to_string(a.rng() % 1'000'000);
        auto* on = rpc.add_subscriptions();
        on->set_subscribe(true);
        on->set_topicid(topic);
        auto* off = rpc.add_subscriptions();
        off->set_subscribe(false);
        off->set_topicid(topic);
      }
      a.counts.add(k, "subscriptions", 300);
    }
    send_rpc(rpc);
  }

  void open_streams(int n) {
    for (int i = 0; i < n; ++i)
      conn->request(std::string(p2p::ping_protocol), std::nullopt, 64,
                    [](result<std::string>) {});
    a.counts.add(k, "streams_opened", static_cast<std::uint64_t>(n));
  }
};

// -- the owner process ----------------------------------------------------------------

int free_port() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

template <class Pred>
bool wait_for(Pred pred, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (pred())
      return true;
    std::this_thread::sleep_for(100ms);
  }
  return pred();
}

/// An honest libp2p host: counts the distinct honest messages it receives,
/// by their sequence number ("honest N").
struct honest_peer {
  std::mutex mutex;
  std::set<std::size_t> sequences;
  std::unique_ptr<p2p::host> host;

  void start(const std::string& owner) {
    p2p::host_config config;
    config.static_peers = {owner};
    p2p::host_callbacks callbacks;
    callbacks.on_message = [this](const std::string&, const std::string& data,
                                  const std::string&) {
      waku::WakuMessage m;
      if (!m.ParseFromString(data) || m.content_topic() != honest_topic
          || m.payload().rfind("honest ", 0) != 0)
        return;
      std::lock_guard lock(mutex);
      sequences.insert(std::strtoull(m.payload().c_str() + 7, nullptr, 10));
    };
    auto started = p2p::host::start(std::move(config), std::move(callbacks));
    if (!started)
      throw std::runtime_error("honest peer: " + started.error().to_string());
    host = std::move(*started);
    host->subscribe(pubsub_topic);
  }
  /// Honest messages from sequence number `from` on that arrived.
  std::size_t count_from(std::size_t from = 0) {
    std::lock_guard lock(mutex);
    return static_cast<std::size_t>(std::distance(sequences.lower_bound(from), sequences.end()));
  }
  bool connected() const { return host && host->stats().connected > 0; }
};

} // namespace

bool hostile_result::ok() const {
  return owner_alive && honest_received == honest_sent && late_joiner_connected
         && late_joiner_received == late_joiner_expected;
}

hostile_result run_hostile(const hostile_options& options,
                           const std::function<void(const std::string&)>& line) {
  hostile_result result;
  char pattern[] = "/tmp/annals-hostile-XXXXXX";
  if (!::mkdtemp(pattern))
    throw std::runtime_error("cannot create a temporary directory under /tmp");
  fs::path dir = pattern;
  struct remove_dir {
    fs::path d;
    ~remove_dir() {
      std::error_code ec;
      fs::remove_all(d, ec);
    }
  } dir_guard{dir};  // declared before the owner, so removed after it stops
  auto owner_key = private_key::generate();
  auto rest = "127.0.0.1:" + std::to_string(free_port());
  auto traffic = static_cast<std::uint64_t>(options.owner_rate * (options.seconds + 60));
  {
    std::ofstream toml(dir / "owner.toml");
    toml << "data_dir = \"" << (dir / "owner").string() << "\"\n"
         << "[torrent]\nlisten = \"127.0.0.1:0\"\nloopback = true\ndht = false\n"
         << "[relay]\nmode = \"libp2p\"\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n"
         << "[rest]\nlisten = \"" << rest << "\"\n"
         << "[[community]]\nrole = \"owner\"\nkey = \"" << to_hex(owner_key.bytes())
         << "\"\nchannels = [\"general\"]\n"
         << "[community.traffic]\nmessages = " << std::max<std::uint64_t>(traffic, 1)
         << "\nrate = " << std::max<std::size_t>(options.owner_rate, 1) << "\n";
  }
  process owner({options.annals_binary.string(), "run", "--config", (dir / "owner.toml").string(),
                 "--log-level", "warn"},
                dir / "owner.log");

  std::string owner_addr;
  if (!wait_for(
        [&] {
          auto info = http_get(rest, "/debug/v1/info");
          if (!info || info->status != 200)
            return false;
          auto j = nlohmann::json::parse(info->body, nullptr, false);
          if (j.is_discarded() || j["listenAddresses"].empty())
            return false;
          owner_addr = j["listenAddresses"][0];
          return true;
        },
        30s))
    throw std::runtime_error("the owner did not come up; see " + (dir / "owner.log").string());
  line("owner " + std::to_string(owner.pid()) + " relay at " + owner_addr + ", REST at " + rest);
  auto target = p2p::parse_tcp_target(owner_addr);
  if (!target)
    throw std::runtime_error("owner address: " + target.error().to_string());

  honest_peer receiver, publisher, late;
  receiver.start(owner_addr);
  publisher.start(owner_addr);
  if (!wait_for([&] { return receiver.connected() && publisher.connected(); }, 20s))
    throw std::runtime_error("honest peers did not connect");
  std::this_thread::sleep_for(3s);  // meshes form in the 1 s heartbeat
  for (int i = 0; i < 8; ++i) {
    result.baseline_rss_mib = std::max(result.baseline_rss_mib, rss_anon_mib(owner.pid()));
    std::this_thread::sleep_for(250ms);
  }
  auto before = counters(http_get(rest, "/metrics").value_or(http_reply{}).body);
  line("baseline: owner RSS " + std::to_string(int(result.baseline_rss_mib)) + " MiB anon");

  // -- the attack ----------------------------------------------------------------------
  attack a(target->endpoint, options);
  std::vector<std::shared_ptr<attacker>> attackers;
  auto add = [&](kind k, std::size_t n, int first_ip, int ips) {
    for (std::size_t i = 0; i < n; ++i)
      attackers.push_back(std::make_shared<attacker>(
        a, k, "127.0.0." + std::to_string(first_ip + static_cast<int>(i % std::size_t(ips)))));
  };
  add(kind::half_open, options.half_open, 2, 6);       // 127.0.0.2-7
  add(kind::idle, options.idle, 8, 4);                 // 127.0.0.8-11
  add(kind::slow_reader, options.slow_readers, 12, 1);
  add(kind::flooder, options.flooders, 13, 1);
  add(kind::stream_hog, options.stream_hogs, 14, 1);
  add(kind::oversized, options.oversized, 15, 1);
  add(kind::iwant_amplifier, options.iwant_amplifiers, 16, 1);
  for (auto& x : attackers)
    asio::post(a.io, [x] { x->start(); });
  std::thread io_thread([&] {
    auto work = asio::make_work_guard(a.io);
    a.io.run();
  });
  line("attack: " + std::to_string(options.half_open) + " half-open, "
       + std::to_string(options.idle) + " idle, " + std::to_string(options.slow_readers)
       + " slow readers, " + std::to_string(options.flooders) + " flooders ("
       + std::to_string(int(options.flood_rate)) + " junk msg/s), "
       + std::to_string(options.stream_hogs) + " stream hogs, "
       + std::to_string(options.oversized) + " oversized senders, "
       + std::to_string(options.iwant_amplifiers) + " IWANT amplifiers, for "
       + std::to_string(int(options.seconds)) + " s");

  auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  std::optional<std::chrono::steady_clock::time_point> late_dialled;
  std::optional<std::chrono::steady_clock::time_point> late_connected_at;
  std::size_t late_from = 0;
  double next_line = 5;
  while (elapsed() < options.seconds) {
    // Honest traffic, spread over the attack's first 80 %.
    auto due = static_cast<std::size_t>(options.honest_messages
                                        * std::min(1.0, elapsed() / (options.seconds * 0.8)));
    while (result.honest_sent < due) {
      publisher.host->publish(pubsub_topic, waku_message(honest_topic,
                                                         "honest " + std::to_string(result.honest_sent)));
      ++result.honest_sent;
    }
    if (!late_dialled && elapsed() >= options.seconds / 2) {
      late_dialled = std::chrono::steady_clock::now();
      late.start(owner_addr);
    }
    // What it may miss while it subscribes and its mesh forms (a few
    // heartbeats) is for the store to fill; what is sent after must arrive.
    if (late_connected_at && late_from == 0 && std::chrono::steady_clock::now() - *late_connected_at >= 3s)
      late_from = result.honest_sent;
    if (late_dialled && !result.late_joiner_connected && late.connected()) {
      result.late_joiner_connected = true;
      late_connected_at = std::chrono::steady_clock::now();
      result.late_joiner_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - *late_dialled).count();
    }
    result.peak_rss_mib = std::max(result.peak_rss_mib, rss_anon_mib(owner.pid()));
    if (elapsed() >= next_line) {
      next_line += 5;
      auto stats = receiver.count_from();
      line("t+" + std::to_string(int(elapsed())) + " s: owner RSS "
           + std::to_string(int(rss_anon_mib(owner.pid()))) + " MiB (peak "
           + std::to_string(int(result.peak_rss_mib)) + "), honest " + std::to_string(stats)
           + "/" + std::to_string(result.honest_sent) + ", late joiner "
           + (result.late_joiner_connected ? "in" : late_dialled ? "dialling" : "not yet"));
    }
    std::this_thread::sleep_for(50ms);
  }
  while (result.honest_sent < options.honest_messages) {
    publisher.host->publish(pubsub_topic,
                            waku_message(honest_topic, "honest " + std::to_string(result.honest_sent)));
    ++result.honest_sent;
  }
  a.running = false;
  asio::post(a.io, [&] {
    for (auto& x : attackers) {
      x->closed = true;
      boost::system::error_code ignored;
      x->socket.close(ignored);
      x->timer.cancel();
    }
    a.io.stop();
  });
  io_thread.join();
  {
    std::lock_guard lock(a.counts.mutex);
    result.attacker = a.counts.n;
  }
  line("attack over; waiting for the honest messages");
  wait_for([&] { return receiver.count_from() >= result.honest_sent; }, 30s);
  result.honest_received = receiver.count_from();
  result.late_joiner_received = late.count_from(late_from);
  result.late_joiner_expected = result.honest_sent > late_from ? result.honest_sent - late_from : 0;
  std::this_thread::sleep_for(5s);
  result.after_rss_mib = rss_anon_mib(owner.pid());
  result.owner_alive = owner.alive();
  auto after = counters(http_get(rest, "/metrics").value_or(http_reply{}).body);
  for (const auto& [series, value] : after) {
    auto was = before.count(series) ? before[series] : 0.0;
    if (value - was != 0)
      result.owner_counters[series] = value - was;
  }
  receiver.host.reset();
  publisher.host.reset();
  late.host.reset();
  return result;
}

std::string hostile_json(const hostile_options& options, const hostile_result& r) {
  nlohmann::json j;
  j["seconds"] = options.seconds;
  j["attackers"] = {{"half_open", options.half_open},     {"idle", options.idle},
                    {"slow_readers", options.slow_readers}, {"flooders", options.flooders},
                    {"stream_hogs", options.stream_hogs},   {"oversized", options.oversized},
                    {"iwant_amplifiers", options.iwant_amplifiers},
                    {"flood_rate", options.flood_rate}};
  j["owner_alive"] = r.owner_alive;
  j["honest"] = {{"sent", r.honest_sent}, {"received", r.honest_received}};
  j["late_joiner"] = {{"connected", r.late_joiner_connected},
                      {"seconds", r.late_joiner_seconds},
                      {"received", r.late_joiner_received},
                      {"expected", r.late_joiner_expected}};
  j["rss_anon_mib"] = {{"baseline", r.baseline_rss_mib},
                       {"peak", r.peak_rss_mib},
                       {"after", r.after_rss_mib},
                       {"growth", r.peak_rss_mib - r.baseline_rss_mib},
                       {"bound", options.memory_bound_mib}};
  j["attacker_saw"] = r.attacker;
  j["owner_counted"] = r.owner_counters;
  j["ok"] = r.ok() && r.peak_rss_mib - r.baseline_rss_mib <= options.memory_bound_mib;
  return j.dump();
}

} // namespace annals::bench
