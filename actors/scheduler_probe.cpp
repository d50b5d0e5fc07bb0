#include "actors/scheduler_probe.hpp"

#include <caf/all.hpp>

namespace annals {

scheduler_probe_actor::behavior_type
scheduler_probe(scheduler_probe_actor::stateful_pointer<scheduler_probe_state> self,
                std::chrono::milliseconds period) {
  self->state.period = period;
  self->state.due = std::chrono::steady_clock::now() + period;
  self->delayed_send(self, period, tick_atom::value);
  return {
    [self](tick_atom) {
      auto& st = self->state;
      auto now = std::chrono::steady_clock::now();
      st.lateness.add(std::chrono::duration<double, std::milli>(now - st.due).count());
      st.due = now + st.period;
      self->delayed_send(self, st.period, tick_atom::value);
    },
    [self](status_atom) {
      const auto& h = self->state.lateness;
      component_status out;
      out.component = "scheduler_latency";
      char text[128];
      std::snprintf(text, sizeof text, "p50 %.2f ms, p99 %.2f ms, max %.1f ms over %llu wake-ups",
                    h.quantile(0.5), h.quantile(0.99), h.max(),
                    static_cast<unsigned long long>(h.count()));
      out.state = text;
      const char* help = "How late a 10 ms timer on the node's scheduler fires, ms";
      out.gauge("annals_scheduler_lateness_ms", help, h.quantile(0.5), {"quantile", "0.5"})
        .gauge("annals_scheduler_lateness_ms", help, h.quantile(0.99), {"quantile", "0.99"})
        .gauge("annals_scheduler_lateness_ms", help, h.max(), {"quantile", "1"})
        .counter("annals_scheduler_probes_total", "Wake-ups the scheduler probe measured",
                 double(h.count()));
      return out;
    },
  };
}

} // namespace annals
