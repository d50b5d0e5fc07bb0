#include "actors/inprocess_relay.hpp"

#include <caf/all.hpp>

namespace annals {

relay_actor::behavior_type
inprocess_relay(relay_actor::stateful_pointer<inprocess_relay_state> self) {
  self->set_down_handler(
    [self](const caf::down_msg& down) { self->state.subscriptions.remove(down.source); });
  return {
    [self](publish_atom, const std::string& pubsub_topic,
           const std::string& bytes) -> caf::result<std::string> {
      // In-process: the local sinks are every node.
      return publish_locally(self, pubsub_topic, bytes, [](const waku_envelope&) {});
    },
    [self](subscribe_atom, const std::string& pubsub_topic,
           const std::vector<std::string>& content_topics, const relay_sink_actor& sink) {
      if (self->state.subscriptions.add(pubsub_topic, content_topics, sink))
        self->monitor(sink);
    },
    [self](unsubscribe_atom, const relay_sink_actor& sink) {
      self->state.subscriptions.remove(sink);
    },
    // In-process there are no network peers to come or go.
    [](subscribe_atom, peers_atom, const relay_peer_sink_actor&) {},
    [self](peers_atom) {
      // In-process: every subscriber is a peer.
      std::vector<std::string> peers;
      for (const auto& sub : self->state.subscriptions.entries())
        peers.push_back(caf::to_string(sub.sink.address()));
      return peers;
    },
    [self](peer_info_atom) {
      std::vector<relay_peer_info> peers;
      for (const auto& sub : self->state.subscriptions.entries())
        peers.push_back({caf::to_string(sub.sink.address()), "in-process", {}, {}, 0, false, "local"});
      return peers;
    },
    [](store_query_atom, const std::string&, const std::string&) -> caf::result<std::string> {
      return caf::make_error(caf::sec::unexpected_message,
                             "the in-process relay reaches no store peers");
    },
    [self](status_atom) {
      component_status out;
      out.component = "relay";
      out.state = "in-process (no network)";
      out.detail("mode", "inprocess");
      out.counter("annals_relay_messages_out_total", "WakuMessages published by this node",
                  static_cast<double>(self->state.published));
      out.counter("annals_relay_messages_rejected_total",
                  "WakuMessages refused (malformed, too large, no content topic)",
                  static_cast<double>(self->state.rejected));
      out.gauge("annals_relay_subscribers", "Local subscriptions",
                static_cast<double>(self->state.subscriptions.entries().size()));
      return out;
    },
  };
}

} // namespace annals
