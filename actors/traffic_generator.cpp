#include "actors/traffic_generator.hpp"
#include <annals/traffic.hpp>

#include "actors/errors.hpp"

#include <annals/log.hpp>

#include "core/hex.hpp"

#include <caf/all.hpp>

#include <chrono>

namespace annals {

namespace {

constexpr auto tick_interval = std::chrono::milliseconds(50);
/// Messages one turn signs and posts at most (see the tick handler).
constexpr std::uint64_t max_per_turn = 100;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

constexpr auto observe_interval = std::chrono::milliseconds(100);

using self_ptr = traffic_generator_actor::stateful_pointer<traffic_generator_state>;

void report_accepted(self_ptr self) {
  auto& state = self->state;
  if (state.accepted_hashes.empty() || !state.options.observer)
    return;
  self->send(state.options.observer,
             message_observation{"traffic", state.options.community_id,
                                 message_observation::posted, std::move(state.accepted_hashes)});
  state.accepted_hashes.clear();
}

} // namespace

std::optional<std::string> check_traffic_options(const traffic_options& options) {
  if (!(options.late_share >= 0 && options.late_share <= 1))
    return "late share must be between 0 and 1";
  if (options.late_share > 0 && options.late_by == 0)
    return "a late share needs a late-by of at least 1 second";
  if (!(options.per_second > 0))
    return "rate must be above 0 messages per second";
  return std::nullopt;
}

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
  state.random.seed(options.seed);
  state.ready = !options.wait_for_peers;
  state.started = std::chrono::steady_clock::now();
  self->send(self, tick_atom::value);
  if (options.observer)
    self->delayed_send(self, observe_interval, flush_atom::value);
  return {
    [self](tick_atom) {
      auto& state = self->state;
      if (state.community.channel_ids.empty()) {
        log_error("traffic", "the community has no channel to post to");
        self->quit();
        return;
      }
      if (!state.ready) {
        self->request(state.relay, std::chrono::seconds(5), peers_atom::value)
          .then(
            [self](const std::vector<std::string>& peers) {
              if (peers.empty()) {
                self->delayed_send(self, std::chrono::milliseconds(200), tick_atom::value);
                return;
              }
              log_info("traffic", "the relay has " + std::to_string(peers.size())
                                    + " peer(s); posting starts in a second");
              self->state.ready = true;
              self->state.started = std::chrono::steady_clock::now() + std::chrono::seconds(1);
              self->delayed_send(self, std::chrono::seconds(1), tick_atom::value);
            },
            [self](const caf::error&) {
              self->delayed_send(self, std::chrono::milliseconds(200), tick_atom::value);
            });
        return;
      }
      // What the pace asks for by now, less what was sent: a tick that came
      // late (a busy machine) posts more, so the rate holds.
      auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - state.started);
      auto due = static_cast<std::uint64_t>(std::max(0.0, elapsed.count()) * state.options.per_second) + 1;
      std::uint64_t batch = due > state.sent ? due - state.sent : 0;
      // At most a second's worth at once: a long stall is not made up in one burst.
      batch = std::min<std::uint64_t>(
        batch, std::max<std::uint64_t>(1, static_cast<std::uint64_t>(state.options.per_second)));
      // Each message is signed and sealed here, on the scheduler: a turn
      // does at most max_per_turn and comes straight back
      // for the rest, so a fast fill (20,000/s) never holds a worker for
      // seconds while the node's own actors wait.
      bool more_due = batch > max_per_turn;
      batch = std::min(batch, max_per_turn);
      for (std::uint64_t i = 0; i < batch && state.sent < state.options.count; ++i) {
        auto n = state.sent++;
        auto channel = n % state.community.channel_ids.size();
        std::string text = "message " + std::to_string(n) + " ";
        text.resize(std::max(text.size(), state.options.payload_size), '.');
        auto ts = now_ns();
        if (state.options.late_share > 0
            && std::uniform_real_distribution<double>(0, 1)(state.random) < state.options.late_share) {
          // Up to late_by seconds in the past, at least one second.
          auto back = std::uniform_int_distribution<std::uint64_t>(1, state.options.late_by)(state.random);
          ts -= static_cast<std::int64_t>(back) * 1'000'000'000;
          ++state.late;
        }
        auto message = make_channel_waku_message(state.community, channel,
                                                 state.senders[n % state.senders.size()], text, ts);
        if (!message) {
          log_error("traffic", message.error().to_string());
          continue;
        }
        auto seconds = static_cast<std::uint64_t>(ts / 1'000'000'000);
        self->request(state.relay, caf::infinite, publish_atom::value, state.pubsub_topic,
                      message->SerializeAsString())
          .then(
            [self, seconds](const std::string& hash_hex) {
              auto& state = self->state;
              ++state.accepted;
              state.newest = std::max(state.newest, seconds);
              if (state.options.observer) {
                if (auto hash = from_hex(hash_hex))
                  state.accepted_hashes.push_back(std::move(*hash));
              }
              if (state.accepted == state.options.count) {
                log_info("traffic", "posted " + std::to_string(state.accepted) + " messages ("
                                      + std::to_string(state.late) + " with a past timestamp)");
                report_accepted(self);
                self->quit();
              }
            },
            [self](const caf::error& err) {
              // The first refusal says why; a relay that went away would
              // otherwise print one line per message still in flight.
              if (self->state.refused++ == 0)
                log_warn("traffic", "relay refused a message: " + self->system().render(err));
            });
      }
      if (self->state.sent < self->state.options.count) {
        if (more_due)
          self->send(self, tick_atom::value);
        else
          self->delayed_send(self, tick_interval, tick_atom::value);
      }
    },
    [self](flush_atom) {
      auto& state = self->state;
      report_accepted(self);
      if (state.accepted < state.options.count)
        self->delayed_send(self, observe_interval, flush_atom::value);
    },
    [self](status_atom) {
      return caf::make_result(self->state.accepted, self->state.newest);
    },
  };
}

caf::expected<caf::actor> spawn_synthetic_traffic(caf::actor_system& sys, const relay_actor& relay,
                                                  const std::string& community_key_hex,
                                                  std::vector<std::string> channel_ids,
                                                  synthetic_traffic_options options) {
  auto raw = from_hex(community_key_hex);
  if (!raw || raw->size() != 32)
    return to_caf_error(errc::invalid_argument,
                        "community key: 64 hex characters expected");
  auto key = private_key::from_bytes(*raw);
  if (!key)
    return to_caf_error(key.error());
  if (channel_ids.empty())
    return to_caf_error(errc::invalid_argument, "no channel to post to");
  traffic_options traffic{options.count, options.per_second, options.senders,
                          options.payload_size};
  if (auto wrong = check_traffic_options(traffic))
    return to_caf_error(errc::invalid_argument, *wrong);
  return caf::actor_cast<caf::actor>(
    // Detached: each channel's first message derives its key (PBKDF2).
    sys.spawn<caf::detached>(traffic_generator,
              synthetic_community::from_key(std::move(*key), std::move(channel_ids)), traffic,
              relay));
}

} // namespace annals
