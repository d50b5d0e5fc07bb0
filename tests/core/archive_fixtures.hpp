#pragma once

#include "core/archive_builder.hpp"
#include "core/keccak.hpp"

#include <string>

namespace annals::test {

inline const topic4 topic_a = chat_topic("0xcommunity-channel-a");
inline const topic4 topic_b = chat_topic("0xcommunity-channel-b");
inline constexpr std::uint64_t day = 24 * 3600;
inline constexpr std::uint64_t t0 = 1'700'000'000;  // an arbitrary Tuesday

/// A message whose hash is derived from its content, as an envelope hash is.
inline archive_message make_message(std::uint64_t timestamp, topic4 topic,
                                    std::size_t payload_size = 100, char fill = 'p') {
  archive_message m;
  m.timestamp = timestamp;
  m.topic = topic;
  m.payload = std::string(payload_size, fill);
  m.sig = std::string(65, '\x04');
  auto digest = keccak256(std::to_string(timestamp) + std::string(as_view(topic))
                          + std::to_string(payload_size) + fill);
  m.hash = std::string(as_view(digest));
  return m;
}

} // namespace annals::test
