// The rule a Waku relay applies to a message before it delivers or forwards
// it, as js-waku and nwaku do: one place for the network side (gossipsub's
// validator) and the local side (what a node's actors may publish).
#pragma once

#include "proto/waku_message.pb.h"

#include <cstddef>
#include <string>
#include <string_view>

namespace annals {

/// js-waku and nwaku drop relay messages above 150 KiB.
inline constexpr std::size_t max_waku_message_size = 150 * 1024;

/// js-waku's keep-alive content topic: valid, never delivered.
inline constexpr std::string_view relay_keepalive_topic = "/relay-ping/1/ping/null";

struct waku_check {
  enum verdict_type { accept, ignore, reject };
  verdict_type verdict = accept;
  std::string reason;  // why, for ignore and reject
};

/// Checks serialized WakuMessage `bytes`; `message` receives the decoded
/// message when they parse.
waku_check check_relay_message(const std::string& bytes, waku::WakuMessage& message,
                               std::size_t max_bytes = max_waku_message_size);

} // namespace annals
