#pragma once

#include "messages/actors.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace annals {

struct signal_bus_state {
  static inline const char* name = "signal_bus";
  std::vector<signal_sink_actor> sinks;
  std::map<std::string, std::uint64_t> emitted;  // by signal type
};

signal_bus_actor::behavior_type
signal_bus(signal_bus_actor::stateful_pointer<signal_bus_state> self);

/// Writes each signal as one status-go JSON line to `out` (stdout or a file
/// the caller opened), flushing per line so a tail -f sees it at once.
struct event_writer_state {
  static inline const char* name = "event_writer";
  std::FILE* out = nullptr;
  bool owns_file = false;
  ~event_writer_state();
};

signal_sink_actor::behavior_type
event_writer(signal_sink_actor::stateful_pointer<event_writer_state> self, std::FILE* out,
             bool owns_file);

} // namespace annals
