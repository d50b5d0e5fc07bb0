#include "net/p2p/gossipsub.hpp"

#include "core/hex.hpp"
#include "core/keccak.hpp"
#include "proto/libp2p.pb.h"
#include "proto/waku_message.pb.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace annals;
using namespace annals::p2p;
using namespace std::chrono_literals;

namespace {

using time_point = gossipsub_router::clock::time_point;

// Any fixed origin works: the router has no clock of its own.
const time_point t0 = time_point{} + 1h;
const std::string topic = "/waku/2/rs/16/32";
const std::string other_topic = "/waku/2/rs/16/64";

std::string raw_id(std::string_view data) {
  auto digest = sha256(data);
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

// --- RPCs as a remote peer would send them ---------------------------------

std::string subscription_rpc(const std::string& topic_id, bool subscribe) {
  pb::RPC rpc;
  auto* sub = rpc.add_subscriptions();
  sub->set_subscribe(subscribe);
  sub->set_topicid(topic_id);
  return rpc.SerializeAsString();
}

std::string message_rpc(const pb::Message& message) {
  pb::RPC rpc;
  *rpc.add_publish() = message;
  return rpc.SerializeAsString();
}

std::string message_rpc(const std::string& topic_id, const std::string& data) {
  pb::Message message;
  message.set_data(data);
  message.set_topic(topic_id);
  return message_rpc(message);
}

std::string graft_rpc(const std::string& topic_id) {
  pb::RPC rpc;
  rpc.mutable_control()->add_graft()->set_topicid(topic_id);
  return rpc.SerializeAsString();
}

std::string prune_rpc(const std::string& topic_id, std::optional<std::uint64_t> backoff) {
  pb::RPC rpc;
  auto* prune = rpc.mutable_control()->add_prune();
  prune->set_topicid(topic_id);
  if (backoff)
    prune->set_backoff(*backoff);
  return rpc.SerializeAsString();
}

// --- what a router sends ----------------------------------------------------

using sent_rpcs = std::map<peer_handle, std::vector<pb::RPC>>;

sent_rpcs drain(gossipsub_router& router) {
  sent_rpcs sent;
  for (auto& [peer, body, own] : router.take_outgoing()) {
    pb::RPC rpc;
    REQUIRE(rpc.ParseFromString(body));
    sent[peer].push_back(std::move(rpc));
  }
  return sent;
}

std::vector<std::string> grafts_in(const std::vector<pb::RPC>& rpcs) {
  std::vector<std::string> topics;
  for (const auto& rpc : rpcs)
    for (const auto& graft : rpc.control().graft())
      topics.push_back(graft.topicid());
  return topics;
}

std::vector<std::pair<std::string, std::uint64_t>> prunes_in(const std::vector<pb::RPC>& rpcs) {
  std::vector<std::pair<std::string, std::uint64_t>> prunes;
  for (const auto& rpc : rpcs)
    for (const auto& prune : rpc.control().prune())
      prunes.emplace_back(prune.topicid(), prune.backoff());
  return prunes;
}

std::vector<std::string> data_in(const std::vector<pb::RPC>& rpcs) {
  std::vector<std::string> data;
  for (const auto& rpc : rpcs)
    for (const auto& message : rpc.publish())
      data.push_back(message.data());
  return data;
}

std::size_t total_grafts(const sent_rpcs& sent) {
  std::size_t count = 0;
  for (const auto& [peer, rpcs] : sent)
    count += grafts_in(rpcs).size();
  return count;
}

std::set<peer_handle> as_set(const std::vector<peer_handle>& peers) {
  return {peers.begin(), peers.end()};
}

void feed(gossipsub_router& router, peer_handle peer, const std::string& rpc, time_point now,
          std::vector<gossip_message>& inbox) {
  auto handled = router.handle_rpc(peer, rpc, now, inbox);
  REQUIRE(handled);
}

void feed(gossipsub_router& router, peer_handle peer, const std::string& rpc, time_point now) {
  std::vector<gossip_message> inbox;
  feed(router, peer, rpc, now, inbox);
  REQUIRE(inbox.empty());
}

// A router subscribed to `topic` with fake peers that have subscribed too
// and sit in its mesh (all of them, when there are at most d_low), with the
// queue drained.
void meshed_router(gossipsub_router& router, const std::vector<peer_handle>& peers) {
  router.subscribe(topic);
  for (auto peer : peers) {
    router.add_peer(peer);
    feed(router, peer, subscription_rpc(topic, true), t0);
  }
  router.heartbeat(t0);
  router.take_outgoing();
}

// Routers wired together in memory: node i is peer handle i + 1 to the
// others (handle 0 stays unused so an off-by-one shows up).
class network {
public:
  explicit network(std::size_t size, gossipsub_config config = {}) : inboxes(size) {
    for (std::size_t i = 0; i < size; ++i)
      routers_.push_back(std::make_unique<gossipsub_router>(config));
  }

  static peer_handle handle(std::size_t node) { return node + 1; }

  gossipsub_router& operator[](std::size_t node) { return *routers_.at(node); }

  void connect(std::size_t a, std::size_t b) {
    links_.insert({a, b});
    links_.insert({b, a});
    routers_[a]->add_peer(handle(b));
    routers_[b]->add_peer(handle(a));
  }

  /// Carries every queued RPC to its receiver until no router has anything
  /// left to say; returns how many RPCs moved.
  std::size_t pump(time_point now) {
    std::size_t moved = 0;
    for (int round = 0; round < 100; ++round) {
      bool quiet = true;
      for (std::size_t from = 0; from < routers_.size(); ++from) {
        for (auto& [peer, body, own] : routers_[from]->take_outgoing()) {
          quiet = false;
          ++moved;
          REQUIRE(peer >= 1);
          std::size_t to = peer - 1;
          REQUIRE(links_.count({from, to}) == 1);  // only over a connection
          auto handled = routers_[to]->handle_rpc(handle(from), body, now, inboxes[to]);
          REQUIRE(handled);
        }
      }
      if (quiet)
        return moved;
    }
    FAIL("the routers keep talking");
    return moved;
  }

  std::vector<std::vector<gossip_message>> inboxes;

private:
  std::vector<std::unique_ptr<gossipsub_router>> routers_;
  std::set<std::pair<std::size_t, std::size_t>> links_;
};

} // namespace

TEST_CASE("gossipsub announces subscriptions and publishes StrictNoSign messages", "[p2p]") {
  gossipsub_router router;
  router.subscribe(topic);
  CHECK(router.take_outgoing().empty());  // nobody to tell yet

  router.add_peer(7);
  auto sent = drain(router);
  REQUIRE(sent.size() == 1);
  REQUIRE(sent[7].size() == 1);
  const auto& hello = sent[7][0];
  REQUIRE(hello.subscriptions_size() == 1);
  CHECK(hello.subscriptions(0).has_subscribe());
  CHECK(hello.subscriptions(0).subscribe());
  CHECK(hello.subscriptions(0).topicid() == topic);
  CHECK(hello.publish_size() == 0);
  CHECK_FALSE(hello.has_control());

  router.add_peer(7);  // again: nothing new to say
  CHECK(router.take_outgoing().empty());

  feed(router, 7, subscription_rpc(topic, true), t0);
  std::size_t recipients = 99;
  auto id = router.publish(topic, "hello", t0, &recipients);
  REQUIRE(id);
  CHECK(to_hex(*id) == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  CHECK(recipients == 1);
  CHECK(router.counters().published == 1);

  auto out = router.take_outgoing();
  REQUIRE(out.size() == 1);
  CHECK(out[0].peer == 7);
  // Byte for byte: RPC{publish: Message{data=2: "hello", topic=4: topic}}.
  std::string message = std::string("\x12\x05hello\x22", 8) + char(topic.size()) + topic;
  CHECK(out[0].body == "\x12" + std::string(1, char(message.size())) + message);
  pb::RPC rpc;
  REQUIRE(rpc.ParseFromString(out[0].body));
  REQUIRE(rpc.publish_size() == 1);
  const auto& published = rpc.publish(0);
  CHECK(published.data() == "hello");
  CHECK(published.topic() == topic);
  CHECK_FALSE(published.has_from());
  CHECK_FALSE(published.has_seqno());
  CHECK_FALSE(published.has_signature());
  CHECK_FALSE(published.has_key());
}

TEST_CASE("gossipsub routers exchange subscriptions and graft each other", "[p2p]") {
  network net(3);
  net.connect(0, 1);
  net.connect(0, 2);
  net.connect(1, 2);
  for (std::size_t i = 0; i < 3; ++i)
    net[i].subscribe(topic);
  net.pump(t0);

  for (std::size_t i = 0; i < 3; ++i) {
    std::set<peer_handle> others;
    for (std::size_t j = 0; j < 3; ++j)
      if (j != i)
        others.insert(network::handle(j));
    CHECK(as_set(net[i].topic_peers(topic)) == others);
    // Everyone subscribed before hearing of the others: no mesh yet.
    CHECK(net[i].mesh_peers(topic).empty());
  }

  // Router 0's heartbeat grafts both (2 < d_low), as GRAFT control messages.
  net[0].heartbeat(t0 + 1s);
  auto out = net[0].take_outgoing();
  REQUIRE(out.size() == 2);
  for (auto& [peer, body, own] : out) {
    pb::RPC rpc;
    REQUIRE(rpc.ParseFromString(body));
    REQUIRE(rpc.control().graft_size() == 1);
    CHECK(rpc.control().graft(0).topicid() == topic);
    CHECK(rpc.control().prune_size() == 0);
    feed(net[peer - 1], network::handle(0), body, t0 + 1s);
  }
  CHECK(as_set(net[0].mesh_peers(topic)) == std::set<peer_handle>{2, 3});
  CHECK(as_set(net[1].mesh_peers(topic)) == std::set<peer_handle>{1});
  CHECK(as_set(net[2].mesh_peers(topic)) == std::set<peer_handle>{1});
  CHECK(net[1].counters().grafts_in == 1);
  CHECK(net[0].counters().grafts_out == 2);

  // Router 2 leaves: the others forget it, and it prunes its mesh peer.
  net[2].unsubscribe(topic);
  net.pump(t0 + 2s);
  CHECK(as_set(net[0].topic_peers(topic)) == std::set<peer_handle>{2});
  CHECK(as_set(net[0].mesh_peers(topic)) == std::set<peer_handle>{2});
  CHECK(as_set(net[1].topic_peers(topic)) == std::set<peer_handle>{1});
  CHECK(net[0].counters().prunes_in == 1);
}

TEST_CASE("gossipsub flood publish reaches every subscribed peer once", "[p2p]") {
  network net(3);
  net.connect(0, 1);
  net.connect(0, 2);
  net.connect(1, 2);
  net[1].subscribe(topic);
  net[2].subscribe(topic);
  net.pump(t0);
  net[1].heartbeat(t0 + 1s);
  net[2].heartbeat(t0 + 1s);
  net.pump(t0 + 1s);
  REQUIRE(as_set(net[1].mesh_peers(topic)) == std::set<peer_handle>{3});

  // Router 0 publishes without subscribing (fanout), to both topic peers.
  std::size_t recipients = 0;
  auto id = net[0].publish(topic, "flood", t0 + 2s, &recipients);
  REQUIRE(id);
  CHECK(recipients == 2);
  net.pump(t0 + 2s);

  for (std::size_t i : {1, 2}) {
    REQUIRE(net.inboxes[i].size() == 1);
    const auto& got = net.inboxes[i][0];
    CHECK(got.topic == topic);
    CHECK(got.data == "flood");
    CHECK(got.id == *id);
    CHECK(got.from == network::handle(0));
    // Each forwarded it to its mesh peer, which had it already.
    CHECK(net[i].counters().forwarded == 1);
    CHECK(net[i].counters().duplicates == 1);
    CHECK(net[i].counters().delivered == 1);
  }
  CHECK(net.inboxes[0].empty());
}

TEST_CASE("gossipsub puts this node's own messages in RPCs of their own, marked for the host to "
          "drop last",
          "[p2p]") {
  gossipsub_router router;
  meshed_router(router, {1, 2});
  std::vector<gossip_message> inbox;
  feed(router, 1, message_rpc(topic, "forwarded"), t0, inbox);
  REQUIRE(router.publish(topic, "ours", t0));
  std::map<peer_handle, std::vector<std::pair<bool, std::string>>> sent;
  for (auto& [peer, body, own] : router.take_outgoing()) {
    pb::RPC rpc;
    REQUIRE(rpc.ParseFromString(body));
    for (const auto& m : rpc.publish())
      sent[peer].emplace_back(own, m.data());
  }
  // Peer 2 gets both, each in its own kind of RPC; peer 1 (the sender of
  // the forwarded one) only ours.
  CHECK(sent[2] == std::vector<std::pair<bool, std::string>>{{false, "forwarded"}, {true, "ours"}});
  CHECK(sent[1] == std::vector<std::pair<bool, std::string>>{{true, "ours"}});
}

TEST_CASE("gossipsub forwards along a line once the middle router grafts", "[p2p]") {
  network net(3);
  net.connect(0, 1);
  net.connect(1, 2);
  for (std::size_t i = 0; i < 3; ++i)
    net[i].subscribe(topic);
  net.pump(t0);
  CHECK(net[1].mesh_peers(topic).empty());

  // Before any heartbeat, B has no mesh: A's flood reaches B but stops there.
  std::size_t recipients = 0;
  REQUIRE(net[0].publish(topic, "first", t0, &recipients));
  CHECK(recipients == 1);
  net.pump(t0);
  REQUIRE(net.inboxes[1].size() == 1);
  CHECK(net.inboxes[2].empty());

  net[1].heartbeat(t0 + 1s);
  net.pump(t0 + 1s);
  CHECK(as_set(net[1].mesh_peers(topic)) == std::set<peer_handle>{1, 3});
  CHECK(as_set(net[2].mesh_peers(topic)) == std::set<peer_handle>{2});

  REQUIRE(net[0].publish(topic, "second", t0 + 2s));
  net.pump(t0 + 2s);
  REQUIRE(net.inboxes[2].size() == 1);
  CHECK(net.inboxes[2][0].data == "second");
  CHECK(net.inboxes[2][0].from == network::handle(1));
  CHECK(net.inboxes[1].size() == 2);
  CHECK(net[1].counters().forwarded == 1);  // to C only, never back to A
  CHECK(net.inboxes[0].empty());
}

TEST_CASE("gossipsub suppresses duplicates with the seen cache", "[p2p]") {
  gossipsub_router router;
  meshed_router(router, {1, 2, 3});
  REQUIRE(router.mesh_peers(topic).size() == 3);

  std::vector<gossip_message> inbox;
  feed(router, 1, message_rpc(topic, "once"), t0, inbox);
  REQUIRE(inbox.size() == 1);
  auto sent = drain(router);
  CHECK(sent.count(1) == 0);  // not back to the sender
  CHECK(data_in(sent[2]) == std::vector<std::string>{"once"});
  CHECK(data_in(sent[3]) == std::vector<std::string>{"once"});

  feed(router, 2, message_rpc(topic, "once"), t0, inbox);
  CHECK(inbox.size() == 1);
  CHECK(router.take_outgoing().empty());
  CHECK(router.counters().duplicates == 1);
  CHECK(router.counters().forwarded == 2);

  // Our own publish is seen before it leaves, so its echo is a duplicate,
  // and publishing what the network already carried is refused.
  REQUIRE(router.publish(topic, "mine", t0));
  router.take_outgoing();
  feed(router, 3, message_rpc(topic, "mine"), t0, inbox);
  CHECK(inbox.size() == 1);
  CHECK(router.counters().duplicates == 2);
  auto again = router.publish(topic, "once", t0);
  REQUIRE_FALSE(again);
  CHECK(again.error().code == errc::conflict);
  CHECK(again.error().message.find("duplicate message") != std::string::npos);
}

TEST_CASE("gossipsub rejects messages that carry signing fields", "[p2p]") {
  gossipsub_router router;
  meshed_router(router, {1, 2});
  std::vector<gossip_message> inbox;

  for (int field = 0; field < 4; ++field) {
    pb::Message message;
    message.set_data("signed payload");
    message.set_topic(topic);
    // Present but empty still counts: StrictNoSign is about presence.
    switch (field) {
    case 0: message.set_from(""); break;
    case 1: message.set_seqno("\x00\x00\x00\x01"); break;
    case 2: message.set_signature("sig"); break;
    case 3: message.set_key("key"); break;
    }
    feed(router, 1, message_rpc(message), t0, inbox);
  }
  CHECK(inbox.empty());
  CHECK(router.take_outgoing().empty());
  CHECK(router.counters().rejected == 4);
  CHECK(router.counters().messages_in == 4);

  // The rejects did not poison the seen cache for the same data unsigned.
  feed(router, 1, message_rpc(topic, "signed payload"), t0, inbox);
  CHECK(inbox.size() == 1);
  CHECK(router.counters().duplicates == 0);
}

TEST_CASE("gossipsub rejects oversized and incomplete messages", "[p2p]") {
  gossipsub_config config;
  config.max_message = 16;
  gossipsub_router router(config);
  meshed_router(router, {1, 2});
  std::vector<gossip_message> inbox;

  feed(router, 1, message_rpc(topic, std::string(17, 'x')), t0, inbox);
  pb::Message no_topic;
  no_topic.set_data("no topic");
  feed(router, 1, message_rpc(no_topic), t0, inbox);
  pb::Message no_data;
  no_data.set_topic(topic);
  feed(router, 1, message_rpc(no_data), t0, inbox);
  CHECK(inbox.empty());
  CHECK(router.take_outgoing().empty());
  CHECK(router.counters().rejected == 3);

  feed(router, 1, message_rpc(topic, std::string(16, 'x')), t0, inbox);
  CHECK(inbox.size() == 1);

  auto oversized = router.publish(topic, std::string(17, 'y'), t0);
  REQUIRE_FALSE(oversized);
  CHECK(oversized.error().code == errc::invalid_argument);
  CHECK(oversized.error().message.find("max_message") != std::string::npos);
  auto topicless = router.publish("", "data", t0);
  REQUIRE_FALSE(topicless);
  CHECK(topicless.error().code == errc::invalid_argument);
  CHECK(router.counters().published == 0);
}

TEST_CASE("gossipsub reports malformed and oversized RPCs", "[p2p]") {
  gossipsub_config config;
  config.max_rpc = 64;
  gossipsub_router router(config);
  router.subscribe(topic);
  std::vector<gossip_message> inbox;

  // Field 1 announces 5 bytes, 2 follow.
  auto truncated = router.handle_rpc(1, std::string("\x0a\x05" "ab", 4), t0, inbox);
  REQUIRE_FALSE(truncated);
  CHECK(truncated.error().code == errc::malformed);
  CHECK(router.counters().malformed_rpcs == 1);

  auto big = message_rpc(topic, std::string(64, 'z'));
  REQUIRE(big.size() > 64);
  auto oversized = router.handle_rpc(1, big, t0, inbox);
  REQUIRE_FALSE(oversized);
  CHECK(oversized.error().code == errc::malformed);
  CHECK(oversized.error().message.find("max_rpc") != std::string::npos);
  CHECK(router.counters().malformed_rpcs == 2);
  CHECK(router.counters().messages_in == 0);
  CHECK(inbox.empty());

  // The peer is still usable afterwards.
  feed(router, 1, message_rpc(topic, "fine"), t0, inbox);
  CHECK(inbox.size() == 1);
  CHECK(router.counters().rpcs_in == 3);
}

TEST_CASE("gossipsub heartbeat respects the PRUNE backoff", "[p2p]") {
  gossipsub_config config;
  config.prune_backoff = 10s;
  gossipsub_router router(config);
  router.subscribe(topic);
  router.add_peer(5);
  feed(router, 5, subscription_rpc(topic, true), t0);
  router.take_outgoing();
  router.heartbeat(t0);
  CHECK(grafts_in(drain(router)[5]) == std::vector<std::string>{topic});
  REQUIRE(router.mesh_peers(topic) == std::vector<peer_handle>{5});

  // The peer prunes us for 30 s: no GRAFT back until that has passed.
  auto pruned_at = t0 + 1s;
  feed(router, 5, prune_rpc(topic, 30), pruned_at);
  CHECK(router.mesh_peers(topic).empty());
  CHECK(router.counters().prunes_in == 1);
  for (auto s = 1s; s <= 30s; s += 1s) {
    router.heartbeat(pruned_at + s);
    INFO("after " << s.count() << " s");
    CHECK(total_grafts(drain(router)) == 0);
    CHECK(router.mesh_peers(topic).empty());
  }
  router.heartbeat(pruned_at + 32s);
  CHECK(grafts_in(drain(router)[5]) == std::vector<std::string>{topic});
  CHECK(router.mesh_peers(topic) == std::vector<peer_handle>{5});

  // A PRUNE without a backoff means the configured one (10 s here).
  auto pruned_again = pruned_at + 40s;
  feed(router, 5, prune_rpc(topic, std::nullopt), pruned_again);
  router.heartbeat(pruned_again + 9s);
  CHECK(total_grafts(drain(router)) == 0);
  router.heartbeat(pruned_again + 12s);
  CHECK(total_grafts(drain(router)) == 1);
}

TEST_CASE("gossipsub answers GRAFT with PRUNE when it cannot take the peer", "[p2p]") {
  gossipsub_config config;
  config.d = 2;
  config.d_low = 1;
  config.d_high = 3;
  config.prune_backoff = 45s;
  gossipsub_router router(config);

  // Not subscribed to the topic: PRUNE with the configured backoff.
  feed(router, 1, graft_rpc(topic), t0);
  auto sent = drain(router);
  CHECK(prunes_in(sent[1]) ==
        std::vector<std::pair<std::string, std::uint64_t>>{{topic, std::uint64_t{45}}});
  CHECK(router.mesh_peers(topic).empty());
  CHECK(router.counters().grafts_in == 1);
  CHECK(router.counters().prunes_out == 1);

  router.subscribe(topic);
  router.take_outgoing();
  for (peer_handle peer : {2, 3, 4})
    feed(router, peer, graft_rpc(topic), t0);
  CHECK(as_set(router.mesh_peers(topic)) == std::set<peer_handle>{2, 3, 4});
  // Accepted without a reply: the new peers only get our subscription.
  for (const auto& [peer, rpcs] : drain(router)) {
    CHECK(prunes_in(rpcs).empty());
    CHECK(grafts_in(rpcs).empty());
  }

  // The mesh is at d_high now.
  feed(router, 5, graft_rpc(topic), t0);
  CHECK(prunes_in(drain(router)[5]).size() == 1);
  CHECK(router.mesh_peers(topic).size() == 3);

  // Peer 1 was told to back off for 45 s and comes back early.
  feed(router, 2, prune_rpc(topic, 5), t0 + 1s);
  REQUIRE(router.mesh_peers(topic).size() == 2);
  feed(router, 1, graft_rpc(topic), t0 + 10s);
  CHECK(prunes_in(drain(router)[1]).size() == 1);
  CHECK(as_set(router.mesh_peers(topic)) == std::set<peer_handle>{3, 4});
}

TEST_CASE("gossipsub validator reject is not forwarded and ignore is not delivered", "[p2p]") {
  gossipsub_router router;
  meshed_router(router, {1, 2});
  std::vector<std::string> asked_topics;
  router.set_validator([&](const std::string& t, const std::string& data) {
    asked_topics.push_back(t);
    if (data.rfind("bad", 0) == 0)
      return validation::reject;
    if (data == "keep-alive")
      return validation::ignore;
    return validation::accept;
  });
  std::vector<gossip_message> inbox;

  feed(router, 1, message_rpc(topic, "bad apple"), t0, inbox);
  CHECK(inbox.empty());
  CHECK(router.take_outgoing().empty());
  CHECK(router.counters().rejected == 1);
  feed(router, 1, message_rpc(topic, "bad apple"), t0, inbox);  // seen all the same
  CHECK(router.counters().duplicates == 1);

  feed(router, 1, message_rpc(topic, "keep-alive"), t0, inbox);
  CHECK(inbox.empty());
  CHECK(router.take_outgoing().empty());
  CHECK(router.counters().rejected == 1);
  feed(router, 2, message_rpc(topic, "keep-alive"), t0, inbox);
  CHECK(router.counters().duplicates == 2);

  feed(router, 1, message_rpc(topic, "good"), t0, inbox);
  REQUIRE(inbox.size() == 1);
  CHECK(inbox[0].data == "good");
  CHECK(data_in(drain(router)[2]) == std::vector<std::string>{"good"});
  CHECK(router.counters().delivered == 1);
  CHECK(router.counters().forwarded == 1);
  // Duplicates never reach the validator.
  CHECK(asked_topics == std::vector<std::string>{topic, topic, topic});
}

TEST_CASE("gossipsub redelivers a message once the seen cache has expired it", "[p2p]") {
  gossipsub_config config;
  config.seen_ttl = 10s;
  gossipsub_router router(config);
  meshed_router(router, {1});
  std::vector<gossip_message> inbox;

  feed(router, 1, message_rpc(topic, "again"), t0, inbox);
  REQUIRE(router.publish(topic, "own", t0));
  router.heartbeat(t0 + 9s);
  feed(router, 1, message_rpc(topic, "again"), t0 + 9s, inbox);
  CHECK(inbox.size() == 1);
  CHECK(router.counters().duplicates == 1);
  CHECK_FALSE(router.publish(topic, "own", t0 + 9s));

  router.heartbeat(t0 + 10s);
  feed(router, 1, message_rpc(topic, "again"), t0 + 10s, inbox);
  CHECK(inbox.size() == 2);
  CHECK(router.counters().duplicates == 1);
  CHECK(router.publish(topic, "own", t0 + 10s));
}

TEST_CASE("gossipsub forwards the exact data bytes it received", "[p2p]") {
  gossipsub_router router;
  meshed_router(router, {1, 2});

  // A WakuMessage that parses but is not what protobuf would write: fields
  // out of order, a version varint with a redundant zero group, binary bytes
  // in the payload.
  const std::string content_topic = "/toy/1/chat/proto";
  const std::string payload("\x00\xff\x80 binary", 10);
  std::string data;
  data += '\x12';
  data += char(content_topic.size());
  data += content_topic;
  data += '\x0a';
  data += char(payload.size());
  data += payload;
  data += std::string("\x18\x81\x00", 3);
  waku::WakuMessage decoded;
  REQUIRE(decoded.ParseFromString(data));
  CHECK(decoded.payload() == payload);
  CHECK(decoded.version() == 1);
  REQUIRE(decoded.SerializeAsString() != data);  // re-encoding would change it

  std::vector<gossip_message> inbox;
  feed(router, 1, message_rpc(topic, data), t0, inbox);
  REQUIRE(inbox.size() == 1);
  CHECK(inbox[0].data == data);
  CHECK(inbox[0].id == raw_id(data));
  auto sent = drain(router);
  REQUIRE(sent[2].size() == 1);
  REQUIRE(sent[2][0].publish_size() == 1);
  const auto& forwarded = sent[2][0].publish(0);
  CHECK(forwarded.data() == data);
  CHECK(forwarded.topic() == topic);
  CHECK_FALSE(forwarded.has_from());
  CHECK_FALSE(forwarded.has_seqno());
  CHECK_FALSE(forwarded.has_signature());
  CHECK_FALSE(forwarded.has_key());
}

TEST_CASE("gossipsub unsubscribe announces it and prunes the mesh", "[p2p]") {
  gossipsub_config config;
  config.prune_backoff = 60s;
  gossipsub_router router(config);
  meshed_router(router, {1, 2});
  REQUIRE(router.mesh_peers(topic).size() == 2);

  router.unsubscribe(topic);
  CHECK_FALSE(router.subscribed(topic));
  CHECK(router.mesh_peers(topic).empty());
  auto sent = drain(router);
  for (peer_handle peer : {1, 2}) {
    REQUIRE(sent[peer].size() == 1);
    const auto& rpc = sent[peer][0];
    REQUIRE(rpc.subscriptions_size() == 1);
    CHECK(rpc.subscriptions(0).has_subscribe());
    CHECK_FALSE(rpc.subscriptions(0).subscribe());
    CHECK(rpc.subscriptions(0).topicid() == topic);
    CHECK(prunes_in(sent[peer]) ==
          std::vector<std::pair<std::string, std::uint64_t>>{{topic, std::uint64_t{60}}});
  }

  // A message on a topic we left is neither delivered nor forwarded, and not
  // marked seen: after joining again the same bytes are delivered.
  std::vector<gossip_message> inbox;
  feed(router, 1, message_rpc(topic, "while away"), t0, inbox);
  CHECK(inbox.empty());
  CHECK(router.take_outgoing().empty());

  // Joining again announces it but does not GRAFT the peers we just pruned.
  router.subscribe(topic);
  sent = drain(router);
  CHECK(sent[1].at(0).subscriptions(0).subscribe());
  CHECK(total_grafts(sent) == 0);
  CHECK(router.mesh_peers(topic).empty());
  feed(router, 1, message_rpc(topic, "while away"), t0, inbox);
  CHECK(inbox.size() == 1);
}

TEST_CASE("gossipsub drops a peer that unsubscribes from topic peers and mesh", "[p2p]") {
  gossipsub_router router;
  meshed_router(router, {1, 2});
  feed(router, 1, subscription_rpc(topic, false), t0);
  CHECK(router.topic_peers(topic) == std::vector<peer_handle>{2});
  CHECK(router.mesh_peers(topic) == std::vector<peer_handle>{2});

  std::vector<gossip_message> inbox;
  feed(router, 2, message_rpc(topic, "not for 1"), t0, inbox);
  CHECK(router.take_outgoing().empty());  // peer 1 left the mesh
}

TEST_CASE("gossipsub remove_peer forgets the peer but keeps its backoff", "[p2p]") {
  gossipsub_router router;
  meshed_router(router, {1, 2});
  feed(router, 1, prune_rpc(topic, 100), t0);
  REQUIRE(router.publish(topic, "queued for 1", t0));

  router.remove_peer(1);
  CHECK(router.topic_peers(topic) == std::vector<peer_handle>{2});
  CHECK(router.mesh_peers(topic) == std::vector<peer_handle>{2});
  auto sent = drain(router);
  CHECK(sent.count(1) == 0);  // its queue went with it

  router.add_peer(1);
  feed(router, 1, subscription_rpc(topic, true), t0 + 1s);
  router.take_outgoing();
  router.heartbeat(t0 + 2s);
  CHECK(total_grafts(drain(router)) == 0);
  router.heartbeat(t0 + 102s);
  CHECK(grafts_in(drain(router)[1]) == std::vector<std::string>{topic});
}

TEST_CASE("gossipsub heartbeat keeps the mesh between d_low and d", "[p2p]") {
  gossipsub_config config;
  config.d = 3;
  config.d_low = 2;
  config.d_high = 4;
  gossipsub_router router(config);
  meshed_router(router, {1, 2, 3, 4, 5, 6});
  auto mesh = router.mesh_peers(topic);
  REQUIRE(mesh.size() == 3);
  CHECK(router.counters().grafts_out == 3);

  // Down to 2 = d_low: nothing to do.
  feed(router, mesh[0], prune_rpc(topic, 60), t0 + 1s);
  router.heartbeat(t0 + 2s);
  CHECK(total_grafts(drain(router)) == 0);

  // Down to 1: back to d, never picking the peers that pruned us.
  feed(router, mesh[1], prune_rpc(topic, 60), t0 + 3s);
  router.heartbeat(t0 + 4s);
  CHECK(total_grafts(drain(router)) == 2);
  auto now_mesh = as_set(router.mesh_peers(topic));
  CHECK(now_mesh.size() == 3);
  CHECK(now_mesh.count(mesh[0]) == 0);
  CHECK(now_mesh.count(mesh[1]) == 0);
  CHECK(now_mesh.count(mesh[2]) == 1);
}

TEST_CASE("gossipsub take_outgoing merges per peer and splits large batches", "[p2p]") {
  gossipsub_config config;
  config.max_message = 120;
  gossipsub_router router(config);
  router.subscribe(topic);
  router.add_peer(1);
  feed(router, 1, subscription_rpc(topic, true), t0);
  router.heartbeat(t0);
  for (std::string data : {"a", "b", "c"})
    REQUIRE(router.publish(topic, data, t0));

  auto sent = drain(router);
  REQUIRE(sent[1].size() == 1);
  const auto& merged = sent[1][0];
  CHECK(merged.subscriptions_size() == 1);
  CHECK(merged.control().graft_size() == 1);
  CHECK(data_in(sent[1]) == std::vector<std::string>{"a", "b", "c"});

  // Three 60-byte messages do not fit one 120-byte batch: one RPC each, in
  // order.
  for (char c : {'x', 'y', 'z'})
    REQUIRE(router.publish(topic, std::string(60, c), t0));
  auto out = router.take_outgoing();
  REQUIRE(out.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(out[i].peer == 1);
    pb::RPC rpc;
    REQUIRE(rpc.ParseFromString(out[i].body));
    REQUIRE(rpc.publish_size() == 1);
    CHECK(rpc.publish(0).data() == std::string(60, "xyz"[i]));
  }
  CHECK(router.take_outgoing().empty());
}

TEST_CASE("gossipsub adds a peer implicitly when its RPC comes first", "[p2p]") {
  gossipsub_router router;
  router.subscribe(topic);
  feed(router, 42, subscription_rpc(topic, true), t0);
  CHECK(router.topic_peers(topic) == std::vector<peer_handle>{42});
  auto sent = drain(router);
  REQUIRE(sent[42].size() == 1);
  REQUIRE(sent[42][0].subscriptions_size() == 1);
  CHECK(sent[42][0].subscriptions(0).topicid() == topic);

  router.add_peer(42);  // the host catches up: nothing is sent twice
  CHECK(router.take_outgoing().empty());
}

TEST_CASE("gossipsub publishes to topic peers without subscribing", "[p2p]") {
  gossipsub_config config;
  config.d = 2;
  config.d_low = 1;
  config.d_high = 3;
  gossipsub_router router(config);
  for (peer_handle peer : {1, 2, 3}) {
    router.add_peer(peer);
    feed(router, peer, subscription_rpc(topic, true), t0);
  }
  feed(router, 4, subscription_rpc(other_topic, true), t0);
  std::size_t recipients = 0;
  REQUIRE(router.publish(topic, "to all three", t0, &recipients));
  CHECK(recipients == 3);  // flood: more than the fanout's D
  auto sent = drain(router);
  CHECK(sent.size() == 3);
  CHECK(sent.count(4) == 0);

  REQUIRE(router.publish(other_topic, "to peer 4", t0, &recipients));
  CHECK(recipients == 1);
  REQUIRE(router.publish("/waku/2/rs/16/1", "nobody here", t0, &recipients));
  CHECK(recipients == 0);
  CHECK(router.mesh_peers(topic).empty());
}

TEST_CASE("gossipsub repeats its subscriptions to a peer that reopened our stream", "[p2p]") {
  gossipsub_router router;
  router.subscribe(topic);
  router.add_peer(3);
  (void)drain(router);
  router.resend_subscriptions(3);
  auto sent = drain(router);
  REQUIRE(sent[3].size() == 1);
  REQUIRE(sent[3][0].subscriptions_size() == 1);
  CHECK(sent[3][0].subscriptions(0).topicid() == topic);
  router.resend_subscriptions(4);  // unknown peer: nothing
  CHECK(router.take_outgoing().empty());
}

TEST_CASE("gossipsub caps the topics one peer may subscribe to, and their length", "[p2p]") {
  gossipsub_config config;
  config.max_topics_per_peer = 3;
  config.max_topic_length = 32;
  gossipsub_router router(config);
  router.add_peer(7);
  router.add_peer(8);
  drain(router);
  pb::RPC flood;
  for (int i = 0; i < 10'000; ++i) {
    auto* sub = flood.add_subscriptions();
    sub->set_subscribe(true);
    sub->set_topicid("/flood/" + std::to_string(i));
  }
  feed(router, 7, flood.SerializeAsString(), t0);
  CHECK(router.counters().subscriptions_refused == 10'000 - 3);
  CHECK(router.topic_peers("/flood/2").size() == 1);
  CHECK(router.topic_peers("/flood/3").size() == 0);
  // A repeat is not a new topic; a topic left frees a place.
  feed(router, 7, subscription_rpc("/flood/0", true), t0);
  feed(router, 7, subscription_rpc("/flood/1", false), t0);
  feed(router, 7, subscription_rpc("/flood/9", true), t0);
  CHECK(router.topic_peers("/flood/9").size() == 1);
  CHECK(router.counters().subscriptions_refused == 10'000 - 3);
  // Another peer has its own allowance; an overlong name is refused.
  feed(router, 8, subscription_rpc(topic, true), t0);
  feed(router, 8, subscription_rpc(std::string(33, 't'), true), t0);
  CHECK(router.topic_peers(topic).size() == 1);
  CHECK(router.counters().subscriptions_refused == 10'000 - 3 + 1);
}

TEST_CASE("gossipsub gossip reaches the leaves a hub's mesh leaves out", "[p2p][gossip]") {
  // A hub with 12 leaves keeps at most d_high (8) of them in its mesh; the
  // others hear of a message by IHAVE at the next heartbeat and ask for it.
  constexpr std::size_t leaves = 12;
  network net(leaves + 1);
  for (std::size_t i = 1; i <= leaves; ++i)
    net.connect(0, i);
  for (std::size_t i = 0; i <= leaves; ++i)
    net[i].subscribe(topic);
  net.pump(t0);
  for (std::size_t i = 0; i <= leaves; ++i)
    net[i].heartbeat(t0 + 1s);
  net.pump(t0 + 1s);
  auto hub_mesh = net[0].mesh_peers(topic).size();
  REQUIRE(hub_mesh <= 8);
  REQUIRE(hub_mesh < leaves);  // someone is left out, or the test proves nothing

  // Leaf 1 publishes: flood reaches the hub, the hub forwards to its mesh.
  REQUIRE(net[1].publish(topic, "to every leaf", t0 + 2s));
  net.pump(t0 + 2s);
  std::size_t before = 0;
  for (std::size_t i = 2; i <= leaves; ++i)
    before += net.inboxes[i].size();
  CHECK(before < leaves - 1);  // the mesh alone misses some

  net[0].heartbeat(t0 + 3s);  // IHAVE to the leaves outside the mesh
  net.pump(t0 + 3s);          // IWANT back, the message out
  for (std::size_t i = 2; i <= leaves; ++i) {
    CAPTURE(i);
    REQUIRE(net.inboxes[i].size() == 1);
    CHECK(net.inboxes[i][0].data == "to every leaf");
  }
  CHECK(net[0].counters().ihave_out >= 1);
  CHECK(net[0].counters().iwant_served == leaves - 1 - before);
  // Past history_length heartbeats the message is no longer answerable.
  for (int beat = 4; beat < 8; ++beat)
    net[0].heartbeat(t0 + std::chrono::seconds(beat));
  net.pump(t0 + 8s);
  CHECK(net[0].counters().iwant_served == leaves - 1 - before);
}

TEST_CASE("gossipsub bounds what IHAVE and IWANT from a peer cost", "[p2p][gossip]") {
  gossipsub_config config;
  config.max_ihave_length = 3;
  config.max_ihave_messages = 2;
  gossipsub_router router(config);
  std::vector<gossip_message> delivered;
  router.subscribe(topic);
  router.add_peer(1);
  feed(router, 1, subscription_rpc(topic, true), t0);
  router.take_outgoing();

  // IHAVEs naming 10 unseen IDs each: at most 3 asked, from at most 2 IHAVEs.
  auto ihave = [&](char first) {
    pb::RPC rpc;
    auto* entry = rpc.mutable_control()->add_ihave();
    entry->set_topicid(topic);
    for (char c = first; c < first + 10; ++c)
      entry->add_messageids(std::string(32, c));
    entry->add_messageids("short");  // not an ID: never asked
    return rpc.SerializeAsString();
  };
  for (char c : {'a', 'k', 'u'})
    REQUIRE(router.handle_rpc(1, ihave(c), t0, delivered));
  CHECK(router.counters().ihave_in == 3);
  auto out = router.take_outgoing();
  REQUIRE(out.size() == 1);
  pb::RPC sent;
  REQUIRE(sent.ParseFromString(out[0].body));
  REQUIRE(sent.control().iwant_size() == 1);
  CHECK(sent.control().iwant(0).messageids_size() == 3);

  // An IWANT for IDs we never had is answered with nothing.
  pb::RPC iwant;
  for (int i = 0; i < 100; ++i)
    iwant.mutable_control()->add_iwant()->add_messageids(std::string(32, 'z'));
  REQUIRE(router.handle_rpc(1, iwant.SerializeAsString(), t0, delivered));
  CHECK(router.take_outgoing().empty());
  CHECK(router.counters().iwant_served == 0);
  // An IHAVE on a topic we are not on asks nothing.
  router.heartbeat(t0 + 1s);
  router.take_outgoing();
  pb::RPC other;
  auto* entry = other.mutable_control()->add_ihave();
  entry->set_topicid("/waku/2/rs/16/99");
  entry->add_messageids(std::string(32, 'q'));
  REQUIRE(router.handle_rpc(1, other.SerializeAsString(), t0 + 1s, delivered));
  CHECK(router.take_outgoing().empty());
}

TEST_CASE("gossipsub answers an IWANT that repeats one large message within a budget",
          "[p2p][gossip]") {
  gossipsub_config config;
  config.max_iwant_bytes = 250 * 1024;
  config.history_length = 10;  // cached long enough to reach the retransmission limit
  gossipsub_router router(config);
  std::vector<gossip_message> delivered;
  router.subscribe(topic);
  router.add_peer(1);
  router.add_peer(2);
  feed(router, 1, subscription_rpc(topic, true), t0);
  feed(router, 2, subscription_rpc(topic, true), t0);
  // Peer 2 sends one 100 KB message; it is cached for IWANT answers.
  std::string big = std::string(100 * 1024, 'x');
  std::string small = std::string("small");
  REQUIRE(router.handle_rpc(2, message_rpc(topic, big), t0, delivered));
  REQUIRE(router.handle_rpc(2, message_rpc(topic, small), t0, delivered));
  router.take_outgoing();

  // Peer 1 names the big one 5,000 times in each of five IWANTs, the small
  // one twice.
  auto attack = [&] {
    pb::RPC rpc;
    for (int entry = 0; entry < 5; ++entry) {
      auto* iwant = rpc.mutable_control()->add_iwant();
      for (int i = 0; i < 5000; ++i)
        iwant->add_messageids(raw_id(big));
      iwant->add_messageids(raw_id(small));
    }
    return rpc.SerializeAsString();
  };
  auto sent_bytes = [&] {
    std::size_t bytes = 0, messages = 0;
    for (const auto& rpc : router.take_outgoing()) {
      pb::RPC parsed;
      REQUIRE(parsed.ParseFromString(rpc.body));
      messages += parsed.publish_size();
      bytes += rpc.body.size();
    }
    return std::pair{messages, bytes};
  };
  REQUIRE(router.handle_rpc(1, attack(), t0, delivered));
  // Repeats within a heartbeat count once: each message goes out once.
  auto [messages, bytes] = sent_bytes();
  CHECK(messages == 2);
  CHECK(bytes < 110 * 1024);
  CHECK(router.counters().iwant_served == 2);
  CHECK(router.counters().iwant_refused == 25'000 + 5 - 2);

  // Later heartbeats answer again, up to gossip_retransmission times in all.
  std::size_t total = messages;
  for (int beat = 1; beat <= 5; ++beat) {
    router.heartbeat(t0 + std::chrono::seconds(beat));
    router.take_outgoing();
    REQUIRE(router.handle_rpc(1, attack(), t0 + std::chrono::seconds(beat), delivered));
    total += sent_bytes().first;
  }
  // Each message went out gossip_retransmission times, then never again.
  CHECK(total == 2 * config.gossip_retransmission);
  CHECK(router.counters().iwant_served == total);

  // The byte budget: with the retransmission limit lifted, one heartbeat
  // still answers at most max_iwant_bytes.
  gossipsub_config loose = config;
  loose.gossip_retransmission = 1000;
  gossipsub_router other(loose);
  other.subscribe(topic);
  other.add_peer(1);
  other.add_peer(2);
  feed(other, 1, subscription_rpc(topic, true), t0);
  feed(other, 2, subscription_rpc(topic, true), t0);
  std::vector<std::string> bigs;
  for (char c : {'a', 'b', 'c', 'd'}) {
    bigs.push_back(std::string(100 * 1024, c));
    REQUIRE(other.handle_rpc(2, message_rpc(topic, bigs.back()), t0, delivered));
  }
  other.take_outgoing();
  pb::RPC four;
  auto* entry = four.mutable_control()->add_iwant();
  for (const auto& data : bigs)
    entry->add_messageids(raw_id(data));
  REQUIRE(other.handle_rpc(1, four.SerializeAsString(), t0, delivered));
  CHECK(other.counters().iwant_served == 2);  // 2 x 100 KB fit in 250 KB, a third does not
  CHECK(other.counters().iwant_refused == 2);
}

TEST_CASE("gossipsub leaves a slow peer out of the mesh and gossip until it catches up",
          "[p2p][gossip]") {
  gossipsub_config config;
  config.d = 2;
  config.d_low = 1;
  config.d_high = 3;
  gossipsub_router router(config);
  router.subscribe(topic);
  for (peer_handle peer : {1, 2, 3}) {
    router.add_peer(peer);
    feed(router, peer, subscription_rpc(topic, true), t0);
    feed(router, peer, graft_rpc(topic), t0);
  }
  drain(router);
  REQUIRE(as_set(router.mesh_peers(topic)) == std::set<peer_handle>{1, 2, 3});

  // Peer 1 stops reading: it leaves the mesh at once, told by PRUNE.
  router.set_slow(1, true);
  CHECK(as_set(router.mesh_peers(topic)) == std::set<peer_handle>{2, 3});
  CHECK(prunes_in(drain(router)[1]).size() == 1);
  CHECK(router.counters().slow_pruned == 1);
  // Its GRAFT is refused while it is slow, with room in the mesh.
  feed(router, 1, graft_rpc(topic), t0 + 1s);
  CHECK(prunes_in(drain(router)[1]).size() == 1);
  CHECK(router.counters().slow_pruned == 2);
  // Heartbeats neither graft it back nor send it gossip.
  std::vector<gossip_message> inbox;
  feed(router, 2, message_rpc(topic, "news"), t0 + 2s, inbox);
  for (int beat = 0; beat < 3; ++beat) {
    router.heartbeat(t0 + 3s + beat * 1s);
    auto sent = drain(router);
    CHECK(grafts_in(sent[1]).empty());
    for (const auto& rpc : sent[1])
      CHECK(rpc.control().ihave_size() == 0);
  }
  CHECK(router.mesh_peers(topic).size() == 2);
  // Caught up: it may join again (the mesh has room below d_high).
  router.set_slow(1, false);
  feed(router, 1, graft_rpc(topic), t0 + 70s);
  CHECK(prunes_in(drain(router)[1]).empty());
  CHECK(as_set(router.mesh_peers(topic)) == std::set<peer_handle>{1, 2, 3});
}

TEST_CASE("gossipsub remembers at most max_seen message IDs, the oldest go first",
          "[p2p][gossip]") {
  gossipsub_config config;
  config.max_seen = 3;
  gossipsub_router router(config);
  router.subscribe(topic);
  router.add_peer(1);
  std::vector<gossip_message> inbox;
  for (int i = 0; i < 5; ++i)
    feed(router, 1, message_rpc(topic, "m" + std::to_string(i)), t0, inbox);
  CHECK(router.counters().delivered == 5);
  CHECK(router.counters().seen_evicted == 2);
  // The newest three are still known; the oldest is delivered again.
  feed(router, 1, message_rpc(topic, "m4"), t0 + 1s, inbox);
  CHECK(router.counters().duplicates == 1);
  feed(router, 1, message_rpc(topic, "m0"), t0 + 1s, inbox);
  CHECK(router.counters().delivered == 6);
}
