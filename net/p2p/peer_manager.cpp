#include "net/p2p/peer_manager.hpp"

#include "net/p2p/enr_peer.hpp"
#include "net/p2p/multiaddr.hpp"

#include <algorithm>

namespace annals::p2p {

std::string_view to_string(peer_source source) {
  switch (source) {
    case peer_source::static_list:
      return "static";
    case peer_source::dns:
      return "dns";
    case peer_source::discv5:
      return "discv5";
    case peer_source::peer_exchange:
      return "peer-exchange";
    case peer_source::inbound:
      break;
  }
  return "inbound";
}

std::string_view to_string(record_refusal reason) {
  switch (reason) {
    case record_refusal::malformed:
      return "malformed";
    case record_refusal::not_relay:
      return "not_relay";
    case record_refusal::other_cluster:
      return "other_cluster";
    case record_refusal::no_address:
      return "no_address";
    case record_refusal::unroutable:
      return "unroutable";
    case record_refusal::self:
      return "self";
    case record_refusal::table_full:
      break;
  }
  return "table_full";
}

namespace {

bool all_zero(const std::string& ip) {
  return std::all_of(ip.begin(), ip.end(), [](char c) { return c == 0; });
}

bool is_loopback(const std::string& ip) {
  if (ip.size() == 4)
    return static_cast<std::uint8_t>(ip[0]) == 127;
  return ip == std::string(15, '\0') + '\x01';
}

bool is_multicast(const std::string& ip) {
  if (ip.size() == 4)
    return (static_cast<std::uint8_t>(ip[0]) & 0xf0) == 0xe0;
  return static_cast<std::uint8_t>(ip[0]) == 0xff;
}

} // namespace

peer_manager::peer_manager(peer_manager_config config, std::string self_peer_id)
    : config_(std::move(config)), self_(std::move(self_peer_id)) {}

result<bool> peer_manager::refuse(record_refusal reason, std::string detail) {
  ++counters_.refused[static_cast<std::size_t>(reason)];
  return make_error(errc::verification_failed, std::move(detail));
}

result<bool> peer_manager::add_record_bytes(std::string_view rlp, peer_source source,
                                            bool loopback_ok, clock::time_point now) {
  auto record = decode_enr(rlp);
  if (!record)
    return refuse(record_refusal::malformed, record.error().message);
  return add_record(*record, source, loopback_ok, now);
}

result<bool> peer_manager::add_record(const enr_record& record, peer_source source,
                                      bool loopback_ok, clock::time_point now) {
  auto peer = enr_peer_id(record);
  if (peer == self_)
    return refuse(record_refusal::self, "the record is this node's own");
  if (!record.fields.waku2 || !(*record.fields.waku2 & waku2_relay))
    return refuse(record_refusal::not_relay, "peer " + peer + " does not offer relay (waku2)");
  if (const auto& rs = record.fields.shards) {
    bool shared = config_.shards.empty();
    for (auto s : rs->shards)
      shared = shared
               || std::find(config_.shards.begin(), config_.shards.end(), s) != config_.shards.end();
    if (rs->cluster != config_.cluster_id || !shared)
      return refuse(record_refusal::other_cluster,
                    "peer " + peer + " relays cluster " + std::to_string(rs->cluster)
                      + " shards other than ours (cluster " + std::to_string(config_.cluster_id)
                      + ")");
  }
  std::optional<std::string> address;
  bool any_tcp = false;
  bool loopback = false;
  for (const auto& text : enr_addresses(record)) {
    auto tcp = parse_tcp_address(text);
    if (!tcp)
      continue;
    any_tcp = true;
    if (all_zero(tcp->ip) || is_multicast(tcp->ip) || tcp->port == 0)
      continue;
    if (is_loopback(tcp->ip) && !loopback_ok)
      continue;
    address = text;
    loopback = is_loopback(tcp->ip);
    break;
  }
  if (!any_tcp)
    return refuse(record_refusal::no_address,
                  "peer " + peer + " gives no address a TCP relay can dial");
  if (!address)
    return refuse(record_refusal::unroutable,
                  "peer " + peer + " gives only addresses no other host can reach "
                                   "(0.0.0.0, multicast, port 0, or 127.x)");

  auto it = candidates_.find(peer);
  if (it != candidates_.end()) {
    // An older or equal record changes nothing; a newer one moves the peer.
    if (record.seq > it->second.seq) {
      it->second.address = *address;
      it->second.record = record.encoded;
      it->second.seq = record.seq;
      it->second.loopback = loopback;
    }
    if (source == peer_source::static_list)
      it->second.dialled_here = false;
    return false;
  }
  if (candidates_.size() >= config_.max_candidates) {
    // Room goes first to peers that answer: drop the one failing longest.
    auto victim = candidates_.end();
    for (auto c = candidates_.begin(); c != candidates_.end(); ++c)
      if (c->second.dialled_here && !c->second.dialling && !connected_peers_.count(c->first)
          && c->second.backoff.count() > 0
          && (victim == candidates_.end() || c->second.backoff > victim->second.backoff))
        victim = c;
    if (victim == candidates_.end())
      return refuse(record_refusal::table_full,
                    "already " + std::to_string(candidates_.size()) + " candidates");
    candidates_.erase(victim);
  }
  candidate c;
  c.address = *address;
  c.record = record.encoded;
  c.seq = record.seq;
  c.loopback = loopback;
  c.source = source;
  c.dialled_here = source != peer_source::static_list;
  c.next_dial = now;
  candidates_.emplace(peer, std::move(c));
  ++counters_.found[static_cast<std::size_t>(source)];
  return true;
}

void peer_manager::on_connected(const std::string& peer, bool) {
  if (connected_peers_[peer].connections++ == 0)
    ++connected_;
  if (auto it = candidates_.find(peer); it != candidates_.end()) {
    it->second.dialling = false;
    it->second.backoff = std::chrono::milliseconds(0);
  }
}

void peer_manager::on_relay_identified(const std::string& peer) {
  if (auto it = candidates_.find(peer); it != candidates_.end())
    it->second.verified = true;
}

void peer_manager::on_disconnected(const std::string& peer, clock::time_point now) {
  auto it = connected_peers_.find(peer);
  if (it == connected_peers_.end() || --it->second.connections > 0)
    return;
  connected_peers_.erase(it);
  --connected_;
  // Not at once: a peer that closes on us would otherwise be redialled in a loop.
  if (auto c = candidates_.find(peer); c != candidates_.end())
    c->second.next_dial = now + config_.backoff_initial;
}

void peer_manager::on_dial_failed(const std::string& peer, clock::time_point now) {
  ++counters_.dials_failed;
  auto it = candidates_.find(peer);
  if (it == candidates_.end())
    return;
  auto& c = it->second;
  c.dialling = false;
  c.backoff = c.backoff.count() == 0 ? config_.backoff_initial
                                     : std::min(c.backoff * 2, config_.backoff_max);
  c.next_dial = now + c.backoff;
}

bool peer_manager::below_target() const {
  return connected_ < config_.target_peers;
}

std::vector<peer_manager::dial> peer_manager::take_dials(clock::time_point now) {
  std::vector<dial> out;
  std::size_t dialling = 0;
  std::vector<std::pair<std::string, candidate*>> ready;
  for (auto& [peer, c] : candidates_) {
    if (c.dialling) {
      ++dialling;
      continue;
    }
    if (c.dialled_here && c.next_dial <= now && !connected_peers_.count(peer))
      ready.emplace_back(peer, &c);
  }
  if (connected_ + dialling >= config_.target_peers)
    return out;
  auto wanted = config_.target_peers - connected_ - dialling;
  // Peers that answered before first, then those that failed least.
  std::stable_sort(ready.begin(), ready.end(), [](const auto& a, const auto& b) {
    if (a.second->verified != b.second->verified)
      return a.second->verified;
    return a.second->backoff < b.second->backoff;
  });
  for (auto& [peer, c] : ready) {
    if (out.size() == wanted)
      break;
    c->dialling = true;
    ++counters_.dials;
    out.push_back({peer, c->address});
  }
  return out;
}

std::optional<std::string>
peer_manager::take_exchange_peer(const std::vector<std::string>& serving, clock::time_point now) {
  if (!below_target() || serving.empty())
    return std::nullopt;
  auto start = std::uniform_int_distribution<std::size_t>(0, serving.size() - 1)(rng_);
  for (std::size_t i = 0; i < serving.size(); ++i) {
    const auto& peer = serving[(start + i) % serving.size()];
    auto it = connected_peers_.find(peer);
    if (it == connected_peers_.end() || it->second.next_exchange > now)
      continue;
    if (it->second.exchange_wait.count() == 0)
      it->second.exchange_wait = config_.exchange_interval;
    it->second.next_exchange = now + it->second.exchange_wait;
    ++counters_.exchanges_asked;
    return peer;
  }
  return std::nullopt;
}

void peer_manager::on_exchange_answer(const std::string& peer, std::size_t added,
                                      clock::time_point now) {
  auto it = connected_peers_.find(peer);
  if (it == connected_peers_.end())
    return;
  auto& p = it->second;
  p.exchange_wait = added > 0 ? config_.exchange_interval
                              : std::min(std::max(p.exchange_wait, config_.exchange_interval) * 2,
                                         std::max(config_.exchange_interval_max,
                                                  config_.exchange_interval));
  p.next_exchange = now + p.exchange_wait;
}

std::optional<peer_manager::clock::time_point>
peer_manager::next_wakeup(const std::vector<std::string>& serving) const {
  if (!below_target())
    return std::nullopt;
  std::optional<clock::time_point> next;
  auto consider = [&](clock::time_point t) {
    if (!next || t < *next)
      next = t;
  };
  for (const auto& [peer, c] : candidates_)
    if (c.dialled_here && !c.dialling && !connected_peers_.count(peer))
      consider(c.next_dial);
  for (const auto& peer : serving)
    if (auto it = connected_peers_.find(peer); it != connected_peers_.end())
      consider(it->second.next_exchange);
  return next;
}

std::vector<std::string> peer_manager::exchange_records(std::size_t n, const std::string& asker,
                                                        bool loopback_ok) {
  std::vector<const candidate*> pool;
  for (const auto& [peer, c] : candidates_)
    if (c.verified && c.backoff.count() == 0 && peer != asker && (loopback_ok || !c.loopback))
      pool.push_back(&c);
  std::shuffle(pool.begin(), pool.end(), rng_);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < pool.size() && i < n; ++i)
    out.push_back(pool[i]->record);
  counters_.records_served += out.size();
  return out;
}

std::optional<peer_source> peer_manager::source_of(const std::string& peer) const {
  if (auto it = candidates_.find(peer); it != candidates_.end())
    return it->second.source;
  return std::nullopt;
}

} // namespace annals::p2p
