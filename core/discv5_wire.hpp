// Node Discovery v5.1 on the wire (ethereum/devp2p discv5-wire.md), as Waku
// runs it (33/WAKU2-DISCV5: the protocol ID "d5waku" keeps Waku's network
// apart from Ethereum's). Packets, their masked headers, the handshake's
// key agreement and identity proof, and the messages. Pure: no sockets, no
// clocks, no randomness of its own (callers pass IVs, nonces and keys), so
// the spec's test vectors check it byte for byte.
#pragma once

#include "core/enr.hpp"
#include "core/identity.hpp"
#include "core/result.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace annals::discv5 {

using node_id = hash256;
using masking_iv = std::array<std::uint8_t, 16>;
using nonce96 = std::array<std::uint8_t, 12>;
using key128 = std::array<std::uint8_t, 16>;
using id_nonce = std::array<std::uint8_t, 16>;

/// Waku's protocol ID; "discv5" is Ethereum's (and the test vectors').
inline constexpr std::string_view waku_protocol_id = "d5waku";
inline constexpr std::string_view ethereum_protocol_id = "discv5";
/// The spec's bounds on a datagram: an exact WHOAREYOU is the smallest.
inline constexpr std::size_t min_packet_size = 63;
inline constexpr std::size_t max_packet_size = 1280;
inline constexpr std::size_t static_header_size = 23;
inline constexpr std::size_t gcm_tag_size = 16;

enum class packet_kind : std::uint8_t { message = 0, whoareyou = 1, handshake = 2 };

/// A datagram with its header unmasked; the message is still sealed.
struct packet {
  masking_iv iv{};
  packet_kind kind = packet_kind::message;
  nonce96 nonce{};
  std::string authdata;
  /// Unmasked static header || authdata: with the IV, a message's AAD and a
  /// WHOAREYOU's challenge data.
  std::string header;
  std::string sealed;  // ciphertext || tag (empty for WHOAREYOU)

  /// masking-iv || header.
  std::string associated_data() const;
};

/// Unmasks a datagram addressed to `local` and checks its framing: size
/// bounds, protocol ID, version 1, a known flag, authdata that fits and has
/// its kind's size. Errors are errc::malformed naming what is wrong.
result<packet> decode_packet(std::string_view protocol_id, const node_id& local,
                             std::string_view datagram);

/// Masks `header` (static header || authdata, see make_header) for `dest`
/// and appends `sealed`.
std::string encode_packet(const node_id& dest, const masking_iv& iv, std::string_view header,
                          std::string_view sealed);

/// Static header || authdata.
std::string make_header(std::string_view protocol_id, packet_kind kind, const nonce96& nonce,
                        std::string_view authdata);

// -- authdata -------------------------------------------------------------

std::string message_authdata(const node_id& src);

struct whoareyou_auth {
  id_nonce nonce{};
  std::uint64_t enr_seq = 0;
};
std::string whoareyou_authdata(const whoareyou_auth& auth);

struct handshake_auth {
  node_id src{};
  std::string id_signature;   // 64 bytes
  std::string ephemeral_key;  // 33 bytes, compressed
  std::string record;         // the sender's ENR (RLP), or empty
};
std::string handshake_authdata(const handshake_auth& auth);

/// The authdata of a decoded packet, by kind.
node_id message_source(const packet& p);  // kind == message (size checked by decode)
whoareyou_auth parse_whoareyou(const packet& p);
result<handshake_auth> parse_handshake(const packet& p);

// -- handshake crypto ----------------------------------------------------

struct session_keys {
  key128 initiator{};  // the handshake sender writes with it
  key128 recipient{};  // the WHOAREYOU sender writes with it
};

/// HKDF-SHA256 over the ECDH secret, salted with the challenge data, with
/// "discovery v5 key agreement" || id(A) || id(B) as info.
session_keys derive_keys(const std::array<std::uint8_t, 33>& secret, const node_id& initiator,
                         const node_id& recipient, std::string_view challenge_data);

/// sha256("discovery v5 identity proof" || challenge || ephemeral key || id(B)).
hash256 id_proof_digest(std::string_view challenge_data, std::string_view ephemeral_key,
                        const node_id& recipient);

/// AES-128-GCM with a 96-bit nonce; the 16-byte tag is appended.
std::string seal(const key128& key, const nonce96& nonce, std::string_view plaintext,
                 std::string_view associated_data);
/// Fails (errc::verification_failed) when the tag does not match.
result<std::string> open(const key128& key, const nonce96& nonce, std::string_view sealed,
                         std::string_view associated_data);

// -- messages ---------------------------------------------------------------

/// At most 8 bytes, chosen by the requester and echoed by the responder.
using request_id = std::string;

struct ping {
  request_id id;
  std::uint64_t enr_seq = 0;
};
struct pong {
  request_id id;
  std::uint64_t enr_seq = 0;
  std::string ip;  // 4 or 16 bytes: the requester's address as seen
  std::uint16_t port = 0;
};
struct findnode {
  request_id id;
  std::vector<std::uint16_t> distances;  // each 0..256
};
struct nodes {
  request_id id;
  std::uint64_t total = 1;  // NODES messages answering the request
  std::vector<std::string> records;  // each an ENR's RLP, not yet verified
};
struct talkreq {
  request_id id;
  std::string protocol, request;
};
struct talkresp {
  request_id id;
  std::string response;
};
using message = std::variant<ping, pong, findnode, nodes, talkreq, talkresp>;

std::string encode_message(const message& m);
/// Type byte then an RLP list; refuses unknown types, over-long request IDs,
/// distances past 256 and trailing bytes.
result<message> decode_message(std::string_view plaintext);
const request_id& id_of(const message& m);
/// The message's name, for logs and refusal counts.
std::string_view name_of(const message& m);

/// The request IDs' numeric equality: an implementation that stores them as
/// integers echoes 0x00000001 as 0x01.
bool same_request(std::string_view a, std::string_view b);

// -- distance --------------------------------------------------------------

/// The bit length of a XOR b (0 when equal): the k-bucket a node falls in.
int log_distance(const node_id& a, const node_id& b);
/// a XOR b compared as big-endian numbers: is x closer to target than y?
bool closer(const node_id& target, const node_id& x, const node_id& y);

/// NODES answers carry at most this many records each (3 × 300-byte ENRs
/// fit one 1280-byte packet) and a request gets at most max_nodes_messages.
inline constexpr std::size_t records_per_nodes = 3;
inline constexpr std::size_t max_nodes_messages = 5;

/// Splits records into NODES messages (at least one, possibly empty).
std::vector<nodes> split_nodes(const request_id& id, const std::vector<std::string>& records);

} // namespace annals::discv5
