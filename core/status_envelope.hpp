// status-go's community magnet-link message as it travels on Waku, layer by
// layer (spec: status-go-archives.md §2.2 and §10). Sender order:
//
//   L1 ApplicationMetadataMessage{signature by the community key, payload =
//      CommunityMessageArchiveMagnetlink, type 43}
//   L2 encryption.ProtocolMessage{installation_id, public_message = L1}
//   L3 26/WAKU-PAYLOAD v1 plaintext: flags ‖ size ‖ L2 ‖ padding ‖ signature
//      by the sending node's identity key
//   L4 AES-256-GCM under the magnetlinks chat key: ciphertext ‖ tag ‖ nonce
//   L5 14/WAKU2-MESSAGE{payload = L4, content topic of the chat, version 1}
//
// Every decoder accepts hostile bytes: it returns an error naming the layer
// and the cause, and never throws or reads out of bounds.
#pragma once

#include "core/identity.hpp"
#include "core/result.hpp"
#include "core/topics.hpp"
#include "proto/waku_message.pb.h"

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace annals {

/// Fills `size` bytes at `out`; false when no randomness is available.
/// Tests inject a seeded source; production uses system_random.
using random_source = std::function<bool(std::uint8_t* out, std::size_t size)>;
/// OpenSSL's CSPRNG (RAND_bytes).
bool system_random(std::uint8_t* out, std::size_t size);

// -- L1: ApplicationMetadataMessage ---------------------------------------------

/// CommunityMessageArchiveMagnetlink: `clock` is the sender's transport time in
/// ms; receivers ignore a link whose clock is below the last one they took.
struct magnetlink {
  std::uint64_t clock = 0;
  std::string magnet_uri;
};

struct signed_magnetlink {
  magnetlink link;
  /// Recovered from the L1 signature; the community's key when genuine.
  public_key signer;
  /// status-go's message ID, its dedup key (rendered as 0x-hex there).
  hash256 message_id{};
};

/// keccak256(65-byte uncompressed signer key ‖ L1 bytes) (status-go v1/message.go).
hash256 status_message_id(const public_key& signer, std::string_view l1_bytes);

/// L1 bytes of `link`, signed with the community key. Fails (invalid_argument)
/// when the URI is not UTF-8, which status-go's proto3 decoder refuses.
result<std::string> encode_magnetlink_message(const private_key& community_key,
                                              const magnetlink& link);
/// Parses L1 and recovers its signer. Errors: malformed (not an
/// ApplicationMetadataMessage, or a payload that is not a magnet link),
/// unsupported (a type other than 43), verification_failed (no signer recovers
/// from the signature). A recovered signer is not yet trusted: compare it with
/// the expected community.
result<signed_magnetlink> decode_magnetlink_message(std::string_view bytes);

// -- L2: encryption.ProtocolMessage ------------------------------------------

struct public_protocol_message {
  std::string installation_id;
  /// L1 bytes.
  std::string public_message;
};

/// Never adds status-go's X3DH bundle: receivers drop the whole message when a
/// bundle does not verify, and a public message does not need one.
/// `installation_id` must be UTF-8 (a device UUID in status-go).
result<std::string> encode_public_protocol_message(std::string_view installation_id,
                                                   std::string_view public_message);
/// Fails unless public_message is present and non-empty.
result<public_protocol_message> decode_public_protocol_message(std::string_view bytes);

// -- L3: 26/WAKU-PAYLOAD version 1 plaintext ------------------------------------

struct signed_waku_payload {
  std::string data;
  /// The envelope signer, status-go's `Sig`: the sending node, not the community.
  public_key signer;
};

/// `flags ‖ size(1-3 bytes LE) ‖ data ‖ random padding ‖ signature`, a multiple
/// of 256 bytes, as go-waku's Payload.Encode makes it with a signing key.
result<std::string> encode_signed_waku_payload(std::string_view data,
                                               const private_key& node_key,
                                               const random_source& random = system_random);
/// Requires the signed flag: status-go drops unsigned envelopes. Padding is not
/// checked, as go-waku does not check it.
result<signed_waku_payload> decode_signed_waku_payload(std::string_view plaintext);

// -- L4: symmetric encryption -------------------------------------------------

using symmetric_key = std::array<std::uint8_t, 32>;

/// AES-256-GCM, no AAD; wire = ciphertext ‖ tag ‖ nonce (nonce last, unlike
/// status-go's protocol/common encryption, which puts it first).
result<std::string> seal_waku_payload(std::string_view plaintext, const symmetric_key& key,
                                      const random_source& random = system_random);
result<std::string> open_waku_payload(std::string_view wire, const symmetric_key& key);

// -- L5: 14/WAKU2-MESSAGE -------------------------------------------------------

/// The Waku message status-go publishes: version 1, timestamp in ns, meta
/// present and empty, ephemeral explicitly false (wakuv2/api.go).
waku::WakuMessage make_status_waku_message(std::string payload, const topic4& topic,
                                           std::int64_t timestamp_ns);

/// 14/WAKU2-MESSAGE deterministic hash: sha256(pubsub topic ‖ payload ‖ content
/// topic ‖ meta ‖ timestamp as 8 bytes big-endian). An absent meta adds
/// nothing; an absent timestamp hashes as 0, as go-waku and nwaku do.
hash256 waku_message_hash(std::string_view pubsub_topic, const waku::WakuMessage& message);

// -- the whole message ------------------------------------------------------------

/// A community's "<communityID>-magnetlinks" chat. Deriving its key costs 65356
/// PBKDF2 rounds, so a receiver derives it once per community, not per message.
struct magnetlink_channel {
  public_key community;
  std::string chat_id;
  topic4 topic{};
  symmetric_key key{};

  static magnetlink_channel of(const public_key& community);
};

/// L1..L5 for one magnet link, as status-go's dispatchMagnetlinkMessage sends it.
result<waku::WakuMessage> make_magnetlink_waku_message(const private_key& community_key,
                                                       const private_key& node_key,
                                                       const magnetlink& link,
                                                       std::int64_t timestamp_ns,
                                                       std::string_view installation_id,
                                                       const random_source& random = system_random);

struct received_magnetlink {
  /// Its signer is always the channel's community (see open_magnetlink_waku_message).
  signed_magnetlink message;
  public_key envelope_signer;
};

/// Opens a Waku message received for `channel`: checks version and content
/// topic, decrypts, verifies both signatures, and fails (verification_failed,
/// naming the signer) unless L1 is signed by the channel's community. That is
/// the only authentication status-go applies; doing it here means a caller
/// cannot accept a forged link by forgetting the comparison. Whether the link
/// is new enough to take (clock, URI, role) is the caller's decision.
result<received_magnetlink> open_magnetlink_waku_message(const waku::WakuMessage& message,
                                                         const magnetlink_channel& channel);

} // namespace annals
