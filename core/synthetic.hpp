// Synthetic community traffic for the demo and the benchmarks: messages as
// status-go stores them (signer key, envelope hash), deterministic per seed.
#pragma once

#include "core/archive_format.hpp"
#include "core/identity.hpp"
#include "core/status_envelope.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace annals {

struct synthetic_community {
  private_key key;
  std::vector<std::string> channel_ids;
  std::vector<topic4> channel_topics;  // chat_topic(communityID + channel ID)
  /// Set for a community known by its ID alone (a member posting to it);
  /// `key` is then a throwaway that signs nothing.
  std::string public_id = {};

  /// The channel's chat key, derived on first use (65356 PBKDF2 rounds,
  /// ~20 ms): a community of 10,000 channels costs nothing until a message
  /// is sealed for each. Not thread-safe; the one actor posting owns it.
  const symmetric_key& channel_key(std::size_t channel) const;

  static synthetic_community make(std::size_t channels, std::uint64_t seed);
  /// A community with a given key and channel IDs (derives topics and keys).
  static synthetic_community from_key(private_key key, std::vector<std::string> channel_ids);
  /// A community a member posts to: its ID and channel IDs are all a
  /// Status client needs to seal a channel message.
  static synthetic_community from_id(const public_key& community,
                                     std::vector<std::string> channel_ids);
  std::string id() const { return public_id.empty() ? key.public_key().community_id() : public_id; }

  /// channel_key()'s cache (public only so the struct stays an aggregate).
  mutable std::vector<std::optional<symmetric_key>> channel_key_cache = {};
};

struct synthetic_traffic {
  std::size_t count = 1000;
  std::uint64_t from = 0;            // unix s
  std::uint64_t to = 0;              // unix s, exclusive
  std::size_t min_payload = 64;
  std::size_t max_payload = 1024;
  std::size_t senders = 16;
  std::uint64_t seed = 1;
};

/// `traffic.count` messages spread evenly over [from, to) and the channels,
/// ordered by timestamp. The hash is the Waku deterministic message hash of
/// the message as it would have crossed the relay.
std::vector<archive_message> make_synthetic_messages(const synthetic_community& community,
                                                     const synthetic_traffic& traffic);

/// A channel message as a Status client would relay it: `text` in a
/// ProtocolMessage, signed by `sender` (26/WAKU-PAYLOAD v1), sealed with the
/// channel's chat key, on the channel's content topic.
result<waku::WakuMessage> make_channel_waku_message(const synthetic_community& community,
                                                    std::size_t channel, const private_key& sender,
                                                    std::string_view text,
                                                    std::int64_t timestamp_ns);

} // namespace annals
