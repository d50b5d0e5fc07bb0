#include "core/waku_rule.hpp"

namespace annals {

waku_check check_relay_message(const std::string& bytes, waku::WakuMessage& message,
                               std::size_t max_bytes) {
  if (bytes.size() > max_bytes)
    return {waku_check::reject, "message of " + std::to_string(bytes.size())
                                  + " bytes exceeds the " + std::to_string(max_bytes)
                                  + "-byte relay limit"};
  if (!message.ParseFromString(bytes))
    return {waku_check::reject, "bytes are not a WakuMessage"};
  if (message.content_topic() == relay_keepalive_topic)
    return {waku_check::ignore, "a relay keep-alive"};
  if (message.payload().empty() || message.content_topic().empty())
    return {waku_check::reject, "WakuMessage without payload or content topic"};
  return {};
}

} // namespace annals
