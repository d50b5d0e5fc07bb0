#include "actors/inprocess_relay.hpp"

#include "core/status_envelope.hpp"
#include "proto/waku_message.pb.h"

#include <caf/all.hpp>

#include <algorithm>

namespace annals {

relay_actor::behavior_type
inprocess_relay(relay_actor::stateful_pointer<inprocess_relay_state> self) {
  self->set_down_handler([self](const caf::down_msg& down) {
    auto& subs = self->state.subscriptions;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [&](const auto& s) { return s.sink.address() == down.source; }),
               subs.end());
  });
  return {
    [self](publish_atom, const std::string& pubsub_topic,
           const std::string& bytes) -> caf::result<std::string> {
      // The same checks a js-waku or nwaku peer applies before relaying.
      waku::WakuMessage message;
      std::string problem;
      if (bytes.size() > max_waku_message_size)
        problem = "message of " + std::to_string(bytes.size()) + " bytes exceeds the "
                  + std::to_string(max_waku_message_size) + "-byte relay limit";
      else if (!message.ParseFromString(bytes))
        problem = "bytes are not a WakuMessage";
      else if (message.payload().empty() || message.content_topic().empty())
        problem = "WakuMessage without payload or content topic";
      if (!problem.empty()) {
        ++self->state.rejected;
        return caf::make_error(caf::sec::invalid_argument, "relay: " + problem);
      }
      ++self->state.published;
      auto hash = waku_message_hash(pubsub_topic, message);
      waku_envelope envelope{pubsub_topic, message.content_topic(), bytes,
                             std::string(as_view(hash))};
      for (const auto& sub : self->state.subscriptions)
        if (sub.pubsub_topic == pubsub_topic
            && (sub.every_content_topic || sub.content_topics.count(envelope.content_topic)))
          self->send(sub.sink, envelope);
      return to_hex0x(hash);
    },
    [self](subscribe_atom, const std::string& pubsub_topic,
           const std::vector<std::string>& content_topics, const relay_sink_actor& sink) {
      auto& subs = self->state.subscriptions;
      auto it = std::find_if(subs.begin(), subs.end(), [&](const auto& s) {
        return s.sink == sink && s.pubsub_topic == pubsub_topic;
      });
      if (it == subs.end()) {
        self->monitor(sink);
        subs.push_back({pubsub_topic, {}, false, sink});
        it = std::prev(subs.end());
      }
      if (content_topics.empty())
        it->every_content_topic = true;
      it->content_topics.insert(content_topics.begin(), content_topics.end());
    },
    [self](unsubscribe_atom, const relay_sink_actor& sink) {
      auto& subs = self->state.subscriptions;
      subs.erase(std::remove_if(subs.begin(), subs.end(),
                                [&](const auto& s) { return s.sink == sink; }),
                 subs.end());
    },
    [self](peers_atom) {
      // In-process: every subscriber is a peer.
      std::vector<std::string> peers;
      for (const auto& sub : self->state.subscriptions)
        peers.push_back(caf::to_string(sub.sink.address()));
      return peers;
    },
  };
}

} // namespace annals
