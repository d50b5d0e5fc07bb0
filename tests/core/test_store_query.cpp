// 13/WAKU2-STORE v3 requests and responses as bytes (core/store_query).
#include "core/store_query.hpp"
#include "core/status_envelope.hpp"
#include "proto/waku_message.pb.h"
#include "proto/waku_store.pb.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

using namespace annals;

namespace {

const std::string pubsub = "/waku/2/rs/16/32";
const std::string chat_content = "/status/1/chat/proto";
const std::string other_content = "/status/1/other/proto";

/// A 32-byte hash that names `n` (distinct for distinct n).
std::string hash_of(std::uint32_t n, char fill = '\x5a') {
  std::string h(32, fill);
  h[0] = static_cast<char>(n >> 24);
  h[1] = static_cast<char>(n >> 16);
  h[2] = static_cast<char>(n >> 8);
  h[3] = static_cast<char>(n);
  return h;
}

std::string waku_message_bytes(const std::string& payload, const std::string& content_topic,
                               std::int64_t timestamp) {
  waku::WakuMessage m;
  m.set_payload(payload);
  m.set_content_topic(content_topic);
  m.set_version(1);
  m.set_timestamp(timestamp);
  m.set_meta("");
  m.set_ephemeral(false);
  return m.SerializeAsString();
}

/// A relay message with its real 14/WAKU2-MESSAGE hash.
stored_relay_message relay_message(const std::string& payload, const std::string& content_topic,
                                   std::int64_t timestamp) {
  stored_relay_message out;
  out.pubsub_topic = pubsub;
  out.content_topic = content_topic;
  out.timestamp = timestamp;
  out.message = waku_message_bytes(payload, content_topic, timestamp);
  waku::WakuMessage parsed;
  REQUIRE(parsed.ParseFromString(out.message));
  out.hash = std::string(as_view(waku_message_hash(pubsub, parsed)));
  REQUIRE(out.hash.size() == 32);
  return out;
}

/// A request with only a request ID; callers add what they test.
waku::StoreQueryRequest base_request(const std::string& id = "req-1") {
  waku::StoreQueryRequest r;
  r.set_request_id(id);
  return r;
}

store_query parsed(const waku::StoreQueryRequest& r, const store_query_limits& limits = {}) {
  store_refusal refusal{store_status::ok, ""};
  auto q = parse_store_query(r.SerializeAsString(), limits, &refusal);
  if (!q)
    FAIL("refused: " + q.error().to_string() + " / " + refusal.description);
  CHECK(refusal.description.empty());  // an accepted request leaves it untouched
  return std::move(q).value();
}

/// Parses bytes that must be refused; returns the refusal after checking
/// the error and the status code.
store_refusal refused(std::string_view bytes, const store_query_limits& limits = {}) {
  store_refusal refusal{store_status::ok, ""};
  auto q = parse_store_query(bytes, limits, &refusal);
  REQUIRE_FALSE(q);
  CHECK(q.error().code == errc::invalid_argument);
  CHECK(refusal.status == store_status::bad_request);
  CHECK(static_cast<std::uint32_t>(refusal.status) == 400);
  CHECK_FALSE(refusal.description.empty());
  // The error and the answer say the same thing.
  CHECK(q.error().message == refusal.description);
  // Without an out-parameter the request is refused the same way.
  auto again = parse_store_query(bytes, limits);
  CHECK_FALSE(again);
  return refusal;
}

store_refusal refused(const waku::StoreQueryRequest& r, const store_query_limits& limits = {}) {
  return refused(r.SerializeAsString(), limits);
}

using Catch::Matchers::Contains;

} // namespace

TEST_CASE("parse_store_query defaults and clamps the page size", "[store-query]") {
  SECTION("a bare request takes the defaults") {
    auto q = parsed(base_request("abc"));
    CHECK(q.request_id == "abc");
    CHECK(q.limit == 20);
    CHECK_FALSE(q.forward);
    CHECK_FALSE(q.include_data);
    CHECK_FALSE(q.pubsub_topic);
    CHECK(q.content_topics.empty());
    CHECK_FALSE(q.time_start);
    CHECK_FALSE(q.time_end);
    CHECK(q.message_hashes.empty());
    CHECK_FALSE(q.cursor);
  }
  SECTION("a limit of 0 means the default") {
    auto r = base_request();
    r.set_pagination_limit(0);
    CHECK(parsed(r).limit == 20);
  }
  SECTION("limits up to the maximum are kept") {
    for (std::uint64_t limit : {1u, 7u, 20u, 99u, 100u}) {
      auto r = base_request();
      r.set_pagination_limit(limit);
      CHECK(parsed(r).limit == limit);
    }
  }
  SECTION("limits over the maximum are clamped to it") {
    for (std::uint64_t limit :
         {std::uint64_t{101}, std::uint64_t{1000}, std::numeric_limits<std::uint64_t>::max()}) {
      auto r = base_request();
      r.set_include_data(true);
      r.set_pagination_limit(limit);
      CHECK(parsed(r).limit == 100);
    }
  }
  SECTION("a page of hashes only may be larger: 32 bytes a message") {
    auto r = base_request();
    r.set_include_data(false);
    r.set_pagination_limit(1000);
    CHECK(parsed(r).limit == 1000);
    r.set_pagination_limit(std::numeric_limits<std::uint64_t>::max());
    CHECK(parsed(r).limit == 2000);
    r.set_include_data(true);
    CHECK(parsed(r).limit == 100);
  }
  SECTION("the limits passed in decide") {
    store_query_limits limits;
    limits.default_page = 5;
    limits.max_page = 8;
    limits.max_hash_page = 12;
    CHECK(parsed(base_request(), limits).limit == 5);
    auto r = base_request();
    r.set_include_data(true);
    r.set_pagination_limit(0);
    CHECK(parsed(r, limits).limit == 5);
    r.set_pagination_limit(8);
    CHECK(parsed(r, limits).limit == 8);
    r.set_pagination_limit(9);
    CHECK(parsed(r, limits).limit == 8);
    r.set_include_data(false);
    r.set_pagination_limit(20);
    CHECK(parsed(r, limits).limit == 12);
  }
}

TEST_CASE("parse_store_query reads every field of a valid request", "[store-query]") {
  SECTION("a topic and time query with a cursor") {
    auto r = base_request("the-id");
    r.set_include_data(true);
    r.set_pubsub_topic(pubsub);
    r.add_content_topics(chat_content);
    r.add_content_topics(other_content);
    r.set_time_start(-5'000);
    r.set_time_end(1'729'750'000'123'456'789);
    r.set_pagination_cursor(hash_of(7));
    r.set_pagination_forward(true);
    r.set_pagination_limit(42);
    auto q = parsed(r);
    CHECK(q.request_id == "the-id");
    CHECK(q.include_data);
    REQUIRE(q.pubsub_topic);
    CHECK(*q.pubsub_topic == pubsub);
    CHECK(q.content_topics == std::vector<std::string>{chat_content, other_content});
    REQUIRE(q.time_start);
    CHECK(*q.time_start == -5'000);
    REQUIRE(q.time_end);
    CHECK(*q.time_end == 1'729'750'000'123'456'789);
    CHECK(q.message_hashes.empty());
    REQUIRE(q.cursor);
    CHECK(*q.cursor == hash_of(7));
    CHECK(q.forward);
    CHECK(q.limit == 42);
  }
  SECTION("a pubsub topic alone") {
    auto r = base_request();
    r.set_pubsub_topic(pubsub);
    auto q = parsed(r);
    REQUIRE(q.pubsub_topic);
    CHECK(*q.pubsub_topic == pubsub);
    CHECK(q.content_topics.empty());
  }
  SECTION("an empty pubsub topic is no filter") {
    auto r = base_request();
    r.set_pubsub_topic("");
    CHECK_FALSE(parsed(r).pubsub_topic);
  }
  SECTION("equal time bounds are a valid (one-instant) range") {
    auto r = base_request();
    r.set_time_start(1000);
    r.set_time_end(1000);
    auto q = parsed(r);
    CHECK(*q.time_start == 1000);
    CHECK(*q.time_end == 1000);
  }
  SECTION("only one time bound") {
    auto r = base_request();
    r.set_time_end(-1);
    auto q = parsed(r);
    CHECK_FALSE(q.time_start);
    REQUIRE(q.time_end);
    CHECK(*q.time_end == -1);
  }
  SECTION("a hash lookup, with a cursor, in request order") {
    auto r = base_request();
    r.add_message_hashes(hash_of(3));
    r.add_message_hashes(hash_of(1));
    r.add_message_hashes(hash_of(2));
    r.set_pagination_cursor(hash_of(1));
    auto q = parsed(r);
    CHECK(q.message_hashes == std::vector<std::string>{hash_of(3), hash_of(1), hash_of(2)});
    CHECK(*q.cursor == hash_of(1));
    CHECK_FALSE(q.pubsub_topic);
  }
  SECTION("as many content topics and hashes as the limits allow") {
    auto r = base_request();
    r.set_pubsub_topic(pubsub);
    for (int i = 0; i < 10; ++i)
      r.add_content_topics("/app/1/t" + std::to_string(i) + "/proto");
    CHECK(parsed(r).content_topics.size() == 10);

    auto h = base_request();
    for (std::uint32_t i = 0; i < 100; ++i)
      h.add_message_hashes(hash_of(i));
    CHECK(parsed(h).message_hashes.size() == 100);
  }
}

TEST_CASE("parse_store_query refuses bad requests with 400 and the cause", "[store-query]") {
  SECTION("content topics without a pubsub topic") {
    auto r = base_request();
    r.add_content_topics(chat_content);
    CHECK_THAT(refused(r).description, Contains("pubsub topic"));
    // An empty pubsub topic is no topic.
    r.set_pubsub_topic("");
    CHECK_THAT(refused(r).description, Contains("pubsub topic"));
  }
  SECTION("an empty content topic") {
    auto r = base_request();
    r.set_pubsub_topic(pubsub);
    r.add_content_topics(chat_content);
    r.add_content_topics("");
    CHECK_THAT(refused(r).description, Contains("empty content topic"));
  }
  SECTION("a message hash of the wrong size") {
    for (std::size_t size : {0u, 1u, 31u, 33u, 64u}) {
      auto r = base_request();
      r.add_message_hashes(hash_of(1));
      r.add_message_hashes(std::string(size, '\x11'));
      auto refusal = refused(r);
      CHECK_THAT(refusal.description, Contains("message hash"));
      CHECK_THAT(refusal.description, Contains(std::to_string(size) + " bytes"));
    }
  }
  SECTION("a hash lookup that also filters by topic or time") {
    auto with_pubsub = base_request();
    with_pubsub.add_message_hashes(hash_of(1));
    with_pubsub.set_pubsub_topic(pubsub);
    CHECK_THAT(refused(with_pubsub).description, Contains("hash lookup"));

    auto with_topics = with_pubsub;
    with_topics.add_content_topics(chat_content);
    CHECK_THAT(refused(with_topics).description, Contains("hash lookup"));

    auto with_start = base_request();
    with_start.add_message_hashes(hash_of(1));
    with_start.set_time_start(0);
    CHECK_THAT(refused(with_start).description, Contains("hash lookup"));

    auto with_end = base_request();
    with_end.add_message_hashes(hash_of(1));
    with_end.set_time_end(0);
    CHECK_THAT(refused(with_end).description, Contains("hash lookup"));
  }
  SECTION("a cursor that is not a 32-byte hash") {
    for (std::size_t size : {0u, 8u, 31u, 33u}) {
      auto r = base_request();
      r.set_pagination_cursor(std::string(size, '\x22'));
      auto refusal = refused(r);
      CHECK_THAT(refusal.description, Contains("cursor"));
      CHECK_THAT(refusal.description, Contains(std::to_string(size) + " bytes"));
    }
  }
  SECTION("time_start after time_end") {
    auto r = base_request();
    r.set_time_start(1001);
    r.set_time_end(1000);
    CHECK_THAT(refused(r).description, Contains("time_start"));
    r.set_time_start(0);
    r.set_time_end(-1);
    CHECK_THAT(refused(r).description, Contains("time_start"));
  }
  SECTION("too many content topics") {
    auto r = base_request();
    r.set_pubsub_topic(pubsub);
    for (int i = 0; i < 11; ++i)
      r.add_content_topics("/app/1/t" + std::to_string(i) + "/proto");
    CHECK_THAT(refused(r).description, Contains("11 content topics"));

    store_query_limits tight;
    tight.max_content_topics = 1;
    auto two = base_request();
    two.set_pubsub_topic(pubsub);
    two.add_content_topics(chat_content);
    two.add_content_topics(other_content);
    CHECK_THAT(refused(two, tight).description, Contains("2 content topics"));
  }
  SECTION("too many message hashes") {
    auto r = base_request();
    for (std::uint32_t i = 0; i < 101; ++i)
      r.add_message_hashes(hash_of(i));
    CHECK_THAT(refused(r).description, Contains("101 message hashes"));
  }
  SECTION("bytes that do not parse") {
    // Field 1 (request_id) announces 5 bytes and carries 2.
    CHECK_THAT(refused(std::string("\x0a\x05" "ab", 4)).description, Contains("does not parse"));
    // Wire type 7 does not exist.
    CHECK_THAT(refused(std::string("\x0f\x01", 2)).description, Contains("does not parse"));
  }
  SECTION("a request over the size limit") {
    store_query_limits small;
    small.max_request_bytes = 64;
    auto r = base_request(std::string(80, 'x'));
    auto bytes = r.SerializeAsString();
    REQUIRE(bytes.size() > 64);
    auto refusal = refused(bytes, small);
    CHECK_THAT(refusal.description, Contains(std::to_string(bytes.size()) + " bytes"));
    CHECK_THAT(refusal.description, Contains("64"));

    // Exactly at the limit is accepted.
    auto fits = base_request(std::string(62, 'x'));  // tag + length + 62
    REQUIRE(fits.SerializeAsString().size() == 64);
    CHECK(parsed(fits, small).request_id == std::string(62, 'x'));

    // The default limit refuses a frame over 64 KiB before decoding it,
    // even one that would not parse.
    CHECK_THAT(refused(std::string(64 * 1024 + 1, '\xff')).description, Contains("over"));
  }
}

TEST_CASE("store_request_id names the request even when it is refused", "[store-query]") {
  auto r = base_request("id-of-a-bad-request");
  r.add_content_topics(chat_content);  // refused: no pubsub topic
  auto bytes = r.SerializeAsString();
  REQUIRE_FALSE(parse_store_query(bytes, {}));
  CHECK(store_request_id(bytes) == "id-of-a-bad-request");
  CHECK(store_request_id(std::string("\x0a\x05" "ab", 4)).empty());
  CHECK(store_request_id("").empty());
}

TEST_CASE("encode_store_query round trips through parse_store_query", "[store-query]") {
  std::vector<store_query> queries;
  {
    store_query q;
    q.request_id = "topic-query";
    q.include_data = true;
    q.pubsub_topic = pubsub;
    q.content_topics = {chat_content, other_content};
    q.time_start = -1'000'000;
    q.time_end = 1'729'750'000'000'000'000;
    q.cursor = hash_of(99);
    q.forward = true;
    q.limit = 33;
    queries.push_back(q);
  }
  {
    store_query q;
    q.request_id = "hash-lookup";
    q.message_hashes = {hash_of(5), hash_of(2), hash_of(9)};
    q.forward = false;
    q.limit = 2;
    queries.push_back(q);
  }
  {
    store_query q;
    q.request_id = "time-only";
    q.time_end = std::numeric_limits<std::int64_t>::min();
    q.limit = 100;
    queries.push_back(q);
  }
  {
    store_query q;  // everything default
    queries.push_back(q);
  }
  for (const auto& q : queries) {
    INFO(q.request_id);
    auto decoded = parse_store_query(encode_store_query(q), {});
    REQUIRE(decoded);
    const auto& back = *decoded;
    CHECK(back.request_id == q.request_id);
    CHECK(back.include_data == q.include_data);
    CHECK(back.pubsub_topic == q.pubsub_topic);
    CHECK(back.content_topics == q.content_topics);
    CHECK(back.time_start == q.time_start);
    CHECK(back.time_end == q.time_end);
    CHECK(back.message_hashes == q.message_hashes);
    CHECK(back.cursor == q.cursor);
    CHECK(back.forward == q.forward);
    CHECK(back.limit == q.limit);
  }

  // The wire fields are those of the spec (js-waku reads the same numbers).
  waku::StoreQueryRequest wire;
  REQUIRE(wire.ParseFromString(encode_store_query(queries[0])));
  CHECK(wire.request_id() == "topic-query");
  CHECK(wire.include_data());
  CHECK(wire.pubsub_topic() == pubsub);
  CHECK(wire.time_start() == -1'000'000);
  CHECK(wire.pagination_cursor() == hash_of(99));
  CHECK(wire.pagination_forward());
  CHECK(wire.pagination_limit() == 33);
  REQUIRE(wire.ParseFromString(encode_store_query(queries[1])));
  CHECK_FALSE(wire.has_pubsub_topic());
  CHECK_FALSE(wire.has_time_start());
  CHECK_FALSE(wire.has_time_end());
  CHECK_FALSE(wire.has_pagination_cursor());
}

TEST_CASE("encode_store_answer carries hashes, and messages only with include_data",
          "[store-query]") {
  store_page page;
  page.messages = {relay_message("first", chat_content, -7),
                   relay_message("second", other_content, 0),
                   relay_message(std::string(300, '\x01'), chat_content,
                                 1'729'750'000'123'456'789)};
  page.cursor = page.messages.back().hash;

  SECTION("with data") {
    auto bytes = encode_store_answer("req-9", page, true);
    auto answer = parse_store_answer(bytes);
    REQUIRE(answer);
    CHECK(answer->request_id == "req-9");
    CHECK(answer->status_code == 200);
    CHECK(answer->status_desc == "OK");
    REQUIRE(answer->cursor);
    CHECK(*answer->cursor == page.messages.back().hash);
    REQUIRE(answer->messages.size() == page.messages.size());
    for (std::size_t i = 0; i < page.messages.size(); ++i) {
      const auto& want = page.messages[i];
      const auto& got = answer->messages[i];
      CHECK(got.hash == want.hash);
      CHECK(got.pubsub_topic == want.pubsub_topic);
      CHECK(got.content_topic == want.content_topic);  // read from the message
      CHECK(got.timestamp == want.timestamp);          // read from the message
      CHECK(got.message == want.message);              // the stored bytes, untouched
    }
    // The wire form: every entry has its hash, message and pubsub topic.
    waku::StoreQueryResponse wire;
    REQUIRE(wire.ParseFromString(bytes));
    REQUIRE(wire.messages_size() == 3);
    for (const auto& entry : wire.messages()) {
      CHECK(entry.has_message());
      CHECK(entry.has_pubsub_topic());
    }
  }
  SECTION("without data") {
    auto bytes = encode_store_answer("req-10", page, false);
    auto answer = parse_store_answer(bytes);
    REQUIRE(answer);
    CHECK(answer->request_id == "req-10");
    CHECK(answer->status_code == 200);
    REQUIRE(answer->cursor);
    CHECK(*answer->cursor == page.messages.back().hash);
    REQUIRE(answer->messages.size() == page.messages.size());
    for (std::size_t i = 0; i < page.messages.size(); ++i) {
      CHECK(answer->messages[i].hash == page.messages[i].hash);
      CHECK(answer->messages[i].message.empty());
      CHECK(answer->messages[i].pubsub_topic.empty());
      CHECK(answer->messages[i].content_topic.empty());
      CHECK(answer->messages[i].timestamp == 0);
    }
    waku::StoreQueryResponse wire;
    REQUIRE(wire.ParseFromString(bytes));
    for (const auto& entry : wire.messages()) {
      CHECK(entry.message_hash().size() == 32);
      CHECK_FALSE(entry.has_message());
      CHECK_FALSE(entry.has_pubsub_topic());
    }
    // Smaller than the answer with the data.
    CHECK(bytes.size() < encode_store_answer("req-10", page, true).size());
  }
  SECTION("the last page has no cursor") {
    page.cursor.reset();
    auto answer = parse_store_answer(encode_store_answer("r", page, true));
    REQUIRE(answer);
    CHECK_FALSE(answer->cursor);
    CHECK(answer->messages.size() == 3);
    waku::StoreQueryResponse wire;
    REQUIRE(wire.ParseFromString(encode_store_answer("r", page, true)));
    CHECK_FALSE(wire.has_pagination_cursor());
  }
  SECTION("an empty page") {
    auto answer = parse_store_answer(encode_store_answer("empty", store_page{}, true));
    REQUIRE(answer);
    CHECK(answer->request_id == "empty");
    CHECK(answer->status_code == 200);
    CHECK(answer->messages.empty());
    CHECK_FALSE(answer->cursor);
  }
}

TEST_CASE("a refusal round trips with its code and description", "[store-query]") {
  for (auto status : {store_status::bad_request, store_status::too_many_requests,
                      store_status::internal_error, store_status::unavailable}) {
    store_refusal refusal{status, "because " + std::to_string(static_cast<int>(status))};
    auto bytes = encode_store_refusal("refused-id", refusal);
    auto answer = parse_store_answer(bytes);
    REQUIRE(answer);
    CHECK(answer->request_id == "refused-id");
    CHECK(answer->status_code == static_cast<std::uint32_t>(status));
    CHECK(answer->status_desc == refusal.description);
    CHECK(answer->messages.empty());
    CHECK_FALSE(answer->cursor);
  }

  // What a server sends for a refused request: the parse's own refusal.
  auto r = base_request("bad");
  r.set_time_start(2);
  r.set_time_end(1);
  store_refusal refusal{store_status::ok, ""};
  REQUIRE_FALSE(parse_store_query(r.SerializeAsString(), {}, &refusal));
  auto answer = parse_store_answer(encode_store_refusal("bad", refusal));
  REQUIRE(answer);
  CHECK(answer->status_code == 400);
  CHECK(answer->status_desc == refusal.description);
  CHECK_THAT(answer->status_desc, Contains("time_start"));
}

TEST_CASE("parse_store_answer refuses malformed answers", "[store-query]") {
  auto good = relay_message("payload", chat_content, 12345);

  SECTION("an entry without a hash") {
    waku::StoreQueryResponse response;
    response.set_status_code(200);
    response.add_messages()->set_message_hash(good.hash);
    auto* entry = response.add_messages();
    entry->set_message(good.message);
    entry->set_pubsub_topic(pubsub);
    auto answer = parse_store_answer(response.SerializeAsString());
    REQUIRE_FALSE(answer);
    CHECK(answer.error().code == errc::malformed);
    CHECK_THAT(answer.error().message, Contains("32-byte hash"));
  }
  SECTION("an entry whose hash is not 32 bytes") {
    for (std::size_t size : {0u, 31u, 33u}) {
      waku::StoreQueryResponse response;
      response.set_status_code(200);
      auto* entry = response.add_messages();
      entry->set_message_hash(std::string(size, '\x33'));
      entry->set_message(good.message);
      auto answer = parse_store_answer(response.SerializeAsString());
      REQUIRE_FALSE(answer);
      CHECK(answer.error().code == errc::malformed);
    }
  }
  SECTION("an entry whose message does not parse") {
    waku::StoreQueryResponse response;
    response.set_status_code(200);
    auto* entry = response.add_messages();
    entry->set_message_hash(good.hash);
    entry->set_message(std::string("\x0a\x05" "ab", 4));
    auto answer = parse_store_answer(response.SerializeAsString());
    REQUIRE_FALSE(answer);
    CHECK(answer.error().code == errc::malformed);
  }
  SECTION("bytes that do not parse") {
    auto answer = parse_store_answer(std::string("\x0f\x01", 2));
    REQUIRE_FALSE(answer);
    CHECK(answer.error().code == errc::malformed);
  }
  SECTION("the same entries with their hashes are accepted") {
    waku::StoreQueryResponse response;
    response.set_status_code(200);
    response.add_messages()->set_message_hash(good.hash);
    auto* entry = response.add_messages();
    entry->set_message_hash(good.hash);
    entry->set_message(good.message);
    entry->set_pubsub_topic(pubsub);
    auto answer = parse_store_answer(response.SerializeAsString());
    REQUIRE(answer);
    REQUIRE(answer->messages.size() == 2);
    CHECK(answer->messages[0].message.empty());
    CHECK(answer->messages[1].content_topic == chat_content);
    CHECK(answer->messages[1].timestamp == 12345);
  }
}

TEST_CASE("store_query_matches applies each filter of a query", "[store-query]") {
  auto at_100 = relay_message("a", chat_content, 100);
  auto at_200 = relay_message("b", other_content, 200);
  auto elsewhere = at_100;
  elsewhere.pubsub_topic = "/waku/2/rs/16/64";

  store_query all;
  CHECK(store_query_matches(all, at_100));
  CHECK(store_query_matches(all, elsewhere));

  store_query by_pubsub;
  by_pubsub.pubsub_topic = pubsub;
  CHECK(store_query_matches(by_pubsub, at_100));
  CHECK(store_query_matches(by_pubsub, at_200));
  CHECK_FALSE(store_query_matches(by_pubsub, elsewhere));

  auto by_topic = by_pubsub;
  by_topic.content_topics = {other_content};
  CHECK_FALSE(store_query_matches(by_topic, at_100));
  CHECK(store_query_matches(by_topic, at_200));
  by_topic.content_topics = {other_content, chat_content};
  CHECK(store_query_matches(by_topic, at_100));
  CHECK_FALSE(store_query_matches(by_topic, elsewhere));

  store_query inclusive;
  inclusive.time_start = 100;
  inclusive.time_end = 200;
  CHECK(store_query_matches(inclusive, at_100));
  CHECK(store_query_matches(inclusive, at_200));
  inclusive.time_start = 101;
  CHECK_FALSE(store_query_matches(inclusive, at_100));
  inclusive.time_end = 199;
  CHECK_FALSE(store_query_matches(inclusive, at_200));

  store_query lookup;
  lookup.message_hashes = {at_200.hash, hash_of(1)};
  CHECK(store_query_matches(lookup, at_200));
  CHECK_FALSE(store_query_matches(lookup, at_100));
}
