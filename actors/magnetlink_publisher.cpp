#include "actors/magnetlink_publisher.hpp"

#include "actors/errors.hpp"

#include "core/status_envelope.hpp"
#include "storage/store.hpp"

#include <caf/all.hpp>

#include <chrono>

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
      auto& state = self->state;
      auto fail = [](const error& why) { return to_caf_error(why, "magnetlink publisher"); };
      auto community = public_key::from_community_id(community_id);
      if (!community)
        return fail(community.error());
      auto record = state.db->get_community(*community);
      if (!record || !*record)
        return fail(make_error(errc::not_found, "unknown community " + community_id));
      auto key = private_key::from_bytes((*record)->private_key());
      if (!key || key->public_key() != *community)
        return fail(make_error(errc::invalid_argument,
                               "this node does not hold the private key of " + community_id));
      auto info = state.db->get_archive_info(*community);
      if (!info)
        return fail(info.error());
      // A clock never goes backwards, even when the wall clock does: members
      // drop a link whose clock is below the last one they accepted.
      auto now_ms = state.config.now_ms();
      auto clock = std::max(now_ms, info->magnetlink_clock + 1);
      auto message = make_magnetlink_waku_message(*key, state.config.node_key, {clock, magnet},
                                                  static_cast<std::int64_t>(now_ms) * 1'000'000,
                                                  state.config.installation_id);
      if (!message)
        return fail(message.error());
      auto topic = community_pubsub_topic(**record);
      auto rp = self->make_response_promise<std::uint64_t>();
      self->request(state.relay, caf::infinite, publish_atom::value, topic,
                    message->SerializeAsString())
        .then(
          [self, rp, community = *community, community_id, clock, magnet](const std::string&) mutable {
            if (auto saved = self->state.db->set_magnetlink(community, clock, magnet); !saved) {
              rp.deliver(to_caf_error(saved.error()));
              return;
            }
            ++self->state.published;
            ++self->state.published_by_community[community_id];
            self->send(self->state.bus, publish_atom::value,
                       signal{magnetlink_published{community_id, clock, magnet}});
            rp.deliver(clock);
          },
          [self, rp, community_id](const caf::error& err) mutable {
            ++self->state.refused_by_community[community_id];
            rp.deliver(err);
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
