#pragma once

#include "messages/actors.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace annals {

/// js-waku and nwaku drop relay messages above 150 KiB.
inline constexpr std::size_t max_waku_message_size = 150 * 1024;

/// The embedded relay: every node of one actor system publishes to and
/// subscribes on one instance, as Waku relay peers would on a network.
struct inprocess_relay_state {
  static inline const char* name = "inprocess_relay";

  struct subscription {
    std::string pubsub_topic;
    std::set<std::string> content_topics;
    bool every_content_topic = false;
    relay_sink_actor sink;
  };
  std::vector<subscription> subscriptions;
  std::uint64_t published = 0;
  std::uint64_t rejected = 0;
};

relay_actor::behavior_type
inprocess_relay(relay_actor::stateful_pointer<inprocess_relay_state> self);

} // namespace annals
