// Community traffic on a relay, for the demo, load tests and integration
// tests: signed, encrypted channel messages as Status clients send them.
#pragma once

#include "core/synthetic.hpp"
#include "messages/actors.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace annals {

struct traffic_options {
  traffic_options(std::size_t count = 1000, double per_second = 1000, std::size_t senders = 8,
                  std::size_t payload_size = 200)
    : count(count), per_second(per_second), senders(senders), payload_size(payload_size) {}

  std::size_t count;          // messages in all
  double per_second;          // pace
  std::size_t senders;        // distinct member keys signing envelopes
  std::size_t payload_size;   // bytes of message text
  /// A share of the messages (0..1) carries a timestamp up to `late_by`
  /// seconds in the past, as from senders with skewed clocks or messages
  /// that reach the owner late through a store query or a slow peer.
  double late_share = 0;
  std::uint64_t late_by = 0;
  std::uint64_t seed = 1;         // which messages are late, and how late
  /// Post only once the relay has a peer (and a second for subscriptions
  /// to be exchanged): a network relay publishing to nobody loses it all.
  bool wait_for_peers = false;
  /// Optional: told of every message the relay accepted (kind `stored` is
  /// not used; the generator reports with node "traffic" and kind posted).
  message_observer_actor observer;
  std::string community_id;       // names the community in observations
};

/// Checks traffic options a user typed; an error names the option.
std::optional<std::string> check_traffic_options(const traffic_options& options);

/// Posts `count` messages round-robin over the community's channels, then
/// quits (monitor it to learn when it is done).
using traffic_generator_actor = caf::typed_actor<
  // Internal: post the next batch.
  caf::reacts_to<tick_atom>,
  // Internal: tell the observer which messages the relay accepted.
  caf::reacts_to<flush_atom>,
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
  std::uint64_t late = 0;      // messages sent with a past timestamp
  std::uint64_t refused = 0;   // publishes the relay refused
  bool ready = false;          // peers are there (or not waited for)
  /// The pace runs from here: a batch makes up for ticks that came late.
  std::chrono::steady_clock::time_point started;
  std::mt19937_64 random;
  std::vector<std::string> accepted_hashes;  // not yet told to the observer
};

traffic_generator_actor::behavior_type
traffic_generator(traffic_generator_actor::stateful_pointer<traffic_generator_state> self,
                  synthetic_community community, traffic_options options, relay_actor relay);

} // namespace annals
