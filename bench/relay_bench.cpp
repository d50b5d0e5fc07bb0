// Waku relay throughput and latency on loopback, between two annals
// processes and between annals and the js-waku peer (tests/js).
//
//   relay_bench [--messages N] [--size BYTES] [--latency-messages N]
//               [--latency-rate MSG_PER_S] [--js-dir DIR] [--no-js]
//
// Each pair runs two phases with a fresh receiver:
//   latency     N messages paced at a modest rate, so queues stay empty:
//               median and p99 of send-to-delivery time.
//   throughput  N messages published as fast as the sender can: messages
//               delivered per second, from the first send to the last delivery.
// Payloads start with the send time (8 bytes, big-endian microseconds since
// the Unix epoch); sender and receiver share the machine's clock.
//
// The receiving annals process is this program in `sink` mode (fork+exec of
// itself); the js-waku peer is `node waku-peer.mjs` in BENCH mode.
#include "bench/usage.hpp"
#include "net/p2p/host.hpp"
#include "proto/waku_message.pb.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace annals;
using namespace std::chrono_literals;

namespace {

const std::string topic = "/waku/2/rs/16/32";
const std::string content_topic = "/bench/1/relay/proto";

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// `size` bytes: the send time, a sequence number (so equal times still make
/// distinct messages: gossipsub drops repeated bytes), then filler that was
/// randomised once, so making payloads costs the sender next to nothing.
std::string timed_payload(std::size_t size, std::uint64_t sequence) {
  static const std::string filler = [] {
    std::mt19937_64 rng(42);
    std::string f(1 << 20, '\0');
    for (auto& c : f)
      c = static_cast<char>(rng());
    return f;
  }();
  std::string p = filler.substr(0, std::min(std::max<std::size_t>(size, 16), filler.size()));
  auto t = static_cast<std::uint64_t>(now_us());
  for (int i = 0; i < 8; ++i) {
    p[i] = static_cast<char>(t >> (56 - 8 * i));
    p[8 + i] = static_cast<char>(sequence >> (56 - 8 * i));
  }
  return p;
}

std::int64_t payload_time(const std::string& p) {
  std::uint64_t t = 0;
  for (int i = 0; i < 8 && i < int(p.size()); ++i)
    t = (t << 8) | static_cast<unsigned char>(p[i]);
  return static_cast<std::int64_t>(t);
}

std::string waku_message(std::string payload) {
  waku::WakuMessage m;
  m.set_payload(std::move(payload));
  m.set_content_topic(content_topic);
  m.set_timestamp(now_us() * 1000);
  return m.SerializeAsString();
}

/// What a receiver measured.
struct figures {
  std::size_t received = 0;
  double rate = 0;       // messages/s, first send to last delivery
  double p50_ms = 0, p99_ms = 0;
};

/// Receives `expect` messages and measures them; prints one STATS line.
struct sink {
  std::mutex mutex;
  std::vector<std::int64_t> latencies;
  std::int64_t first_sent = 0, last_received = 0;

  void on(const std::string& data) {
    waku::WakuMessage m;
    if (!m.ParseFromString(data) || m.content_topic() != content_topic)
      return;
    auto now = now_us();
    auto sent = payload_time(m.payload());
    std::lock_guard lock(mutex);
    latencies.push_back(now - sent);
    if (first_sent == 0 || sent < first_sent)
      first_sent = sent;
    last_received = now;
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return latencies.size();
  }
  figures summarize() {
    std::lock_guard lock(mutex);
    figures f;
    f.received = latencies.size();
    if (latencies.empty())
      return f;
    auto sorted = latencies;
    std::sort(sorted.begin(), sorted.end());
    f.p50_ms = sorted[sorted.size() / 2] / 1000.0;
    f.p99_ms = sorted[std::min(sorted.size() - 1, sorted.size() * 99 / 100)] / 1000.0;
    auto span = std::max<std::int64_t>(1, last_received - first_sent);
    f.rate = f.received * 1e6 / span;
    return f;
  }
};

/// `relay_bench sink EXPECT SECONDS`: listens, prints LISTEN, then STATS.
int run_sink(std::size_t expect, double seconds) {
  sink s;
  p2p::host_config c;
  c.listen = {"/ip4/127.0.0.1/tcp/0"};
  p2p::host_callbacks cb;
  cb.on_message = [&](const std::string&, const std::string& data, const std::string&) { s.on(data); };
  auto h = p2p::host::start(std::move(c), std::move(cb));
  if (!h) {
    std::fprintf(stderr, "sink: %s\n", h.error().to_string().c_str());
    return 1;
  }
  (*h)->subscribe(topic);
  std::printf("LISTEN %s\n", (*h)->listen_addrs().at(0).c_str());
  std::fflush(stdout);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (s.count() < expect && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  auto f = s.summarize();
  std::printf("STATS received=%zu rate=%.1f p50_ms=%.3f p99_ms=%.3f\n", f.received, f.rate, f.p50_ms,
              f.p99_ms);
  std::fflush(stdout);
  return 0;
}

/// A child process whose stdout we read line by line.
struct child {
  FILE* pipe = nullptr;
  explicit child(const std::string& command) { pipe = ::popen(command.c_str(), "r"); }
  ~child() {
    if (pipe)
      ::pclose(pipe);
  }
  /// The next line starting with `tag`, or nullopt at EOF.
  std::optional<std::string> line_starting(const std::string& tag) {
    char buf[4096];
    while (pipe && std::fgets(buf, sizeof(buf), pipe)) {
      std::string l(buf);
      while (!l.empty() && (l.back() == '\n' || l.back() == '\r'))
        l.pop_back();
      if (l.rfind(tag, 0) == 0)
        return l;
    }
    return std::nullopt;
  }
};

double field(const std::string& line, const std::string& key) {
  auto pos = line.find(" " + key + "=");
  if (pos == std::string::npos)
    return 0;
  return std::atof(line.c_str() + pos + key.size() + 2);
}

/// Publishes `count` messages at `rate` (0: unpaced) once `address` is
/// subscribed to the topic. The host is returned to be kept until the
/// receiver is done: closing the connection would drop what it has not read.
std::unique_ptr<p2p::host> publish_to(const std::string& address, std::size_t count, double rate,
                                      std::size_t size) {
  p2p::host_config c;
  c.static_peers = {address};
  auto h = p2p::host::start(std::move(c));
  if (!h)
    return nullptr;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while ((*h)->topic_peer_count(topic) == 0) {
    if (std::chrono::steady_clock::now() > deadline)
      return nullptr;
    std::this_thread::sleep_for(10ms);
  }
  auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < count; ++i) {
    if (rate > 0)
      std::this_thread::sleep_until(start + std::chrono::duration<double>(i / rate));
    (*h)->publish(topic, waku_message(timed_payload(size, i)));
    // Unpaced means as fast as the relay takes them: the host drops RPCs for
    // a peer whose queue is full, so keep the backlog under that.
    if (rate == 0 && i % 64 == 63)
      while ((*h)->backlog() > (4u << 20))
        std::this_thread::sleep_for(200us);
  }
  return std::move(*h);
}

figures parse_stats(const std::string& line) {
  figures f;
  f.received = static_cast<std::size_t>(field(line, "received"));
  f.rate = field(line, "rate");
  f.p50_ms = field(line, "p50_ms");
  f.p99_ms = field(line, "p99_ms");
  return f;
}

std::string self_exe() {
  return std::filesystem::read_symlink("/proc/self/exe").string();
}

/// Publishes to the receiver `receiver` announced on its LISTEN line and
/// returns its result line (tagged `result_tag`), keeping the sender up
/// until then.
std::optional<std::string> publish_and_collect(child& receiver, const std::string& result_tag,
                                               std::size_t count, double rate, std::size_t size) {
  auto listen = receiver.line_starting("LISTEN ");
  if (!listen)
    return std::nullopt;
  auto sender = publish_to(listen->substr(7), count, rate, size);
  if (!sender)
    return std::nullopt;
  return receiver.line_starting(result_tag);
}

/// annals -> annals: a sink process, this process publishes.
std::optional<figures> annals_to_annals(std::size_t count, double rate, std::size_t size) {
  child c(self_exe() + " sink " + std::to_string(count) + " 60");
  auto stats = publish_and_collect(c, "STATS ", count, rate, size);
  if (!stats)
    return std::nullopt;
  return parse_stats(*stats);
}

std::string js_command(const std::string& js_dir, const std::string& env) {
  return "cd '" + js_dir + "' && env " + env + " CT=" + content_topic + " TIMEOUT_MS=60000 BENCH=1 node --import ./polyfill.mjs waku-peer.mjs 2>/dev/null";
}

/// annals -> js: the js peer listens and measures.
std::optional<figures> annals_to_js(const std::string& js_dir, std::size_t count, double rate,
                                    std::size_t size) {
  child c(js_command(js_dir, "LISTEN=0 EXPECT=" + std::to_string(count)));
  auto bench = publish_and_collect(c, "BENCH received=", count, rate, size);
  if (!bench)
    return std::nullopt;
  figures f;
  f.received = static_cast<std::size_t>(field(*bench, "received"));
  f.rate = field(*bench, "rate_msg_s");
  f.p50_ms = field(*bench, "lat_us_p50") / 1000.0;
  f.p99_ms = field(*bench, "lat_us_p99") / 1000.0;
  return f;
}

/// js -> annals: a sink process listens, the js peer dials and publishes.
std::optional<figures> js_to_annals(const std::string& js_dir, std::size_t count, double rate,
                                    std::size_t size) {
  child c(self_exe() + " sink " + std::to_string(count) + " 60");
  auto listen = c.line_starting("LISTEN ");
  if (!listen)
    return std::nullopt;
  auto interval = rate > 0 ? std::to_string(static_cast<int>(1000 / rate)) : std::string("0");
  child js(js_command(js_dir, "DIAL=" + listen->substr(7) + " SEND_COUNT=" + std::to_string(count)
                                + " SEND_INTERVAL_MS=" + interval + " EXIT_GRACE_MS=5000"
                                + " BENCH_PAYLOAD_BYTES=" + std::to_string(size)));
  auto stats = c.line_starting("STATS ");
  if (!stats)
    return std::nullopt;
  return parse_stats(*stats);
}

void report(const char* pair, const char* phase, std::size_t sent, const std::optional<figures>& f) {
  if (!f) {
    std::printf("%-16s %-11s %8zu   failed (see stderr)\n", pair, phase, sent);
    return;
  }
  std::printf("%-16s %-11s %8zu %9zu %11.0f %9.2f %9.2f\n", pair, phase, sent, f->received, f->rate,
              f->p50_ms, f->p99_ms);
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "sink") == 0)
    return run_sink(bench::count_arg(argc, argv, 2, 1000, "sink COUNT"),
                    bench::number_arg(argc, argv, 3, 60, "sink SECONDS"));
  std::size_t messages = 10000, size = 256, latency_messages = 500;
  double latency_rate = 200;
  std::string js_dir = ANNALS_JS_DIR;
  bool js = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? argv[++i] : ""; };
    auto count = [&] { return bench::positive_count(argv[0], a.c_str(), next()); };
    if (a == "--messages") messages = count();
    else if (a == "--size") size = count();
    else if (a == "--latency-messages") latency_messages = count();
    else if (a == "--latency-rate") latency_rate = bench::positive_number(argv[0], "--latency-rate", next());
    else if (a == "--js-dir") js_dir = next();
    else if (a == "--no-js") js = false;
    else {
      const char* usage = "usage: relay_bench [--messages N] [--size BYTES] [--latency-messages N] "
                          "[--latency-rate R] [--js-dir DIR] [--no-js]\n"
                          "       relay_bench sink [COUNT] [SECONDS]\n";
      bool help = a == "-h" || a == "--help";
      std::fprintf(help ? stdout : stderr, "%s", usage);
      return help ? 0 : 2;
    }
  }
  if (js && !std::filesystem::exists(std::filesystem::path(js_dir) / "node_modules")) {
    std::fprintf(stderr, "relay_bench: %s/node_modules missing (run scripts/setup.sh); skipping js\n",
                 js_dir.c_str());
    js = false;
  }
  std::printf("payload %zu bytes; latency phase %zu msgs at %.0f msg/s; throughput phase %zu msgs "
              "unpaced\n\n",
              size, latency_messages, latency_rate, messages);
  std::printf("%-16s %-11s %8s %9s %11s %9s %9s\n", "pair", "phase", "sent", "received", "msg/s",
              "p50 ms", "p99 ms");
  report("annals->annals", "latency", latency_messages,
         annals_to_annals(latency_messages, latency_rate, size));
  report("annals->annals", "throughput", messages, annals_to_annals(messages, 0, size));
  if (js) {
    report("annals->js", "latency", latency_messages,
           annals_to_js(js_dir, latency_messages, latency_rate, size));
    report("annals->js", "throughput", messages, annals_to_js(js_dir, messages, 0, size));
    report("js->annals", "latency", latency_messages,
           js_to_annals(js_dir, latency_messages, latency_rate, size));
    report("js->annals", "throughput", messages, js_to_annals(js_dir, messages, 0, size));
  }
  return 0;
}
