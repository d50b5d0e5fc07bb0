#include "actors/magnetlink_publisher.hpp"

#include "actors/errors.hpp"

#include "core/status_envelope.hpp"
#include "storage/store.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <optional>

namespace annals {

unix_ms_clock system_unix_ms_clock() {
  return [] {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
  };
}

magnetlink_publisher_actor::behavior_type
magnetlink_publisher(magnetlink_publisher_actor::stateful_pointer<magnetlink_publisher_state> self,
                     magnetlink_publisher_config config, std::shared_ptr<store> db,
                     relay_actor relay, signal_bus_actor bus) {
  self->state.config = std::move(config);
  self->state.db = std::move(db);
  self->state.relay = std::move(relay);
  self->state.bus = std::move(bus);
  return {
    [self](publish_atom, const std::string& community_id,
           const std::string& magnet) -> caf::result<std::uint64_t> {
      auto fail = [](const error& why) { return to_caf_error(why, "magnetlink publisher"); };
      auto community = public_key::from_community_id(community_id);
      if (!community)
        return fail(community.error());
      // What signs and where it goes, read on the storage thread.
      struct signing {
        error failure;
        std::optional<private_key> key;
        std::string topic;
        std::uint64_t stored_clock = 0;
      };
      auto rp = self->make_response_promise<std::uint64_t>();
      off_scheduler(
        self, self->state.config.io,
        [db = self->state.db, community = *community, community_id]() {
          signing out;
          auto record = db->get_community(community);
          if (!record || !*record) {
            out.failure = make_error(errc::not_found, "unknown community " + community_id);
            return out;
          }
          auto key = private_key::from_bytes((*record)->private_key());
          if (!key || key->public_key() != community) {
            out.failure = make_error(errc::invalid_argument,
                                     "this node does not hold the private key of " + community_id);
            return out;
          }
          auto info = db->get_archive_info(community);
          if (!info) {
            out.failure = info.error();
            return out;
          }
          out.key = *key;
          out.topic = community_pubsub_topic(**record);
          out.stored_clock = info->magnetlink_clock;
          return out;
        },
        [self, rp, fail, community = *community, community_id, magnet](signing s) mutable {
          auto& state = self->state;
          if (!s.key) {
            rp.deliver(fail(s.failure));
            return;
          }
          // A clock never goes backwards, even when the wall clock does:
          // members drop a link whose clock is below the last one they accepted.
          auto now_ms = state.config.now_ms();
          auto& last = state.last_clock[community_id];
          auto clock = std::max({now_ms, s.stored_clock + 1, last + 1});
          last = clock;
          auto message = make_magnetlink_waku_message(*s.key, state.config.node_key, {clock, magnet},
                                                      static_cast<std::int64_t>(now_ms) * 1'000'000,
                                                      state.config.installation_id);
          if (!message) {
            rp.deliver(fail(message.error()));
            return;
          }
          self->request(state.relay, caf::infinite, publish_atom::value, s.topic,
                        message->SerializeAsString())
            .then(
              [self, rp, community, community_id, clock, magnet](const std::string&) mutable {
                off_scheduler(
                  self, self->state.config.io,
                  [db = self->state.db, community, clock, magnet] {
                    return db->set_magnetlink(community, clock, magnet);
                  },
                  [self, rp, community_id, clock, magnet](result<void> saved) mutable {
                    if (!saved) {
                      rp.deliver(to_caf_error(saved.error()));
                      return;
                    }
                    ++self->state.published;
                    ++self->state.published_by_community[community_id];
                    self->send(self->state.bus, publish_atom::value,
                               signal{magnetlink_published{community_id, clock, magnet}});
                    rp.deliver(clock);
                  });
              },
              [self, rp, community_id](const caf::error& err) mutable {
                ++self->state.refused_by_community[community_id];
                rp.deliver(err);
              });
        });
      return rp;
    },
    [self](status_atom) {
      auto& state = self->state;
      component_status out;
      out.component = "publisher";
      out.state = std::to_string(state.published) + " links published";
      for (const auto& [community, n] : state.published_by_community)
        out.counter("annals_links_published_total", "Magnet-link messages published",
                    static_cast<double>(n), {"community", community});
      for (const auto& [community, n] : state.refused_by_community)
        out.counter("annals_links_publish_failed_total",
                    "Magnet-link messages the relay or the store refused", static_cast<double>(n),
                    {"community", community});
      return out;
    },
  };
}

} // namespace annals
