// What both relay backends share: the Waku checks a message must pass before
// it is published, and the table of local sinks by pubsub and content topic.
#pragma once

#include "core/status_envelope.hpp"
#include "core/waku_rule.hpp"
#include "messages/actors.hpp"
#include "proto/waku_message.pb.h"

#include <caf/expected.hpp>
#include <caf/result.hpp>
#include <caf/sec.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace annals {

/// Why `bytes` may not go on the relay, or nullopt when it may (the relay
/// rule of core/waku_rule); `message` receives the decoded WakuMessage.
inline std::optional<std::string> check_waku_message(const std::string& bytes,
                                                     waku::WakuMessage& message) {
  auto check = check_relay_message(bytes, message);
  if (check.verdict == waku_check::reject)
    return check.reason;
  return std::nullopt;
}

/// An envelope for a message that passed check_waku_message.
inline waku_envelope make_envelope(const std::string& pubsub_topic,
                                   const waku::WakuMessage& message, std::string bytes) {
  auto hash = waku_message_hash(pubsub_topic, message);
  return {pubsub_topic, message.content_topic(), std::move(bytes), std::string(as_view(hash))};
}

/// A message a local actor wants published, checked and wrapped; a refusal
/// is counted in `rejected` and says why.
inline caf::expected<waku_envelope> prepare_publish(const std::string& pubsub_topic,
                                                    const std::string& bytes,
                                                    std::uint64_t& rejected) {
  waku::WakuMessage message;
  if (auto problem = check_waku_message(bytes, message)) {
    ++rejected;
    return caf::make_error(caf::sec::invalid_argument, "relay: " + *problem);
  }
  return make_envelope(pubsub_topic, message, bytes);
}

/// A relay's publish handler: checks the message as a js-waku or nwaku peer
/// does (counting a refusal in `state.rejected`), counts it, hands it to the
/// local sinks (which also get a node's own messages, as go-libp2p-pubsub
/// delivers them), then to `send` for the network; replies with its hash.
template <class Self, class Send>
caf::result<std::string> publish_locally(Self* self, const std::string& pubsub_topic,
                                         const std::string& bytes, Send send) {
  auto& state = self->state;
  auto envelope = prepare_publish(pubsub_topic, bytes, state.rejected);
  if (!envelope)
    return envelope.error();
  ++state.published;
  state.subscriptions.deliver(self, *envelope);
  send(*envelope);
  return to_hex0x(envelope->hash);
}

/// Local sinks and the topics each wants.
class relay_subscriptions {
public:
  struct entry {
    std::string pubsub_topic;
    std::set<std::string> content_topics;
    bool every_content_topic = false;
    relay_sink_actor sink;
  };

  /// Adds topics for a sink; true when the sink is new (monitor it).
  bool add(const std::string& pubsub_topic, const std::vector<std::string>& content_topics,
           const relay_sink_actor& sink) {
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const auto& s) {
      return s.sink == sink && s.pubsub_topic == pubsub_topic;
    });
    bool known = std::any_of(entries_.begin(), entries_.end(),
                             [&](const auto& s) { return s.sink == sink; });
    if (it == entries_.end()) {
      entries_.push_back({pubsub_topic, {}, false, sink});
      it = std::prev(entries_.end());
    }
    if (content_topics.empty())
      it->every_content_topic = true;
    it->content_topics.insert(content_topics.begin(), content_topics.end());
    return !known;
  }

  template <class Pred>
  void remove_if(Pred pred) {
    entries_.erase(std::remove_if(entries_.begin(), entries_.end(), pred), entries_.end());
  }
  void remove(const relay_sink_actor& sink) {
    remove_if([&](const entry& s) { return s.sink == sink; });
  }
  void remove(const caf::actor_addr& addr) {
    remove_if([&](const entry& s) { return s.sink.address() == addr; });
  }

  /// Whether any sink still wants this pubsub topic.
  bool wants(const std::string& pubsub_topic) const {
    return std::any_of(entries_.begin(), entries_.end(),
                       [&](const auto& s) { return s.pubsub_topic == pubsub_topic; });
  }

  /// Sends the envelope to every matching sink.
  template <class Self>
  void deliver(Self* self, const waku_envelope& envelope) const {
    for (const auto& sub : entries_)
      if (sub.pubsub_topic == envelope.pubsub_topic
          && (sub.every_content_topic || sub.content_topics.count(envelope.content_topic)))
        self->send(sub.sink, envelope);
  }

  const std::vector<entry>& entries() const { return entries_; }

private:
  std::vector<entry> entries_;
};

} // namespace annals
