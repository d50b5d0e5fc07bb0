#include "actors/signal_bus.hpp"

#include <caf/all.hpp>

#include <algorithm>

namespace annals {

signal_bus_actor::behavior_type
signal_bus(signal_bus_actor::stateful_pointer<signal_bus_state> self) {
  self->set_down_handler([self](const caf::down_msg& down) {
    auto& sinks = self->state.sinks;
    sinks.erase(std::remove_if(sinks.begin(), sinks.end(),
                               [&](const auto& sink) { return sink.address() == down.source; }),
                sinks.end());
  });
  return {
    [self](publish_atom, const signal& s) {
      ++self->state.emitted[signal_type(s)];
      for (const auto& sink : self->state.sinks)
        self->send(sink, s);
    },
    [self](subscribe_atom, const signal_sink_actor& sink) {
      auto& sinks = self->state.sinks;
      if (std::find(sinks.begin(), sinks.end(), sink) != sinks.end())
        return;
      self->monitor(sink);
      sinks.push_back(sink);
    },
    [self](unsubscribe_atom, const signal_sink_actor& sink) {
      auto& sinks = self->state.sinks;
      sinks.erase(std::remove(sinks.begin(), sinks.end(), sink), sinks.end());
      self->demonitor(sink.address());
    },
    [self](status_atom) {
      component_status out;
      out.component = "signals";
      out.state = std::to_string(self->state.sinks.size()) + " subscribers";
      out.gauge("annals_signal_subscribers", "Actors subscribed to the node's signals",
                static_cast<double>(self->state.sinks.size()));
      for (const auto& [type, n] : self->state.emitted)
        out.counter("annals_signals_total", "Signals emitted, by status-go signal type",
                    static_cast<double>(n), {"signal", type});
      return out;
    },
  };
}

event_writer_state::~event_writer_state() {
  if (owns_file && out != nullptr)
    std::fclose(out);
}

signal_sink_actor::behavior_type
event_writer(signal_sink_actor::stateful_pointer<event_writer_state> self, std::FILE* out,
             bool owns_file) {
  self->state.out = out;
  self->state.owns_file = owns_file;
  return {
    [self](const signal& s) {
      auto line = to_json_line(s);
      line += '\n';
      std::fwrite(line.data(), 1, line.size(), self->state.out);
      std::fflush(self->state.out);
    },
  };
}

} // namespace annals
