// 34/WAKU2-PEER-EXCHANGE as a pure core: a query asks for up to N peers, an
// answer carries their ENRs (RLP bytes) and, in the later revision, a status
// code. No I/O: the host serves and asks, the peer manager vets the records.
#pragma once

#include "core/result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace annals {

inline constexpr std::string_view peer_exchange_protocol = "/vac/waku/peer-exchange/2.0.0-alpha1";

/// Status codes of the spec's later revision (absent in older answers).
enum class px_status : std::uint32_t {
  success = 200,
  bad_request = 400,
  too_many_requests = 429,
  service_unavailable = 503,
};

/// What one answer may hold, whatever the query asked.
inline constexpr std::uint64_t px_max_answer_peers = 32;
/// A query is a few bytes; an answer of px_max_answer_peers 300-byte
/// records with framing stays well under this.
inline constexpr std::size_t px_max_query_bytes = 1024;
inline constexpr std::size_t px_max_answer_bytes = 64 * 1024;

struct px_answer {
  std::optional<std::uint32_t> status;  // absent from servers of the first revision
  std::string status_desc;
  std::vector<std::string> records;     // ENR RLP bytes, unchecked
};

std::string encode_px_query(std::uint64_t num_peers);
/// The number of peers a query asks for; an error when the bytes are not a
/// PeerExchangeRPC with a query (names what is wrong).
result<std::uint64_t> decode_px_query(std::string_view bytes);

std::string encode_px_answer(const px_answer& answer);
/// An answer's records and status; an error when the bytes are not a
/// PeerExchangeRPC with a response, or hold more than px_max_answer_peers
/// records or a record over 300 bytes.
result<px_answer> decode_px_answer(std::string_view bytes);

} // namespace annals
