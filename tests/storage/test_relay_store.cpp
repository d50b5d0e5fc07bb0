// The Waku store this node serves: relay messages recorded, paged by
// 13/WAKU2-STORE v3 queries, pruned, and kept across a reopen. Every answer
// is checked against the same filter applied to a plain list in the test.
#include "storage/store.hpp"
#include "core/status_envelope.hpp"
#include "proto/waku_message.pb.h"
#include "tests/relay_message.hpp"
#include "tests/temp_dir.hpp"
#include "tests/unwrap.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

using namespace annals;
using annals::test::temp_dir;
using annals::test::unwrap;

namespace {

using messages = std::vector<stored_relay_message>;

constexpr auto min_ns = std::numeric_limits<std::int64_t>::min();
constexpr auto max_ns = std::numeric_limits<std::int64_t>::max();
constexpr auto no_budget = std::numeric_limits<std::size_t>::max();

// One pubsub topic is a prefix of the other, and so are two content topics:
// an index must never run one topic's keys into another's.
const std::string pubsub_a = "/waku/2/rs/16/3";
const std::string pubsub_b = "/waku/2/rs/16/32";
const std::vector<std::string> content = {"/app/1/c/proto", "/app/1/c/proto1", "/app/1/d/proto"};

std::unique_ptr<store> open_store(const temp_dir& dir) {
  return unwrap(store::open(dir / "db"));
}

/// A relay message as it travelled: real WakuMessage bytes, real hash.
stored_relay_message relay(const std::string& pubsub, const std::string& content_topic,
                           std::int64_t timestamp, const std::string& payload) {
  return test::make_relay_message(pubsub, content_topic, timestamp, payload);
}

bool key_less(const stored_relay_message& a, const stored_relay_message& b) {
  return std::tie(a.timestamp, a.hash) < std::tie(b.timestamp, b.hash);
}

/// What a query must return over all its pages, computed without the store.
messages expected(const messages& all, const store_query& query) {
  messages out;
  for (const auto& m : all)
    if (store_query_matches(query, m))
      out.push_back(m);
  std::sort(out.begin(), out.end(), key_less);
  return out;
}

messages sorted(const messages& all) { return expected(all, store_query{}); }

std::vector<std::string> hashes(const messages& ms) {
  std::vector<std::string> out;
  for (const auto& m : ms)
    out.push_back(m.hash);
  return out;
}

std::size_t bytes_of(const messages& ms) {
  std::size_t n = 0;
  for (const auto& m : ms)
    n += m.message.size();
  return n;
}

/// Same messages, same order, every field as recorded.
void check_same(const messages& got, const messages& want) {
  REQUIRE(hashes(got) == hashes(want));
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].pubsub_topic == want[i].pubsub_topic);
    CHECK(got[i].content_topic == want[i].content_topic);
    CHECK(got[i].timestamp == want[i].timestamp);
    CHECK(got[i].message == want[i].message);
  }
}

/// 90 messages over two pubsub topics and three content topics, timestamps
/// from -8000 to 16000 ns in steps of 1000 (so many are equal), the extremes
/// of int64, and payloads of varied size; in no particular order.
messages corpus() {
  std::mt19937 rng(20240607);
  messages out;
  for (int i = 0; i < 90; ++i) {
    auto timestamp = (static_cast<std::int64_t>(rng() % 25) - 8) * 1000;
    auto payload = "payload " + std::to_string(i) + std::string(rng() % 150, 'x');
    out.push_back(relay(i % 2 ? pubsub_b : pubsub_a, content[i % 3], timestamp, payload));
  }
  out.push_back(relay(pubsub_a, content[0], min_ns, "the oldest possible"));
  out.push_back(relay(pubsub_b, content[2], max_ns, "the newest possible"));
  std::shuffle(out.begin(), out.end(), rng);
  return out;
}

store_query query_for(std::optional<std::string> pubsub, std::vector<std::string> topics = {},
                      std::optional<std::int64_t> start = {},
                      std::optional<std::int64_t> end = {}) {
  store_query q;
  q.pubsub_topic = std::move(pubsub);
  q.content_topics = std::move(topics);
  q.time_start = start;
  q.time_end = end;
  return q;
}

struct walk_result {
  messages all;
  std::size_t pages = 0;
};

/// Follows cursors from the first page to the last, as js-waku does:
/// forward pages append, backward pages go in front.
walk_result walk(const store& db, store_query q, bool forward, std::uint64_t limit,
                 std::size_t max_bytes = no_budget) {
  q.forward = forward;
  q.limit = limit;
  q.cursor.reset();
  walk_result out;
  for (int guard = 0; guard < 10'000; ++guard) {
    auto page = unwrap(db.relay_messages().query(q, max_bytes));
    ++out.pages;
    CHECK(page.messages.size() <= limit);
    CHECK(std::is_sorted(page.messages.begin(), page.messages.end(), key_less));
    if (forward)
      out.all.insert(out.all.end(), page.messages.begin(), page.messages.end());
    else
      out.all.insert(out.all.begin(), page.messages.begin(), page.messages.end());
    if (!page.cursor)
      return out;
    REQUIRE_FALSE(page.messages.empty());
    CHECK(*page.cursor == (forward ? page.messages.back().hash : page.messages.front().hash));
    q.cursor = page.cursor;
  }
  FAIL("the walk does not end");
  return out;
}

/// Walks both ways with an unbounded byte budget: every page but the last
/// is full, the last has no cursor, and together they are `want`.
void check_walks(const store& db, const store_query& q, const messages& want,
                 std::uint64_t limit) {
  INFO("limit " << limit << ", " << want.size() << " expected");
  auto full_pages = want.empty() ? 1 : (want.size() + limit - 1) / limit;
  for (bool forward : {true, false}) {
    INFO((forward ? "forward" : "backward"));
    auto w = walk(db, q, forward, limit);
    check_same(w.all, want);
    CHECK(w.pages == full_pages);
  }
  // The first backward page holds the newest messages.
  auto first = q;
  first.forward = false;
  first.limit = limit;
  auto page = unwrap(db.relay_messages().query(first, no_budget));
  auto n = std::min<std::size_t>(limit, want.size());
  CHECK(hashes(page.messages) == hashes(messages(want.end() - n, want.end())));
  CHECK(page.cursor.has_value() == (want.size() > limit));
}

/// The queries the paging test runs, each with its name.
std::vector<std::pair<std::string, store_query>> filter_queries() {
  return {
    {"no filter", query_for({})},
    {"pubsub a", query_for(pubsub_a)},
    {"pubsub b", query_for(pubsub_b)},
    {"pubsub a, one content topic", query_for(pubsub_a, {content[0]})},
    {"pubsub b, the prefix content topic", query_for(pubsub_b, {content[1]})},
    {"pubsub b, two content topics", query_for(pubsub_b, {content[2], content[0]})},
    {"pubsub a, three content topics, one twice",
     query_for(pubsub_a, {content[1], content[0], content[2], content[1]})},
    {"pubsub a, an unknown content topic", query_for(pubsub_a, {"/app/1/none/proto"})},
    {"an unknown pubsub topic", query_for(std::string("/waku/2/rs/16/320"))},
    {"time range", query_for({}, {}, -3000, 5000)},
    {"time start only", query_for({}, {}, 0)},
    {"time end only", query_for({}, {}, {}, -1)},
    {"pubsub b, two content topics, time range",
     query_for(pubsub_b, {content[0], content[1]}, -2000, 9000)},
    {"pubsub a, time range", query_for(pubsub_a, {}, 1000, 1000)},
    {"a time range between messages", query_for({}, {}, 500, 999)},
    {"the whole int64 range", query_for({}, {}, min_ns, max_ns)},
  };
}

} // namespace

TEST_CASE("the relay message store skips hashes already recorded", "[store][relay-store]") {
  temp_dir dir;
  auto db = open_store(dir);
  CHECK(unwrap(db->relay_messages().count()) == 0);

  auto m1 = relay(pubsub_a, content[0], 1000, "one");
  auto m2 = relay(pubsub_a, content[1], 2000, "two");
  auto m3 = relay(pubsub_b, content[2], -3000, "three");
  CHECK(unwrap(db->relay_messages().record({m1, m2, m3})) == 3);
  CHECK(unwrap(db->relay_messages().count()) == 3);

  // A repeated hash is skipped, even when the rest of the record differs:
  // the first recording stays.
  auto m1_again = m1;
  m1_again.timestamp = 99'000;
  m1_again.pubsub_topic = pubsub_b;
  m1_again.content_topic = content[2];
  auto m4 = relay(pubsub_b, content[0], 500, "four");
  CHECK(unwrap(db->relay_messages().record({m1_again, m2, m4})) == 1);
  CHECK(unwrap(db->relay_messages().count()) == 4);

  // A hash twice in one batch counts once.
  auto m5 = relay(pubsub_a, content[2], 500, "five");
  CHECK(unwrap(db->relay_messages().record({m5, m5, m3})) == 1);
  CHECK(unwrap(db->relay_messages().count()) == 5);
  CHECK(unwrap(db->relay_messages().record({})) == 0);
  CHECK(unwrap(db->relay_messages().count()) == 5);

  auto all = walk(*db, query_for({}), true, 100).all;
  check_same(all, sorted({m1, m2, m3, m4, m5}));
  // m1 is where its first recording put it, and nowhere else.
  CHECK(walk(*db, query_for({}, {}, 99'000, 99'000), true, 10).all.empty());
  CHECK(walk(*db, query_for(pubsub_b, {content[2]}), true, 10).all.size() == 1);

  SECTION("a malformed hash refuses the whole batch") {
    auto good = relay(pubsub_a, content[0], 7000, "good");
    auto bad = relay(pubsub_a, content[0], 8000, "bad");
    bad.hash.resize(31);
    auto r = db->relay_messages().record({good, bad});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::invalid_argument);
    CHECK(unwrap(db->relay_messages().count()) == 5);
    store_query lookup;
    lookup.message_hashes = {good.hash};
    CHECK(unwrap(db->relay_messages().query(lookup, no_budget)).messages.empty());
    // The good message alone is recorded later as new.
    CHECK(unwrap(db->relay_messages().record({good})) == 1);
    CHECK(unwrap(db->relay_messages().count()) == 6);
  }
  SECTION("the count is right when first asked after writes") {
    db.reset();
    db = open_store(dir);
    // Recorded before anything counted since the reopen.
    CHECK(unwrap(db->relay_messages().record({m1, relay(pubsub_a, content[0], 1, "six")})) == 1);
    CHECK(unwrap(db->relay_messages().count()) == 6);
  }
}

TEST_CASE("every filter pages through the same messages forward and backward",
          "[store][relay-store]") {
  temp_dir dir;
  auto db = open_store(dir);
  auto all = corpus();
  // Two batches, so the store does not see them sorted either way.
  messages first_half(all.begin(), all.begin() + 40), second_half(all.begin() + 40, all.end());
  CHECK(unwrap(db->relay_messages().record(first_half)) == 40);
  CHECK(unwrap(db->relay_messages().record(second_half)) == all.size() - 40);
  REQUIRE(unwrap(db->relay_messages().count()) == all.size());

  // The corpus has what the test is about: equal timestamps, negative ones.
  auto s = sorted(all);
  std::size_t equal_neighbours = 0;
  for (std::size_t i = 1; i < s.size(); ++i)
    equal_neighbours += s[i].timestamp == s[i - 1].timestamp;
  REQUIRE(equal_neighbours > 20);
  REQUIRE(std::count_if(all.begin(), all.end(), [](auto& m) { return m.timestamp < 0; }) > 10);

  for (const auto& [name, q] : filter_queries()) {
    auto want = expected(all, q);
    INFO(name);
    for (std::uint64_t limit : {1, 2, 3, 7, 20, 100})
      check_walks(*db, q, want, limit);
    if (!want.empty())
      check_walks(*db, q, want, want.size());  // exactly one full page
  }

  // The filters mean something: none of them is vacuous here.
  CHECK(expected(all, query_for(pubsub_a)).size() > 30);
  CHECK(expected(all, query_for(pubsub_b, {content[2], content[0]})).size() > 20);
  CHECK(expected(all, query_for(pubsub_a, {content[0]})).size()
        < expected(all, query_for(pubsub_a)).size());
  CHECK(expected(all, query_for({}, {}, 500, 999)).empty());
}

TEST_CASE("time bounds are inclusive", "[store][relay-store]") {
  temp_dir dir;
  auto db = open_store(dir);
  auto all = corpus();
  REQUIRE(unwrap(db->relay_messages().record(all)) == all.size());
  auto s = sorted(all);

  // Timestamps held by at least two messages.
  std::vector<std::int64_t> shared;
  for (std::size_t i = 1; i < s.size(); ++i)
    if (s[i].timestamp == s[i - 1].timestamp
        && (shared.empty() || shared.back() != s[i].timestamp))
      shared.push_back(s[i].timestamp);
  REQUIRE(shared.size() >= 3);
  auto at = [&](std::int64_t t) {
    return std::count_if(all.begin(), all.end(), [&](auto& m) { return m.timestamp == t; });
  };

  auto start = shared.front(), end = shared.back();
  auto page = unwrap(db->relay_messages().query(
    [&] { auto q = query_for({}, {}, start, end); q.limit = 100; q.forward = true; return q; }(),
    no_budget));
  check_same(page.messages, expected(all, query_for({}, {}, start, end)));
  REQUIRE(!page.messages.empty());
  CHECK(page.messages.front().timestamp == start);
  CHECK(page.messages.back().timestamp == end);
  CHECK(std::count_if(page.messages.begin(), page.messages.end(),
                      [&](auto& m) { return m.timestamp == start; })
        == at(start));
  CHECK(std::count_if(page.messages.begin(), page.messages.end(),
                      [&](auto& m) { return m.timestamp == end; })
        == at(end));

  // A one-instant range holds every message of that instant, in hash order.
  for (auto t : shared) {
    auto w = walk(*db, query_for({}, {}, t, t), true, 1);
    CHECK(static_cast<std::ptrdiff_t>(w.all.size()) == at(t));
    check_same(w.all, expected(all, query_for({}, {}, t, t)));
    auto back = walk(*db, query_for({}, {}, t, t), false, 1);
    check_same(back.all, w.all);
  }

  // The extremes of int64.
  auto oldest = walk(*db, query_for({}, {}, {}, min_ns), true, 10).all;
  REQUIRE(oldest.size() == 1);
  CHECK(oldest[0].timestamp == min_ns);
  auto newest = walk(*db, query_for({}, {}, max_ns, {}), false, 10).all;
  REQUIRE(newest.size() == 1);
  CHECK(newest[0].timestamp == max_ns);
}

TEST_CASE("hash lookups return recorded hashes in (timestamp, hash) order",
          "[store][relay-store]") {
  temp_dir dir;
  auto db = open_store(dir);
  auto all = corpus();
  REQUIRE(unwrap(db->relay_messages().record(all)) == all.size());

  store_query lookup;
  for (std::size_t i = 0; i < all.size(); i += 5)
    lookup.message_hashes.push_back(all[i].hash);  // in corpus (random) order
  lookup.message_hashes.push_back(all[0].hash);    // a hash twice
  // Hashes nothing recorded: ignored.
  lookup.message_hashes.push_back(std::string(32, '\0'));
  lookup.message_hashes.push_back(std::string(32, '\xff'));
  lookup.message_hashes.push_back(relay(pubsub_a, content[0], 1000, "never recorded").hash);
  auto want = expected(all, lookup);
  REQUIRE(want.size() == (all.size() + 4) / 5);

  auto one_page = lookup;
  one_page.limit = 100;
  one_page.forward = true;
  auto page = unwrap(db->relay_messages().query(one_page, no_budget));
  check_same(page.messages, want);
  CHECK_FALSE(page.cursor);
  one_page.forward = false;
  page = unwrap(db->relay_messages().query(one_page, no_budget));
  check_same(page.messages, want);
  CHECK_FALSE(page.cursor);

  for (std::uint64_t limit : {1, 2, 4, 7})
    check_walks(*db, lookup, want, limit);

  store_query unknown;
  unknown.message_hashes = {std::string(32, '\x01'), std::string(32, '\x02')};
  page = unwrap(db->relay_messages().query(unknown, no_budget));
  CHECK(page.messages.empty());
  CHECK_FALSE(page.cursor);

  // A single hash finds its message, whatever its topics.
  for (const auto& m : {all[3], all[17], all[42]}) {
    store_query single;
    single.message_hashes = {m.hash};
    check_same(unwrap(db->relay_messages().query(single, no_budget)).messages, {m});
  }
}

TEST_CASE("a cursor names a position in (timestamp, hash) order", "[store][relay-store]") {
  temp_dir dir;
  auto db = open_store(dir);
  auto all = corpus();
  REQUIRE(unwrap(db->relay_messages().record(all)) == all.size());
  auto s = sorted(all);

  SECTION("a cursor that names no recorded message is not_found") {
    auto stranger = relay(pubsub_a, content[0], 1000, "never recorded");
    store_query lookup;
    lookup.message_hashes = {all[0].hash, all[1].hash};
    for (auto q : {query_for({}), query_for(pubsub_a), query_for(pubsub_b, {content[0]}),
                   query_for({}, {}, -1000, 1000), lookup})
      for (bool forward : {true, false}) {
        q.forward = forward;
        q.cursor = stranger.hash;
        auto r = db->relay_messages().query(q, no_budget);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == errc::not_found);
      }
  }
  SECTION("a cursor outside the filter still continues from its place") {
    // The 40th message of everything, on pubsub b.
    auto pivot = std::find_if(s.begin() + 40, s.end(),
                              [](auto& m) { return m.pubsub_topic == pubsub_b; });
    REQUIRE(pivot != s.end());
    auto q = query_for(pubsub_a);
    q.cursor = pivot->hash;
    q.limit = 100;

    q.forward = true;
    messages after;
    for (auto it = pivot + 1; it != s.end(); ++it)
      if (it->pubsub_topic == pubsub_a)
        after.push_back(*it);
    check_same(unwrap(db->relay_messages().query(q, no_budget)).messages, after);

    q.forward = false;
    messages before;
    for (auto it = s.begin(); it != pivot; ++it)
      if (it->pubsub_topic == pubsub_a)
        before.push_back(*it);
    check_same(unwrap(db->relay_messages().query(q, no_budget)).messages, before);
  }
  SECTION("the cursor message itself is never returned") {
    for (std::size_t i : {std::size_t{0}, std::size_t{1}, s.size() / 2, s.size() - 1}) {
      auto q = query_for({});
      q.cursor = s[i].hash;
      q.limit = 3;
      q.forward = true;
      auto forward = unwrap(db->relay_messages().query(q, no_budget));
      CHECK(hashes(forward.messages)
            == hashes(messages(s.begin() + i + 1, s.begin() + std::min(i + 4, s.size()))));
      CHECK(forward.cursor.has_value() == (i + 4 < s.size()));
      q.forward = false;
      auto backward = unwrap(db->relay_messages().query(q, no_budget));
      CHECK(hashes(backward.messages)
            == hashes(messages(s.begin() + (i >= 3 ? i - 3 : 0), s.begin() + i)));
      CHECK(backward.cursor.has_value() == (i > 3));
    }
  }
}

TEST_CASE("a byte budget ends pages early and the walk still completes",
          "[store][relay-store]") {
  temp_dir dir;
  auto db = open_store(dir);
  auto all = corpus();
  REQUIRE(unwrap(db->relay_messages().record(all)) == all.size());

  for (auto [name, q] : std::vector<std::pair<std::string, store_query>>{
         {"no filter", query_for({})},
         {"two content topics", query_for(pubsub_b, {content[0], content[2]})},
         {"time range", query_for({}, {}, -5000, 8000)}}) {
    auto want = expected(all, q);
    REQUIRE(want.size() > 10);
    for (std::size_t budget : {std::size_t{150}, std::size_t{400}, std::size_t{1000}}) {
      for (bool forward : {true, false}) {
        INFO(name << ", budget " << budget << (forward ? ", forward" : ", backward"));
        q.forward = forward;
        q.limit = 100;
        q.cursor.reset();
        messages got;
        std::size_t pages = 0;
        for (;;) {
          REQUIRE(++pages <= want.size());
          auto page = unwrap(db->relay_messages().query(q, budget));
          REQUIRE_FALSE(page.messages.empty());
          auto bytes = bytes_of(page.messages);
          // Within the budget, unless one message alone is over it.
          if (page.messages.size() > 1)
            CHECK(bytes <= budget);
          // Where this page lies in `want`, and the message it stopped before.
          auto done = got.size() + page.messages.size();
          if (page.cursor && done < want.size()) {
            const auto& next = forward ? want[done] : want[want.size() - done - 1];
            CHECK(bytes + next.message.size() > budget);
          }
          if (forward)
            got.insert(got.end(), page.messages.begin(), page.messages.end());
          else
            got.insert(got.begin(), page.messages.begin(), page.messages.end());
          if (!page.cursor)
            break;
          CHECK(*page.cursor
                == (forward ? page.messages.back().hash : page.messages.front().hash));
          q.cursor = page.cursor;
        }
        check_same(got, want);
        // The budget, not the limit, cut the pages.
        CHECK(pages > 1);
        CHECK(pages >= bytes_of(want) / budget);
      }
    }
  }

  SECTION("a budget of nothing still carries one message a page") {
    auto want = sorted(all);
    for (bool forward : {true, false}) {
      auto w = walk(*db, query_for({}), forward, 20, 0);
      check_same(w.all, want);
      CHECK(w.pages == want.size());
    }
    // A hash lookup too.
    store_query lookup;
    lookup.message_hashes = {all[0].hash, all[1].hash, all[2].hash};
    auto w = walk(*db, lookup, true, 20, 0);
    check_same(w.all, expected(all, lookup));
    CHECK(w.pages == 3);
  }
}

namespace {

/// After a prune: the count, every index and the hash lookup agree that
/// exactly `kept` remains.
void check_only(const store& db, const messages& kept, const messages& gone) {
  CHECK(unwrap(db.relay_messages().count()) == kept.size());
  for (const auto& [name, q] : filter_queries()) {
    INFO(name);
    for (std::uint64_t limit : {3, 100})
      check_walks(db, q, expected(kept, q), limit);
  }
  store_query lookup;
  for (const auto& m : kept)
    lookup.message_hashes.push_back(m.hash);
  for (const auto& m : gone)
    lookup.message_hashes.push_back(m.hash);
  // A lookup of every hash ever recorded, in pages of at most 100.
  messages found;
  for (std::size_t i = 0; i < lookup.message_hashes.size(); i += 100) {
    store_query part;
    part.limit = 100;
    part.message_hashes.assign(
      lookup.message_hashes.begin() + i,
      lookup.message_hashes.begin() + std::min(i + 100, lookup.message_hashes.size()));
    auto page = unwrap(db.relay_messages().query(part, no_budget));
    found.insert(found.end(), page.messages.begin(), page.messages.end());
  }
  std::sort(found.begin(), found.end(), key_less);
  check_same(found, sorted(kept));
  // A pruned message is no cursor any more.
  for (const auto& m : gone) {
    auto q = query_for({});
    q.cursor = m.hash;
    auto r = db.relay_messages().query(q, no_budget);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::not_found);
  }
}

} // namespace

TEST_CASE("prune drops the oldest first, within max_drop, from every index",
          "[store][relay-store]") {
  temp_dir dir;
  auto db = open_store(dir);
  auto all = corpus();
  REQUIRE(unwrap(db->relay_messages().record(all)) == all.size());
  auto s = sorted(all);
  auto split = [&](std::size_t dropped) {
    return std::pair{messages(s.begin() + dropped, s.end()), messages(s.begin(), s.begin() + dropped)};
  };
  constexpr auto keep_all = std::numeric_limits<std::uint64_t>::max();

  // Nothing is older than the oldest instant; max_drop 0 drops nothing.
  CHECK(unwrap(db->relay_messages().prune(min_ns, keep_all, 1000)) == 0);
  CHECK(unwrap(db->relay_messages().prune(max_ns, 0, 0)) == 0);
  CHECK(unwrap(db->relay_messages().count()) == all.size());

  SECTION("by age") {
    const std::int64_t before = -3000;
    auto older = static_cast<std::size_t>(
      std::count_if(all.begin(), all.end(), [&](auto& m) { return m.timestamp < before; }));
    auto at_before =
      std::count_if(all.begin(), all.end(), [&](auto& m) { return m.timestamp == before; });
    REQUIRE(older > 8);
    REQUIRE(at_before > 0);

    // Bounded steps, oldest first.
    CHECK(unwrap(db->relay_messages().prune(before, keep_all, 4)) == 4);
    {
      auto [kept, gone] = split(4);
      check_only(*db, kept, gone);
    }
    CHECK(unwrap(db->relay_messages().prune(before, keep_all, 3)) == 3);
    CHECK(unwrap(db->relay_messages().count()) == all.size() - 7);
    CHECK(unwrap(db->relay_messages().prune(before, keep_all, 1000)) == older - 7);
    CHECK(unwrap(db->relay_messages().prune(before, keep_all, 1000)) == 0);
    auto [kept, gone] = split(older);
    // A message exactly at `before` is not older than it.
    CHECK(kept.front().timestamp == before);
    check_only(*db, kept, gone);

    // A pruned hash is new again.
    CHECK(unwrap(db->relay_messages().record({gone[2]})) == 1);
    CHECK(unwrap(db->relay_messages().count()) == kept.size() + 1);
  }
  SECTION("by count") {
    const std::uint64_t keep = 30;
    auto over = all.size() - keep;
    std::uint64_t dropped = 0;
    for (std::uint64_t step : {7, 7, 1}) {
      CHECK(unwrap(db->relay_messages().prune(min_ns, keep, step)) == step);
      dropped += step;
      auto [kept, gone] = split(dropped);
      check_only(*db, kept, gone);
    }
    CHECK(unwrap(db->relay_messages().prune(min_ns, keep, 1000)) == over - dropped);
    CHECK(unwrap(db->relay_messages().prune(min_ns, keep, 1000)) == 0);
    auto [kept, gone] = split(over);
    REQUIRE(kept.size() == keep);
    check_only(*db, kept, gone);
  }
  SECTION("by age and count together: whichever drops more") {
    // Age alone would drop few; the count drops more.
    const std::int64_t before = -7000;
    auto older = static_cast<std::size_t>(
      std::count_if(all.begin(), all.end(), [&](auto& m) { return m.timestamp < before; }));
    REQUIRE(older < 20);
    CHECK(unwrap(db->relay_messages().prune(before, all.size() - 20, 1000)) == 20);
    auto [kept, gone] = split(20);
    check_only(*db, kept, gone);
    // Now age drops more than the count asks.
    auto older_now = static_cast<std::size_t>(
      std::count_if(kept.begin(), kept.end(), [&](auto& m) { return m.timestamp < 2000; }));
    REQUIRE(older_now > 5);
    CHECK(unwrap(db->relay_messages().prune(2000, kept.size() - 5, 1000)) == older_now);
    auto [kept2, gone2] = split(20 + older_now);
    check_only(*db, kept2, gone2);
  }
  SECTION("everything") {
    CHECK(unwrap(db->relay_messages().prune(max_ns, 0, 1000)) == all.size());
    check_only(*db, {}, s);
  }
}

TEST_CASE("recorded relay messages survive a reopen", "[store][relay-store]") {
  temp_dir dir;
  auto all = corpus();
  {
    auto db = open_store(dir);
    REQUIRE(unwrap(db->relay_messages().record(all)) == all.size());
    CHECK(unwrap(db->relay_messages().prune(min_ns, all.size() - 10, 1000)) == 10);
  }
  auto s = sorted(all);
  messages kept(s.begin() + 10, s.end()), gone(s.begin(), s.begin() + 10);

  auto db = open_store(dir);
  check_only(*db, kept, gone);
  // Still deduplicated after the reopen.
  CHECK(unwrap(db->relay_messages().record(kept)) == 0);
  CHECK(unwrap(db->relay_messages().record({gone[0], kept[0]})) == 1);
  CHECK(unwrap(db->relay_messages().count()) == kept.size() + 1);

  // And once more, counting from the disk again.
  db.reset();
  db = open_store(dir);
  kept.push_back(gone[0]);
  gone.erase(gone.begin());
  check_only(*db, kept, gone);
}
