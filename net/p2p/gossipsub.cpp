#include "net/p2p/gossipsub.hpp"

#include "core/keccak.hpp"

#include "proto/libp2p.pb.h"

#include <google/protobuf/io/coded_stream.h>

#include <algorithm>
#include <cassert>
#include <climits>

namespace annals::p2p {

namespace {

// A hostile PRUNE could announce a backoff of 2^64 s, which would overflow
// the clock arithmetic; no honest peer asks for more than minutes.
constexpr std::chrono::seconds max_backoff = std::chrono::hours(24);

std::string message_id(std::string_view data) {
  auto digest = sha256(data);
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

bool contains(const std::map<std::string, std::set<peer_handle>>& sets, const std::string& key,
              peer_handle peer) {
  auto it = sets.find(key);
  return it != sets.end() && it->second.count(peer) != 0;
}

std::vector<peer_handle> members(const std::map<std::string, std::set<peer_handle>>& sets,
                                 const std::string& key) {
  auto it = sets.find(key);
  if (it == sets.end())
    return {};
  return {it->second.begin(), it->second.end()};
}

} // namespace

gossipsub_router::gossipsub_router(gossipsub_config config)
    : config_(config), rng_(std::random_device{}()) {
  assert(config_.d_low <= config_.d && config_.d <= config_.d_high);
}

// --- peers and subscriptions ------------------------------------------------

void gossipsub_router::add_peer(peer_handle peer) {
  // Idempotent: the peer may already have been added implicitly by an RPC on
  // its inbound stream, and it must not get our subscriptions twice.
  if (!peers_.insert(peer).second)
    return;
  for (const auto& topic : subscriptions_)
    queue_subscription(peer, topic, true);
}

void gossipsub_router::resend_subscriptions(peer_handle peer) {
  if (!peers_.count(peer))
    return;
  for (const auto& topic : subscriptions_)
    queue_subscription(peer, topic, true);
}

void gossipsub_router::remove_peer(peer_handle peer) {
  peers_.erase(peer);
  slow_.erase(peer);
  peer_topic_count_.erase(peer);
  for (auto it = topic_peers_.begin(); it != topic_peers_.end();) {
    it->second.erase(peer);
    it = it->second.empty() ? topic_peers_.erase(it) : std::next(it);
  }
  for (auto& [topic, mesh] : mesh_)
    mesh.erase(peer);
  for (auto& [topic, fanout] : fanout_)
    fanout.erase(peer);
  outgoing_.erase(peer);
  // backoff_ stays: a peer that reconnects right away must still wait out
  // the backoff it asked for (or that we announced to it).
}

void gossipsub_router::subscribe(const std::string& topic) {
  if (topic.empty() || !subscriptions_.insert(topic).second)
    return;
  for (auto peer : peers_)
    queue_subscription(peer, topic, true);

  // Fanout peers first: we were already sending them this topic, so they
  // keep getting it without a gap (gossipsub spec, JOIN).
  std::vector<peer_handle> from_fanout, others;
  auto fanout = fanout_.find(topic);
  if (auto known = topic_peers_.find(topic); known != topic_peers_.end()) {
    for (auto peer : known->second) {
      if (in_backoff(topic, peer, config_.heartbeat))
        continue;
      bool was_fanout = fanout != fanout_.end() && fanout->second.count(peer) != 0;
      (was_fanout ? from_fanout : others).push_back(peer);
    }
  }
  auto& mesh = mesh_[topic];
  for (auto peer : pick(std::move(from_fanout), config_.d))
    mesh.insert(peer);
  for (auto peer : pick(std::move(others), config_.d - mesh.size()))
    mesh.insert(peer);
  for (auto peer : mesh)
    queue_graft(peer, topic);
  fanout_.erase(topic);
  fanout_last_pub_.erase(topic);
}

void gossipsub_router::unsubscribe(const std::string& topic) {
  if (subscriptions_.erase(topic) == 0)
    return;
  for (auto peer : peers_)
    queue_subscription(peer, topic, false);
  if (auto mesh = mesh_.find(topic); mesh != mesh_.end()) {
    for (auto peer : mesh->second)
      send_prune(peer, topic);
    mesh_.erase(mesh);
  }
}

bool gossipsub_router::subscribed(const std::string& topic) const {
  return subscriptions_.count(topic) != 0;
}

void gossipsub_router::forget_topic_peer(const std::string& topic, peer_handle peer) {
  if (auto it = topic_peers_.find(topic); it != topic_peers_.end()) {
    if (it->second.erase(peer) > 0)
      if (auto count = peer_topic_count_.find(peer);
          count != peer_topic_count_.end() && --count->second == 0)
        peer_topic_count_.erase(count);
    if (it->second.empty())
      topic_peers_.erase(it);
  }
  if (auto it = mesh_.find(topic); it != mesh_.end())
    it->second.erase(peer);
  if (auto it = fanout_.find(topic); it != fanout_.end())
    it->second.erase(peer);
}

// --- incoming ----------------------------------------------------------------

result<void> gossipsub_router::handle_rpc(peer_handle peer, std::string_view rpc,
                                          clock::time_point now,
                                          std::vector<gossip_message>& delivered) {
  now_ = now;
  ++counters_.rpcs_in;
  // Checked before parsing so a huge body costs nothing; INT_MAX is the most
  // protobuf's array parser takes.
  if (rpc.size() > config_.max_rpc || rpc.size() > static_cast<std::size_t>(INT_MAX)) {
    ++counters_.malformed_rpcs;
    return make_error(errc::malformed, "gossipsub: RPC of " + std::to_string(rpc.size()) +
                                           " bytes exceeds max_rpc " +
                                           std::to_string(config_.max_rpc));
  }
  pb::RPC parsed;
  if (!parsed.ParseFromArray(rpc.data(), static_cast<int>(rpc.size()))) {
    ++counters_.malformed_rpcs;
    return make_error(errc::malformed, "gossipsub: RPC does not parse");
  }
  // js-libp2p may write on its own stream before we open ours; the peer is
  // real either way, and it needs our subscriptions.
  add_peer(peer);

  // Subscriptions first, so a GRAFT or message in the same RPC sees them.
  for (const auto& sub : parsed.subscriptions()) {
    if (!sub.has_topicid() || sub.topicid().empty())
      continue;
    if (sub.subscribe()) {
      auto known = topic_peers_.find(sub.topicid());
      if (known != topic_peers_.end() && known->second.count(peer))
        continue;
      if (sub.topicid().size() > config_.max_topic_length
          || peer_topic_count_[peer] >= config_.max_topics_per_peer) {
        ++counters_.subscriptions_refused;
        continue;
      }
      topic_peers_[sub.topicid()].insert(peer);
      ++peer_topic_count_[peer];
    } else
      forget_topic_peer(sub.topicid(), peer);
  }

  for (auto& message : *parsed.mutable_publish()) {
    ++counters_.messages_in;
    // StrictNoSign: these fields must be absent, not merely empty. A message
    // that breaks the rules is not marked seen, or anyone could suppress a
    // valid message by sending its data first in a signed wrapper.
    bool signed_fields =
        message.has_from() || message.has_seqno() || message.has_signature() || message.has_key();
    if (signed_fields || !message.has_topic() || message.topic().empty() || !message.has_data() ||
        message.data().size() > config_.max_message) {
      ++counters_.rejected;
      continue;
    }
    handle_message(peer, message.topic(), std::move(*message.mutable_data()), now, delivered);
  }

  if (parsed.has_control()) {
    for (const auto& ihave : parsed.control().ihave())
      handle_ihave(peer, ihave);
    for (const auto& iwant : parsed.control().iwant())
      handle_iwant(peer, iwant);
    for (const auto& graft : parsed.control().graft()) {
      ++counters_.grafts_in;
      if (graft.has_topicid() && !graft.topicid().empty())
        handle_graft(peer, graft.topicid());
    }
    for (const auto& prune : parsed.control().prune()) {
      ++counters_.prunes_in;
      if (prune.has_topicid() && !prune.topicid().empty())
        handle_prune(peer, prune.topicid(), prune.has_backoff() ? prune.backoff() : 0);
    }
  }
  return ok_result();
}

void gossipsub_router::handle_message(peer_handle from, const std::string& topic, std::string data,
                                      clock::time_point now,
                                      std::vector<gossip_message>& delivered) {
  auto id = message_id(data);
  if (seen(id)) {
    ++counters_.duplicates;
    return;
  }
  // Not our topic: we are in no mesh for it, so there is nobody to forward to
  // and nothing to deliver. It is not marked seen either (as js-gossipsub):
  // the ID covers only the data, so doing so would let a peer suppress a
  // message on our topic by sending the same bytes under another one first.
  if (!subscribed(topic))
    return;
  mark_seen(id, now);

  auto verdict = validator_ ? validator_(topic, data) : validation::accept;
  if (verdict == validation::reject) {
    ++counters_.rejected;
    return;
  }
  if (verdict == validation::ignore)
    return;

  // The received bytes are forwarded as they are: re-encoding a WakuMessage
  // could change them and with them the message ID downstream.
  auto shared = std::make_shared<const std::string>(data);
  cache_message(id, topic, shared);
  if (auto mesh = mesh_.find(topic); mesh != mesh_.end()) {
    for (auto peer : mesh->second) {
      if (peer == from)
        continue;
      queue_message(peer, topic, shared);
      ++counters_.forwarded;
    }
  }
  delivered.push_back(gossip_message{topic, std::move(data), std::move(id), from});
  ++counters_.delivered;
}

void gossipsub_router::handle_graft(peer_handle peer, const std::string& topic) {
  if (!subscribed(topic)) {
    send_prune(peer, topic);
    return;
  }
  auto& mesh = mesh_[topic];
  if (mesh.count(peer) != 0)
    return;
  if (slow_.count(peer) != 0) {
    ++counters_.slow_pruned;
    send_prune(peer, topic);
    return;
  }
  // No slack here: the peer is judged by the backoff exactly as announced.
  if (in_backoff(topic, peer, clock::duration::zero()) || mesh.size() >= config_.d_high) {
    send_prune(peer, topic);
    return;
  }
  // A GRAFT implies a subscription even if the announcement was lost;
  // without it the next heartbeat would drop the peer again.
  topic_peers_[topic].insert(peer);
  mesh.insert(peer);
}

void gossipsub_router::handle_prune(peer_handle peer, const std::string& topic,
                                    std::uint64_t backoff_seconds) {
  if (auto mesh = mesh_.find(topic); mesh != mesh_.end())
    mesh->second.erase(peer);
  // Zero means "not given" (as go- and js-libp2p read it).
  auto backoff = config_.prune_backoff;
  if (backoff_seconds > 0)
    backoff = backoff_seconds >= static_cast<std::uint64_t>(max_backoff.count())
                  ? max_backoff
                  : std::chrono::seconds(backoff_seconds);
  add_backoff(topic, peer, backoff);
}

// --- outgoing ----------------------------------------------------------------

result<std::string> gossipsub_router::publish(const std::string& topic, std::string data,
                                              clock::time_point now, std::size_t* recipients) {
  now_ = now;
  if (topic.empty())
    return make_error(errc::invalid_argument, "gossipsub: publish needs a topic");
  if (data.size() > config_.max_message)
    return make_error(errc::invalid_argument,
                      "gossipsub: message of " + std::to_string(data.size()) +
                          " bytes exceeds max_message " + std::to_string(config_.max_message));
  auto id = message_id(data);
  if (seen(id))
    return make_error(errc::conflict, "gossipsub: duplicate message (already seen)");
  // Seen before it leaves, so the copies that come back are duplicates.
  mark_seen(id, now);

  // Flood publishing: every peer subscribed to the topic gets our own
  // messages, not just the mesh, so they cannot be withheld by a mesh of
  // bad peers.
  std::set<peer_handle> targets;
  if (auto known = topic_peers_.find(topic); known != topic_peers_.end())
    targets = known->second;
  if (subscribed(topic)) {
    if (auto mesh = mesh_.find(topic); mesh != mesh_.end())
      targets.insert(mesh->second.begin(), mesh->second.end());
  } else {
    // Fanout is kept as the spec has it, though with flood publishing it is
    // a subset of the topic peers already.
    auto& fanout = fanout_[topic];
    std::vector<peer_handle> candidates;
    for (auto peer : members(topic_peers_, topic))
      if (fanout.count(peer) == 0)
        candidates.push_back(peer);
    auto wanted = config_.d > fanout.size() ? config_.d - fanout.size() : 0;
    for (auto peer : pick(std::move(candidates), wanted))
      fanout.insert(peer);
    fanout_last_pub_[topic] = now;
    targets.insert(fanout.begin(), fanout.end());
  }

  auto shared = std::make_shared<const std::string>(std::move(data));
  cache_message(id, topic, shared);
  for (auto peer : targets)
    queue_message(peer, topic, shared, true);
  ++counters_.published;
  if (recipients)
    *recipients = targets.size();
  return id;
}

void gossipsub_router::queue_subscription(peer_handle peer, const std::string& topic,
                                          bool subscribe) {
  outgoing_[peer].subscriptions.emplace_back(topic, subscribe);
}

void gossipsub_router::queue_message(peer_handle peer, const std::string& topic,
                                     const std::shared_ptr<const std::string>& data, bool own) {
  outgoing_[peer].messages.push_back(outgoing_message{topic, data, own});
}

void gossipsub_router::queue_graft(peer_handle peer, const std::string& topic) {
  auto& grafts = outgoing_[peer].grafts;
  if (std::find(grafts.begin(), grafts.end(), topic) == grafts.end())
    grafts.push_back(topic);
}

void gossipsub_router::send_prune(peer_handle peer, const std::string& topic) {
  // We keep the backoff we announce, so we never GRAFT a peer that was told
  // not to expect it (it would PRUNE us again and count it against us).
  add_backoff(topic, peer, config_.prune_backoff);
  auto& pending = outgoing_[peer];
  // A GRAFT still queued for the topic is moot now; receivers handle GRAFTs
  // before PRUNEs in one RPC, so sending both would work but says nothing.
  auto& grafts = pending.grafts;
  grafts.erase(std::remove(grafts.begin(), grafts.end(), topic), grafts.end());
  for (const auto& [pruned, backoff] : pending.prunes)
    if (pruned == topic)
      return;
  pending.prunes.emplace_back(topic, static_cast<std::uint64_t>(config_.prune_backoff.count()));
}

std::vector<outgoing_rpc> gossipsub_router::take_outgoing() {
  using google::protobuf::io::CodedOutputStream;
  // Several messages share an RPC only up to this size: nwaku reads a whole
  // RPC with its max message size as the frame limit, and our own receivers
  // stop at max_rpc. One message alone always goes out (it fits by itself:
  // data was checked against max_message).
  const std::size_t batch_limit = std::min(config_.max_rpc, config_.max_message);

  std::vector<outgoing_rpc> out;
  for (auto& [peer, pending] : outgoing_) {
    pb::RPC rpc;
    for (const auto& [topic, subscribe] : pending.subscriptions) {
      auto* sub = rpc.add_subscriptions();
      sub->set_subscribe(subscribe);
      sub->set_topicid(topic);
    }
    if (!pending.grafts.empty() || !pending.prunes.empty() || !pending.ihaves.empty()
        || !pending.iwants.empty()) {
      auto* control = rpc.mutable_control();
      for (const auto& [topic, ids] : pending.ihaves) {
        auto* ihave = control->add_ihave();
        ihave->set_topicid(topic);
        for (const auto& id : ids)
          ihave->add_messageids(id);
        ++counters_.ihave_out;
      }
      if (!pending.iwants.empty()) {
        auto* iwant = control->add_iwant();
        for (const auto& id : pending.iwants)
          iwant->add_messageids(id);
        counters_.iwant_out += pending.iwants.size();
      }
      for (const auto& topic : pending.grafts) {
        control->add_graft()->set_topicid(topic);
        ++counters_.grafts_out;
      }
      for (const auto& [topic, backoff] : pending.prunes) {
        auto* prune = control->add_prune();
        prune->set_topicid(topic);
        prune->set_backoff(backoff);
        ++counters_.prunes_out;
      }
    }
    std::size_t size = rpc.ByteSizeLong();
    // Forwarded messages share the control part's RPC; our own go in RPCs
    // of their own, which the host drops last (with the control part when
    // nothing was forwarded).
    for (bool own : {false, true}) {
      for (const auto& message : pending.messages) {
        if (message.own != own)
          continue;
        // StrictNoSign: data and topic only.
        pb::Message entry;
        entry.set_data(*message.data);
        entry.set_topic(message.topic);
        auto entry_size = entry.ByteSizeLong();
        auto framed_size = 1 + CodedOutputStream::VarintSize64(entry_size) + entry_size;
        if (rpc.publish_size() > 0 && size + framed_size > batch_limit) {
          out.push_back({peer, rpc.SerializeAsString(), own});
          rpc.Clear();
          size = 0;
        }
        *rpc.add_publish() = std::move(entry);
        size += framed_size;
      }
      // Control alone (no forwarded message) rides with our own messages.
      if (size > 0 && (own || rpc.publish_size() > 0)) {
        out.push_back({peer, rpc.SerializeAsString(), own});
        rpc.Clear();
        size = 0;
      }
    }
  }
  outgoing_.clear();
  return out;
}

// --- time ----------------------------------------------------------------------

void gossipsub_router::heartbeat(clock::time_point now) {
  now_ = now;
  // Backoffs live one heartbeat longer than announced: in_backoff() adds that
  // slack to our own GRAFTs so clock skew between heartbeats cannot make us
  // GRAFT a moment too early.
  for (auto it = backoff_.begin(); it != backoff_.end();)
    it = it->second + config_.heartbeat <= now ? backoff_.erase(it) : std::next(it);
  while (!seen_order_.empty() && seen_order_.front().at + config_.seen_ttl <= now) {
    seen_.erase(seen_order_.front().id);
    seen_order_.pop_front();
  }
  for (const auto& topic : subscriptions_)
    maintain_mesh(topic);
  maintain_fanout(now);
  emit_gossip();
  shift_cache();
  iwant_asked_.clear();
  ihave_taken_.clear();
  iwant_spent_.clear();
}

// --- gossip: IHAVE / IWANT ---------------------------------------------------------

void gossipsub_router::cache_message(const std::string& id, const std::string& topic,
                                     const std::shared_ptr<const std::string>& data) {
  if (mcache_.emplace(id, cached_message{topic, data, {}}).second)
    mcache_windows_.front().push_back(id);
}

void gossipsub_router::emit_gossip() {
  // The IDs of the last history_gossip heartbeats, by topic.
  std::map<std::string, std::vector<std::string>> recent;
  std::size_t windows = 0;
  // Newest window first, up to the cap: past the cap it is the older
  // messages (advertised at earlier heartbeats already) that are left out,
  // so at up to max_ihave_length messages a heartbeat every one is offered.
  for (const auto& window : mcache_windows_) {
    if (windows++ == config_.history_gossip)
      break;
    for (const auto& id : window)
      if (auto cached = mcache_.find(id); cached != mcache_.end()) {
        auto& ids = recent[cached->second.topic];
        if (ids.size() < config_.max_ihave_length)
          ids.push_back(id);
      }
  }
  for (auto& [topic, ids] : recent) {
    if (!subscribed(topic))
      continue;
    const auto& mesh = mesh_[topic];
    std::vector<peer_handle> candidates;
    for (auto peer : members(topic_peers_, topic))
      if (mesh.count(peer) == 0 && slow_.count(peer) == 0)
        candidates.push_back(peer);
    for (auto peer : pick(std::move(candidates), config_.d_lazy))
      outgoing_[peer].ihaves.emplace_back(topic, ids);
  }
}

void gossipsub_router::shift_cache() {
  mcache_windows_.emplace_front();
  while (mcache_windows_.size() > std::max<std::size_t>(config_.history_length, 1)) {
    for (const auto& id : mcache_windows_.back())
      mcache_.erase(id);
    mcache_windows_.pop_back();
  }
}

void gossipsub_router::handle_ihave(peer_handle peer, const pb::ControlIHave& ihave) {
  ++counters_.ihave_in;
  if (!ihave.has_topicid() || !subscribed(ihave.topicid())
      || ihave_taken_[peer]++ >= config_.max_ihave_messages)
    return;
  auto& asked = iwant_asked_[peer];
  auto& iwants = outgoing_[peer].iwants;
  for (const auto& id : ihave.messageids()) {
    if (asked >= config_.max_ihave_length)
      break;
    // IDs are sha256 of the data; anything else names no message of ours.
    if (id.size() != 32 || seen(id))
      continue;
    iwants.push_back(id);
    ++asked;
  }
}

void gossipsub_router::handle_iwant(peer_handle peer, const pb::ControlIWant& iwant) {
  auto& spent = iwant_spent_[peer];
  for (const auto& id : iwant.messageids()) {
    ++counters_.iwant_in;
    auto cached = mcache_.find(id);
    if (cached == mcache_.end())
      continue;
    // Each check before any copy is queued: refusing must cost nothing.
    auto& times = cached->second.sent[peer];
    auto size = cached->second.data->size();
    if (spent.ids.count(id) != 0 || times >= config_.gossip_retransmission
        || spent.ids.size() >= config_.max_ihave_length
        || spent.bytes + size > config_.max_iwant_bytes) {
      ++counters_.iwant_refused;
      continue;
    }
    spent.ids.insert(id);
    spent.bytes += size;
    ++times;
    queue_message(peer, cached->second.topic, cached->second.data);
    ++counters_.iwant_served;
  }
}

void gossipsub_router::maintain_mesh(const std::string& topic) {
  auto& mesh = mesh_[topic];
  for (auto it = mesh.begin(); it != mesh.end();) {
    bool gone = peers_.count(*it) == 0 || !contains(topic_peers_, topic, *it);
    it = gone ? mesh.erase(it) : std::next(it);
  }
  if (mesh.size() < config_.d_low) {
    std::vector<peer_handle> candidates;
    for (auto peer : members(topic_peers_, topic))
      if (mesh.count(peer) == 0 && slow_.count(peer) == 0
          && !in_backoff(topic, peer, config_.heartbeat))
        candidates.push_back(peer);
    for (auto peer : pick(std::move(candidates), config_.d - mesh.size())) {
      mesh.insert(peer);
      queue_graft(peer, topic);
    }
  }
  if (mesh.size() > config_.d_high) {
    // Without peer scores there is no better choice than a random one, and
    // random keeps a peer from predicting whom we drop.
    auto excess = mesh.size() - config_.d;
    for (auto peer : pick({mesh.begin(), mesh.end()}, excess)) {
      mesh.erase(peer);
      send_prune(peer, topic);
    }
  }
}

void gossipsub_router::maintain_fanout(clock::time_point now) {
  for (auto it = fanout_last_pub_.begin(); it != fanout_last_pub_.end();) {
    const auto& topic = it->first;
    if (it->second + config_.fanout_ttl <= now) {
      fanout_.erase(topic);
      it = fanout_last_pub_.erase(it);
      continue;
    }
    auto& fanout = fanout_[topic];
    for (auto peer = fanout.begin(); peer != fanout.end();)
      peer = contains(topic_peers_, topic, *peer) ? std::next(peer) : fanout.erase(peer);
    if (fanout.size() < config_.d) {
      std::vector<peer_handle> candidates;
      for (auto peer : members(topic_peers_, topic))
        if (fanout.count(peer) == 0)
          candidates.push_back(peer);
      for (auto peer : pick(std::move(candidates), config_.d - fanout.size()))
        fanout.insert(peer);
    }
    ++it;
  }
}

// --- bookkeeping -------------------------------------------------------------------

void gossipsub_router::add_backoff(const std::string& topic, peer_handle peer,
                                   std::chrono::seconds backoff) {
  auto until = now_ + backoff;
  auto [it, inserted] = backoff_.emplace(std::make_pair(topic, peer), until);
  if (!inserted && it->second < until)
    it->second = until;
}

bool gossipsub_router::in_backoff(const std::string& topic, peer_handle peer,
                                  clock::duration slack) const {
  auto it = backoff_.find(std::make_pair(topic, peer));
  return it != backoff_.end() && now_ < it->second + slack;
}

bool gossipsub_router::seen(const std::string& id) const {
  return seen_.count(id) != 0;
}

void gossipsub_router::mark_seen(const std::string& id, clock::time_point now) {
  if (seen_.emplace(id, now).second)
    seen_order_.push_back(seen_entry{now, id});
  while (seen_order_.size() > config_.max_seen) {
    seen_.erase(seen_order_.front().id);
    seen_order_.pop_front();
    ++counters_.seen_evicted;
  }
}

std::vector<peer_handle> gossipsub_router::pick(std::vector<peer_handle> candidates,
                                                std::size_t count) {
  if (candidates.size() > count) {
    std::shuffle(candidates.begin(), candidates.end(), rng_);
    candidates.resize(count);
  }
  return candidates;
}

// --- accessors -------------------------------------------------------------------------

void gossipsub_router::set_validator(gossip_validator validator) {
  validator_ = std::move(validator);
}

std::vector<peer_handle> gossipsub_router::topic_peers(const std::string& topic) const {
  return members(topic_peers_, topic);
}

void gossipsub_router::set_slow(peer_handle peer, bool slow) {
  if (!slow) {
    slow_.erase(peer);
    return;
  }
  if (peers_.count(peer) == 0 || !slow_.insert(peer).second)
    return;
  for (auto& [topic, mesh] : mesh_)
    if (mesh.erase(peer) != 0) {
      ++counters_.slow_pruned;
      send_prune(peer, topic);
    }
}

bool gossipsub_router::shares_topic(peer_handle peer) const {
  for (const auto& topic : subscriptions_)
    if (auto it = topic_peers_.find(topic); it != topic_peers_.end() && it->second.count(peer))
      return true;
  return false;
}

std::vector<peer_handle> gossipsub_router::mesh_peers(const std::string& topic) const {
  return members(mesh_, topic);
}

} // namespace annals::p2p
