// A libp2p host for Waku relay over TCP: listens, dials static peers (and
// redials them with backoff), upgrades every socket through `connection`,
// and runs one gossipsub router over all of them. It owns one I/O thread;
// the public methods are safe from any other thread (they hop onto the I/O
// thread), and the callbacks run on the I/O thread, so they must not call
// back into the host synchronously (destroying it from a callback is fine:
// it then winds down on its own thread).
#pragma once

#include "core/identity.hpp"
#include "core/result.hpp"
#include "net/dns_discovery.hpp"
#include "net/p2p/discv5.hpp"
#include "net/interfaces.hpp"
#include "net/p2p/connection.hpp"
#include "net/p2p/gossipsub.hpp"
#include "net/p2p/peer_manager.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace annals::p2p {

/// What host::set_static_peers changed.
struct static_peers_change {
  std::vector<std::string> added;    // dial addresses now static (dialled)
  std::vector<std::string> removed;  // no longer redialled
  std::vector<std::string> refused;  // "entry: why"
};

struct host_config {
  private_key identity = private_key::generate();
  /// Listen multiaddrs such as /ip4/127.0.0.1/tcp/0 (0 = any free port);
  /// none for a dial-only host.
  std::vector<std::string> listen;
  /// Addresses this host is reachable at that it cannot see itself (a
  /// public IP in front of NAT or a port forward): /ip4/203.0.113.7/tcp/60000,
  /// without /p2p/. Announced before the interfaces' addresses.
  std::vector<std::string> external_addresses;
  /// Peers to keep connected: /ip4/…/tcp/…/p2p/<id> (the /p2p/ part is
  /// checked against the key the peer proves in Noise), or `enr:` records
  /// (dialled at their first TCP address; the record is passed on by peer
  /// exchange once the peer proved it speaks relay).
  std::vector<std::string> static_peers;
  /// Discovery: how many relay peers to hold and whether peer exchange
  /// (/vac/waku/peer-exchange/2.0.0-alpha1) is served and asked. A target of
  /// 0 dials only the static peers.
  std::size_t target_peers = 0;
  bool serve_peer_exchange = false;
  bool ask_peer_exchange = false;
  /// A peer is asked at most this often; answers with nothing new double
  /// the wait up to exchange_interval_max.
  std::chrono::milliseconds exchange_interval{30000};
  std::chrono::milliseconds exchange_interval_max{600000};
  std::chrono::milliseconds exchange_timeout{10000};
  /// One asker is answered at most this often; sooner gets 429.
  std::chrono::milliseconds exchange_serve_interval{1000};
  std::chrono::milliseconds discovery_backoff_initial{1000};
  std::chrono::milliseconds discovery_backoff_max{300000};
  std::size_t max_candidates = 1000;
  /// DNS discovery (EIP-1459): enrtree:// URLs read on a thread of their
  /// own at start and every `dns.interval`; their records become candidates
  /// (source "dns"). Empty: none.
  dns_discovery_config dns;
  /// discv5 (33/WAKU2-DISCV5) on a UDP port of its own; the records its
  /// walks find become candidates (source "discv5").
  discv5_config discv5;
  /// This node's record once the host listens: given the advertised
  /// multiaddrs and the discv5 UDP port (0 without discv5). discv5 hands it
  /// out; without it discv5 only listens.
  std::function<result<enr_record>(const std::vector<std::string>& advertised,
                                   std::uint16_t udp_port)>
    local_record;
  std::uint32_t cluster_id = 16;
  std::vector<std::uint32_t> shards{32};
  /// Offered in this order when dialling; accepted when listening.
  std::vector<std::string> muxers{"/yamux/1.0.0", "/mplex/6.7.0"};
  std::string agent_version = "annals";
  /// A connection that has not finished Noise and muxer selection by then is
  /// closed (a stalled or hostile peer must not hold a socket).
  std::chrono::milliseconds handshake_timeout{10000};
  /// A peer whose last connection closed is reported gone (on_peer false)
  /// only if no new connection to it is established within this time.
  std::chrono::milliseconds peer_gone_grace{2000};
  std::chrono::milliseconds reconnect_initial{500};
  std::chrono::milliseconds reconnect_max{60000};
  /// Bytes queued on one peer's socket before it is disconnected (mplex has
  /// no flow control, so this is what bounds a slow mplex reader).
  std::size_t max_write_queue = 16 << 20;
  /// Relay bytes waiting for all slow peers together (socket queues and
  /// muxer backlogs). Past it, relay RPCs for a peer holding more than its
  /// fair share (this over the peers connected) are dropped and counted, so
  /// readers that keep up are never the ones dropped, and hundreds of slow
  /// readers cost at most about twice this. Messages this host published
  /// itself are dropped last: up to twice slow_peer_backlog for a peer not
  /// found slow, while all peers hold less than twice this.
  std::size_t max_send_backlog = 64 << 20;
  /// A peer with more relay bytes waiting than this at `slow_peer_heartbeats`
  /// heartbeats in a row is slow: pruned from the mesh and left out of gossip
  /// until it catches up.
  std::size_t slow_peer_backlog = 4 << 20;
  std::size_t slow_peer_heartbeats = 3;
  std::size_t max_connections = 256;
  /// Inbound connections one address may hold, so a single host cannot take
  /// every slot (loopback benches run a few dozen nodes on 127.0.0.1).
  std::size_t max_connections_per_ip = 64;
  /// Inbound connections still in Noise or muxer selection at once. A new
  /// one beyond this closes the oldest: a flood of half-open connections
  /// then churns among itself, and an honest peer, whose handshake takes
  /// milliseconds, still gets through.
  std::size_t max_pending_handshakes = 64;
  /// With every slot taken, a new connection closes the oldest inbound peer
  /// that shares no topic with us after this long (it finished Noise and
  /// then did nothing useful for the relay), before it is refused.
  std::chrono::milliseconds useless_after{10000};
  gossipsub_config gossip;
  /// Per-stream muxer caps; the yamux send queue bounds what a slow peer
  /// costs us before its RPCs are dropped.
  muxer_limits stream_limits{1 << 20, 256, 16 << 20};
  /// Decides delivery and forwarding; waku_validator() by default.
  gossip_validator validator;
  /// When set, every connection serves /vac/waku/store-query/3.0.0 with it
  /// (identify then lists the protocol). It runs on the I/O thread, so its
  /// work per request must be bounded.
  request_answerer store_query;
  /// Largest store request frame read; a larger one resets its stream.
  std::size_t max_store_request = 64 * 1024;
  /// Store streams one connection may have open at once.
  std::size_t max_store_streams = 4;
};

/// How much a host log line matters, for the embedder to map onto its own
/// logger (net/ pulls in none): error — the host cannot do its job (accept
/// fails); warn — something refused or failed (a peer's handshake or RPC, a
/// dial, a connection over the limits, a slow peer); info — peers connected
/// or gone; debug — per-connection chatter (stream notes, redial timers).
enum class host_log_level { error, warn, info, debug };

struct host_callbacks {
  /// A message accepted on a subscribed topic: topic, WakuMessage bytes, peer ID.
  std::function<void(const std::string&, const std::string&, const std::string&)> on_message;
  /// A peer connected (true) or disconnected (false).
  std::function<void(const std::string&, bool)> on_peer;
  /// A connected peer's identify answered: its peer ID and protocols.
  std::function<void(const std::string&, const std::vector<std::string>&)> on_identified;
  /// One human-readable line and its level: connections, refusals and
  /// their reasons.
  std::function<void(host_log_level, const std::string&)> on_log;
};

/// A connected peer as an operator sees it.
struct peer_summary {
  std::string peer_id;
  std::string address;                 // multiaddr of the connection
  std::vector<std::string> protocols;  // from identify; empty until it answered
  std::string agent_version;
  std::uint64_t connected_unix_ms = 0;
  bool inbound = false;
  /// How we came to be connected: static, dns, discv5, peer-exchange
  /// (dialled from a discovered record), inbound, or dial (host::dial).
  std::string source;
};

struct host_stats {
  std::uint64_t connections_opened = 0;
  std::uint64_t handshakes_failed = 0;   // includes timeouts and wrong peer IDs
  std::uint64_t connections_failed = 0;  // closed by a protocol error after the handshake
  std::uint64_t dials_failed = 0;
  std::uint64_t rpcs_dropped = 0;        // not sent: the peer's send queue was full
  std::uint64_t connections_refused = 0;  // over max_connections or max_connections_per_ip
  std::uint64_t handshakes_evicted = 0;   // pending handshakes closed for a newer connection
  std::uint64_t connections_evicted = 0;  // peers sharing no topic, closed for a newer one
  std::uint64_t streams_refused = 0;      // streams a peer opened over the per-connection cap
  std::uint64_t duplicates_closed = 0;    // second connections to a connected peer, closed
  std::size_t connected = 0;
  gossipsub_counters gossip;
  peer_manager_counters discovery;
  std::size_t candidates = 0;  // discovered peers known
  dns_discovery_stats dns;
  discv5_stats discv5;
};

/// Waku relay's message check: a WakuMessage that parses, is at most
/// max_bytes, and has a content topic and a payload; js-waku's keep-alives
/// (/relay-ping/1/ping/null) are ignored, not rejected.
gossip_validator waku_validator(std::size_t max_bytes = 150 * 1024);

/// What a host advertises (identify listenAddrs): `external` first, then
/// each bound multiaddr with its IP expanded by advertised_ips (wildcards to
/// the interfaces' addresses, loopback only to a loopback peer); no repeats.
std::vector<std::string> advertised_multiaddrs(const std::vector<std::string>& external,
                                               const std::vector<std::string>& bound,
                                               const std::vector<interface_address>& interfaces,
                                               bool to_loopback_peer);

/// What a host tells every peer (its listen addresses, its node record):
/// advertised_multiaddrs for peers on other hosts, or, when that is nothing
/// because the host listens on loopback alone, its loopback addresses.
std::vector<std::string> advertised_to_peers(const std::vector<std::string>& external,
                                             const std::vector<std::string>& bound,
                                             const std::vector<interface_address>& interfaces);

class host {
public:
  /// Binds the listen addresses and starts the I/O thread; fails naming the
  /// address (port in use, bad multiaddr).
  static result<std::unique_ptr<host>> start(host_config config, host_callbacks callbacks = {});
  ~host();

  std::string peer_id() const;
  /// The addresses a peer on another host is told, with /p2p/<our id>: the
  /// external ones, then the bound ones with 0.0.0.0 / :: replaced by the
  /// interfaces' addresses (127.x only when nothing else is bound, i.e. a
  /// host that listens on loopback alone).
  std::vector<std::string> listen_addrs() const;
  /// What the sockets are bound to, as multiaddrs (0.0.0.0 stays), without
  /// /p2p/.
  std::vector<std::string> bound_addrs() const;

  void subscribe(const std::string& topic);
  void unsubscribe(const std::string& topic);
  /// Flood-publishes; `done` (on the I/O thread) gets the number of peers it
  /// was queued for, or why not.
  void publish(std::string topic, std::string data,
               std::function<void(result<std::size_t>)> done = {});
  /// Dials once (no redial); failures are logged.
  void dial(const std::string& address);
  /// Replaces the static peers (as host_config::static_peers: multiaddrs
  /// with /p2p/ or enr: records): new ones are dialled at once and redialled
  /// like the first ones, dropped ones are no longer redialled, and their
  /// connections stay as ordinary peers. `done` runs on the I/O thread.
  void set_static_peers(std::vector<std::string> entries,
                        std::function<void(static_peers_change)> done = {});
  /// One request of a request-response protocol (Waku store) to the
  /// connected `peer` (an empty ID: the first connected peer whose identify
  /// lists `protocol`). `done` gets the answer of at most `max_answer`
  /// bytes, or why there is none (no such peer, stream reset, timeout),
  /// once, on the I/O thread.
  void request(std::string peer, std::string protocol, std::string message,
               std::size_t max_answer, std::chrono::milliseconds timeout,
               std::function<void(result<std::string>)> done);

  /// Records found by discovery (enr: text or RLP bytes): vetted, then dialled
  /// while below target_peers. `done` gets how many were new.
  void add_records(std::vector<std::string> records, peer_source source,
                   std::function<void(std::size_t)> done = {});

  /// Connected peer IDs.
  std::vector<std::string> peers() const;
  /// Connected peers with their address, protocols and connection time.
  std::vector<peer_summary> peer_summaries() const;
  /// Peers that announced a subscription to `topic`.
  std::size_t topic_peer_count(const std::string& topic) const;
  std::size_t mesh_peer_count(const std::string& topic) const;
  /// Whether every byte handed to sockets has been written.
  bool flushed() const;
  /// Bytes published but not yet written to any socket (flow control, socket
  /// queues): a publisher that wants no drops waits while this is high.
  std::size_t backlog() const;
  host_stats stats() const;

private:
  struct impl;
  explicit host(std::shared_ptr<impl> impl);
  std::shared_ptr<impl> impl_;
};

} // namespace annals::p2p
