#pragma once

#include "actors/relay_subscriptions.hpp"
#include "messages/actors.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace annals {

/// The embedded relay: every node of one actor system publishes to and
/// subscribes on one instance, as Waku relay peers would on a network.
struct inprocess_relay_state {
  static inline const char* name = "inprocess_relay";
  relay_subscriptions subscriptions;
  std::uint64_t published = 0;
  std::uint64_t rejected = 0;
};

relay_actor::behavior_type
inprocess_relay(relay_actor::stateful_pointer<inprocess_relay_state> self);

} // namespace annals
