#include "bench/traffic_generator.hpp"

#include <caf/all.hpp>

#include <chrono>

namespace annals {

namespace {

constexpr auto tick_interval = std::chrono::milliseconds(50);

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

} // namespace

traffic_generator_actor::behavior_type
traffic_generator(traffic_generator_actor::stateful_pointer<traffic_generator_state> self,
                  synthetic_community community, traffic_options options, relay_actor relay) {
  auto& state = self->state;
  state.options = options;
  state.community = std::move(community);
  state.relay = std::move(relay);
  state.pubsub_topic = pubsub_topic();
  for (std::size_t i = 0; i < std::max<std::size_t>(options.senders, 1); ++i)
    state.senders.push_back(private_key::generate());
  self->send(self, tick_atom::value);
  return {
    [self](tick_atom) {
      auto& state = self->state;
      auto batch = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(state.options.per_second * 0.05));
      for (std::uint64_t i = 0; i < batch && state.sent < state.options.count; ++i) {
        auto n = state.sent++;
        auto channel = n % state.community.channel_ids.size();
        std::string text = "message " + std::to_string(n) + " ";
        text.resize(std::max(text.size(), state.options.payload_size), '.');
        auto ts = now_ns();
        auto message = make_channel_waku_message(state.community, channel,
                                                 state.senders[n % state.senders.size()], text, ts);
        if (!message) {
          caf::aout(self) << "traffic: " << message.error().to_string() << "\n";
          continue;
        }
        auto seconds = static_cast<std::uint64_t>(ts / 1'000'000'000);
        self->request(state.relay, caf::infinite, publish_atom::value, state.pubsub_topic,
                      message->SerializeAsString())
          .then(
            [self, seconds](const std::string&) {
              ++self->state.accepted;
              self->state.newest = std::max(self->state.newest, seconds);
              if (self->state.accepted == self->state.options.count)
                self->quit();
            },
            [self](const caf::error& err) {
              caf::aout(self) << "traffic: relay refused a message: "
                              << self->system().render(err) << "\n";
            });
      }
      if (self->state.sent < self->state.options.count)
        self->delayed_send(self, tick_interval, tick_atom::value);
    },
    [self](status_atom) {
      return caf::make_result(self->state.accepted, self->state.newest);
    },
  };
}

} // namespace annals
