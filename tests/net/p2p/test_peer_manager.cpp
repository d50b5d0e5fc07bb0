// The peer manager's bookkeeping: which records it takes, whom it dials and
// when, and what it passes on. Real signed records, no sockets.
#include "net/p2p/enr_peer.hpp"
#include "net/p2p/peer_id.hpp"
#include "net/p2p/peer_manager.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace annals;
using namespace annals::p2p;
using namespace std::chrono_literals;

namespace {

using clock_type = peer_manager::clock;

struct node {
  private_key key = private_key::generate();
  enr_record record;
  std::string peer;
};

/// A relay node's record at `address` (an /ip4/…/tcp/… multiaddr).
node make_node(const std::string& address, std::uint8_t waku2 = waku2_relay,
               std::optional<relay_shards> shards = relay_shards{16, {32}}, std::uint64_t seq = 1,
               std::optional<private_key> key = std::nullopt) {
  node n;
  if (key)
    n.key = *key;
  auto made = make_enr(n.key, seq, own_enr_fields({address}, waku2, std::move(shards)));
  REQUIRE(made);
  n.record = *made;
  n.peer = enr_peer_id(n.record);
  return n;
}

peer_manager_config config(std::size_t target) {
  peer_manager_config c;
  c.target_peers = target;
  c.backoff_initial = 1000ms;
  c.backoff_max = 8000ms;
  return c;
}

std::string refusal(peer_manager& m, const node& n, bool loopback_ok = false) {
  auto r = m.add_record(n.record, peer_source::dns, loopback_ok, clock_type::now());
  return r ? std::string("taken") : std::string(r.error().message);
}

} // namespace

TEST_CASE("the peer manager takes only records a relay host here can use, and counts each refusal",
          "[p2p][discovery]") {
  auto self_key = private_key::generate();
  auto self_id = peer_id::from_secp256k1(self_key.public_key()).to_string();
  peer_manager m(config(8), self_id);

  CHECK(refusal(m, make_node("/ip4/10.0.0.2/tcp/60000")) == "taken");
  CHECK_THAT(refusal(m, make_node("/ip4/10.0.0.3/tcp/60000", waku2_store)),
             Catch::Contains("does not offer relay"));
  CHECK_THAT(refusal(m, make_node("/ip4/10.0.0.4/tcp/60000", waku2_relay, relay_shards{1, {32}})),
             Catch::Contains("relays cluster 1"));
  CHECK_THAT(refusal(m, make_node("/ip4/10.0.0.5/tcp/60000", waku2_relay, relay_shards{16, {64}})),
             Catch::Contains("shards other than ours"));
  CHECK_THAT(refusal(m, make_node("/ip4/0.0.0.0/tcp/60000")),
             Catch::Contains("no other host can reach"));
  CHECK_THAT(refusal(m, make_node("/ip4/127.0.0.1/tcp/60000")),
             Catch::Contains("no other host can reach"));
  CHECK(refusal(m, make_node("/ip4/127.0.0.1/tcp/60001"), true) == "taken");
  CHECK_THAT(refusal(m, make_node("/dns4/example.org/tcp/60000")),
             Catch::Contains("no address a TCP relay can dial"));
  CHECK_THAT(refusal(m, make_node("/ip4/10.0.0.9/tcp/60000", waku2_relay, relay_shards{16, {32}}, 1,
                                  self_key)),
             Catch::Contains("this node's own"));
  // A record without shards (an older node) is taken.
  CHECK(refusal(m, make_node("/ip4/10.0.0.6/tcp/60000", waku2_relay, std::nullopt)) == "taken");
  // Bytes that are not a record.
  auto bad = m.add_record_bytes("\xc3\x01\x02\x03", peer_source::peer_exchange, false,
                                clock_type::now());
  CHECK_FALSE(bad);

  const auto& c = m.counters();
  CHECK(c.found[std::size_t(peer_source::dns)] == 3);
  CHECK(c.refused[std::size_t(record_refusal::not_relay)] == 1);
  CHECK(c.refused[std::size_t(record_refusal::other_cluster)] == 2);
  CHECK(c.refused[std::size_t(record_refusal::unroutable)] == 2);
  CHECK(c.refused[std::size_t(record_refusal::no_address)] == 1);
  CHECK(c.refused[std::size_t(record_refusal::self)] == 1);
  CHECK(c.refused[std::size_t(record_refusal::malformed)] == 1);
  CHECK(m.candidate_count() == 3);
}

TEST_CASE("the peer manager dials up to its target, backs off a failing peer and moves a peer "
          "whose record is newer",
          "[p2p][discovery]") {
  peer_manager m(config(2), "self");
  auto t0 = clock_type::now();
  std::vector<node> nodes;
  for (int i = 0; i < 4; ++i) {
    nodes.push_back(make_node("/ip4/10.0.0." + std::to_string(10 + i) + "/tcp/60000"));
    REQUIRE(m.add_record(nodes.back().record, peer_source::discv5, false, t0));
  }
  auto first = m.take_dials(t0);
  REQUIRE(first.size() == 2);
  CHECK(m.take_dials(t0).empty());  // two dials under way fill the target

  // One connects; the other fails and waits out its backoff.
  m.on_connected(first[0].peer, false);
  m.on_dial_failed(first[1].peer, t0);
  auto second = m.take_dials(t0);
  REQUIRE(second.size() == 1);
  CHECK(second[0].peer != first[1].peer);
  m.on_dial_failed(second[0].peer, t0);
  // Both failed peers back off; the fourth is the only one ready.
  auto third = m.take_dials(t0);
  REQUIRE(third.size() == 1);
  m.on_dial_failed(third[0].peer, t0);
  CHECK(m.take_dials(t0 + 500ms).empty());
  auto wake = m.next_wakeup({});
  REQUIRE(wake);
  CHECK(*wake == t0 + 1000ms);
  auto retried = m.take_dials(t0 + 1000ms);
  REQUIRE(retried.size() == 1);
  // A second failure doubles the wait: 2 s from now, not 1.
  m.on_dial_failed(retried[0].peer, t0 + 1000ms);
  bool retried_early = false, retried_later = false;
  for (auto t = t0 + 1000ms; t < t0 + 12s; t += 100ms)
    for (const auto& d : m.take_dials(t)) {
      (t < t0 + 3000ms ? retried_early : retried_later) |= d.peer == retried[0].peer;
      m.on_dial_failed(d.peer, t);
    }
  CHECK_FALSE(retried_early);
  CHECK(retried_later);

  // At the target nothing is dialled and nothing wakes.
  auto not_connected = [&](const std::string& except) {
    for (const auto& n : nodes)
      if (n.peer != first[0].peer && n.peer != except)
        return n;
    FAIL("no such node");
    return nodes[0];
  };
  auto inbound = not_connected("");
  m.on_connected(inbound.peer, true);
  CHECK(m.connected_count() == 2);
  CHECK_FALSE(m.below_target());
  CHECK(m.take_dials(t0 + 60s).empty());
  CHECK_FALSE(m.next_wakeup({}));
  // A peer leaving is redialled after the initial backoff, not at once.
  m.on_disconnected(first[0].peer, t0 + 10s);
  CHECK(m.below_target());

  // A newer record moves a peer; an older one changes nothing.
  auto mover = not_connected(inbound.peer);
  auto moved = make_node("/ip4/10.0.1.1/tcp/60001", waku2_relay, relay_shards{16, {32}}, 5,
                         mover.key);
  auto stale = make_node("/ip4/10.0.1.2/tcp/60002", waku2_relay, relay_shards{16, {32}}, 2,
                         mover.key);
  for (auto* n : {&moved, &stale}) {
    auto known = m.add_record(n->record, peer_source::peer_exchange, false, t0);
    REQUIRE(known);
    CHECK_FALSE(*known);  // not a new peer
  }
  bool saw_moved = false;
  for (auto t = t0 + 10s; t < t0 + 120s && !saw_moved; t += 1s)
    for (const auto& d : m.take_dials(t)) {
      if (d.peer == mover.peer)
        saw_moved = d.address == "/ip4/10.0.1.1/tcp/60001/p2p/" + mover.peer;
      m.on_dial_failed(d.peer, t);
    }
  CHECK(saw_moved);
}

TEST_CASE("peer exchange passes on only peers proven to speak relay, never the asker, and 127.x "
          "only over loopback",
          "[p2p][discovery]") {
  peer_manager m(config(8), "self");
  auto now = clock_type::now();
  auto far = make_node("/ip4/10.0.0.2/tcp/60000");
  auto near = make_node("/ip4/127.0.0.1/tcp/60001");
  auto unproven = make_node("/ip4/10.0.0.3/tcp/60000");
  REQUIRE(m.add_record(far.record, peer_source::static_list, true, now));
  REQUIRE(m.add_record(near.record, peer_source::static_list, true, now));
  REQUIRE(m.add_record(unproven.record, peer_source::dns, true, now));
  // Static peers are the host's to dial.
  auto dials = m.take_dials(now);
  REQUIRE(dials.size() == 1);
  CHECK(dials[0].peer == unproven.peer);
  CHECK(m.exchange_records(10, "asker", true).empty());

  for (auto* n : {&far, &near, &unproven})
    m.on_connected(n->peer, false);
  m.on_relay_identified(far.peer);
  m.on_relay_identified(near.peer);
  auto over_loopback = m.exchange_records(10, "asker", true);
  std::sort(over_loopback.begin(), over_loopback.end());
  auto expected = std::vector<std::string>{far.record.encoded, near.record.encoded};
  std::sort(expected.begin(), expected.end());
  CHECK(over_loopback == expected);
  CHECK(m.exchange_records(10, "asker", false) == std::vector<std::string>{far.record.encoded});
  CHECK(m.exchange_records(10, far.peer, false).empty());
  CHECK(m.exchange_records(1, "asker", true).size() == 1);
  CHECK(m.counters().records_served == 4);

  // Askable peers are asked once per interval.
  std::vector<std::string> serving{far.peer};
  peer_manager below(config(8), "self");
  below.on_connected(far.peer, false);
  CHECK(below.take_exchange_peer(serving, now) == std::optional<std::string>(far.peer));
  CHECK_FALSE(below.take_exchange_peer(serving, now + 1s));
  CHECK(below.next_wakeup(serving) == std::optional<clock_type::time_point>(now + 30s));
  CHECK(below.take_exchange_peer(serving, now + 30s));
  // Answers with nothing new double the wait; one with news resets it.
  below.on_exchange_answer(far.peer, 0, now + 30s);
  CHECK(below.next_wakeup(serving) == std::optional<clock_type::time_point>(now + 90s));
  CHECK_FALSE(below.take_exchange_peer(serving, now + 89s));
  CHECK(below.take_exchange_peer(serving, now + 90s));
  below.on_exchange_answer(far.peer, 0, now + 90s);
  CHECK(below.next_wakeup(serving) == std::optional<clock_type::time_point>(now + 210s));
  below.on_exchange_answer(far.peer, 3, now + 100s);
  CHECK(below.next_wakeup(serving) == std::optional<clock_type::time_point>(now + 130s));
}

TEST_CASE("a flood of records costs at most max_candidates; failing peers make room first",
          "[p2p][discovery]") {
  auto c = config(1);
  c.max_candidates = 3;
  peer_manager m(c, "self");
  auto now = clock_type::now();
  std::vector<node> nodes;
  for (int i = 0; i < 3; ++i) {
    nodes.push_back(make_node("/ip4/10.0.2." + std::to_string(i + 1) + "/tcp/60000"));
    REQUIRE(m.add_record(nodes.back().record, peer_source::peer_exchange, false, now));
  }
  auto extra = make_node("/ip4/10.0.2.9/tcp/60000");
  auto refused = m.add_record(extra.record, peer_source::peer_exchange, false, now);
  REQUIRE_FALSE(refused);
  CHECK(m.counters().refused[std::size_t(record_refusal::table_full)] == 1);
  auto d = m.take_dials(now);
  REQUIRE(d.size() == 1);
  m.on_dial_failed(d[0].peer, now);
  CHECK(m.add_record(extra.record, peer_source::peer_exchange, false, now));
  CHECK(m.candidate_count() == 3);
  CHECK_FALSE(m.source_of(d[0].peer));
}
