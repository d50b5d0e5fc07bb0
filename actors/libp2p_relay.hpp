// The relay on the Waku network: relay_actor over a libp2p host (TCP, Noise,
// mplex/yamux, gossipsub on /vac/waku/relay/2.0.0). The host runs its own I/O
// thread; this actor owns it, keeps the local sinks, and turns the host's
// callbacks into messages to itself.
#pragma once

#include "actors/relay_subscriptions.hpp"
#include <annals/log.hpp>
#include "messages/actors.hpp"

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace annals {

namespace p2p {
class host;
struct host_config;
enum class host_log_level;
} // namespace p2p

/// A relay log line with the host's level (the host's I/O thread calls it).
using relay_log = std::function<void(p2p::host_log_level, const std::string&)>;

/// The host's level as the process logger's (include/annals/log.hpp).
log_level to_log_level(p2p::host_log_level level);

/// What the local sinks want, readable from the host's I/O thread: messages
/// no sink wants are dropped there instead of queueing in the actor's
/// mailbox (a member wants only magnet links, not every channel message
/// gossipsub passes through it).
struct relay_delivery_filter {
  struct topics {
    bool every = false;
    std::set<std::string> content;
  };
  std::mutex mutex;
  std::map<std::string, topics> wanted;      // by pubsub topic
  std::atomic<std::uint64_t> not_wanted{0};  // accepted by gossipsub, no local sink

  bool wants(const std::string& pubsub_topic, const std::string& content_topic) {
    std::lock_guard lock(mutex);
    auto it = wanted.find(pubsub_topic);
    return it != wanted.end() && (it->second.every || it->second.content.count(content_topic));
  }
  void update(const relay_subscriptions& subscriptions) {
    std::map<std::string, topics> table;
    for (const auto& e : subscriptions.entries()) {
      auto& t = table[e.pubsub_topic];
      t.every = t.every || e.every_content_topic;
      t.content.insert(e.content_topics.begin(), e.content_topics.end());
    }
    std::lock_guard lock(mutex);
    wanted = std::move(table);
  }
};

struct libp2p_relay_state {
  static inline const char* name = "libp2p_relay";
  std::shared_ptr<p2p::host> host;
  std::shared_ptr<relay_delivery_filter> filter;
  relay_log log;  // from the host's I/O thread too
  relay_subscriptions subscriptions;
  std::set<std::string> pubsub_topics;  // subscribed on the host
  std::uint64_t published = 0;
  std::uint64_t received = 0;
  std::uint64_t rejected = 0;
  /// Store queries sent and waiting for the host's answer, by ID.
  std::map<std::uint64_t, caf::typed_response_promise<std::string>> store_queries;
  std::uint64_t next_store_query = 1;
  std::uint64_t store_queries_sent = 0;
  std::uint64_t store_queries_failed = 0;
  /// Who hears of peers coming and going, and the peers so far with what
  /// identify said (empty until it answered), for a late subscriber.
  std::vector<relay_peer_sink_actor> peer_sinks;
  std::map<std::string, std::vector<std::string>> peers;
  std::map<std::string, int> connections;  // per peer: two can overlap (both dialled)
};

/// Starts a host from `config` (binding its listen addresses, dialling its
/// static peers) and the actor that owns it. Fails naming the cause (port in
/// use, bad multiaddr). `log` gets the host's connection lines with their
/// level, from its I/O thread; none means the process logger (component
/// "relay", each line at its level).
caf::expected<libp2p_relay_actor>
spawn_libp2p_relay(caf::actor_system& sys, p2p::host_config config, relay_log log = {});
/// The same with a log that takes every line whatever its level.
caf::expected<libp2p_relay_actor>
spawn_libp2p_relay(caf::actor_system& sys, p2p::host_config config,
                   std::function<void(const std::string&)> log);

} // namespace annals
