// Gossipsub v1.1 as Waku relay uses it (/vac/waku/relay/2.0.0): StrictNoSign,
// message ID = sha256(data), flood publish, a mesh per topic kept by GRAFT and
// PRUNE with backoff in a 1 s heartbeat, a seen cache, and forwarding of the
// exact bytes received. Pure: no sockets and no clock of its own. The host
// feeds RPCs and the time in, and writes what take_outgoing() returns on its
// own outbound relay stream to each peer (each RPC uvarint-framed there).
#pragma once

#include "core/result.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace annals::p2p::pb {
class ControlIHave;
class ControlIWant;
} // namespace annals::p2p::pb

namespace annals::p2p {

inline constexpr std::string_view waku_relay_protocol = "/vac/waku/relay/2.0.0";

/// The host's name for a connected peer (one per connection).
using peer_handle = std::uint64_t;

struct gossipsub_config {
  std::size_t d = 6;       // mesh degree target
  std::size_t d_low = 4;   // graft below this
  std::size_t d_high = 8;  // prune above this
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::seconds prune_backoff{60};
  std::chrono::seconds seen_ttl{120};
  /// Message IDs remembered at most (the oldest go first): a flood of valid
  /// messages must not grow the seen cache with its rate times seen_ttl.
  /// 200,000 IDs cost about 40 MB.
  std::size_t max_seen = 200'000;
  std::chrono::seconds fanout_ttl{60};
  /// Largest `data` (a serialized WakuMessage) accepted or published.
  std::size_t max_message = 150 * 1024;
  /// Largest RPC accepted from a peer: a few messages plus control.
  std::size_t max_rpc = 1 << 20;
  /// Topics one peer may be subscribed to, and the longest topic name: a
  /// peer announcing millions of topics would otherwise grow our memory
  /// without bound (a Waku node uses a handful of shards).
  std::size_t max_topics_per_peer = 256;
  std::size_t max_topic_length = 256;
  /// Gossip (IHAVE/IWANT): every heartbeat, the IDs of the messages of the
  /// last `history_gossip` heartbeats go to up to `d_lazy` subscribed peers
  /// outside the mesh, which ask for what they lack. Without it a peer the
  /// mesh left out (a hub with more than d_high leaves) never gets
  /// forwarded messages. Messages stay answerable for `history_length`
  /// heartbeats; at most `max_ihave_length` IDs go in one IHAVE, and are
  /// asked of one peer per heartbeat.
  std::size_t d_lazy = 6;
  std::size_t history_length = 3;
  std::size_t history_gossip = 3;
  std::size_t max_ihave_length = 5000;
  /// IHAVE messages taken from one peer per heartbeat (more are ignored).
  std::size_t max_ihave_messages = 10;
  /// What an IWANT may cost us: one message goes to one peer at most
  /// `gossip_retransmission` times while it is cached (and once per
  /// heartbeat however often an IWANT repeats its ID), and the answers to one
  /// peer in one heartbeat hold at most `max_iwant_bytes` of data. Without
  /// these an IWANT naming one large message thousands of times is answered
  /// with that many copies.
  std::size_t gossip_retransmission = 3;
  /// Above what honest gossip asks for: a member outside the mesh asking
  /// for a heartbeat's 5,000 IDs of ~1.3 KB channel messages wants ~6.5 MB.
  std::size_t max_iwant_bytes = 16 * 1024 * 1024;
};

struct gossipsub_counters {
  std::uint64_t rpcs_in = 0;
  std::uint64_t messages_in = 0;        // publish entries received
  std::uint64_t duplicates = 0;         // already in the seen cache
  std::uint64_t rejected = 0;           // failed validation, signed fields, oversized, no topic
  std::uint64_t delivered = 0;          // handed to the application
  std::uint64_t forwarded = 0;          // copies sent on to mesh peers
  std::uint64_t published = 0;          // local publishes
  std::uint64_t malformed_rpcs = 0;     // RPCs that did not parse
  std::uint64_t subscriptions_refused = 0;  // over max_topics_per_peer or too long
  std::uint64_t grafts_in = 0, prunes_in = 0, grafts_out = 0, prunes_out = 0;
  std::uint64_t ihave_in = 0, ihave_out = 0;  // IHAVE messages
  std::uint64_t iwant_in = 0, iwant_out = 0;  // message IDs asked for
  std::uint64_t iwant_served = 0;             // messages sent because a peer asked
  std::uint64_t iwant_refused = 0;  // asked again past the retransmission limit or byte budget
  std::uint64_t slow_pruned = 0;   // mesh peers pruned or grafts refused for reading too slowly
  std::uint64_t seen_evicted = 0;  // IDs forgotten before seen_ttl because the cache was full
};

/// A message accepted from the network.
struct gossip_message {
  std::string topic;   // pubsub topic
  std::string data;    // serialized WakuMessage, exactly as received
  std::string id;      // sha256(data), 32 bytes
  peer_handle from;
};

/// Decides whether a received message is delivered and forwarded. Waku's
/// validator decodes the WakuMessage and refuses an empty payload or content
/// topic; it can also say "ignore" (deliver nothing, forward nothing, no
/// penalty) for js-waku's keep-alives.
enum class validation { accept, reject, ignore };
using gossip_validator = std::function<validation(const std::string& topic, const std::string& data)>;

/// One RPC body for one peer. `own` marks an RPC of messages this node
/// published itself: they exist nowhere else yet, so a host drops them last
/// (a forwarded message reached the peer's other mesh peers too).
struct outgoing_rpc {
  peer_handle peer = 0;
  std::string body;
  bool own = false;
};

class gossipsub_router {
public:
  using clock = std::chrono::steady_clock;

  explicit gossipsub_router(gossipsub_config config = {});

  /// A connected peer that speaks the relay protocol. Queues our current
  /// subscriptions for it.
  void add_peer(peer_handle peer);
  /// Forgets the peer everywhere (topics, mesh, fanout); keeps its backoffs.
  void remove_peer(peer_handle peer);
  /// Queues our subscriptions for the peer again: a peer that reset our
  /// relay stream forgot them (js-gossipsub drops a peer's topics with it).
  void resend_subscriptions(peer_handle peer);

  /// Local subscriptions: announced to every peer; joining builds the mesh
  /// from peers already subscribed (up to D, respecting backoff).
  void subscribe(const std::string& topic);
  void unsubscribe(const std::string& topic);
  bool subscribed(const std::string& topic) const;

  /// One RPC body (without its uvarint frame) from `peer`'s inbound stream.
  /// Appends accepted, not-yet-seen messages on subscribed topics to
  /// `delivered`. An error means the bytes did not parse or were too large;
  /// the peer stays (the caller decides whether to drop it).
  result<void> handle_rpc(peer_handle peer, std::string_view rpc, clock::time_point now,
                          std::vector<gossip_message>& delivered);

  /// Flood-publishes `data` to every peer subscribed to `topic` (and to the
  /// mesh/fanout), marks it seen. Returns the message id, and the number of
  /// peers it was queued for in `*recipients` when given. Fails for an
  /// oversized message or one already seen (a duplicate publish).
  result<std::string> publish(const std::string& topic, std::string data, clock::time_point now,
                              std::size_t* recipients = nullptr);

  /// Mesh maintenance: GRAFT below D_low, PRUNE above D_high, expire seen
  /// entries, backoffs and fanout. Call every config().heartbeat.
  void heartbeat(clock::time_point now);

  /// RPC bodies to send, per peer, in order; several queued items for one
  /// peer may be merged into one RPC. Drains the queue.
  std::vector<outgoing_rpc> take_outgoing();

  void set_validator(gossip_validator validator);

  /// Peers that announced a subscription to `topic`.
  std::vector<peer_handle> topic_peers(const std::string& topic) const;
  /// Our mesh for `topic`.
  std::vector<peer_handle> mesh_peers(const std::string& topic) const;
  /// Whether the peer announced any topic we subscribe to (a peer that did
  /// not is of no use to our relay; the host may evict it when full).
  bool shares_topic(peer_handle peer) const;
  /// The host's word that a peer does not read what we send (its backlog
  /// is over a limit). A slow peer is pruned from every mesh, refused a
  /// GRAFT and left out of gossip until it catches up: forwarding to it only
  /// fills queues, and its mesh slot is better spent on a peer that reads.
  /// (A small stand-in for gossipsub v1.1's peer score.)
  void set_slow(peer_handle peer, bool slow);
  const gossipsub_counters& counters() const { return counters_; }
  const gossipsub_config& config() const { return config_; }

private:
  // What is queued for one peer until take_outgoing() turns it into RPCs.
  // Kept unserialized so several items can share one RPC, and so a GRAFT and
  // a PRUNE for the same topic queued in one round can cancel out.
  struct outgoing_message {
    std::string topic;
    std::shared_ptr<const std::string> data;  // shared by every recipient
    bool own = false;                         // published here
  };
  struct pending_rpc {
    std::vector<std::pair<std::string, bool>> subscriptions;  // topic, subscribe
    std::vector<outgoing_message> messages;
    std::vector<std::string> grafts;
    std::vector<std::pair<std::string, std::uint64_t>> prunes;  // topic, backoff seconds
    std::vector<std::pair<std::string, std::vector<std::string>>> ihaves;  // topic, IDs
    std::vector<std::string> iwants;                                       // IDs
  };
  struct cached_message {
    std::string topic;
    std::shared_ptr<const std::string> data;
    std::map<peer_handle, std::size_t> sent;  // IWANT answers per peer
  };
  // What one peer's IWANTs took this heartbeat.
  struct iwant_spent {
    std::size_t bytes = 0;
    std::set<std::string> ids;
  };
  struct seen_entry {
    clock::time_point at;
    std::string id;
  };

  void queue_subscription(peer_handle peer, const std::string& topic, bool subscribe);
  void queue_message(peer_handle peer, const std::string& topic,
                     const std::shared_ptr<const std::string>& data, bool own = false);
  void queue_graft(peer_handle peer, const std::string& topic);
  void send_prune(peer_handle peer, const std::string& topic);
  void add_backoff(const std::string& topic, peer_handle peer, std::chrono::seconds backoff);
  bool in_backoff(const std::string& topic, peer_handle peer, clock::duration slack) const;
  bool seen(const std::string& id) const;
  void mark_seen(const std::string& id, clock::time_point now);
  std::vector<peer_handle> pick(std::vector<peer_handle> candidates, std::size_t count);
  void forget_topic_peer(const std::string& topic, peer_handle peer);
  void handle_message(peer_handle from, const std::string& topic, std::string data,
                      clock::time_point now, std::vector<gossip_message>& delivered);
  void handle_graft(peer_handle peer, const std::string& topic);
  void handle_prune(peer_handle peer, const std::string& topic, std::uint64_t backoff_seconds);
  void maintain_mesh(const std::string& topic);
  void maintain_fanout(clock::time_point now);
  void cache_message(const std::string& id, const std::string& topic,
                     const std::shared_ptr<const std::string>& data);
  void emit_gossip();
  void shift_cache();
  void handle_ihave(peer_handle peer, const pb::ControlIHave& ihave);
  void handle_iwant(peer_handle peer, const pb::ControlIWant& iwant);

  gossipsub_config config_;
  gossipsub_counters counters_;
  gossip_validator validator_;
  std::set<std::string> subscriptions_;
  std::set<peer_handle> peers_;
  std::set<peer_handle> slow_;
  std::map<std::string, std::set<peer_handle>> topic_peers_;
  std::map<peer_handle, std::size_t> peer_topic_count_;  // entries of topic_peers_ per peer
  std::map<std::string, std::set<peer_handle>> mesh_;
  std::map<std::string, std::set<peer_handle>> fanout_;
  std::map<std::string, clock::time_point> fanout_last_pub_;
  std::map<std::pair<std::string, peer_handle>, clock::time_point> backoff_;  // (topic, peer) -> until
  // Message id -> first seen; the deque holds the same ids in arrival order
  // so expiry only looks at the oldest entries.
  std::unordered_map<std::string, clock::time_point> seen_;
  std::deque<seen_entry> seen_order_;
  std::map<peer_handle, pending_rpc> outgoing_;
  // Recent messages for IWANT answers: by ID, and their IDs per heartbeat,
  // newest window first.
  std::unordered_map<std::string, cached_message> mcache_;
  std::deque<std::vector<std::string>> mcache_windows_{1};
  // Per heartbeat: IDs asked of each peer, IHAVEs taken from each peer.
  std::map<peer_handle, std::size_t> iwant_asked_;
  std::map<peer_handle, std::size_t> ihave_taken_;
  std::map<peer_handle, iwant_spent> iwant_spent_;
  // The latest time any call brought in: subscribe() has no `now` of its own
  // but must still respect backoffs.
  clock::time_point now_{};
  // Mesh candidates are chosen at random so a peer cannot predict (and crowd
  // out) who we keep.
  std::mt19937_64 rng_;
};

} // namespace annals::p2p
