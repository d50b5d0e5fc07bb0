#include "actors/libp2p_relay.hpp"
#include <annals/relay.hpp>

#include "actors/errors.hpp"
#include <annals/log.hpp>
#include "core/store_query.hpp"

#include "net/p2p/host.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <cstdio>
#include <mutex>

namespace annals {

namespace {

/// The host starts before the actor exists (so a bind error fails the
/// spawn), and its callbacks must not keep the actor alive; they reach it
/// through this weak, late-bound link.
struct actor_link {
  std::mutex mutex;
  caf::weak_actor_ptr target;

  template <class... Ts>
  void send(Ts&&... xs) {
    caf::strong_actor_ptr strong;
    {
      std::lock_guard lock(mutex);
      strong = target.lock();
    }
    if (strong)
      caf::anon_send(caf::actor_cast<libp2p_relay_actor>(strong), std::forward<Ts>(xs)...);
  }
};

/// Hands the I/O thread the current table of what local sinks want.
void refresh_filter(libp2p_relay_state& st) {
  st.filter->update(st.subscriptions);
}

/// Leaves the host's pubsub topics that no local sink wants any more.
void prune_topics(libp2p_relay_state& st) {
  refresh_filter(st);
  for (auto it = st.pubsub_topics.begin(); it != st.pubsub_topics.end();) {
    if (st.subscriptions.wants(*it)) {
      ++it;
    } else {
      st.host->unsubscribe(*it);
      it = st.pubsub_topics.erase(it);
    }
  }
}

libp2p_relay_actor::behavior_type
libp2p_relay(libp2p_relay_actor::stateful_pointer<libp2p_relay_state> self,
             std::shared_ptr<p2p::host> host, relay_log log,
             std::shared_ptr<relay_delivery_filter> filter, std::shared_ptr<actor_link> link) {
  // The state owns the host: CAF destroys the state when the actor exits,
  // which stops the I/O thread then.
  self->state.host = std::move(host);
  self->state.filter = std::move(filter);
  self->state.log = std::move(log);
  self->set_down_handler([self](const caf::down_msg& down) {
    self->state.subscriptions.remove(down.source);
    prune_topics(self->state);
    auto& sinks = self->state.peer_sinks;
    sinks.erase(std::remove_if(sinks.begin(), sinks.end(),
                               [&](const relay_peer_sink_actor& s) { return s.address() == down.source; }),
                sinks.end());
  });
  return {
    [self](publish_atom, const std::string& pubsub_topic,
           const std::string& bytes) -> caf::result<std::string> {
      return publish_locally(self, pubsub_topic, bytes, [&](const waku_envelope&) {
        // Checked already, so only a repeat of the same bytes can fail here.
        self->state.host->publish(pubsub_topic, bytes,
                                  [log = self->state.log](result<std::size_t> sent) {
                                    if (!sent)
                                      log(p2p::host_log_level::warn,
                                          "publish refused: " + sent.error().to_string());
                                  });
      });
    },
    [self](subscribe_atom, const std::string& pubsub_topic,
           const std::vector<std::string>& content_topics, const relay_sink_actor& sink) {
      if (self->state.subscriptions.add(pubsub_topic, content_topics, sink))
        self->monitor(sink);
      refresh_filter(self->state);
      if (self->state.pubsub_topics.insert(pubsub_topic).second)
        self->state.host->subscribe(pubsub_topic);
    },
    [self](unsubscribe_atom, const relay_sink_actor& sink) {
      self->state.subscriptions.remove(sink);
      prune_topics(self->state);
    },
    [self](subscribe_atom, peers_atom, const relay_peer_sink_actor& sink) {
      self->monitor(sink);
      self->state.peer_sinks.push_back(sink);
      for (const auto& [peer, protocols] : self->state.peers) {
        self->send(sink, relay_peer_event{peer, relay_peer_event::connected, {}});
        if (!protocols.empty())
          self->send(sink, relay_peer_event{peer, relay_peer_event::identified, protocols});
      }
    },
    [self](relay_peer_event& event) {
      auto& st = self->state;
      // Per peer, not per connection: a second connection to a peer (both
      // sides dialled) coming or going changes nothing for the sinks.
      if (event.kind == relay_peer_event::connected) {
        if (st.connections[event.peer_id]++ > 0)
          return;
        st.peers.emplace(event.peer_id, std::vector<std::string>{});
      } else if (event.kind == relay_peer_event::disconnected) {
        auto it = st.connections.find(event.peer_id);
        if (it == st.connections.end() || --it->second > 0)
          return;
        st.connections.erase(it);
        st.peers.erase(event.peer_id);
      } else {
        if (!st.connections.count(event.peer_id))
          return;  // identify of a connection that is gone already
        auto& known = st.peers[event.peer_id];
        if (known == event.protocols)
          return;
        known = event.protocols;
      }
      for (const auto& sink : st.peer_sinks)
        self->send(sink, event);
    },
    [self](peers_atom) { return self->state.host->peers(); },
    [self](peers_atom, std::vector<std::string> entries) {
      self->state.host->set_static_peers(std::move(entries), [](p2p::static_peers_change change) {
        for (const auto& a : change.added)
          log_info("relay", "static peer added: " + a);
        for (const auto& a : change.removed)
          log_info("relay", "static peer removed (no longer redialled): " + a);
        for (const auto& a : change.refused)
          log_warn("relay", "static peer refused: " + a);
      });
    },
    [self, link](store_query_atom, const std::string& peer,
                 const std::string& request) -> caf::result<std::string> {
      auto id = self->state.next_store_query++;
      auto promise = self->make_response_promise<std::string>();
      self->state.store_queries.emplace(id, promise);
      ++self->state.store_queries_sent;
      // An answer is at most a page's byte budget plus its framing. The
      // caller's own request timeout decides how long it waits; this one
      // only bounds the stream (an answer behind a congested link may take
      // tens of seconds).
      self->state.host->request(peer, std::string(store_query_protocol), request,
                                store_query_limits{}.max_response_bytes + (1 << 20),
                                std::chrono::seconds(60), [link, id](result<std::string> r) {
                                  link->send(store_answer_atom::value, id, r.has_value(),
                                             r ? *r : r.error().to_string());
                                });
      return promise;
    },
    [self](store_answer_atom, std::uint64_t id, bool ok, const std::string& bytes) {
      auto it = self->state.store_queries.find(id);
      if (it == self->state.store_queries.end())
        return;
      auto promise = std::move(it->second);
      self->state.store_queries.erase(it);
      if (ok) {
        promise.deliver(bytes);
      } else {
        ++self->state.store_queries_failed;
        promise.deliver(caf::make_error(caf::sec::request_timeout, "store query: " + bytes));
      }
    },
    [self](received_atom, const std::string& pubsub_topic, const std::string& bytes,
           const std::string&) {
      // The host's validator accepted it; decode once more for the envelope.
      waku::WakuMessage message;
      if (!message.ParseFromString(bytes))
        return;
      ++self->state.received;
      self->state.subscriptions.deliver(self, make_envelope(pubsub_topic, message, bytes));
    },
    [self](peer_info_atom) {
      std::vector<relay_peer_info> out;
      for (auto& p : self->state.host->peer_summaries())
        out.push_back({std::move(p.peer_id), std::move(p.address), std::move(p.protocols),
                       std::move(p.agent_version), p.connected_unix_ms, p.inbound,
                       std::move(p.source)});
      return out;
    },
    [self](status_atom) {
      auto s = self->state.host->stats();
      auto listening = self->state.host->listen_addrs();
      component_status out;
      out.component = "relay";
      out.healthy = !listening.empty();
      out.state = listening.empty() ? "not listening"
                                    : "listening, " + std::to_string(s.connected) + " peers";
      out.detail("mode", "libp2p");
      out.detail("peer_id", self->state.host->peer_id());
      for (const auto& a : listening)
        out.detail("listen", a);
      for (const auto& a : self->state.host->bound_addrs())
        out.detail("bound", a);
      if (!s.dns.last_error.empty())
        out.detail("dns_discovery_error", s.dns.last_error);
      for (std::size_t i = 0; i < p2p::peer_source_count; ++i)
        out.counter("annals_discovery_peers_found_total",
                    "New peer candidates found, by where they came from",
                    static_cast<double>(s.discovery.found[i]),
                    {"source", std::string(p2p::to_string(static_cast<p2p::peer_source>(i)))});
      for (std::size_t i = 0; i < p2p::record_refusal_count; ++i)
        out.counter("annals_discovery_records_refused_total",
                    "Discovered records not taken, by reason",
                    static_cast<double>(s.discovery.refused[i]),
                    {"reason", std::string(p2p::to_string(static_cast<p2p::record_refusal>(i)))});
      auto n = [](auto v) { return static_cast<double>(v); };
      out.gauge("annals_relay_peers", "Connected relay peers", n(s.connected))
        .counter("annals_relay_connections_opened_total", "Connections opened (in and out)",
                 n(s.connections_opened))
        .counter("annals_relay_messages_in_total", "Gossipsub messages received",
                 n(s.gossip.messages_in))
        .counter("annals_relay_messages_delivered_total",
                 "Received messages handed to this node", n(s.gossip.delivered))
        .counter("annals_relay_messages_duplicate_total", "Received messages seen before",
                 n(s.gossip.duplicates))
        .counter("annals_relay_messages_rejected_total",
                 "Received messages that failed validation", n(s.gossip.rejected))
        .counter("annals_relay_messages_forwarded_total", "Copies forwarded to mesh peers",
                 n(s.gossip.forwarded))
        .counter("annals_relay_messages_out_total", "Messages published by this node",
                 n(s.gossip.published))
        .counter("annals_relay_messages_not_wanted_total",
                 "Accepted messages no local subscriber wanted",
                 n(self->state.filter->not_wanted.load()))
        .counter("annals_relay_messages_dropped_total",
                 "RPCs not sent because a peer's send queue was full", n(s.rpcs_dropped))
        .counter("annals_relay_handshakes_failed_total",
                 "Noise or muxer handshakes that failed or timed out", n(s.handshakes_failed))
        .counter("annals_relay_connections_failed_total",
                 "Connections closed on a protocol error after the handshake",
                 n(s.connections_failed))
        .counter("annals_relay_dials_failed_total", "Dials that did not connect",
                 n(s.dials_failed))
        .counter("annals_relay_connections_refused_total",
                 "Inbound connections over the total or per-address limit",
                 n(s.connections_refused))
        .counter("annals_relay_handshakes_evicted_total",
                 "Pending inbound handshakes closed to make room for a newer connection",
                 n(s.handshakes_evicted))
        .counter("annals_relay_connections_evicted_total",
                 "Inbound peers sharing no topic with this node, closed when every slot was "
                 "taken",
                 n(s.connections_evicted))
        .counter("annals_relay_subscriptions_refused_total",
                 "Peer subscriptions over the per-peer topic limit or too long",
                 n(s.gossip.subscriptions_refused))
        .counter("annals_relay_duplicate_connections_closed_total",
                 "Second connections to a peer already connected (both dialled at once), closed",
                 n(s.duplicates_closed))
        .counter("annals_relay_streams_refused_total",
                 "Streams a peer opened over the per-connection cap, refused by reset",
                 n(s.streams_refused))
        .counter("annals_relay_slow_peers_pruned_total",
                 "Mesh slots taken from (or GRAFTs refused to) peers that read too slowly",
                 n(s.gossip.slow_pruned))
        .counter("annals_relay_seen_evicted_total",
                 "Message IDs forgotten early because the seen cache was full",
                 n(s.gossip.seen_evicted))
        .counter("annals_relay_malformed_rpcs_total", "Gossipsub RPCs that did not parse",
                 n(s.gossip.malformed_rpcs))
        .counter("annals_relay_gossip_ihave_total", "IHAVE gossip messages received",
                 n(s.gossip.ihave_in), {"direction", "in"})
        .counter("annals_relay_gossip_ihave_total", "IHAVE gossip messages sent",
                 n(s.gossip.ihave_out), {"direction", "out"})
        .counter("annals_relay_gossip_iwant_total", "Message IDs asked for by IWANT, received",
                 n(s.gossip.iwant_in), {"direction", "in"})
        .counter("annals_relay_gossip_iwant_total", "Message IDs asked for by IWANT, sent",
                 n(s.gossip.iwant_out), {"direction", "out"})
        .counter("annals_relay_gossip_iwant_served_total",
                 "Messages sent because a peer asked with IWANT", n(s.gossip.iwant_served))
        .counter("annals_relay_gossip_iwant_refused_total",
                 "IWANT entries not answered: asked again past the retransmission limit or over "
                 "the peer's byte budget for the heartbeat",
                 n(s.gossip.iwant_refused))
        .gauge("annals_discovery_candidates", "Discovered peers known (dialled while below the "
               "relay target)", n(s.candidates))
        .counter("annals_discovery_dials_total", "Dials of discovered peers", n(s.discovery.dials))
        .counter("annals_discovery_dials_failed_total",
                 "Dials of discovered peers that failed before the handshake finished",
                 n(s.discovery.dials_failed))
        .counter("annals_dns_discovery_syncs_total",
                 "Walks of a DNS tree (EIP-1459) whose signed root was read", n(s.dns.syncs))
        .counter("annals_dns_discovery_failures_total",
                 "Walks of a DNS tree whose root could not be read or verified (retried with "
                 "backoff)",
                 n(s.dns.failures))
        .counter("annals_dns_discovery_entries_failed_total",
                 "Tree entries below a verified root that were unreachable or did not match "
                 "their hash",
                 n(s.dns.entries_failed))
        .counter("annals_dns_discovery_lookups_total", "TXT queries sent for DNS discovery",
                 n(s.dns.lookups))
        .counter("annals_discv5_packets_total", "discv5 UDP packets received",
                 n(s.discv5.packets_in), {"direction", "in"})
        .counter("annals_discv5_packets_total", "discv5 UDP packets sent",
                 n(s.discv5.packets_out), {"direction", "out"})
        .counter("annals_discv5_malformed_total",
                 "discv5 packets that did not decode or whose message did not parse",
                 n(s.discv5.malformed))
        .counter("annals_discv5_handshakes_total", "discv5 sessions established, either side",
                 n(s.discv5.handshakes))
        .counter("annals_discv5_handshakes_failed_total",
                 "discv5 handshakes refused (no challenge, bad record or identity proof, keys "
                 "that do not open the message)",
                 n(s.discv5.handshakes_failed))
        .counter("annals_discv5_rate_limited_total",
                 "discv5 packets from one address over its rate, not answered",
                 n(s.discv5.rate_limited))
        .counter("annals_discv5_findnode_served_total", "FINDNODE requests answered",
                 n(s.discv5.findnode_served))
        .counter("annals_discv5_requests_timed_out_total", "discv5 requests this node sent that "
                 "got no answer in time", n(s.discv5.requests_timed_out))
        .counter("annals_discv5_records_total", "Records in NODES answers, taken",
                 n(s.discv5.records_received - s.discv5.records_refused), {"outcome", "taken"})
        .counter("annals_discv5_records_total",
                 "Records in NODES answers, refused (bad signature, unasked distance, too many)",
                 n(s.discv5.records_refused), {"outcome", "refused"})
        .counter("annals_discv5_walks_total", "Random walks of the discv5 table", n(s.discv5.walks))
        .gauge("annals_discv5_table_nodes", "Nodes in the discv5 routing table",
               n(s.discv5.table_size))
        .gauge("annals_discv5_sessions", "discv5 sessions held", n(s.discv5.sessions))
        .counter("annals_peer_exchange_queries_total", "Peer-exchange queries this node sent",
                 n(s.discovery.exchanges_asked), {"direction", "out"})
        .counter("annals_peer_exchange_queries_total", "Peer-exchange queries this node answered",
                 n(s.discovery.exchanges_served), {"direction", "in"})
        .counter("annals_peer_exchange_failures_total",
                 "Peer-exchange queries sent that got no usable answer",
                 n(s.discovery.exchanges_failed))
        .counter("annals_peer_exchange_refused_total",
                 "Peer-exchange queries refused (malformed, or sooner than the rate allows)",
                 n(s.discovery.exchanges_refused))
        .counter("annals_peer_exchange_records_sent_total", "Records given in peer-exchange answers",
                 n(s.discovery.records_served))
        .counter("annals_store_queries_sent_total", "Waku store queries this node made",
                 n(self->state.store_queries_sent))
        .counter("annals_store_queries_failed_total",
                 "Waku store queries that got no answer (no store peer, reset, timeout)",
                 n(self->state.store_queries_failed));
      return out;
    },
    [self](listen_atom) -> caf::result<std::string, std::vector<std::string>> {
      return {self->state.host->peer_id(), self->state.host->listen_addrs()};
    },
  };
}

} // namespace

log_level to_log_level(p2p::host_log_level level) {
  switch (level) {
  case p2p::host_log_level::error:
    return log_level::error;
  case p2p::host_log_level::warn:
    return log_level::warn;
  case p2p::host_log_level::info:
    return log_level::info;
  case p2p::host_log_level::debug:
    break;
  }
  return log_level::debug;
}

caf::expected<libp2p_relay_actor>
spawn_libp2p_relay(caf::actor_system& sys, p2p::host_config config,
                   std::function<void(const std::string&)> log) {
  relay_log leveled;
  if (log)
    leveled = [log = std::move(log)](p2p::host_log_level, const std::string& line) { log(line); };
  return spawn_libp2p_relay(sys, std::move(config), std::move(leveled));
}

caf::expected<libp2p_relay_actor>
spawn_libp2p_relay(caf::actor_system& sys, p2p::host_config config, relay_log log) {
  auto link = std::make_shared<actor_link>();
  auto filter = std::make_shared<relay_delivery_filter>();
  p2p::host_callbacks callbacks;
  callbacks.on_message = [link, filter](const std::string& topic, const std::string& data,
                                        const std::string& from) {
    waku::WakuMessage message;
    if (message.ParseFromString(data) && !filter->wants(topic, message.content_topic())) {
      ++filter->not_wanted;
      return;
    }
    link->send(received_atom::value, topic, data, from);
  };
  if (!log)
    log = [](p2p::host_log_level level, const std::string& line) {
      log_line(to_log_level(level), "relay", line);
    };
  callbacks.on_log = log;
  callbacks.on_peer = [link](const std::string& peer, bool connected) {
    link->send(relay_peer_event{peer,
                                connected ? relay_peer_event::connected : relay_peer_event::disconnected,
                                {}});
  };
  callbacks.on_identified = [link](const std::string& peer, const std::vector<std::string>& protocols) {
    link->send(relay_peer_event{peer, relay_peer_event::identified, protocols});
  };
  auto host = p2p::host::start(std::move(config), std::move(callbacks));
  if (!host)
    return to_caf_error(host.error().code, "relay: " + host.error().message);
  auto actor =
    sys.spawn(libp2p_relay, std::shared_ptr<p2p::host>(std::move(*host)), log, filter, link);
  {
    std::lock_guard lock(link->mutex);
    link->target = caf::actor_cast<caf::weak_actor_ptr>(actor);
  }
  return actor;
}

caf::expected<relay_actor> spawn_network_relay(caf::actor_system& sys,
                                               const network_relay_settings& settings) {
  p2p::host_config config;
  if (!settings.identity_file.empty()) {
    auto key = private_key::load_or_create(settings.identity_file);
    if (!key)
      return to_caf_error(key.error());
    config.identity = std::move(*key);
  }
  config.listen = settings.listen;
  config.external_addresses = settings.external_addresses;
  config.static_peers = settings.static_peers;
  config.cluster_id = settings.cluster_id;
  config.shards = settings.shards;
  config.max_connections = settings.max_connections;
  auto relay = spawn_libp2p_relay(sys, std::move(config));
  if (!relay)
    return relay.error();
  return caf::actor_cast<relay_actor>(*relay);
}

} // namespace annals
