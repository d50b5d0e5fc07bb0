#include "core/store_query.hpp"

#include "proto/waku_message.pb.h"
#include "proto/waku_store.pb.h"

#include <algorithm>

namespace annals {

namespace {

constexpr std::size_t hash_size = 32;

result<store_query> refuse(store_refusal* out, std::string description) {
  if (out != nullptr)
    *out = store_refusal{store_status::bad_request, description};
  return make_error(errc::invalid_argument, std::move(description));
}

} // namespace

std::string store_request_id(std::string_view bytes) {
  waku::StoreQueryRequest request;
  if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return {};
  return request.request_id();
}

result<store_query> parse_store_query(std::string_view bytes, const store_query_limits& limits,
                                      store_refusal* refusal) {
  if (bytes.size() > limits.max_request_bytes)
    return refuse(refusal, "request of " + std::to_string(bytes.size()) + " bytes, over "
                             + std::to_string(limits.max_request_bytes));
  waku::StoreQueryRequest request;
  if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return refuse(refusal, "request does not parse");
  store_query query;
  query.request_id = request.request_id();
  query.include_data = request.include_data();
  if (request.has_pubsub_topic() && !request.pubsub_topic().empty())
    query.pubsub_topic = request.pubsub_topic();
  query.content_topics.assign(request.content_topics().begin(), request.content_topics().end());
  if (request.has_time_start())
    query.time_start = request.time_start();
  if (request.has_time_end())
    query.time_end = request.time_end();
  query.message_hashes.assign(request.message_hashes().begin(), request.message_hashes().end());
  if (request.has_pagination_cursor())
    query.cursor = request.pagination_cursor();
  query.forward = request.pagination_forward();
  auto max_page = query.include_data ? limits.max_page : limits.max_hash_page;
  query.limit = request.has_pagination_limit() && request.pagination_limit() > 0
                  ? std::min(request.pagination_limit(), max_page)
                  : limits.default_page;

  if (!query.content_topics.empty() && !query.pubsub_topic)
    return refuse(refusal, "content topics need a pubsub topic");
  if (query.content_topics.size() > limits.max_content_topics)
    return refuse(refusal, std::to_string(query.content_topics.size())
                             + " content topics, at most "
                             + std::to_string(limits.max_content_topics));
  for (const auto& topic : query.content_topics)
    if (topic.empty())
      return refuse(refusal, "an empty content topic");
  if (query.message_hashes.size() > limits.max_hashes)
    return refuse(refusal, std::to_string(query.message_hashes.size()) + " message hashes, at most "
                             + std::to_string(limits.max_hashes));
  for (const auto& hash : query.message_hashes)
    if (hash.size() != hash_size)
      return refuse(refusal, "a message hash of " + std::to_string(hash.size())
                               + " bytes (32 expected)");
  if (!query.message_hashes.empty()
      && (query.pubsub_topic || !query.content_topics.empty() || query.time_start
          || query.time_end))
    return refuse(refusal, "a hash lookup cannot also filter by topic or time");
  if (query.cursor && query.cursor->size() != hash_size)
    return refuse(refusal, "a pagination cursor of " + std::to_string(query.cursor->size())
                             + " bytes (a 32-byte message hash expected)");
  if (query.time_start && query.time_end && *query.time_start > *query.time_end)
    return refuse(refusal, "time_start is after time_end");
  return query;
}

std::string encode_store_answer(const std::string& request_id, const store_page& page,
                                bool include_data) {
  waku::StoreQueryResponse response;
  response.set_request_id(request_id);
  response.set_status_code(static_cast<std::uint32_t>(store_status::ok));
  response.set_status_desc("OK");
  for (const auto& message : page.messages) {
    auto* entry = response.add_messages();
    entry->set_message_hash(message.hash);
    if (include_data) {
      entry->set_message(message.message);
      entry->set_pubsub_topic(message.pubsub_topic);
    }
  }
  if (page.cursor)
    response.set_pagination_cursor(*page.cursor);
  return response.SerializeAsString();
}

std::string encode_store_refusal(const std::string& request_id, const store_refusal& refusal) {
  waku::StoreQueryResponse response;
  response.set_request_id(request_id);
  response.set_status_code(static_cast<std::uint32_t>(refusal.status));
  response.set_status_desc(refusal.description);
  return response.SerializeAsString();
}

std::string encode_store_query(const store_query& query) {
  waku::StoreQueryRequest request;
  request.set_request_id(query.request_id);
  request.set_include_data(query.include_data);
  if (query.pubsub_topic)
    request.set_pubsub_topic(*query.pubsub_topic);
  for (const auto& topic : query.content_topics)
    request.add_content_topics(topic);
  if (query.time_start)
    request.set_time_start(*query.time_start);
  if (query.time_end)
    request.set_time_end(*query.time_end);
  for (const auto& hash : query.message_hashes)
    request.add_message_hashes(hash);
  if (query.cursor)
    request.set_pagination_cursor(*query.cursor);
  request.set_pagination_forward(query.forward);
  request.set_pagination_limit(query.limit);
  return request.SerializeAsString();
}

result<store_answer> parse_store_answer(std::string_view bytes) {
  waku::StoreQueryResponse response;
  if (!response.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return make_error(errc::malformed, "store answer does not parse");
  store_answer out;
  out.request_id = response.request_id();
  out.status_code = response.status_code();
  out.status_desc = response.status_desc();
  if (response.has_pagination_cursor())
    out.cursor = response.pagination_cursor();
  for (const auto& entry : response.messages()) {
    if (entry.message_hash().size() != hash_size)
      return make_error(errc::malformed, "store answer: a message without a 32-byte hash");
    stored_relay_message message;
    message.hash = entry.message_hash();
    message.pubsub_topic = entry.pubsub_topic();
    if (entry.has_message()) {
      waku::WakuMessage decoded;
      if (!decoded.ParseFromString(entry.message()))
        return make_error(errc::malformed, "store answer: a message that does not parse");
      message.content_topic = decoded.content_topic();
      message.timestamp = decoded.timestamp();
      message.message = entry.message();
    }
    out.messages.push_back(std::move(message));
  }
  return out;
}

bool store_query_matches(const store_query& query, const stored_relay_message& message) {
  if (!query.message_hashes.empty())
    return std::find(query.message_hashes.begin(), query.message_hashes.end(), message.hash)
           != query.message_hashes.end();
  if (query.pubsub_topic && *query.pubsub_topic != message.pubsub_topic)
    return false;
  if (!query.content_topics.empty()
      && std::find(query.content_topics.begin(), query.content_topics.end(),
                   message.content_topic)
           == query.content_topics.end())
    return false;
  if (query.time_start && message.timestamp < *query.time_start)
    return false;
  if (query.time_end && message.timestamp > *query.time_end)
    return false;
  return true;
}

} // namespace annals
