#include "net/p2p/host.hpp"

#include <annals/status.hpp>

#include "core/peer_exchange.hpp"
#include "core/store_query.hpp"
#include "core/waku_rule.hpp"

#include "net/interfaces.hpp"
#include "net/p2p/enr_peer.hpp"
#include "net/p2p/multiaddr.hpp"
#include "net/p2p/peer_id.hpp"
#include "net/p2p/tcp_target.hpp"
#include "proto/waku_message.pb.h"

#include <boost/asio.hpp>

#include <algorithm>
#include <array>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace annals::p2p {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::string endpoint_multiaddr(const tcp::endpoint& ep) {
  return std::string(ep.address().is_v4() ? "/ip4/" : "/ip6/") + ep.address().to_string() + "/tcp/"
         + std::to_string(ep.port());
}

std::string endpoint_multiaddr_bytes(const tcp::endpoint& ep) {
  auto m = multiaddr::parse(endpoint_multiaddr(ep));
  return m ? m->to_bytes() : std::string();
}

/// "/ip4/0.0.0.0/tcp/60000" -> {"ip4", "0.0.0.0", "/tcp/60000"}; false for
/// another shape.
bool split_ip_multiaddr(const std::string& text, std::string& family, std::string& ip,
                        std::string& rest) {
  if (text.rfind("/ip4/", 0) != 0 && text.rfind("/ip6/", 0) != 0)
    return false;
  family = text.substr(1, 3);
  auto end = text.find('/', 5);
  if (end == std::string::npos)
    return false;
  ip = text.substr(5, end - 5);
  rest = text.substr(end);
  return true;
}

/// The most distinct observed addresses logged; past it a hostile peer
/// could fill the log with made-up ones.
constexpr std::size_t max_observed_logged = 64;

} // namespace

std::vector<std::string> advertised_multiaddrs(const std::vector<std::string>& external,
                                               const std::vector<std::string>& bound,
                                               const std::vector<interface_address>& interfaces,
                                               bool to_loopback_peer) {
  std::vector<std::string> out;
  auto add = [&](const std::string& a) {
    if (std::find(out.begin(), out.end(), a) == out.end())
      out.push_back(a);
  };
  for (const auto& e : external)
    add(e);
  for (const auto& b : bound) {
    std::string family, ip, rest;
    if (!split_ip_multiaddr(b, family, ip, rest))
      continue;
    for (const auto& a : advertised_ips(ip, interfaces, to_loopback_peer))
      add("/" + family + "/" + a + rest);
  }
  return out;
}

std::vector<std::string> advertised_to_peers(const std::vector<std::string>& external,
                                             const std::vector<std::string>& bound,
                                             const std::vector<interface_address>& interfaces) {
  auto addrs = advertised_multiaddrs(external, bound, interfaces, false);
  if (addrs.empty())
    addrs = advertised_multiaddrs(external, bound, interfaces, true);
  return addrs;
}

gossip_validator waku_validator(std::size_t max_bytes) {
  return [max_bytes](const std::string&, const std::string& data) {
    annals::waku::WakuMessage msg;
    switch (check_relay_message(data, msg, max_bytes).verdict) {
      case waku_check::accept:
        return validation::accept;
      case waku_check::ignore:
        return validation::ignore;
      case waku_check::reject:
        break;
    }
    return validation::reject;
  };
}

// -- one socket ------------------------------------------------------------------

struct host::impl : std::enable_shared_from_this<host::impl> {
  struct conn_entry;

  host_config config;
  host_callbacks callbacks;
  std::string self_id;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::string> bound;  // text multiaddrs without /p2p/
  std::set<std::string> observed_logged;  // addresses peers said they see us at
  asio::steady_timer heartbeat_timer{io};
  gossipsub_router router;
  std::map<peer_handle, std::shared_ptr<conn_entry>> conns;
  peer_handle next_handle = 1;
  host_stats counters;
  bool stopping = false;

  struct static_peer {
    std::string address;
    std::string peer;  // its peer ID when the address names one
    std::chrono::milliseconds backoff;
    bool connected = false;
    bool removed = false;  // dropped by set_static_peers: never redialled
    std::unique_ptr<asio::steady_timer> timer;
  };
  std::vector<static_peer> statics;
  peer_manager discovery;
  /// Reads DNS trees on its own thread; reset before the I/O thread stops.
  std::unique_ptr<dns_discovery> dns;
  /// Peers whose last connection closed, not yet reported gone: when two
  /// nodes dial each other at once, the one that keeps the other's
  /// connection may close ours before its own reaches us, and a new
  /// connection within the grace is a handover, not news.
  std::map<std::string, std::unique_ptr<asio::steady_timer>> gone_pending;
  /// Lives on the I/O thread: made in start, dropped when stopping.
  std::unique_ptr<discv5_service> discv5;
  asio::steady_timer discovery_timer{io};
  std::map<std::string, std::chrono::steady_clock::time_point> exchange_served;  // by asker
  std::set<std::shared_ptr<tcp::socket>> pending_dials;  // closed on stop, or a
                                                          // blackholed peer holds the thread
  std::thread thread;

  explicit impl(host_config cfg, host_callbacks cb)
      : config(std::move(cfg)), callbacks(std::move(cb)), router(config.gossip),
        discovery(manager_config(config),
                  p2p::peer_id::from_secp256k1(config.identity.public_key()).to_string()) {
    router.set_validator(config.validator ? config.validator
                                          : waku_validator(config.gossip.max_message));
    self_id = p2p::peer_id::from_secp256k1(config.identity.public_key()).to_string();
  }

  static peer_manager_config manager_config(const host_config& c) {
    peer_manager_config m;
    m.target_peers = c.target_peers;
    m.cluster_id = c.cluster_id;
    m.shards = c.shards;
    m.backoff_initial = c.discovery_backoff_initial;
    m.backoff_max = c.discovery_backoff_max;
    m.max_candidates = c.max_candidates;
    m.exchange_interval = c.exchange_interval;
    m.exchange_interval_max = c.exchange_interval_max;
    return m;
  }

  void log(host_log_level level, const std::string& line) {
    if (callbacks.on_log)
      callbacks.on_log(level, line);
  }

  /// What this host tells a peer it listens on: the external addresses,
  /// then the bound ones with a wildcard replaced by the interfaces'
  /// addresses (loopback ones only for a peer on loopback).
  std::vector<std::string> advertised(bool to_loopback_peer) const {
    return advertised_multiaddrs(config.external_addresses, bound, local_interface_addresses(),
                                 to_loopback_peer);
  }

  /// Runs `f` on the I/O thread and waits for its answer.
  template <class F>
  auto call(F f) const -> decltype(f()) {
    auto* self = const_cast<impl*>(this);
    if (self->io.get_executor().running_in_this_thread() || self->io.stopped())
      return f();
    auto p = std::make_shared<std::promise<decltype(f())>>();
    auto fut = p->get_future();
    asio::post(self->io, [p, &f] {
      try {
        p->set_value(f());
      } catch (...) {
        p->set_exception(std::current_exception());
      }
    });
    // The I/O thread may stop (host shutting down) before it runs the task;
    // then nothing else touches the state and the caller may run it.
    while (fut.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready)
      if (self->io.stopped())
        return f();
    return fut.get();
  }

  struct conn_entry : connection_handler, std::enable_shared_from_this<conn_entry> {
    impl& host;
    peer_handle handle;
    tcp::socket socket;
    std::unique_ptr<connection> conn;
    std::array<char, 64 * 1024> buffer{};
    std::deque<std::string> write_queue;
    std::size_t queued_bytes = 0;
    std::string remote_ip;  // inbound connections: for the per-address limit
    bool writing = false;
    bool closed = false;
    bool was_established = false;
    asio::steady_timer handshake_timer;
    std::string remote_addr;
    int static_index = -1;
    std::string candidate_peer;  // dialled for the peer manager: its peer ID
    int relay_streams_opened = 0;
    bool inbound = false;
    std::uint64_t connected_unix_ms = 0;
    std::chrono::steady_clock::time_point opened = std::chrono::steady_clock::now();
    std::size_t slow_heartbeats = 0;  // in a row with more than slow_peer_backlog waiting
    identify_info identified;  // what the peer's identify said, once it answered
    /// Closed because another connection to the same peer is kept: quietly,
    /// as the peer stays connected.
    bool duplicate = false;

    conn_entry(impl& h, peer_handle id, tcp::socket s)
        : host(h), handle(id), socket(std::move(s)), handshake_timer(h.io) {}

    bool serves(std::string_view protocol) const {
      return std::find(identified.protocols.begin(), identified.protocols.end(), protocol)
             != identified.protocols.end();
    }
    bool on_loopback() const {
      return remote_addr.rfind("/ip4/127.", 0) == 0 || remote_addr.rfind("/ip6/::1/", 0) == 0;
    }

    /// Bytes waiting for this peer: on the socket and in the muxer.
    std::size_t backlog() const { return closed ? 0 : queued_bytes + conn->backlog(); }

    std::string who() const {
      return (conn && conn->remote() ? conn->remote()->to_string() : std::string("unknown peer"))
             + " at " + remote_addr;
    }

    /// Another live, established connection to `peer`, if any.
    conn_entry* other_connection(const std::string& peer) const {
      return host.live_connection(peer, this);
    }

    /// Two nodes that find each other at once dial each other at once. Both
    /// keep the connection the lower peer ID dialled (of two dialled by one
    /// side, the older), so the pair ends with one connection, not zero.
    /// Answers whether this connection stays.
    bool keep_one_connection(const std::string& peer, bool& replaced) {
      auto* other = other_connection(peer);
      if (!other)
        return true;
      const auto& low = std::min(peer, host.self_id);
      auto dialled_by_low = [&](const conn_entry& c) {
        return (c.inbound ? peer : host.self_id) == low;
      };
      bool keep_this = dialled_by_low(*this) && !dialled_by_low(*other);
      auto& loser = keep_this ? *other : *this;
      auto& winner = keep_this ? *this : *other;
      // A static peer stays a static peer through whichever connection lives.
      if (winner.static_index < 0)
        winner.static_index = loser.static_index;
      loser.static_index = -1;
      if (winner.static_index >= 0) {
        host.statics[winner.static_index].connected = true;
        host.statics[winner.static_index].backoff = host.config.reconnect_initial;
      }
      ++host.counters.duplicates_closed;
      loser.duplicate = true;
      if (!keep_this) {
        close("a second connection to " + peer);
        return false;
      }
      replaced = true;
      other->close("a second connection to " + peer);
      return true;
    }

    void on_established(const p2p::peer_id& remote, const std::string& muxer) override {
      bool replaced = false;
      if (!keep_one_connection(remote.to_string(), replaced))
        return;
      was_established = true;
      connected_unix_ms = unix_ms_now();
      handshake_timer.cancel();
      host.router.add_peer(handle);
      if (static_index >= 0) {
        host.statics[static_index].connected = true;
        host.statics[static_index].backoff = host.config.reconnect_initial;
      }
      host.log(replaced ? host_log_level::debug : host_log_level::info,
               "connected " + remote.to_string() + " at " + remote_addr + " over " + muxer
                 + (replaced ? " (replacing the connection it dialled)" : ""));
      // Callbacks speak of peers: one already connected is not news, nor
      // one back within the grace (see report_gone_later).
      bool handed_over = host.gone_pending.erase(remote.to_string()) > 0;
      if (host.callbacks.on_peer && !replaced && !handed_over)
        host.callbacks.on_peer(remote.to_string(), true);
      host.discovery.on_connected(remote.to_string(), inbound);
      // What the peer serves and runs, for operators (/admin/v1/peers).
      conn->request_identify();
    }
    void on_identify(const identify_info& info) override {
      identified = info;
      if (host.callbacks.on_identified && conn->remote())
        host.callbacks.on_identified(conn->remote()->to_string(), info.protocols);
      if (conn->remote() && serves(waku_relay_protocol))
        host.discovery.on_relay_identified(conn->remote()->to_string());
      // A new peer may be one to ask for more.
      host.maintain_peers();
      // Behind NAT this is the only way to learn the public address; each
      // distinct one is worth one line (external_addresses announces it).
      const auto& seen = info.observed_addr;
      if (seen.empty() || host.observed_logged.count(seen))
        return;
      if (host.observed_logged.size() < max_observed_logged) {
        host.observed_logged.insert(seen);
        host.log(host_log_level::info, "peer " + who() + " sees this host at " + seen);
      } else if (host.observed_logged.size() == max_observed_logged) {
        host.observed_logged.insert(seen);
        host.log(host_log_level::info, "peers report more than " + std::to_string(max_observed_logged)
                                         + " addresses for this host; no more are logged");
      }
    }
    void on_relay_rpc(std::string rpc) override {
      std::vector<gossip_message> delivered;
      auto r = host.router.handle_rpc(handle, rpc, gossipsub_router::clock::now(), delivered);
      if (!r)
        host.log(host_log_level::warn, "relay RPC from " + who() + " refused: " + r.error().to_string());
      for (auto& m : delivered)
        if (host.callbacks.on_message)
          host.callbacks.on_message(m.topic, m.data, conn->remote()->to_string());
    }
    void on_relay_ready() override {
      // The first time, add_peer queued our subscriptions already; a reopened
      // stream means the peer forgot them.
      if (relay_streams_opened++ > 0)
        host.router.resend_subscriptions(handle);
    }
    void on_metadata(std::uint32_t cluster, std::vector<std::uint32_t> shards) override {
      if (cluster != host.config.cluster_id)
        host.log(host_log_level::warn, "peer " + who() + " is in cluster " + std::to_string(cluster) + ", we are in "
                 + std::to_string(host.config.cluster_id));
    }
    void on_note(const std::string& text) override {
      host.log(host_log_level::debug, who() + ": " + text);
    }

    void start(connection::role role, std::optional<std::string> expected_key) {
      inbound = role == connection::role::listener;
      connection_config cc;
      cc.identity = host.config.identity;
      cc.muxers = host.config.muxers;
      cc.agent_version = host.config.agent_version;
      boost::system::error_code ec;
      auto ep = socket.remote_endpoint(ec);
      if (!ec) {
        remote_addr = endpoint_multiaddr(ep);
        cc.observed_addr = endpoint_multiaddr_bytes(ep);
      }
      // 0.0.0.0 and :: mean "every interface" here and "this host" to the
      // peer that would dial them, and 127.x reaches another host's own
      // loopback: identify names the interfaces' addresses instead.
      bool loopback_peer = !ec && ep.address().is_loopback();
      for (const auto& a : host.advertised(loopback_peer))
        if (auto m = multiaddr::parse(a))
          cc.listen_addrs.push_back(m->to_bytes());
      cc.cluster_id = host.config.cluster_id;
      cc.shards = host.config.shards;
      cc.max_rpc = host.config.gossip.max_rpc;
      cc.limits = host.config.stream_limits;
      cc.expected_remote_key = std::move(expected_key);
      if (host.config.store_query)
        cc.protocols[std::string(store_query_protocol)] = request_responder(
          host.config.store_query, host.config.max_store_request, host.config.max_store_streams);
      if (host.config.serve_peer_exchange)
        cc.protocols[std::string(peer_exchange_protocol)] = request_responder(
          [h = &host, loopback = loopback_peer](const std::string& peer, std::string_view request) {
            return h->answer_exchange(peer, request, loopback);
          },
          px_max_query_bytes, 2);
      socket.set_option(tcp::no_delay(true), ec);
      conn = std::make_unique<connection>(role, std::move(cc), *this);
      enqueue(conn->start());
      auto self = shared_from_this();
      handshake_timer.expires_after(host.config.handshake_timeout);
      handshake_timer.async_wait([self](const boost::system::error_code& ec) {
        if (ec || self->closed || self->conn->established())
          return;
        self->close("handshake timed out after "
                    + std::to_string(self->host.config.handshake_timeout.count()) + " ms in "
                    + to_string(self->conn->layer()));
      });
      read();
    }

    void read() {
      auto self = shared_from_this();
      socket.async_read_some(asio::buffer(buffer),
                             [self](const boost::system::error_code& ec, std::size_t n) {
                               if (self->closed)
                                 return;
                               if (ec) {
                                 self->close(ec == asio::error::eof ? "peer closed the connection"
                                                                    : "read: " + ec.message());
                                 return;
                               }
                               auto r = self->conn->on_bytes(std::string_view(self->buffer.data(), n));
                               self->flush();
                               if (!r) {
                                 self->close(r.error().to_string());
                                 return;
                               }
                               self->host.flush_router();
                               self->read();
                             });
    }

    void flush() {
      if (!closed)
        enqueue(conn->take_output());
    }

    void enqueue(std::string bytes) {
      if (bytes.empty() || closed)
        return;
      queued_bytes += bytes.size();
      write_queue.push_back(std::move(bytes));
      if (queued_bytes > host.config.max_write_queue) {
        close("peer reads too slowly: " + std::to_string(queued_bytes) + " bytes queued");
        return;
      }
      write_next();
    }

    void write_next() {
      if (writing || write_queue.empty() || closed)
        return;
      writing = true;
      auto self = shared_from_this();
      asio::async_write(socket, asio::buffer(write_queue.front()),
                        [self](const boost::system::error_code& ec, std::size_t) {
                          self->writing = false;
                          if (self->closed)
                            return;
                          self->queued_bytes -= self->write_queue.front().size();
                          self->write_queue.pop_front();
                          if (ec) {
                            self->close("write: " + ec.message());
                            return;
                          }
                          self->write_next();
                        });
    }

    void close(const std::string& reason) {
      if (closed)
        return;
      closed = true;
      host.counters.streams_refused += conn ? conn->streams_refused() : 0;
      boost::system::error_code ignored;
      handshake_timer.cancel();
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
      if (was_established) {
        auto peer = conn->remote()->to_string();
        // The peer closing the connection it lost (see keep_one_connection)
        // while another lives is no news either.
        bool still_connected = duplicate || other_connection(peer) != nullptr;
        if (reason != "peer closed the connection" && !duplicate)
          ++host.counters.connections_failed;
        host.router.remove_peer(handle);
        // A peer that leaves is news; one thrown out for an error is a warning.
        host.log(still_connected ? host_log_level::debug
                 : reason == "peer closed the connection" || reason == "host stopping"
                   ? host_log_level::info
                   : host_log_level::warn,
                 "disconnected " + who() + ": " + reason);
        if (host.callbacks.on_peer && !still_connected) {
          if (reason == "host stopping")
            host.callbacks.on_peer(peer, false);
          else
            host.report_gone_later(peer);
        }
        host.discovery.on_disconnected(peer, std::chrono::steady_clock::now());
      } else if (duplicate) {
        host.log(host_log_level::debug, "closed " + who() + ": " + reason);
      } else {
        if (!candidate_peer.empty())
          host.discovery.on_dial_failed(candidate_peer, std::chrono::steady_clock::now());
        ++host.counters.handshakes_failed;
        // Evictions come in floods; make_room logs one line per hundred.
        host.log(reason.rfind("evicted", 0) == 0 ? host_log_level::debug : host_log_level::warn,
                 "connection with " + who() + " closed during the handshake: " + reason);
      }
      host.conns.erase(handle);
      if (static_index >= 0 && !host.adopt_static(static_index))
        host.schedule_redial(static_index);
      host.maintain_peers();
    }
  };

  // -- router plumbing -------------------------------------------------------------

  void flush_router() {
    auto outgoing = router.take_outgoing();
    if (outgoing.empty())
      return;
    std::size_t total = 0, peers = 0;
    for (auto& [h, c] : conns)
      if (c->was_established && !c->closed) {
        total += c->backlog();
        ++peers;
      }
    auto fair_share = config.max_send_backlog / std::max<std::size_t>(1, peers);
    // The peer reads slower than we publish: like js-libp2p and nim-libp2p,
    // drop this RPC for it rather than buffer without end.
    auto drop = [&](conn_entry& entry, const std::string& why) {
      if (counters.rpcs_dropped++ % 1000 == 0)
        log(host_log_level::warn, "dropping relay RPCs for slow peer " + entry.who() + ": " + why);
    };
    for (auto& [peer, rpc, own] : outgoing) {
      auto it = conns.find(peer);
      if (it == conns.end() || it->second->closed)
        continue;
      auto entry = it->second;
      auto held = entry->backlog();
      // Our own messages exist nowhere else yet: a peer that is busy but
      // keeps reading loses forwarded ones (its other mesh peers have them)
      // before ours. The exemption is bounded: not for a peer found slow,
      // not past twice the slow mark for one peer, nor past twice the
      // budget for all.
      bool keep_own = own && entry->slow_heartbeats < config.slow_peer_heartbeats
                      && held < 2 * config.slow_peer_backlog
                      && total < 2 * config.max_send_backlog;
      if (!keep_own && total + rpc.size() > config.max_send_backlog && held > fair_share) {
        drop(*entry, "it holds " + std::to_string(held) + " bytes of " + std::to_string(total)
                       + " waiting for all peers");
        continue;
      }
      auto sent = entry->conn->send_relay_rpc(rpc);
      if (!sent && sent.error().code == errc::io) {
        drop(*entry, sent.error().message);
        continue;
      }
      if (!sent)
        entry->close("relay: " + sent.error().to_string());
      else
        entry->flush();
      total = total - held + entry->backlog();
    }
  }

  void heartbeat() {
    if (stopping)
      return;
    // Slow is a lag that lasts: a burst that a busy reader works off within
    // a few heartbeats keeps its mesh slot.
    for (auto& [h, c] : conns)
      if (c->was_established && !c->closed) {
        c->slow_heartbeats = c->backlog() > config.slow_peer_backlog ? c->slow_heartbeats + 1 : 0;
        router.set_slow(h, c->slow_heartbeats >= config.slow_peer_heartbeats);
      }
    router.heartbeat(gossipsub_router::clock::now());
    flush_router();
    heartbeat_timer.expires_after(config.gossip.heartbeat);
    heartbeat_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec)
        heartbeat();
    });
  }

  // -- accepting and dialling -----------------------------------------------------------

  result<void> listen(const std::string& text) {
    auto target = parse_tcp_target(text);
    if (!target)
      return target.error();
    auto acceptor = std::make_unique<tcp::acceptor>(io);
    boost::system::error_code ec;
    acceptor->open(target->endpoint.protocol(), ec);
    if (!ec)
      acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec)
      acceptor->bind(target->endpoint, ec);
    if (!ec)
      acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return make_error(errc::io, "listen " + text + ": " + ec.message());
    bound.push_back(endpoint_multiaddr(acceptor->local_endpoint()));
    acceptors.push_back(std::move(acceptor));
    accept(*acceptors.back());
    return ok_result();
  }

  void accept(tcp::acceptor& acceptor) {
    acceptor.async_accept([this, &acceptor](const boost::system::error_code& ec, tcp::socket s) {
      if (stopping || ec == asio::error::operation_aborted)
        return;
      if (!ec) {
        boost::system::error_code peer_ec;
        auto peer_ip = s.remote_endpoint(peer_ec).address().to_string();
        std::size_t from_ip = 0;
        for (const auto& [handle, entry] : conns)
          from_ip += entry->remote_ip == peer_ip ? 1 : 0;
        if (!peer_ec && from_ip < config.max_connections_per_ip)
          make_room();
        if (conns.size() >= config.max_connections) {
          ++counters.connections_refused;
          log(host_log_level::warn, "refused a connection: " + std::to_string(conns.size()) + " connections open");
        } else if (!peer_ec && from_ip >= config.max_connections_per_ip) {
          ++counters.connections_refused;
          log(host_log_level::warn, "refused a connection from " + peer_ip + ": it holds " + std::to_string(from_ip)
              + " already");
        } else {
          auto entry = std::make_shared<conn_entry>(*this, next_handle++, std::move(s));
          entry->remote_ip = peer_ip;
          conns.emplace(entry->handle, entry);
          ++counters.connections_opened;
          entry->start(connection::role::listener, std::nullopt);
        }
      } else {
        // EMFILE and the like persist: retry after a pause, not in a spin.
        log(host_log_level::error, "accept: " + ec.message());
        auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(200));
        timer->async_wait([this, timer, &acceptor](const boost::system::error_code& e) {
          if (!e && !stopping)
            accept(acceptor);
        });
        return;
      }
      accept(acceptor);
    });
  }

  /// Before a new inbound connection is taken: the oldest pending handshake
  /// goes when too many are pending, and with every slot taken the oldest
  /// pending handshake or else the oldest inbound peer that shares no topic
  /// with us. conns is ordered by handle, so the first match is the oldest.
  void make_room() {
    auto evict = [&](const std::shared_ptr<conn_entry>& victim, const std::string& why,
                     std::uint64_t& counter) {
      ++counter;
      if (counter % 100 == 1)
        log(host_log_level::warn, "closing " + victim->who() + " for a new connection: " + why + " ("
            + std::to_string(counter) + " so far)");
      victim->close("evicted: " + why);
    };
    auto oldest_pending = [&]() -> std::shared_ptr<conn_entry> {
      for (auto& [h, c] : conns)
        if (c->inbound && !c->was_established && !c->closed)
          return c;
      return nullptr;
    };
    std::size_t pending = 0;
    for (auto& [h, c] : conns)
      pending += c->inbound && !c->was_established && !c->closed ? 1 : 0;
    if (pending >= config.max_pending_handshakes)
      if (auto victim = oldest_pending()) {
        evict(victim, std::to_string(pending) + " handshakes pending",
              counters.handshakes_evicted);
        return;
      }
    if (conns.size() < config.max_connections)
      return;
    if (auto victim = oldest_pending()) {
      evict(victim, "every slot taken, its handshake unfinished", counters.handshakes_evicted);
      return;
    }
    auto now = std::chrono::steady_clock::now();
    for (auto& [h, c] : conns)
      if (c->inbound && c->was_established && !c->closed && now - c->opened >= config.useless_after
          && !router.shares_topic(h)) {
        auto victim = c;
        evict(victim, "every slot taken, it shares no topic with us", counters.connections_evicted);
        return;
      }
  }

  void dial_address(const std::string& address, int static_index,
                    const std::string& candidate_peer = {}) {
    auto failed = [this, candidate_peer] {
      if (!candidate_peer.empty()) {
        discovery.on_dial_failed(candidate_peer, std::chrono::steady_clock::now());
        maintain_peers();
      }
    };
    auto target = parse_tcp_target(address);
    if (!target) {
      log(host_log_level::warn, "dial " + address + ": " + target.error().to_string());
      ++counters.dials_failed;
      failed();
      return;
    }
    std::optional<std::string> expected;
    if (target->peer) {
      auto key = target->peer->public_key();
      if (!key) {
        log(host_log_level::warn, "dial " + address + ": the /p2p/ ID does not embed a public key");
        ++counters.dials_failed;
        failed();
        return;
      }
      expected = key->encode();
    }
    auto socket = std::make_shared<tcp::socket>(io);
    pending_dials.insert(socket);
    socket->async_connect(
      target->endpoint, [this, socket, address, expected, static_index, candidate_peer,
                         failed](const boost::system::error_code& ec) {
        pending_dials.erase(socket);
        if (stopping)
          return;
        if (ec) {
          ++counters.dials_failed;
          // Discovered peers come and go: their failures are routine.
          log(candidate_peer.empty() ? host_log_level::warn : host_log_level::debug,
              "dial " + address + ": tcp: " + ec.message());
          if (static_index >= 0)
            schedule_redial(static_index);
          failed();
          return;
        }
        auto entry = std::make_shared<conn_entry>(*this, next_handle++, std::move(*socket));
        entry->static_index = static_index;
        entry->candidate_peer = candidate_peer;
        conns.emplace(entry->handle, entry);
        ++counters.connections_opened;
        entry->start(connection::role::dialer, expected);
      });
  }

  void schedule_redial(int index) {
    if (stopping || statics[index].removed)
      return;
    auto& sp = statics[index];
    sp.connected = false;
    auto delay = sp.backoff;
    sp.backoff = std::min(sp.backoff * 2, config.reconnect_max);
    log(host_log_level::debug, "redialling " + sp.address + " in " + std::to_string(delay.count()) + " ms");
    sp.timer->expires_after(delay);
    sp.timer->async_wait([this, index](const boost::system::error_code& ec) {
      if (!ec && !stopping && !adopt_static(index))
        dial_address(statics[index].address, index);
    });
  }

  /// A static peer whose own connection closed (a lost race of two dials,
  /// often mid-handshake) may be connected through the one the peer dialled:
  /// that connection becomes the static one, and nobody redials.
  bool adopt_static(int index) {
    auto& sp = statics[index];
    auto* c = sp.peer.empty() || sp.removed ? nullptr : live_connection(sp.peer);
    if (!c)
      return false;
    if (c->static_index < 0)
      c->static_index = index;
    sp.connected = true;
    sp.backoff = config.reconnect_initial;
    sp.timer->cancel();
    return true;
  }

  /// A live, established connection to `peer` other than `except`, if any.
  conn_entry* live_connection(const std::string& peer, const conn_entry* except = nullptr) const {
    for (auto& [h, c] : conns)
      if (c.get() != except && c->was_established && !c->closed && c->conn && c->conn->remote()
          && c->conn->remote()->to_string() == peer)
        return c.get();
    return nullptr;
  }

  std::string source_of(const conn_entry& c) const {
    if (c.static_index >= 0)
      return "static";
    if (!c.candidate_peer.empty())
      if (auto source = discovery.source_of(c.candidate_peer))
        return std::string(to_string(*source));
    return c.inbound ? "inbound" : "dial";
  }

  /// One request of a request-response protocol (see host::request), on
  /// the I/O thread.
  void request_now(std::string peer, std::string protocol, std::string message,
                   std::size_t max_answer, std::chrono::milliseconds timeout,
                   std::function<void(result<std::string>)> done) {
    std::shared_ptr<conn_entry> target;
    for (auto& [h, c] : conns) {
      if (!c->was_established || c->closed)
        continue;
      bool named = !peer.empty() && c->conn->remote()->to_string() == peer;
      bool serves = c->serves(protocol);
      if (named || (peer.empty() && serves)) {
        target = c;
        break;
      }
    }
    if (!target) {
      done(make_error(errc::not_found, peer.empty() ? "no connected peer serves " + protocol
                                                    : "peer " + peer + " is not connected"));
      return;
    }
    // The answer, a reset, the connection's end or the timer: whichever
    // comes first answers; a connection that closes drops its streams
    // without a word, so the timer also covers that.
    struct once {
      std::function<void(result<std::string>)> done;
      asio::steady_timer timer;
      void answer(result<std::string> r) {
        if (!done)
          return;
        timer.cancel();
        auto d = std::move(done);
        done = nullptr;
        d(std::move(r));
      }
    };
    auto pending = std::make_shared<once>(once{std::move(done), asio::steady_timer(io)});
    pending->timer.expires_after(timeout);
    pending->timer.async_wait([pending, timeout](const boost::system::error_code& ec) {
      if (!ec)
        pending->answer(make_error(errc::io, "no answer within "
                                               + std::to_string(timeout.count()) + " ms"));
    });
    target->conn->request(protocol, std::move(message), max_answer,
                          [pending](result<std::string> r) { pending->answer(std::move(r)); });
    target->flush();
  }

  // -- discovery -------------------------------------------------------------------

  /// Dials candidates and asks peers for more while below the target; arms
  /// one timer for the next backoff or exchange to end. At the target
  /// nothing runs: events (a peer leaving, new records) call this again.
  void maintain_peers() {
    if (stopping || config.target_peers == 0)
      return;
    if (discv5)
      discv5->set_hungry(discovery.connected_count() < config.target_peers);
    auto now = std::chrono::steady_clock::now();
    for (auto& d : discovery.take_dials(now)) {
      log(host_log_level::debug, "dialling discovered peer " + d.address);
      dial_address(d.address, -1, d.peer);
    }
    std::vector<std::string> serving;
    if (config.ask_peer_exchange)
      for (auto& [h, c] : conns)
        if (c->was_established && !c->closed && c->serves(peer_exchange_protocol))
          serving.push_back(c->conn->remote()->to_string());
    if (auto peer = discovery.take_exchange_peer(serving, now))
      ask_exchange(*peer);
    discovery_timer.cancel();
    if (auto next = discovery.next_wakeup(serving)) {
      discovery_timer.expires_at(std::max(*next, now + std::chrono::milliseconds(10)));
      discovery_timer.async_wait([this](const boost::system::error_code& ec) {
        if (!ec)
          maintain_peers();
      });
    }
  }

  void ask_exchange(const std::string& peer) {
    auto wanted = std::min<std::uint64_t>(px_max_answer_peers, 2 * config.target_peers);
    bool loopback_ok = false;
    for (auto& [h, c] : conns)
      if (c->was_established && !c->closed && c->conn->remote()->to_string() == peer)
        loopback_ok = c->on_loopback();
    request_now(peer, std::string(peer_exchange_protocol), encode_px_query(wanted),
                px_max_answer_bytes, config.exchange_timeout,
                [this, peer, loopback_ok](result<std::string> answer) {
                  take_exchange_answer(peer, std::move(answer), loopback_ok);
                });
  }

  void take_exchange_answer(const std::string& peer, result<std::string> bytes, bool loopback_ok) {
    if (stopping)
      return;
    auto answer = bytes ? decode_px_answer(*bytes) : result<px_answer>(bytes.error());
    if (!answer || (answer->status && *answer->status != std::uint32_t(px_status::success))) {
      ++discovery.counters().exchanges_failed;
      discovery.on_exchange_answer(peer, 0, std::chrono::steady_clock::now());
      log(host_log_level::debug,
          "peer exchange with " + peer + ": "
            + (answer ? "status " + std::to_string(*answer->status) + " " + answer->status_desc
                      : answer.error().to_string()));
      maintain_peers();
      return;
    }
    auto now = std::chrono::steady_clock::now();
    std::size_t added = 0, refused = 0;
    std::string first_refusal;
    for (const auto& record : answer->records) {
      auto r = discovery.add_record_bytes(record, peer_source::peer_exchange, loopback_ok, now);
      if (r && *r)
        ++added;
      if (!r && refused++ == 0)
        first_refusal = r.error().message;
    }
    discovery.on_exchange_answer(peer, added, now);
    log(refused ? host_log_level::info : host_log_level::debug,
        "peer exchange with " + peer + ": " + std::to_string(answer->records.size())
          + " records, " + std::to_string(added) + " new"
          + (refused ? ", " + std::to_string(refused) + " refused (" + first_refusal + ")" : ""));
    maintain_peers();
  }

  /// Our answer to a peer-exchange query from `asker`.
  std::string answer_exchange(const std::string& asker, std::string_view request,
                              bool loopback_asker) {
    auto& counters = discovery.counters();
    auto refuse = [&](px_status status, std::string why) {
      ++counters.exchanges_refused;
      px_answer a;
      a.status = std::uint32_t(status);
      a.status_desc = std::move(why);
      return encode_px_answer(a);
    };
    auto wanted = decode_px_query(request);
    if (!wanted)
      return refuse(px_status::bad_request, wanted.error().message);
    auto now = std::chrono::steady_clock::now();
    auto& last = exchange_served[asker];
    if (last.time_since_epoch().count() != 0 && now - last < config.exchange_serve_interval)
      return refuse(px_status::too_many_requests,
                    "one query per " + std::to_string(config.exchange_serve_interval.count())
                      + " ms");
    last = now;
    // Bounded by the askers seen within one interval.
    if (exchange_served.size() > 4096)
      for (auto it = exchange_served.begin(); it != exchange_served.end();)
        it = now - it->second >= config.exchange_serve_interval ? exchange_served.erase(it)
                                                                 : std::next(it);
    px_answer a;
    a.records = discovery.exchange_records(std::min(*wanted, px_max_answer_peers), asker,
                                           loopback_asker);
    ++counters.exchanges_served;
    if (a.records.empty()) {
      a.status = std::uint32_t(px_status::service_unavailable);
      a.status_desc = "no relay peers with a record known yet";
    } else {
      a.status = std::uint32_t(px_status::success);
    }
    return encode_px_answer(a);
  }

  /// Closes everything on the I/O thread; run() then returns. `silent`
  /// drops the callbacks first: after a detached stop the app may already
  /// have freed what they point to.
  void report_gone_later(const std::string& peer) {
    auto timer = std::make_unique<asio::steady_timer>(io, config.peer_gone_grace);
    timer->async_wait([this, peer](const boost::system::error_code& ec) {
      if (ec || stopping)
        return;
      gone_pending.erase(peer);
      if (callbacks.on_peer)
        callbacks.on_peer(peer, false);
    });
    gone_pending[peer] = std::move(timer);
  }

  /// Makes `entries` the static peers: new ones are dialled now, dropped
  /// ones are no longer redialled (a connection to one stays, as an
  /// ordinary peer). On the I/O thread.
  static_peers_change set_static_peers_now(const std::vector<std::string>& entries) {
    static_peers_change change;
    std::vector<std::string> addresses;
    for (const auto& entry : entries) {
      auto address = static_peer_address(entry);
      if (!address) {
        change.refused.push_back(entry + ": " + address.error().message);
        continue;
      }
      if (entry.rfind("enr:", 0) == 0)
        if (auto record = parse_enr(entry))
          (void)discovery.add_record(*record, peer_source::static_list, true,
                                     std::chrono::steady_clock::now());
      addresses.push_back(*address);
    }
    for (std::size_t i = 0; i < statics.size(); ++i) {
      auto& sp = statics[i];
      bool wanted = std::find(addresses.begin(), addresses.end(), sp.address) != addresses.end();
      if (!wanted && !sp.removed) {
        sp.removed = true;
        sp.timer->cancel();
        for (auto& [h, c] : conns)
          if (c->static_index == int(i))
            c->static_index = -1;
        change.removed.push_back(sp.address);
      }
    }
    for (const auto& address : addresses) {
      auto it = std::find_if(statics.begin(), statics.end(),
                             [&](const static_peer& sp) { return sp.address == address; });
      if (it != statics.end() && !it->removed)
        continue;
      int index;
      if (it != statics.end()) {
        it->removed = false;
        it->backoff = config.reconnect_initial;
        index = int(it - statics.begin());
      } else {
        auto target = parse_tcp_target(address);
        if (!target || (target->peer && !target->peer->public_key())) {
          change.refused.push_back(address + ": not a /ip4|ip6/…/tcp/…/p2p/<key ID> address");
          continue;
        }
        static_peer sp;
        sp.address = address;
        if (target->peer)
          sp.peer = target->peer->to_string();
        sp.backoff = config.reconnect_initial;
        sp.timer = std::make_unique<asio::steady_timer>(io);
        statics.push_back(std::move(sp));
        index = int(statics.size() - 1);
      }
      change.added.push_back(address);
      if (!adopt_static(index))
        dial_address(address, index);
    }
    return change;
  }

  /// Records found by discovery (enr: text or RLP), vetted into the
  /// candidates; answers how many were new. On the I/O thread.
  std::size_t add_records_now(const std::vector<std::string>& records, peer_source source) {
    auto now = std::chrono::steady_clock::now();
    std::size_t added = 0;
    for (const auto& r : records) {
      auto taken = r.rfind("enr:", 0) == 0
                     ? [&]() -> result<bool> {
                         auto record = parse_enr(r);
                         if (!record) {
                           ++discovery.counters().refused[0];
                           return record.error();
                         }
                         return discovery.add_record(*record, source, true, now);
                       }()
                     : discovery.add_record_bytes(r, source, true, now);
      if (taken && *taken)
        ++added;
      else if (!taken)
        log(host_log_level::info,
            std::string(to_string(source)) + " record refused: " + taken.error().message);
    }
    maintain_peers();
    return added;
  }

  void stop_async(bool silent = false) {
    asio::post(io, [this, silent] {
      if (silent)
        callbacks = {};
      stopping = true;
      boost::system::error_code ignored;
      for (auto& a : acceptors)
        a->close(ignored);
      heartbeat_timer.cancel();
      discovery_timer.cancel();
      discv5.reset();
      gone_pending.clear();
      for (auto& sp : statics)
        sp.timer->cancel();
      for (auto& socket : pending_dials)
        socket->close(ignored);
      auto all = conns;
      for (auto& [h, c] : all) {
        c->static_index = -1;
        c->close("host stopping");
      }
      work.reset();
    });
  }

  void stop() {
    stop_async();
    if (thread.joinable())
      thread.join();
  }
};

host::host(std::shared_ptr<impl> impl) : impl_(std::move(impl)) {}

host::~host() {
  impl_->dns.reset();
  if (impl_->io.get_executor().running_in_this_thread()) {
    // Destroyed from one of its own callbacks: a thread cannot join itself.
    // The I/O thread holds the state (see start) until it has wound down.
    impl_->stop_async(true);
    impl_->thread.detach();
    return;
  }
  impl_->stop();
}

result<std::unique_ptr<host>> host::start(host_config config, host_callbacks callbacks) {
  for (const auto& addr : config.external_addresses)
    if (auto ok = check_external_address(addr); !ok)
      return make_error(errc::invalid_argument, "external address: " + ok.error().message);
  auto state = std::make_shared<impl>(std::move(config), std::move(callbacks));
  for (const auto& addr : state->config.listen)
    if (auto r = state->listen(addr); !r)
      return r.error();
  for (auto& entry : state->config.static_peers) {
    // An enr: record is dialled at its address; the record is kept to pass on.
    if (entry.rfind("enr:", 0) == 0) {
      auto record = parse_enr(entry);
      if (!record)
        return make_error(record.error().code, "static peer: " + record.error().message);
      auto address = enr_dial_address(*record);
      if (!address)
        return address.error();
      (void)state->discovery.add_record(*record, peer_source::static_list, true,
                                        std::chrono::steady_clock::now());
      entry = *address;
    }
  }
  for (const auto& addr : state->config.static_peers) {
    auto t = parse_tcp_target(addr);
    if (!t)
      return t.error();
    if (t->peer && !t->peer->public_key())
      return make_error(errc::unsupported, "static peer " + addr
                                             + ": its /p2p/ ID is a hash, not a key Noise can check");
    impl::static_peer sp;
    sp.address = addr;
    if (t->peer)
      sp.peer = t->peer->to_string();
    sp.backoff = state->config.reconnect_initial;
    sp.timer = std::make_unique<asio::steady_timer>(state->io);
    state->statics.push_back(std::move(sp));
  }
  if (!state->config.dns.trees.empty()) {
    std::weak_ptr<impl> weak = state;
    auto dns = dns_discovery::start(
      state->config.dns,
      [weak](std::vector<std::string> records, const std::string&) {
        if (auto s = weak.lock())
          asio::post(s->io, [s = s.get(), records = std::move(records)] {
            s->add_records_now(records, peer_source::dns);
          });
      },
      [weak](bool problem, const std::string& line) {
        if (auto s = weak.lock())
          asio::post(s->io, [s = s.get(), problem, line] {
            s->log(problem ? host_log_level::warn : host_log_level::info, line);
          });
      });
    if (!dns)
      return make_error(dns.error().code, "dns discovery: " + dns.error().message);
    state->dns = std::move(*dns);
  }
  if (state->config.discv5.enabled) {
    auto* s = state.get();
    auto d = discv5_service::start(
      state->io, state->config.identity, state->config.discv5,
      // Both on the I/O thread.
      [s](std::vector<std::string> records) { s->add_records_now(records, peer_source::discv5); },
      [s](bool problem, const std::string& line) {
        s->log(problem ? host_log_level::warn : host_log_level::info, line);
      });
    if (!d)
      return d.error();
    state->discv5 = std::move(*d);
  }
  if (state->config.local_record) {
    auto advertised = advertised_to_peers(state->config.external_addresses, state->bound,
                                          local_interface_addresses());
    for (auto& a : advertised)
      a += "/p2p/" + state->self_id;
    auto record = state->config.local_record(advertised,
                                             state->discv5 ? state->discv5->port() : 0);
    if (!record)
      return make_error(record.error().code, "own record: " + record.error().message);
    if (state->discv5)
      asio::post(state->io, [s = state.get(), r = *record] {
        if (s->discv5)
          s->discv5->set_local_record(r);
      });
  }
  state->work.emplace(state->io.get_executor());
  for (std::size_t i = 0; i < state->statics.size(); ++i)
    asio::post(state->io, [s = state.get(), i] { s->dial_address(s->statics[i].address, int(i)); });
  asio::post(state->io, [s = state.get()] { s->heartbeat(); });
  asio::post(state->io, [s = state.get()] { s->maintain_peers(); });
  // The thread owns a reference too, so the state outlives a host destroyed
  // from one of its callbacks; it is released when run() returns.
  state->thread = std::thread([keep = state] { keep->io.run(); });
  return std::unique_ptr<host>(new host(std::move(state)));
}

std::string host::peer_id() const {
  return impl_->self_id;
}

std::vector<std::string> host::listen_addrs() const {
  auto addrs = advertised_to_peers(impl_->config.external_addresses, impl_->bound,
                                   local_interface_addresses());
  for (auto& a : addrs)
    a += "/p2p/" + impl_->self_id;
  return addrs;
}

std::vector<std::string> host::bound_addrs() const {
  return impl_->bound;
}

void host::subscribe(const std::string& topic) {
  asio::post(impl_->io, [s = impl_.get(), topic] {
    s->router.subscribe(topic);
    s->flush_router();
  });
}

void host::unsubscribe(const std::string& topic) {
  asio::post(impl_->io, [s = impl_.get(), topic] {
    s->router.unsubscribe(topic);
    s->flush_router();
  });
}

void host::publish(std::string topic, std::string data,
                   std::function<void(result<std::size_t>)> done) {
  asio::post(impl_->io, [s = impl_.get(), topic = std::move(topic), data = std::move(data),
                         done = std::move(done)]() mutable {
    std::size_t recipients = 0;
    auto id = s->router.publish(topic, std::move(data), gossipsub_router::clock::now(), &recipients);
    s->flush_router();
    if (done)
      done(id ? result<std::size_t>(recipients) : result<std::size_t>(id.error()));
  });
}

void host::set_static_peers(std::vector<std::string> entries,
                            std::function<void(static_peers_change)> done) {
  asio::post(impl_->io, [s = impl_.get(), entries = std::move(entries), done = std::move(done)] {
    if (s->stopping)
      return;
    auto change = s->set_static_peers_now(entries);
    if (done)
      done(std::move(change));
  });
}

void host::dial(const std::string& address) {
  asio::post(impl_->io, [s = impl_.get(), address] { s->dial_address(address, -1); });
}

void host::request(std::string peer, std::string protocol, std::string message,
                   std::size_t max_answer, std::chrono::milliseconds timeout,
                   std::function<void(result<std::string>)> done) {
  asio::post(impl_->io, [s = impl_.get(), peer = std::move(peer), protocol = std::move(protocol),
                         message = std::move(message), max_answer, timeout,
                         done = std::move(done)]() mutable {
    s->request_now(std::move(peer), std::move(protocol), std::move(message), max_answer, timeout,
                   std::move(done));
  });
}

void host::add_records(std::vector<std::string> records, peer_source source,
                       std::function<void(std::size_t)> done) {
  asio::post(impl_->io, [s = impl_.get(), records = std::move(records), source,
                         done = std::move(done)] {
    auto added = s->add_records_now(records, source);
    if (done)
      done(added);
  });
}

std::vector<std::string> host::peers() const {
  return impl_->call([s = impl_.get()] {
    std::vector<std::string> out;
    for (auto& [h, c] : s->conns)
      if (c->was_established && !c->closed)
        out.push_back(c->conn->remote()->to_string());
    return out;
  });
}

std::vector<peer_summary> host::peer_summaries() const {
  return impl_->call([s = impl_.get()] {
    std::vector<peer_summary> out;
    for (auto& [h, c] : s->conns)
      if (c->was_established && !c->closed)
        out.push_back({c->conn->remote()->to_string(), c->remote_addr, c->identified.protocols,
                       c->identified.agent_version, c->connected_unix_ms, c->inbound,
                       s->source_of(*c)});
    return out;
  });
}

std::size_t host::topic_peer_count(const std::string& topic) const {
  return impl_->call([s = impl_.get(), &topic] { return s->router.topic_peers(topic).size(); });
}

std::size_t host::mesh_peer_count(const std::string& topic) const {
  return impl_->call([s = impl_.get(), &topic] { return s->router.mesh_peers(topic).size(); });
}

bool host::flushed() const {
  return backlog() == 0;
}

std::size_t host::backlog() const {
  return impl_->call([s = impl_.get()] {
    std::size_t n = 0;
    for (auto& [h, c] : s->conns)
      n += c->backlog();
    return n;
  });
}

host_stats host::stats() const {
  return impl_->call([s = impl_.get()] {
    auto out = s->counters;
    out.connected = 0;
    for (auto& [h, c] : s->conns) {
      if (c->was_established && !c->closed)
        ++out.connected;
      if (!c->closed && c->conn)
        out.streams_refused += c->conn->streams_refused();
    }
    out.gossip = s->router.counters();
    out.discovery = s->discovery.counters();
    out.candidates = s->discovery.candidate_count();
    if (s->dns)
      out.dns = s->dns->stats();
    if (s->discv5)
      out.discv5 = s->discv5->stats();
    return out;
  });
}

} // namespace annals::p2p
