// How responsive the node's cooperative scheduler is: an actor that asks to
// be woken every 10 ms and records how late each wake-up comes. A handler
// that blocks a worker (a slow disk, a long computation) shows up here as
// lateness for everyone. Off by default (100 wake-ups a second); benches
// and `annals run --probe-scheduler` turn it on.
#pragma once

#include "core/latency_histogram.hpp"
#include "messages/actors.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>

namespace annals {

using scheduler_probe_actor = caf::typed_actor<
  // Internal: the wake-up.
  caf::reacts_to<tick_atom>,
  // Lateness so far: p50, p99 and max, in ms, as gauges.
  caf::replies_to<status_atom>::with<component_status>>;

struct scheduler_probe_state {
  static inline const char* name = "scheduler_probe";
  std::chrono::milliseconds period{10};
  std::chrono::steady_clock::time_point due;
  latency_histogram lateness;
};

scheduler_probe_actor::behavior_type
scheduler_probe(scheduler_probe_actor::stateful_pointer<scheduler_probe_state> self,
                std::chrono::milliseconds period);

} // namespace annals
