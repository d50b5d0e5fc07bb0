// Community traffic on a relay, for the demo, load tests and integration
// tests: signed, encrypted channel messages as Status clients send them.
#pragma once

#include "core/synthetic.hpp"
#include "messages/actors.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <cstdint>
#include <vector>

namespace annals {

struct traffic_options {
  std::size_t count = 1000;       // messages in all
  double per_second = 1000;       // pace
  std::size_t senders = 8;        // distinct member keys signing envelopes
  std::size_t payload_size = 200; // bytes of message text
};

/// Posts `count` messages round-robin over the community's channels, then
/// quits (monitor it to learn when it is done).
using traffic_generator_actor = caf::typed_actor<
  // Internal: post the next batch.
  caf::reacts_to<tick_atom>,
  // Messages the relay accepted so far and the newest timestamp (unix s).
  caf::replies_to<status_atom>::with<std::uint64_t, std::uint64_t>>;

struct traffic_generator_state {
  static inline const char* name = "traffic_generator";
  traffic_options options;
  synthetic_community community;
  std::vector<private_key> senders;
  relay_actor relay;
  std::string pubsub_topic;
  std::uint64_t sent = 0;      // requests made
  std::uint64_t accepted = 0;  // relay replies
  std::uint64_t newest = 0;
};

traffic_generator_actor::behavior_type
traffic_generator(traffic_generator_actor::stateful_pointer<traffic_generator_state> self,
                  synthetic_community community, traffic_options options, relay_actor relay);

} // namespace annals
