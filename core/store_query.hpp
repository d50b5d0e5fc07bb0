// 13/WAKU2-STORE v3 as a pure core: a request's bytes become a checked
// store_query (or the status code and reason a server answers with), a page
// of stored relay messages becomes a response's bytes, and the client side
// encodes requests and decodes responses. No I/O, no RocksDB, no actors.
#pragma once

#include "core/result.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace annals {

inline constexpr std::string_view store_query_protocol = "/vac/waku/store-query/3.0.0";

/// Status codes of 13/WAKU2-STORE.
enum class store_status : std::uint32_t {
  ok = 200,
  bad_request = 400,
  too_many_requests = 429,
  internal_error = 500,
  unavailable = 503,
};

/// What one request may ask of a server. js-waku pages by 20 and caps at 100.
struct store_query_limits {
  std::uint64_t default_page = 20;
  std::uint64_t max_page = 100;
  /// A page of hashes only (include_data = false) is 32 bytes a message: an
  /// owner verifying its traffic lists many at once. Other Waku stores cap
  /// at 100 and answer with a cursor, which works the same.
  std::uint64_t max_hash_page = 2000;
  std::size_t max_content_topics = 10;
  std::size_t max_hashes = 100;
  /// A request frame is small; more refuses the stream.
  std::size_t max_request_bytes = 64 * 1024;
  /// A page stops early (with a cursor) once its messages reach this many
  /// bytes, so one answer costs bounded memory whatever the limit asked.
  std::size_t max_response_bytes = 4u << 20;
};

/// A checked query. Time bounds are inclusive Unix nanoseconds; a cursor is
/// a message hash and excludes itself; pages are in (timestamp, hash) order,
/// a backward page holding the newest messages before the cursor.
struct store_query {
  std::string request_id;
  bool include_data = false;
  std::optional<std::string> pubsub_topic;
  std::vector<std::string> content_topics;
  std::optional<std::int64_t> time_start;
  std::optional<std::int64_t> time_end;
  std::vector<std::string> message_hashes;  // 32 bytes each
  std::optional<std::string> cursor;        // 32 bytes
  bool forward = false;
  std::uint64_t limit = 20;
};

/// A relay message as a store keeps it.
struct stored_relay_message {
  std::string hash;           // 14/WAKU2-MESSAGE deterministic hash, 32 bytes
  std::string pubsub_topic;
  std::string content_topic;
  std::int64_t timestamp = 0; // Unix ns, as in the message
  std::string message;        // serialized WakuMessage
};

struct store_page {
  std::vector<stored_relay_message> messages;  // ascending (timestamp, hash)
  /// Set when more may follow: the hash of the last message of a forward
  /// page, the first of a backward one.
  std::optional<std::string> cursor;
};

/// Why a request is refused, as the server answers.
struct store_refusal {
  store_status status;
  std::string description;
};

/// The request ID of a request, or empty (so a refusal can still name it).
std::string store_request_id(std::string_view bytes);
/// Decodes and checks a request: contradictory filters, malformed hashes or
/// cursors, inverted time ranges and too many topics are refused (400);
/// the page size is defaulted and clamped to limits.max_page.
result<store_query> parse_store_query(std::string_view bytes, const store_query_limits& limits,
                                      store_refusal* refusal = nullptr);
/// A 200 answer carrying `page` (with payloads only when `include_data`).
std::string encode_store_answer(const std::string& request_id, const store_page& page,
                                bool include_data);
/// A refusal (400, 429, 503, ...), no messages.
std::string encode_store_refusal(const std::string& request_id, const store_refusal& refusal);

// -- the client side ------------------------------------------------------------

std::string encode_store_query(const store_query& query);

struct store_answer {
  std::string request_id;
  std::uint32_t status_code = 0;
  std::string status_desc;
  std::vector<stored_relay_message> messages;  // content topic and time from the message
  std::optional<std::string> cursor;
};
/// Decodes a response; a message entry without a hash, or whose message
/// does not parse, makes the answer malformed.
result<store_answer> parse_store_answer(std::string_view bytes);

/// Whether `message` falls inside the query's filters (the server's
/// definition, so a test or a client can check an answer).
bool store_query_matches(const store_query& query, const stored_relay_message& message);

} // namespace annals
