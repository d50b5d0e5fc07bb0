#include "core/synthetic.hpp"

#include "core/keccak.hpp"
#include "core/topics.hpp"

#include <random>

namespace annals {

namespace {

std::string be64(std::uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8)
    out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return out;
}

private_key seeded_key(std::mt19937_64& rng) {
  for (;;) {
    std::string bytes(32, '\0');
    for (auto& b : bytes)
      b = static_cast<char>(rng() & 0xff);
    if (auto key = private_key::from_bytes(bytes))
      return *key;
  }
}

} // namespace

synthetic_community synthetic_community::make(std::size_t channels, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto key = seeded_key(rng);
  std::vector<std::string> ids;
  // status-go channel IDs are UUIDs; any stable string derives the topic.
  for (std::size_t i = 0; i < channels; ++i)
    ids.push_back("channel-" + std::to_string(i));
  return from_key(key, std::move(ids));
}

const symmetric_key& synthetic_community::channel_key(std::size_t channel) const {
  if (channel_key_cache.size() < channel_ids.size())
    channel_key_cache.resize(channel_ids.size());
  auto& slot = channel_key_cache.at(channel);
  if (!slot)
    slot = chat_symmetric_key(channel_chat_id(id(), channel_ids.at(channel)));
  return *slot;
}

synthetic_community synthetic_community::from_key(private_key key,
                                                  std::vector<std::string> channel_ids) {
  synthetic_community out{key, {}, {}, {}, {}};
  auto id = out.id();
  for (const auto& channel : channel_ids) {
    out.channel_topics.push_back(chat_topic(channel_chat_id(id, channel)));
  }
  out.channel_ids = std::move(channel_ids);
  return out;
}

synthetic_community synthetic_community::from_id(const public_key& community,
                                                 std::vector<std::string> channel_ids) {
  auto out = from_key(private_key::generate(), {});
  out.public_id = community.community_id();
  for (const auto& channel : channel_ids) {
    out.channel_topics.push_back(chat_topic(channel_chat_id(out.public_id, channel)));
  }
  out.channel_ids = std::move(channel_ids);
  return out;
}

std::vector<archive_message> make_synthetic_messages(const synthetic_community& community,
                                                     const synthetic_traffic& traffic) {
  std::mt19937_64 rng(traffic.seed);
  std::vector<std::string> signers;
  for (std::size_t i = 0; i < std::max<std::size_t>(traffic.senders, 1); ++i) {
    auto key = seeded_key(rng).public_key().uncompressed();
    signers.emplace_back(as_view(key));
  }
  std::uniform_int_distribution<std::size_t> payload_size(traffic.min_payload,
                                                          std::max(traffic.min_payload,
                                                                   traffic.max_payload));
  const auto pubsub = pubsub_topic();
  const auto span = traffic.to > traffic.from ? traffic.to - traffic.from : 1;
  std::vector<archive_message> out;
  out.reserve(traffic.count);
  for (std::size_t i = 0; i < traffic.count; ++i) {
    archive_message m;
    m.timestamp = traffic.from + static_cast<std::uint64_t>(
                                   static_cast<unsigned __int128>(span) * i
                                   / std::max<std::size_t>(traffic.count, 1));
    m.topic = community.channel_topics[i % community.channel_topics.size()];
    m.payload.resize(payload_size(rng));
    for (std::size_t j = 0; j < m.payload.size(); j += 8) {
      auto word = rng();
      for (std::size_t k = 0; k < 8 && j + k < m.payload.size(); ++k, word >>= 8)
        m.payload[j + k] = static_cast<char>(word & 0xff);
    }
    m.sig = signers[i % signers.size()];
    auto ns = m.timestamp * 1'000'000'000ull + i % 1'000'000'000ull;
    m.hash = std::string(as_view(
      sha256(pubsub + m.payload + content_topic(m.topic) + be64(ns))));
    out.push_back(std::move(m));
  }
  return out;
}

result<waku::WakuMessage> make_channel_waku_message(const synthetic_community& community,
                                                    std::size_t channel, const private_key& sender,
                                                    std::string_view text,
                                                    std::int64_t timestamp_ns) {
  auto protocol = encode_public_protocol_message("annals-synthetic", text);
  if (!protocol)
    return protocol.error();
  auto plaintext = encode_signed_waku_payload(*protocol, sender);
  if (!plaintext)
    return plaintext.error();
  auto sealed = seal_waku_payload(*plaintext, community.channel_key(channel));
  if (!sealed)
    return sealed.error();
  return make_status_waku_message(std::move(*sealed), community.channel_topics.at(channel),
                                  timestamp_ns);
}

} // namespace annals
