#include "net/p2p/discv5.hpp"

#include "core/discv5_wire.hpp"

#include <boost/asio.hpp>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

namespace annals::p2p {

namespace asio = boost::asio;
namespace d5 = annals::discv5;
using udp = asio::ip::udp;
using steady = std::chrono::steady_clock;

namespace {

constexpr std::size_t bucket_size = 16;       // k
constexpr std::size_t replacements_kept = 4;  // per full bucket
constexpr std::size_t walk_parallelism = 3;   // α
constexpr std::size_t walk_query_limit = 24;
constexpr std::size_t answer_limit = 16;      // records in one FINDNODE answer
constexpr std::size_t queued_per_node = 8;
constexpr std::size_t seen_ids_kept = 10000;

template <std::size_t N>
std::array<std::uint8_t, N> random_array() {
  std::array<std::uint8_t, N> out{};
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1)
    throw std::runtime_error("discv5: no randomness");
  return out;
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("discv5: no randomness");
  return out;
}

/// Request IDs whose first byte is not zero: an integer-minded peer echoes
/// them unchanged.
d5::request_id fresh_request_id() {
  auto id = random_bytes(8);
  if (id[0] == '\0')
    id[0] = '\x01';
  return id;
}

std::optional<udp::endpoint> record_endpoint(const enr_record& r) {
  if (!r.fields.ip || !r.fields.udp || *r.fields.udp == 0)
    return std::nullopt;
  asio::ip::address_v4::bytes_type b;
  std::copy(r.fields.ip->begin(), r.fields.ip->end(), b.begin());
  return udp::endpoint(asio::ip::address_v4(b), *r.fields.udp);
}

bool unroutable(const asio::ip::address_v4& ip) {
  return ip.is_unspecified() || ip.is_multicast() || ip == asio::ip::address_v4::broadcast();
}

std::string endpoint_text(const udp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

struct session {
  udp::endpoint ep;
  d5::key128 write{}, read{};
  steady::time_point used;
};

struct challenge {
  std::string data;  // masking-iv || header of the WHOAREYOU sent
  udp::endpoint ep;
  std::optional<enr_record> known;
  steady::time_point at;
};

struct table_entry {
  enr_record record;
  udp::endpoint ep;
  steady::time_point seen;
};

struct bucket {
  std::deque<table_entry> entries;  // least recently seen first
  std::deque<table_entry> replacements;
  bool pinging = false;
};

enum class purpose { liveness, walk, query };

struct request {
  d5::request_id id;
  d5::node_id node{};
  enr_record record;
  udp::endpoint ep;
  d5::message msg;
  d5::nonce96 nonce{};
  purpose why = purpose::walk;
  std::unique_ptr<asio::steady_timer> timer;
  bool handshake_sent = false;
  bool answered_after_handshake = false;
  std::vector<std::uint16_t> distances;
  std::uint64_t nodes_total = 0, nodes_seen = 0;
  std::vector<enr_record> found;
  std::function<void(result<std::vector<enr_record>>)> done;  // purpose::query
};

struct walk_candidate {
  enr_record record;
  bool asked = false;
};

struct rate_bucket {
  double tokens = 0;
  steady::time_point at;
};

} // namespace

struct discv5_service::impl : std::enable_shared_from_this<discv5_service::impl> {
  asio::io_context& io;
  private_key key;
  d5::node_id local_id{};
  discv5_config config;
  found_fn found;
  log_fn log;
  udp::socket sock;
  asio::steady_timer walk_timer;
  std::array<char, 2048> buffer{};
  udp::endpoint from;
  std::optional<enr_record> local;
  std::vector<enr_record> bootstrap;
  discv5_stats counters;
  bool closed = false;

  std::unordered_map<std::string, session> sessions;  // by node ID bytes
  std::unordered_map<std::string, challenge> challenges;
  std::array<bucket, 256> buckets;
  std::map<std::string, request> pending;  // by request ID
  std::unordered_map<std::string, std::deque<request>> queued;  // by node ID
  std::set<std::string> busy;  // nodes with a request in flight
  std::map<std::string, rate_bucket> rates;  // by source address
  std::set<std::string> seen_ids;

  // The walk under way, if any.
  bool walking = false;
  d5::node_id walk_target{};
  std::map<std::string, walk_candidate> walk_candidates;
  std::size_t walk_in_flight = 0, walk_queries = 0, walk_new = 0;
  std::chrono::milliseconds walk_wait;
  bool hungry = false;

  impl(asio::io_context& io_, const private_key& k, discv5_config c, found_fn f, log_fn l)
      : io(io_), key(k), config(std::move(c)), found(std::move(f)), log(std::move(l)), sock(io_),
        walk_timer(io_), walk_wait(config.walk_interval) {
    auto raw = key.public_key().uncompressed();
    local_id = keccak_id(raw);
  }

  static d5::node_id keccak_id(const std::array<std::uint8_t, 65>& raw);

  static std::string id_key(const d5::node_id& id) {
    return std::string(reinterpret_cast<const char*>(id.data()), id.size());
  }

  void note(bool problem, const std::string& line) {
    if (log)
      log(problem, "discv5: " + line);
  }

  void close() {
    closed = true;
    found = {};
    log = {};
    boost::system::error_code ignored;
    sock.close(ignored);
    walk_timer.cancel();
    for (auto& [id, r] : pending)
      if (r.timer)
        r.timer->cancel();
  }

  // -- sending ---------------------------------------------------------------

  void send(const std::string& datagram, const udp::endpoint& ep) {
    boost::system::error_code ec;
    // Non-blocking: a full socket buffer drops the packet, as UDP may.
    sock.send_to(asio::buffer(datagram), ep, 0, ec);
    if (!ec)
      ++counters.packets_out;
  }

  d5::nonce96 send_sealed(const d5::node_id& to, const udp::endpoint& ep,
                          const d5::key128* key_or_null, const std::string& plaintext) {
    auto nonce = random_array<12>();
    auto iv = random_array<16>();
    auto header = d5::make_header(config.protocol_id, d5::packet_kind::message, nonce,
                                  d5::message_authdata(local_id));
    std::string ad(reinterpret_cast<const char*>(iv.data()), iv.size());
    ad += header;
    // Without a session the message is noise that asks for a WHOAREYOU.
    auto sealed = key_or_null ? d5::seal(*key_or_null, nonce, plaintext, ad) : random_bytes(44);
    send(d5::encode_packet(to, iv, header, sealed), ep);
    return nonce;
  }

  void reply(const d5::node_id& to, const session& s, const d5::message& m) {
    send_sealed(to, s.ep, &s.write, d5::encode_message(m));
  }

  session* session_for(const d5::node_id& id, const udp::endpoint& ep) {
    auto it = sessions.find(id_key(id));
    if (it == sessions.end() || it->second.ep != ep)
      return nullptr;
    it->second.used = steady::now();
    return &it->second;
  }

  void keep_session(const d5::node_id& id, session s) {
    s.used = steady::now();
    if (sessions.size() >= config.max_sessions && !sessions.count(id_key(id))) {
      auto oldest = std::min_element(sessions.begin(), sessions.end(), [](auto& a, auto& b) {
        return a.second.used < b.second.used;
      });
      sessions.erase(oldest);
    }
    sessions[id_key(id)] = s;
  }

  // -- requests --------------------------------------------------------------

  void issue(request r) {
    auto node = id_key(r.node);
    if (busy.count(node)) {
      // One request in flight per node: a second random packet would make
      // the peer replace the challenge the first one is answering.
      auto& q = queued[node];
      if (q.size() < queued_per_node)
        q.push_back(std::move(r));
      else if (r.why == purpose::walk)
        walk_done_one(false, {});
      else if (r.why == purpose::query && r.done)
        r.done(make_error(errc::conflict, "discv5: too many requests queued for "
                                            + endpoint_text(r.ep)));
      return;
    }
    busy.insert(node);
    auto* s = session_for(r.node, r.ep);
    r.nonce = send_sealed(r.node, r.ep, s ? &s->write : nullptr, d5::encode_message(r.msg));
    r.timer = std::make_unique<asio::steady_timer>(io, config.request_timeout);
    auto id = r.id;
    r.timer->async_wait([weak = weak_from_this(), id](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->closed)
        return;
      self->timed_out(id);
    });
    pending.emplace(id, std::move(r));
  }

  void timed_out(const d5::request_id& id) {
    auto it = pending.find(id);
    if (it == pending.end())
      return;
    ++counters.requests_timed_out;
    // The peer may have lost our session: the next request starts afresh.
    sessions.erase(id_key(it->second.node));
    finish(it, false);
  }

  void finish(std::map<std::string, request>::iterator it, bool ok) {
    auto r = std::move(it->second);
    pending.erase(it);
    if (r.timer)
      r.timer->cancel();
    auto node = id_key(r.node);
    busy.erase(node);
    if (ok)
      admit(r.record, r.ep, false);
    switch (r.why) {
      case purpose::liveness:
        liveness_result(r.node, ok);
        break;
      case purpose::walk:
        walk_done_one(ok, r.found);
        break;
      case purpose::query:
        if (r.done && !closed)
          r.done(ok ? result<std::vector<enr_record>>(std::move(r.found))
                    : result<std::vector<enr_record>>(make_error(
                      errc::not_found, "discv5: " + endpoint_text(r.ep) + " did not answer")));
        break;
    }
    if (auto q = queued.find(node); q != queued.end()) {
      auto next = std::move(q->second.front());
      q->second.pop_front();
      if (q->second.empty())
        queued.erase(q);
      issue(std::move(next));
    }
  }

  // -- the table -------------------------------------------------------------

  bucket* bucket_of(const d5::node_id& id) {
    auto d = d5::log_distance(local_id, id);
    return d == 0 ? nullptr : &buckets[static_cast<std::size_t>(d - 1)];
  }

  bool loopback(const udp::endpoint& ep) const {
    return ep.address().is_loopback();
  }

  /// A node that answered (or a bootstrap record) takes a place in its
  /// bucket; one whose record names another address than it spoke from
  /// does not: it would send others astray.
  void admit(const enr_record& record, const udp::endpoint& ep, bool trusted) {
    auto id = record.node_id();
    if (id == local_id)
      return;
    auto said = record_endpoint(record);
    if (!said || (!trusted && *said != ep))
      return;
    auto* b = bucket_of(id);
    if (!b)
      return;
    auto now = steady::now();
    for (auto it = b->entries.begin(); it != b->entries.end(); ++it)
      if (it->record.node_id() == id) {
        auto entry = std::move(*it);
        b->entries.erase(it);
        if (record.seq >= entry.record.seq)
          entry.record = record;
        entry.ep = *said;
        entry.seen = now;
        b->entries.push_back(std::move(entry));
        return;
      }
    if (b->entries.size() < bucket_size) {
      b->entries.push_back({record, *said, now});
      return;
    }
    // Full: the newcomer waits while the least recently seen is asked.
    auto& rep = b->replacements;
    rep.erase(std::remove_if(rep.begin(), rep.end(),
                             [&](auto& e) { return e.record.node_id() == id; }),
              rep.end());
    rep.push_back({record, *said, now});
    if (rep.size() > replacements_kept)
      rep.pop_front();
    if (!b->pinging) {
      b->pinging = true;
      auto& head = b->entries.front();
      request r;
      r.id = fresh_request_id();
      r.node = head.record.node_id();
      r.record = head.record;
      r.ep = head.ep;
      r.msg = d5::ping{r.id, local ? local->seq : 0};
      r.why = purpose::liveness;
      issue(std::move(r));
    }
  }

  void liveness_result(const d5::node_id& id, bool ok) {
    auto* b = bucket_of(id);
    if (!b)
      return;
    b->pinging = false;
    if (ok || b->entries.empty() || b->entries.front().record.node_id() != id)
      return;
    b->entries.pop_front();
    if (!b->replacements.empty()) {
      b->entries.push_back(std::move(b->replacements.back()));
      b->replacements.pop_back();
    }
  }

  std::vector<const table_entry*> all_entries() const {
    std::vector<const table_entry*> out;
    for (const auto& b : buckets)
      for (const auto& e : b.entries)
        out.push_back(&e);
    return out;
  }

  // -- walks -----------------------------------------------------------------

  void schedule_walk() {
    walk_timer.expires_after(walk_wait);
    walk_timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->closed)
        return;
      self->start_walk();
    });
  }

  void start_walk() {
    if (!local || walking || closed)
      return;
    walking = true;
    ++counters.walks;
    auto target = random_array<32>();
    walk_target = target;
    walk_candidates.clear();
    walk_in_flight = walk_queries = walk_new = 0;
    for (const auto* e : all_entries())
      walk_candidates[id_key(e->record.node_id())] = {e->record, false};
    walk_step();
  }

  void walk_step() {
    std::vector<std::pair<d5::node_id, walk_candidate*>> order;
    for (auto& [k, c] : walk_candidates) {
      d5::node_id id{};
      std::copy(k.begin(), k.end(), reinterpret_cast<char*>(id.data()));
      order.emplace_back(id, &c);
    }
    std::sort(order.begin(), order.end(), [&](auto& a, auto& b) {
      return d5::closer(walk_target, a.first, b.first);
    });
    if (order.size() > bucket_size)
      order.resize(bucket_size);
    for (auto& [id, c] : order) {
      if (walk_in_flight >= walk_parallelism || walk_queries >= walk_query_limit)
        break;
      if (c->asked)
        continue;
      c->asked = true;
      auto ep = record_endpoint(c->record);
      if (!ep)
        continue;
      auto d = d5::log_distance(walk_target, id);
      request r;
      r.id = fresh_request_id();
      r.node = id;
      r.record = c->record;
      r.ep = *ep;
      for (int x : {d, d + 1, d - 1})
        if (x >= 1 && x <= 256)
          r.distances.push_back(static_cast<std::uint16_t>(x));
      r.msg = d5::findnode{r.id, r.distances};
      r.why = purpose::walk;
      ++walk_in_flight;
      ++walk_queries;
      issue(std::move(r));
    }
    if (walk_in_flight == 0) {
      walking = false;
      // Walks that find nothing new (or reach no one: the bootstrap node may
      // not be up yet) come less often; a find resets the pace.
      auto base = hungry ? config.walk_interval_hungry : config.walk_interval;
      walk_wait = walk_new > 0 ? base
                               : std::min(config.walk_interval_max, std::max(base, walk_wait * 2));
      schedule_walk();
    }
  }

  void walk_done_one(bool, const std::vector<enr_record>& records) {
    if (!walking)
      return;
    if (walk_in_flight > 0)
      --walk_in_flight;
    for (const auto& r : records) {
      auto k = id_key(r.node_id());
      if (r.node_id() == local_id || walk_candidates.count(k))
        continue;
      walk_candidates[k] = {r, false};
    }
    walk_step();
  }

  // -- receiving -------------------------------------------------------------

  void receive() {
    sock.async_receive_from(
      asio::buffer(buffer), from,
      [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
        if (self->closed || ec == asio::error::operation_aborted)
          return;
        if (!ec)
          self->on_datagram(std::string_view(self->buffer.data(), n), self->from);
        self->receive();
      });
  }

  /// Per source address: a flood of packets buys a bounded number of
  /// WHOAREYOUs and answers.
  bool allowed(const udp::endpoint& ep) {
    auto now = steady::now();
    auto burst = std::max(1.0, config.requests_per_second_per_ip * 2);
    if (rates.size() > 4096) {
      for (auto it = rates.begin(); it != rates.end();)
        it = now - it->second.at > std::chrono::seconds(10) ? rates.erase(it) : std::next(it);
    }
    auto [it, fresh] = rates.try_emplace(ep.address().to_string(), rate_bucket{burst, now});
    auto& b = it->second;
    if (!fresh) {
      std::chrono::duration<double> dt = now - b.at;
      b.tokens = std::min(burst, b.tokens + dt.count() * config.requests_per_second_per_ip);
      b.at = now;
    }
    if (b.tokens < 1) {
      ++counters.rate_limited;
      return false;
    }
    b.tokens -= 1;
    return true;
  }

  void on_datagram(std::string_view data, const udp::endpoint& ep) {
    ++counters.packets_in;
    auto p = d5::decode_packet(config.protocol_id, local_id, data);
    if (!p) {
      ++counters.malformed;
      return;
    }
    switch (p->kind) {
      case d5::packet_kind::message:
        on_message_packet(*p, ep);
        break;
      case d5::packet_kind::whoareyou:
        on_whoareyou(*p, ep);
        break;
      case d5::packet_kind::handshake:
        on_handshake(*p, ep);
        break;
    }
  }

  void on_message_packet(const d5::packet& p, const udp::endpoint& ep) {
    auto src = d5::message_source(p);
    if (auto* s = session_for(src, ep)) {
      if (auto pt = d5::open(s->read, p.nonce, p.sealed, p.associated_data())) {
        if (auto m = d5::decode_message(*pt))
          handle(src, *s, *m);
        else
          ++counters.malformed;
        return;
      }
    }
    // No session, or one the peer no longer has: challenge it.
    if (!allowed(ep))
      return;
    d5::whoareyou_auth auth{random_array<16>(), 0};
    std::optional<enr_record> known;
    if (auto* b = bucket_of(src))
      for (auto& e : b->entries)
        if (e.record.node_id() == src)
          known = e.record;
    for (auto& [id, r] : pending)
      if (!known && r.node == src)
        known = r.record;
    if (known)
      auth.enr_seq = known->seq;
    auto iv = random_array<16>();
    auto header =
      d5::make_header(config.protocol_id, d5::packet_kind::whoareyou, p.nonce,
                      d5::whoareyou_authdata(auth));
    std::string data(reinterpret_cast<const char*>(iv.data()), iv.size());
    data += header;
    if (challenges.size() >= config.max_challenges && !challenges.count(id_key(src))) {
      auto oldest = std::min_element(challenges.begin(), challenges.end(),
                                     [](auto& a, auto& b) { return a.second.at < b.second.at; });
      challenges.erase(oldest);
    }
    challenges[id_key(src)] = {data, ep, known, steady::now()};
    send(d5::encode_packet(src, iv, header, ""), ep);
  }

  void on_whoareyou(const d5::packet& p, const udp::endpoint& ep) {
    auto it = std::find_if(pending.begin(), pending.end(), [&](auto& kv) {
      return kv.second.nonce == p.nonce && kv.second.ep == ep;
    });
    if (it == pending.end() || it->second.handshake_sent || it->second.answered_after_handshake
        || !local)
      return;  // not ours, or a second challenge for one request
    auto& r = it->second;
    auto auth = d5::parse_whoareyou(p);
    auto challenge_data = p.associated_data();
    auto eph = private_key::generate();
    auto eph_pub = eph.public_key().compressed();
    std::string eph_key(reinterpret_cast<const char*>(eph_pub.data()), eph_pub.size());
    auto keys = d5::derive_keys(ecdh_compressed(eph, r.record.key), local_id, r.node,
                                challenge_data);
    auto sig = key.sign_compact(d5::id_proof_digest(challenge_data, eph_key, r.node));
    d5::handshake_auth h;
    h.src = local_id;
    h.id_signature.assign(reinterpret_cast<const char*>(sig.data()), sig.size());
    h.ephemeral_key = eph_key;
    if (auth.enr_seq < local->seq)
      h.record = local->encoded;
    auto nonce = random_array<12>();
    auto iv = random_array<16>();
    auto header = d5::make_header(config.protocol_id, d5::packet_kind::handshake, nonce,
                                  d5::handshake_authdata(h));
    std::string ad(reinterpret_cast<const char*>(iv.data()), iv.size());
    ad += header;
    send(d5::encode_packet(r.node, iv, header,
                           d5::seal(keys.initiator, nonce, d5::encode_message(r.msg), ad)),
         ep);
    r.nonce = nonce;
    r.handshake_sent = true;
    keep_session(r.node, session{ep, keys.initiator, keys.recipient, {}});
  }

  void on_handshake(const d5::packet& p, const udp::endpoint& ep) {
    auto auth = d5::parse_handshake(p);
    if (!auth) {
      ++counters.malformed;
      return;
    }
    auto ch = challenges.find(id_key(auth->src));
    if (ch == challenges.end() || ch->second.ep != ep) {
      ++counters.handshakes_failed;
      return;
    }
    auto fail = [&](const std::string& why) {
      ++counters.handshakes_failed;
      note(false, "handshake from " + endpoint_text(ep) + " refused: " + why);
      challenges.erase(ch);
    };
    std::optional<enr_record> record = ch->second.known;
    if (!auth->record.empty()) {
      auto sent = decode_enr(auth->record);
      if (!sent)
        return fail("its record: " + sent.error().message);
      if (sent->node_id() != auth->src)
        return fail("its record is another node's");
      if (!record || sent->seq >= record->seq)
        record = *sent;
    }
    if (!record)
      return fail("no record: the challenge asked for one");
    if (!verify_compact_any_s(
          record->key, d5::id_proof_digest(ch->second.data, auth->ephemeral_key, local_id),
          auth->id_signature))
      return fail("identity proof does not verify");
    auto eph = public_key::parse(auth->ephemeral_key);
    if (!eph)
      return fail("ephemeral key: " + eph.error().message);
    auto keys = d5::derive_keys(ecdh_compressed(key, *eph), auth->src, local_id, ch->second.data);
    auto pt = d5::open(keys.initiator, p.nonce, p.sealed, p.associated_data());
    if (!pt)
      return fail("message does not open with the agreed keys");
    auto m = d5::decode_message(*pt);
    if (!m)
      return fail(m.error().message);
    challenges.erase(ch);
    ++counters.handshakes;
    keep_session(auth->src, session{ep, keys.recipient, keys.initiator, {}});
    admit(*record, ep, false);
    handle(auth->src, sessions[id_key(auth->src)], *m);
  }

  // -- messages ----------------------------------------------------------------

  void handle(const d5::node_id& src, const session& s, const d5::message& m) {
    if (std::holds_alternative<d5::ping>(m)) {
      if (!allowed(s.ep))
        return;
      auto addr = s.ep.address();
      std::string ip;
      if (addr.is_v4()) {
        auto b = addr.to_v4().to_bytes();
        ip.assign(reinterpret_cast<const char*>(b.data()), b.size());
      } else {
        auto b = addr.to_v6().to_bytes();
        ip.assign(reinterpret_cast<const char*>(b.data()), b.size());
      }
      reply(src, s, d5::pong{std::get<d5::ping>(m).id, local ? local->seq : 0, ip, s.ep.port()});
    } else if (auto* f = std::get_if<d5::findnode>(&m)) {
      if (!allowed(s.ep))
        return;
      ++counters.findnode_served;
      std::vector<std::string> records;
      std::set<std::uint16_t> asked(f->distances.begin(), f->distances.end());
      for (auto d : asked) {
        if (records.size() >= answer_limit)
          break;
        if (d == 0) {
          if (local)
            records.push_back(local->encoded);
          continue;
        }
        for (const auto& e : buckets[d - 1].entries)
          if (records.size() < answer_limit)
            records.push_back(e.record.encoded);
      }
      for (const auto& n : d5::split_nodes(f->id, records))
        reply(src, s, n);
    } else if (auto* t = std::get_if<d5::talkreq>(&m)) {
      // No TALK protocols here: the empty answer says so.
      reply(src, s, d5::talkresp{t->id, ""});
    } else {
      on_response(src, s, m);
    }
  }

  void on_response(const d5::node_id& src, const session&, const d5::message& m) {
    auto& id = d5::id_of(m);
    auto it = pending.find(id);
    if (it == pending.end())
      it = std::find_if(pending.begin(), pending.end(),
                        [&](auto& kv) { return d5::same_request(kv.first, id); });
    if (it == pending.end() || it->second.node != src)
      return;
    auto& r = it->second;
    if (r.handshake_sent) {
      // The first answer that opens with keys we agreed completes our side.
      ++counters.handshakes;
      r.handshake_sent = false;
      r.answered_after_handshake = true;
    }
    if (auto* n = std::get_if<d5::nodes>(&m)) {
      if (!std::holds_alternative<d5::findnode>(r.msg))
        return;
      r.nodes_total = std::min<std::uint64_t>(std::max<std::uint64_t>(n->total, 1),
                                              d5::max_nodes_messages);
      ++r.nodes_seen;
      std::vector<std::string> verified;
      for (const auto& bytes : n->records) {
        ++counters.records_received;
        auto rec = decode_enr(bytes);
        if (!rec || r.found.size() >= answer_limit * d5::max_nodes_messages) {
          ++counters.records_refused;
          continue;
        }
        auto d = d5::log_distance(src, rec->node_id());
        if (std::find(r.distances.begin(), r.distances.end(), d) == r.distances.end()) {
          ++counters.records_refused;  // not what was asked for
          continue;
        }
        // A record this node could not send a packet to usefully: 0.0.0.0,
        // multicast, broadcast, or loopback named by a peer off loopback.
        if (auto at = record_endpoint(*rec);
            at
            && (unroutable(at->address().to_v4())
                || (loopback(*at) && !loopback(r.ep) && !config.loopback_ok))) {
          ++counters.records_refused;
          continue;
        }
        if (seen_ids.size() < seen_ids_kept && seen_ids.insert(id_key(rec->node_id())).second)
          ++walk_new;
        r.found.push_back(*rec);
        verified.push_back(rec->encoded);
      }
      if (!verified.empty() && found)
        found(std::move(verified));
      if (r.nodes_seen >= r.nodes_total)
        finish(it, true);
    } else if (std::holds_alternative<d5::pong>(m)) {
      if (std::holds_alternative<d5::ping>(r.msg))
        finish(it, true);
    } else {
      finish(it, true);
    }
  }
};

d5::node_id discv5_service::impl::keccak_id(const std::array<std::uint8_t, 65>& raw) {
  enr_record probe;  // node_id() is keccak over the uncompressed key
  auto key = public_key::parse(std::string_view(reinterpret_cast<const char*>(raw.data()), 65));
  probe.key = *key;
  return probe.node_id();
}

result<std::pair<std::string, std::uint16_t>> parse_discv5_listen(std::string_view text) {
  auto colon = text.rfind(':');
  auto refuse = [&] {
    return make_error(errc::invalid_argument,
                      "discv5 listen address \"" + std::string(text) + "\" is not IPv4:PORT");
  };
  if (colon == std::string_view::npos)
    return refuse();
  boost::system::error_code ec;
  auto ip = asio::ip::make_address_v4(std::string(text.substr(0, colon)), ec);
  auto port_text = text.substr(colon + 1);
  if (ec || port_text.empty() || port_text.size() > 5
      || !std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return refuse();
  auto port = std::stoul(std::string(port_text));
  if (port > 65535)
    return refuse();
  return std::pair{ip.to_string(), static_cast<std::uint16_t>(port)};
}

result<enr_record> parse_discv5_bootstrap(std::string_view text) {
  auto r = parse_enr(text);
  if (!r)
    return make_error(r.error().code, "discv5 bootstrap record: " + r.error().message);
  if (!record_endpoint(*r))
    return make_error(errc::invalid_argument,
                      "discv5 bootstrap record " + std::string(text.substr(0, 24))
                        + "… names no IPv4 address and UDP port to reach it at");
  return r;
}

discv5_service::discv5_service(std::shared_ptr<impl> state) : shared_(std::move(state)) {}

result<std::unique_ptr<discv5_service>> discv5_service::start(asio::io_context& io,
                                                              const private_key& key,
                                                              discv5_config config,
                                                              found_fn found, log_fn log) {
  if (config.protocol_id.size() != 6)
    return make_error(errc::invalid_argument,
                      "discv5 protocol ID \"" + config.protocol_id + "\" is not 6 bytes");
  auto bind_to = parse_discv5_listen(config.listen);
  if (!bind_to)
    return bind_to.error();
  std::vector<enr_record> boot;
  for (const auto& text : config.bootstrap) {
    auto r = parse_discv5_bootstrap(text);
    if (!r)
      return r.error();
    boot.push_back(std::move(*r));
  }
  auto state = std::make_shared<impl>(io, key, std::move(config), std::move(found), std::move(log));
  udp::endpoint ep(asio::ip::make_address_v4(bind_to->first), bind_to->second);
  boost::system::error_code ec;
  state->sock.open(udp::v4(), ec);
  if (!ec)
    state->sock.bind(ep, ec);
  if (!ec)
    state->sock.non_blocking(true, ec);
  if (ec)
    return make_error(errc::io, "discv5 cannot listen on udp " + state->config.listen + ": "
                                  + ec.message());
  for (const auto& r : boot)
    state->admit(r, *record_endpoint(r), true);
  state->bootstrap = std::move(boot);
  // The bootstrap nodes may be relays too: the peer manager decides.
  if (!state->bootstrap.empty())
    asio::post(io, [state] {
      std::vector<std::string> records;
      for (const auto& r : state->bootstrap)
        records.push_back(r.encoded);
      if (state->found && !state->closed)
        state->found(std::move(records));
    });
  asio::post(io, [state] { state->receive(); });
  return std::unique_ptr<discv5_service>(new discv5_service(state));
}

discv5_service::~discv5_service() {
  if (shared_)
    shared_->close();
}

std::uint16_t discv5_service::port() const {
  boost::system::error_code ec;
  auto ep = shared_->sock.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void discv5_service::set_local_record(const enr_record& record) {
  auto first = !shared_->local;
  shared_->local = record;
  if (first)
    shared_->start_walk();
}

void discv5_service::walk_now() {
  shared_->walk_wait = shared_->config.walk_interval;
  shared_->start_walk();
}

void discv5_service::set_hungry(bool hungry) {
  auto& st = *shared_;
  if (hungry == st.hungry)
    return;
  st.hungry = hungry;
  // Short of peers: the next walk comes within the hungry interval (a walk
  // under way schedules the next one itself when it ends).
  if (hungry && st.walk_wait > st.config.walk_interval_hungry) {
    st.walk_wait = st.config.walk_interval_hungry;
    if (st.local && !st.walking) {
      st.walk_timer.cancel();
      st.schedule_walk();
    }
  }
}

discv5_stats discv5_service::stats() const {
  auto out = shared_->counters;
  out.table_size = shared_->all_entries().size();
  out.sessions = shared_->sessions.size();
  out.challenges = shared_->challenges.size();
  return out;
}

void discv5_service::find_node(const enr_record& peer, std::vector<std::uint16_t> distances,
                               std::function<void(result<std::vector<enr_record>>)> done) {
  auto ep = record_endpoint(peer);
  if (!ep || !shared_->local) {
    done(make_error(errc::invalid_argument,
                    ep ? "discv5: this node has no record yet"
                       : "discv5: the record names no IPv4 address and UDP port"));
    return;
  }
  request r;
  r.id = fresh_request_id();
  r.node = peer.node_id();
  r.record = peer;
  r.ep = *ep;
  r.distances = distances;
  r.msg = d5::findnode{r.id, std::move(distances)};
  r.why = purpose::query;
  r.done = std::move(done);
  shared_->issue(std::move(r));
}

std::vector<enr_record> discv5_service::table() const {
  std::vector<enr_record> out;
  for (const auto* e : shared_->all_entries())
    out.push_back(e->record);
  return out;
}

} // namespace annals::p2p
