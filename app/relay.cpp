// `annals relay probe|publish|subscribe`: operator tools for the Waku relay
// network, in the spirit of nwaku's wakucanary. Each one runs a short-lived
// libp2p host (net/p2p) without the rest of the node.
#include "app/commands.hpp"
#include "app/json_text.hpp"
#include "core/hex.hpp"
#include "core/status_envelope.hpp"
#include "net/p2p/host.hpp"
#include "net/p2p/probe.hpp"
#include "proto/waku_message.pb.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

namespace annals::app {

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

struct relay_options {
  std::string key_file;  // node key; a fresh one when empty
  bool verbose = false;  // connection log on stderr
};

private_key relay_identity(const relay_options& o) {
  if (o.key_file.empty())
    return private_key::generate();
  return take(private_key::load(o.key_file), o.key_file);
}

p2p::host_callbacks log_callbacks(const relay_options& o) {
  p2p::host_callbacks cb;
  if (o.verbose)
    cb.on_log = [](p2p::host_log_level, const std::string& line) {
      std::fprintf(stderr, "relay: %s\n", line.c_str());
    };
  return cb;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

// -- probe ---------------------------------------------------------------------------

void run_probe(const relay_options& o, const std::string& address, double seconds) {
  auto report = p2p::probe(address, relay_identity(o),
                           std::chrono::milliseconds(static_cast<long>(seconds * 1000)));
  if (!report)
    fail("probe " + address + ": " + report.error().message);
  nlohmann::ordered_json out;
  out["peerId"] = report->peer_id;
  out["muxer"] = report->muxer;
  out["agentVersion"] = report->identify.agent_version;
  out["protocolVersion"] = report->identify.protocol_version;
  out["protocols"] = report->identify.protocols;
  out["listenAddrs"] = report->identify.listen_addrs;
  out["observedAddr"] = report->identify.observed_addr;
  std::printf("%s\n", json_text(out).c_str());
}

// -- publish ---------------------------------------------------------------------------

struct publish_options {
  std::vector<std::string> peers;
  std::string topic = "/waku/2/rs/16/32";
  std::string content_topic;
  std::string payload_hex;
  std::string payload_text;
  double seconds = 20;
};

void run_publish(const relay_options& o, const publish_options& p) {
  std::string payload;
  if (!p.payload_hex.empty()) {
    auto raw = from_hex(p.payload_hex);
    if (!raw)
      fail("--payload-hex is not hex", exit_bad_input);
    payload = *raw;
  } else {
    payload = p.payload_text;
  }
  if (payload.empty())
    fail("the payload is empty; Waku peers reject empty payloads", exit_bad_input);
  waku::WakuMessage message;
  message.set_payload(payload);
  message.set_content_topic(p.content_topic);
  message.set_version(0);
  message.set_timestamp(now_ns());
  auto bytes = message.SerializeAsString();

  p2p::host_config config;
  config.identity = relay_identity(o);
  config.static_peers = p.peers;
  auto host = take(p2p::host::start(std::move(config), log_callbacks(o)), "relay");
  auto deadline = steady::now() + std::chrono::milliseconds(static_cast<long>(p.seconds * 1000));
  while (host->topic_peer_count(p.topic) == 0) {
    if (steady::now() > deadline)
      fail("no peer subscribed to " + p.topic + " within " + std::to_string(p.seconds) + " s ("
           + std::to_string(host->peers().size()) + " connected)");
    std::this_thread::sleep_for(20ms);
  }
  std::promise<result<std::size_t>> sent;
  auto sent_future = sent.get_future();
  host->publish(p.topic, bytes, [&](result<std::size_t> r) { sent.set_value(std::move(r)); });
  auto recipients = take(sent_future.get(), "publish");
  while (!host->flushed() && steady::now() < deadline)
    std::this_thread::sleep_for(5ms);
  if (!host->flushed())
    fail("the message was queued but not written to the peer within " + std::to_string(p.seconds)
         + " s");
  nlohmann::ordered_json out;
  out["peerId"] = host->peer_id();
  out["pubsubTopic"] = p.topic;
  out["contentTopic"] = p.content_topic;
  out["hash"] = to_hex0x(waku_message_hash(p.topic, message));
  out["recipients"] = recipients;
  std::printf("%s\n", json_text(out).c_str());
  std::fflush(stdout);
}

// -- subscribe -------------------------------------------------------------------------

struct subscribe_options {
  std::vector<std::string> peers;
  std::vector<std::string> listen;
  std::string topic = "/waku/2/rs/16/32";
  std::size_t count = 0;  // 0 = until --seconds
  double seconds = 0;     // 0 = forever (or until --count)
};

void run_subscribe(const relay_options& o, const subscribe_options& s) {
  struct inbox {
    std::mutex mutex;
    std::condition_variable ready;
    std::deque<std::pair<std::string, std::string>> messages;
  };
  auto box = std::make_shared<inbox>();
  auto callbacks = log_callbacks(o);
  callbacks.on_message = [box](const std::string& topic, const std::string& data, const std::string&) {
    std::lock_guard lock(box->mutex);
    box->messages.emplace_back(topic, data);
    box->ready.notify_one();
  };
  p2p::host_config config;
  config.identity = relay_identity(o);
  config.listen = s.listen.empty() ? std::vector<std::string>{"/ip4/127.0.0.1/tcp/0"} : s.listen;
  config.static_peers = s.peers;
  auto host = take(p2p::host::start(std::move(config), std::move(callbacks)), "relay");
  host->subscribe(s.topic);
  nlohmann::ordered_json hello;
  hello["peerId"] = host->peer_id();
  hello["listenAddrs"] = host->listen_addrs();
  std::printf("%s\n", json_text(hello).c_str());
  std::fflush(stdout);

  std::optional<steady::time_point> deadline;
  if (s.seconds > 0)
    deadline = steady::now() + std::chrono::milliseconds(static_cast<long>(s.seconds * 1000));
  std::size_t printed = 0;
  while (s.count == 0 || printed < s.count) {
    std::unique_lock lock(box->mutex);
    auto has = [&] { return !box->messages.empty(); };
    if (deadline) {
      if (!box->ready.wait_until(lock, *deadline, has))
        break;
    } else {
      box->ready.wait(lock, has);
    }
    auto [topic, data] = std::move(box->messages.front());
    box->messages.pop_front();
    lock.unlock();
    waku::WakuMessage message;
    if (!message.ParseFromString(data))
      continue;  // the host's validator accepted it, so this does not happen
    nlohmann::ordered_json line;
    line["pubsubTopic"] = topic;
    line["contentTopic"] = message.content_topic();
    line["payload"] = to_base64(message.payload());
    line["timestamp"] = message.timestamp();
    line["hash"] = to_hex0x(waku_message_hash(topic, message));
    std::printf("%s\n", json_text(line).c_str());
    std::fflush(stdout);
    ++printed;
  }
  if (s.count > 0 && printed < s.count)
    fail("received " + std::to_string(printed) + " of " + std::to_string(s.count)
         + " messages within " + std::to_string(s.seconds) + " s");
}

} // namespace

void add_relay_commands(CLI::App& app) {
  auto* relay = app.add_subcommand("relay", "Waku relay tools: probe a peer, publish, subscribe");
  relay->require_subcommand(1);
  auto common = std::make_shared<relay_options>();
  relay->add_option("--key-file", common->key_file,
                    "secp256k1 node key (hex file, see `annals keygen`); default: a fresh key");
  relay->add_flag("-v,--verbose", common->verbose, "Log connections to stderr");

  auto seconds = std::make_shared<double>(10);
  auto address = std::make_shared<std::string>();
  auto* probe = relay->add_subcommand(
    "probe", "Dial MULTIADDR, complete Noise and muxer selection, and print the peer's identify "
             "answer; fails naming the layer that failed");
  probe->add_option("multiaddr", *address, "/ip4/…/tcp/…[/p2p/ID]")->required();
  probe->add_option("--seconds", *seconds, "Time limit")->capture_default_str();
  probe->callback([=] { run_probe(*common, *address, *seconds); });

  auto pub = std::make_shared<publish_options>();
  auto* publish = relay->add_subcommand(
    "publish", "Publish one WakuMessage; exits 0 once a peer subscribed to the topic was sent it");
  publish->add_option("--peer", pub->peers, "Peer multiaddr (repeatable)")->required();
  publish->add_option("--topic", pub->topic, "Pubsub topic")->capture_default_str();
  publish->add_option("--content-topic", pub->content_topic, "Content topic")->required();
  auto* hex = publish->add_option("--payload-hex", pub->payload_hex, "Payload as hex");
  auto* text = publish->add_option("--payload", pub->payload_text, "Payload as text");
  hex->excludes(text);
  publish->add_option("--seconds", pub->seconds, "Time limit")->capture_default_str();
  publish->callback([=] {
    if (pub->payload_hex.empty() && pub->payload_text.empty())
      fail("give --payload-hex or --payload", exit_bad_input);
    run_publish(*common, *pub);
  });

  auto sub = std::make_shared<subscribe_options>();
  auto* subscribe = relay->add_subcommand(
    "subscribe", "Print our listen multiaddrs, then each WakuMessage on the topic as a JSON line");
  subscribe->add_option("--peer", sub->peers, "Peer multiaddr to keep connected (repeatable)");
  subscribe->add_option("--listen", sub->listen,
                        "Listen multiaddr (repeatable; default /ip4/127.0.0.1/tcp/0)");
  subscribe->add_option("--topic", sub->topic, "Pubsub topic")->capture_default_str();
  subscribe->add_option("--count", sub->count, "Exit 0 after N messages (0: never)");
  subscribe->add_option("--seconds", sub->seconds, "Time limit (0: none); fails if --count is not reached");
  subscribe->callback([=] { run_subscribe(*common, *sub); });
}

} // namespace annals::app
