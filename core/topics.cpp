#include "core/topics.hpp"

#include "core/keccak.hpp"

#include <openssl/evp.h>

namespace annals {

std::string channel_chat_id(std::string_view community_id, std::string_view channel_id) {
  return std::string(community_id) + std::string(channel_id);
}

std::string magnetlinks_chat_id(std::string_view community_id) {
  return std::string(community_id) + "-magnetlinks";
}

topic4 chat_topic(std::string_view chat_id) {
  auto digest = keccak256(chat_id);
  return {digest[0], digest[1], digest[2], digest[3]};
}

std::string topic_hex(const topic4& topic) {
  return to_hex0x(topic);
}

result<topic4> parse_topic_hex(std::string_view text) {
  if (text.size() != 10 || text.substr(0, 2) != "0x")
    return make_error(errc::malformed,
                      "topic '" + std::string(text) + "' is not 0x followed by 8 hex digits");
  auto topic = from_hex_fixed<4>(text);
  if (!topic)
    return make_error(errc::malformed, "topic '" + std::string(text) + "' is not valid hex");
  return *topic;
}

std::string content_topic(const topic4& topic) {
  return "/waku/1/" + topic_hex(topic) + "/rfc26";
}

result<topic4> parse_content_topic(std::string_view text) {
  constexpr std::string_view prefix = "/waku/1/";
  constexpr std::string_view suffix = "/rfc26";
  if (text.size() != prefix.size() + 10 + suffix.size() || text.substr(0, prefix.size()) != prefix
      || text.substr(text.size() - suffix.size()) != suffix)
    return make_error(errc::malformed, "content topic '" + std::string(text)
                                         + "' is not of the form /waku/1/0x<8 hex>/rfc26");
  return parse_topic_hex(text.substr(prefix.size(), 10));
}

std::string pubsub_topic(std::uint32_t cluster, std::uint32_t shard) {
  return "/waku/2/rs/" + std::to_string(cluster) + "/" + std::to_string(shard);
}

std::array<std::uint8_t, 32> chat_symmetric_key(std::string_view chat_id) {
  std::array<std::uint8_t, 32> key{};
  // status-go passes a nil salt to pbkdf2.Key; OpenSSL accepts an empty one.
  PKCS5_PBKDF2_HMAC(chat_id.data(), static_cast<int>(chat_id.size()), nullptr, 0,
                    chat_key_pbkdf2_iterations, EVP_sha256(), static_cast<int>(key.size()),
                    key.data());
  return key;
}

} // namespace annals
