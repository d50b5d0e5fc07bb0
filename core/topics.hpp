// Chat IDs, Waku content topics and pubsub topics as status-go derives them.
#pragma once

#include "core/hex.hpp"
#include "core/result.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace annals {

using topic4 = std::array<std::uint8_t, 4>;

inline constexpr std::uint32_t default_shard_cluster = 16;
inline constexpr std::uint32_t default_shard_index = 32;
/// status-go's PBKDF2 iteration count for public chat keys (sic: not 65536).
inline constexpr int chat_key_pbkdf2_iterations = 65356;

/// "<communityID><channelID>", the chat ID of a community channel.
std::string channel_chat_id(std::string_view community_id, std::string_view channel_id);
/// "<communityID>-magnetlinks".
std::string magnetlinks_chat_id(std::string_view community_id);

/// keccak256(chatID)[0:4] (status-go transport.ToTopic).
topic4 chat_topic(std::string_view chat_id);
/// "0x" + 8 hex, the form status-go stores in waku_messages.topic.
std::string topic_hex(const topic4& topic);
result<topic4> parse_topic_hex(std::string_view text);
/// "/waku/1/0x<8 hex>/rfc26".
std::string content_topic(const topic4& topic);
/// Inverse of content_topic; anything but the 5-part rfc26 form is refused.
result<topic4> parse_content_topic(std::string_view text);
/// "/waku/2/rs/<cluster>/<shard>".
std::string pubsub_topic(std::uint32_t cluster = default_shard_cluster,
                         std::uint32_t shard = default_shard_index);

/// The AES-256 key of a public chat: PBKDF2-HMAC-SHA256(chatID, no salt,
/// 65356 iterations, 32 bytes).
std::array<std::uint8_t, 32> chat_symmetric_key(std::string_view chat_id);

} // namespace annals
