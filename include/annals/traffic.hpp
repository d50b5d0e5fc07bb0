// Synthetic community traffic for trying a node: signed, encrypted Status
// channel messages, as a community's members would post them, published on
// a relay. The demo and benches post with it; a host uses it to see its node
// archive, seed and announce before real members arrive.
#pragma once

#include <annals/interfaces.hpp>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace annals {

struct synthetic_traffic_options {
  std::size_t count = 1000;      // messages in all
  double per_second = 1000;      // pace
  std::size_t senders = 8;       // distinct member keys signing envelopes
  std::size_t payload_size = 200;  // bytes of message text
};

/// Posts `options.count` messages round-robin over the channels of the
/// community whose private key is `community_key_hex` (64 hex characters),
/// then quits: monitor the actor to learn when it is done. Fails, naming
/// the cause, on a malformed key or options.
caf::expected<caf::actor> spawn_synthetic_traffic(caf::actor_system& sys, const relay_actor& relay,
                                                  const std::string& community_key_hex,
                                                  std::vector<std::string> channel_ids,
                                                  synthetic_traffic_options options = {});

} // namespace annals
