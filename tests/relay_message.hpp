// A relay message for store tests: real WakuMessage bytes and the real
// 14/WAKU2-MESSAGE hash, as a node records what it relayed.
#pragma once

#include "core/status_envelope.hpp"
#include "core/store_query.hpp"
#include "proto/waku_message.pb.h"

#include <cstdint>
#include <string>

namespace annals::test {

inline stored_relay_message make_relay_message(const std::string& pubsub,
                                               const std::string& content_topic,
                                               std::int64_t timestamp,
                                               const std::string& payload) {
  waku::WakuMessage m;
  m.set_payload(payload);
  m.set_content_topic(content_topic);
  m.set_timestamp(timestamp);
  stored_relay_message out;
  out.pubsub_topic = pubsub;
  out.content_topic = content_topic;
  out.timestamp = timestamp;
  out.message = m.SerializeAsString();
  out.hash = std::string(as_view(waku_message_hash(pubsub, m)));
  return out;
}

} // namespace annals::test
