// Nodes on real threads for integration tests: one actor system, the
// in-process relay, real libtorrent on 127.0.0.1, real RocksDB.
#pragma once

#include "actors/inprocess_relay.hpp"
#include "actors/node.hpp"
#include "actors/traffic_generator.hpp"
#include "tests/eventually.hpp"

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include <functional>
#include <mutex>
#include <thread>

namespace annals::test {

using namespace std::chrono_literals;

/// Thread-safe log of what observer actors saw.
struct observed {
  std::mutex mutex;
  std::vector<signal> signals;
  std::vector<waku_envelope> envelopes;

  std::vector<std::string> types() {
    std::lock_guard lock(mutex);
    std::vector<std::string> out;
    for (const auto& s : signals)
      out.push_back(signal_type(s));
    return out;
  }
  std::size_t count(const std::string& type) {
    auto t = types();
    return static_cast<std::size_t>(std::count(t.begin(), t.end(), type));
  }
  std::size_t envelope_count() {
    std::lock_guard lock(mutex);
    return envelopes.size();
  }
  std::vector<std::string> rejections() {
    std::lock_guard lock(mutex);
    std::vector<std::string> out;
    for (const auto& s : signals)
      if (auto* r = caf::get_if<magnetlink_rejected>(&s))
        out.push_back(r->reason);
    return out;
  }
};

inline signal_sink_actor::behavior_type signal_log(signal_sink_actor::pointer,
                                                   std::shared_ptr<observed> log) {
  return {[=](const signal& s) {
    std::lock_guard lock(log->mutex);
    log->signals.push_back(s);
  }};
}

inline relay_sink_actor::behavior_type relay_log(relay_sink_actor::pointer,
                                                 std::shared_ptr<observed> log) {
  return {[=](const waku_envelope& e) {
    std::lock_guard lock(log->mutex);
    log->envelopes.push_back(e);
  }};
}

/// Whole nodes on real threads: the shared poll, with room for slow CI.
inline bool wait_for(const std::function<bool()>& done,
                     std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  return eventually(done, limit);
}

using integration_config = node_system_config;

/// node_config for a loopback node with a short interval.
inline node_config loopback_node(const std::filesystem::path& dir, relay_actor relay,
                                 std::uint64_t interval = 2) {
  node_config config;
  config.data_dir = dir;
  config.torrent.listen = "127.0.0.1:0";
  config.torrent.loopback = true;
  config.torrent.advertise_address = true;
  config.archives.interval = interval;
  config.archives.republish_interval = 0;
  config.archives.settle = 1;
  config.relay = std::move(relay);
  return config;
}

inline node_actor start_node(caf::actor_system& sys, node_config config,
                             std::shared_ptr<observed> log, node_hooks hooks = {}) {
  config.subscribers.push_back(sys.spawn(signal_log, log));
  auto node = spawn_node(sys, std::move(config), std::move(hooks));
  if (!node)
    FAIL(sys.render(node.error()));
  return *node;
}

/// Stops a node and returns once it is down: its store and torrent port are
/// then released (the node goes down after its stages and storage thread).
inline void stop_node(caf::actor_system& sys, const node_actor& node) {
  caf::scoped_actor self{sys};
  self->monitor(node);
  self->send_exit(node, caf::exit_reason::user_shutdown);
  bool down = false;
  self->receive([&](const caf::down_msg&) { down = true; },
                caf::after(std::chrono::seconds(30)) >> [] {});
  REQUIRE(down);
}

inline std::string create_community(caf::actor_system& sys, const node_actor& node,
                                    const synthetic_community& community) {
  caf::scoped_actor self{sys};
  std::string id;
  self->request(node, 10s, create_atom::value,
                community_spec{to_hex(community.key.bytes()), community.channel_ids, false, {}})
    .receive([&](const std::string& created) { id = created; },
             [&](const caf::error& err) { FAIL(sys.render(err)); });
  return id;
}

inline void join_community(caf::actor_system& sys, const node_actor& node,
                           const synthetic_community& community) {
  caf::scoped_actor self{sys};
  self->request(node, 10s, join_atom::value,
                membership_spec{community.id(), community.channel_ids, {}})
    .receive([](const std::string&) {}, [&](const caf::error& err) { FAIL(sys.render(err)); });
}

inline community_status status_of(caf::actor_system& sys, const node_actor& node,
                                  const std::string& community_id) {
  caf::scoped_actor self{sys};
  community_status status;
  self->request(node, 10s, status_atom::value, community_id)
    .receive([&](const community_status& s) { status = s; },
             [&](const caf::error& err) { FAIL(sys.render(err)); });
  return status;
}

/// Posts `count` channel messages and waits until the relay took them all.
inline void post_messages(caf::actor_system& sys, const relay_actor& relay,
                          const synthetic_community& community, std::size_t count) {
  caf::scoped_actor self{sys};
  auto generator = sys.spawn(traffic_generator, community, traffic_options{count, 2000, 4, 120},
                             relay);
  self->monitor(generator);
  bool done = false;
  self->receive([&](const caf::down_msg&) { done = true; }, caf::after(20s) >> [] {});
  REQUIRE(done);
}

} // namespace annals::test
