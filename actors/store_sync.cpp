#include "actors/store_sync.hpp"

#include "core/hex.hpp"
#include "core/log.hpp"
#include "core/status_envelope.hpp"
#include "core/topics.hpp"
#include "core/waku_rule.hpp"
#include "proto/waku_message.pb.h"
#include "storage/store.hpp"
#include "storage/store_server.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <array>
#include <random>
#include <tuple>

namespace annals {

namespace {

using self_ptr = store_sync_actor::stateful_pointer<store_sync_state>;

constexpr auto flush_interval = std::chrono::milliseconds(100);
constexpr std::size_t flush_batch = 1000;
constexpr auto prune_interval = std::chrono::seconds(60);
constexpr std::uint64_t prune_step = 50'000;
constexpr auto query_timeout = std::chrono::seconds(15);
/// How far before its newest recorded message an owner asks from.
constexpr std::int64_t owner_sync_overlap_ns = std::int64_t{120} * 1'000'000'000;

std::int64_t now_ns() {
  return static_cast<std::int64_t>(unix_ms_now()) * 1'000'000;
}

std::string new_request_id() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  std::array<std::uint64_t, 2> bits{random(), random()};
  return to_hex(std::string_view(reinterpret_cast<const char*>(bits.data()), sizeof bits));
}

void flush(self_ptr self) {
  auto& st = self->state;
  if (st.pending.empty())
    return;
  auto batch = std::move(st.pending);
  st.pending.clear();
  if (auto written = st.db->record_relay_messages(batch); written) {
    st.recorded += *written;
  } else {
    // The record is a cache of the relay (history has its own path); a
    // refused write costs the served tail, never the history.
    st.record_failures += batch.size();
    log_warn("store", "recording " + std::to_string(batch.size())
                        + " relay messages failed: " + written.error().to_string());
  }
}

void record_message(self_ptr self, stored_relay_message message) {
  auto& st = self->state;
  if (!st.server)
    return;
  st.pending.push_back(std::move(message));
  if (st.pending.size() >= flush_batch) {
    flush(self);
  } else if (!st.flush_armed) {
    st.flush_armed = true;
    self->delayed_send(self, flush_interval, flush_atom::value);
  }
}

/// The envelope's WakuMessage decoded for its time (none: not a message).
std::optional<stored_relay_message> to_record(const waku_envelope& envelope) {
  waku::WakuMessage message;
  if (!message.ParseFromString(envelope.message))
    return std::nullopt;
  return relay_record(envelope, message.timestamp());
}

/// What a store peer answered, checked as if it came over the relay: the
/// relay rule holds, the content topic is one asked for, and the hash is
/// the message's own. Anything else is counted and dropped.
std::optional<waku_envelope> check_found(self_ptr self, const std::string& pubsub_topic,
                                         const std::vector<std::string>& topics,
                                         const stored_relay_message& found) {
  waku::WakuMessage message;
  auto check = check_relay_message(found.message, message);
  bool fine = check.verdict == waku_check::accept
              && std::find(topics.begin(), topics.end(), message.content_topic()) != topics.end()
              && std::string(as_view(waku_message_hash(pubsub_topic, message))) == found.hash;
  if (!fine) {
    ++self->state.messages_forged;
    return std::nullopt;
  }
  return waku_envelope{pubsub_topic, message.content_topic(), found.message, found.hash};
}

struct sync_job {
  std::string peer;
  std::string community_id;
  std::string pubsub_topic;
  std::vector<std::string> topics;
  relay_sink_actor to;  // who gets what is found
  bool links = false;   // magnet links (one page, newest first) or channels
  std::uint64_t pages = 0;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::function<void()> then;  // the next step of this community's sync
};

void query_page(self_ptr self, std::shared_ptr<sync_job> job, store_query query);

/// Forgets the peer, so a later poll finds it "new" and syncs again, after
/// a pause that doubles: a peer whose store was not open yet, or that had
/// no link yet, is asked again.
void retry_later(self_ptr self, const std::string& peer) {
  auto& st = self->state;
  st.store_peers.erase(peer);
  if (st.retries.size() >= 1024)  // peers come and go: forget whose pause ended
    for (auto it = st.retries.begin(); it != st.retries.end();)
      it = it->second.after < std::chrono::steady_clock::now() ? st.retries.erase(it) : ++it;
  auto& r = st.retries[peer];
  r.after = std::chrono::steady_clock::now() + r.pause;
  r.pause = std::min(r.pause * 2, std::chrono::seconds(300));
}

void finish(self_ptr self, const std::shared_ptr<sync_job>& job, bool ok) {
  auto& st = self->state;
  if (!ok) {
    ++st.syncs_failed;
    if (auto w = st.communities.find(job->community_id);
        w != st.communities.end() && !job->links && !w->second.member)
      w->second.owner_synced = false;  // the next store peer (or a retry) tries again
    retry_later(self, job->peer);
    return;
  }
  if (job->then) {
    auto next = std::move(job->then);
    next();
    return;
  }
  st.sync_seconds.observe(
    std::chrono::duration<double>(std::chrono::steady_clock::now() - job->started).count());
  // A whole sync went through: the pause starts over, unless this sync
  // asked to hear from the peer again (it had no link yet).
  if (st.store_peers.count(job->peer))
    st.retries.erase(job->peer);
}

void query_page(self_ptr self, std::shared_ptr<sync_job> job, store_query query) {
  auto& st = self->state;
  ++st.queries;
  ++job->pages;
  self->request(st.relay, query_timeout, store_query_atom::value, job->peer,
                encode_store_query(query))
    .then(
      [self, job, query](const std::string& bytes) mutable {
        auto& st = self->state;
        auto answer = parse_store_answer(bytes);
        if (!answer || answer->status_code != static_cast<std::uint32_t>(store_status::ok)) {
          ++st.answers_refused;
          log_warn("store", "store peer " + job->peer + " refused the sync of "
                              + job->community_id + ": "
                              + (answer ? std::to_string(answer->status_code) + " "
                                            + answer->status_desc
                                        : answer.error().to_string()));
          finish(self, job, false);
          return;
        }
        // Links newest first: the gate takes the newest that verifies, and
        // the older ones are stale to it, not downloads to start and replace.
        if (job->links)
          std::reverse(answer->messages.begin(), answer->messages.end());
        std::size_t valid = 0;
        for (const auto& found : answer->messages) {
          auto envelope = check_found(self, job->pubsub_topic, job->topics, found);
          if (!envelope)
            continue;
          ++valid;
          // Channel messages are recorded by the node, with the history.
          if (job->links)
            if (auto r = to_record(*envelope))
              record_message(self, std::move(*r));
          (job->links ? st.links_found : st.messages_found) += 1;
          self->send(job->to, *envelope);
        }
        // A member without a link whose peer had none yet (it may have
        // asked a moment before the owner's first announcement landed)
        // asks that peer again later.
        if (job->links && valid == 0)
          if (auto w = st.communities.find(job->community_id); w != st.communities.end())
            if (auto info = st.db->get_archive_info(w->second.community);
                info && info->magnetlink_clock == 0)
              retry_later(self, job->peer);
        // A page with a cursor but nothing valid is a peer wasting our time.
        if (!job->links && valid == 0 && !answer->messages.empty()) {
          finish(self, job, false);
          return;
        }
        bool more = !job->links && answer->cursor && !answer->messages.empty()
                    && job->pages < st.config.max_sync_pages;
        if (!more) {
          finish(self, job, true);
          return;
        }
        query.cursor = answer->cursor;
        query.request_id = new_request_id();
        query_page(self, job, std::move(query));
      },
      [self, job](const caf::error& err) {
        log_info("store", "syncing " + job->community_id + " from " + job->peer
                            + " failed: " + self->system().render(err));
        finish(self, job, false);
      });
}

/// Channel messages since `since`, forward, in groups of 10 content topics
/// (what one query may name), one group after another.
void sync_channel_group(self_ptr self, std::shared_ptr<const sync_job> base, std::int64_t since,
                        std::optional<std::int64_t> until, std::size_t from) {
  const auto& all = base->topics;
  auto job = std::make_shared<sync_job>(*base);
  job->topics.assign(all.begin() + static_cast<std::ptrdiff_t>(from),
                     all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size(), from + 10)));
  job->pages = 0;
  if (from + 10 < all.size())
    job->then = [self, base, since, until, from] {
      sync_channel_group(self, base, since, until, from + 10);
    };
  store_query q;
  q.request_id = new_request_id();
  q.include_data = true;
  q.pubsub_topic = job->pubsub_topic;
  q.content_topics = job->topics;
  q.time_start = since;
  q.time_end = until;
  q.forward = true;
  q.limit = 100;
  query_page(self, job, std::move(q));
}

/// Unix seconds where a member's history ends: its newest imported
/// archive (0: nothing yet).
std::uint64_t member_history_end(self_ptr self, const store_sync_state::watched& w) {
  std::uint64_t end = 0;
  if (auto archives = self->state.db->list_archives(w.community))
    for (const auto& [id, record] : *archives)
      if (record.imported())
        end = std::max<std::uint64_t>(end, record.to());
  return end;
}

/// Channel messages from the end of the history to now (an owner back from
/// downtime archives what it missed; a member holds the tail its archives
/// do not have yet). A member without an imported archive waits for one:
/// the bulk of a history comes by archive, never page by page.
void sync_channels(self_ptr self, const std::string& peer, const std::string& community_id) {
  auto& st = self->state;
  auto it = st.communities.find(community_id);
  if (it == st.communities.end() || it->second.channel_topics.empty())
    return;
  auto& w = it->second;
  std::int64_t since = 0;
  std::optional<std::int64_t> until;
  if (w.member) {
    auto end = member_history_end(self, w);
    if (end == 0)
      return;
    w.channels_from = end;
    since = static_cast<std::int64_t>(end) * 1'000'000'000;
  } else {
    if (w.owner_synced || !w.owner_gap)
      return;
    w.owner_synced = true;
    std::tie(since, until) = *w.owner_gap;
  }
  since = std::max(since,
                   now_ns() - static_cast<std::int64_t>(st.config.max_age) * 1'000'000'000);
  auto channels = std::make_shared<sync_job>();
  channels->peer = peer;
  channels->community_id = community_id;
  channels->pubsub_topic = w.pubsub_topic;
  channels->topics = w.channel_topics;
  channels->to = st.node;
  ++st.syncs;
  sync_channel_group(self, channels, since, until, 0);
}

/// Newest magnet links first (members), then the channels.
void sync_community(self_ptr self, const std::string& peer, const std::string& community_id) {
  auto& st = self->state;
  auto it = st.communities.find(community_id);
  if (it == st.communities.end())
    return;
  const auto& w = it->second;
  if (!w.member) {
    sync_channels(self, peer, community_id);
    return;
  }
  ++st.syncs;
  auto links = std::make_shared<sync_job>();
  links->peer = peer;
  links->community_id = community_id;
  links->pubsub_topic = w.pubsub_topic;
  links->topics = {w.magnetlink_topic};
  links->to = st.gate;
  links->links = true;
  links->then = [self, peer, community_id] { sync_channels(self, peer, community_id); };
  store_query q;
  q.request_id = new_request_id();
  q.include_data = true;
  q.pubsub_topic = w.pubsub_topic;
  q.content_topics = links->topics;
  q.forward = false;
  q.limit = st.config.magnetlink_page;
  query_page(self, links, std::move(q));
}

void poll_peers(self_ptr self) {
  auto& st = self->state;
  self->request(st.relay, std::chrono::seconds(10), peer_info_atom::value)
    .then(
      [self](const std::vector<relay_peer_info>& peers) {
        auto& st = self->state;
        std::set<std::string> now;
        for (const auto& p : peers)
          if (std::find(p.protocols.begin(), p.protocols.end(), store_query_protocol)
              != p.protocols.end())
            now.insert(p.peer_id);
        auto clock = std::chrono::steady_clock::now();
        for (auto it = now.begin(); it != now.end();) {
          auto retry = st.retries.find(*it);
          if (!st.store_peers.count(*it) && retry != st.retries.end()
              && retry->second.after > clock) {
            it = now.erase(it);  // still pausing: "new" again at a later poll
            continue;
          }
          if (!st.store_peers.count(*it))
            for (const auto& [id, w] : st.communities)
              sync_community(self, *it, id);
          ++it;
        }
        // A member whose archives moved on fetches the new tail from one peer.
        if (!now.empty())
          for (auto& [id, w] : st.communities)
            if (w.member && member_history_end(self, w) > w.channels_from)
              sync_channels(self, *now.begin(), id);
        st.store_peers = std::move(now);
        self->delayed_send(self, st.config.peer_poll, peers_atom::value);
      },
      [self](const caf::error&) {
        self->delayed_send(self, self->state.config.peer_poll, peers_atom::value);
      });
}

} // namespace

stored_relay_message relay_record(const waku_envelope& envelope, std::int64_t message_timestamp) {
  stored_relay_message out;
  out.hash = envelope.hash;
  out.pubsub_topic = envelope.pubsub_topic;
  out.content_topic = envelope.content_topic;
  out.timestamp = message_timestamp != 0 ? message_timestamp : now_ns();
  out.message = envelope.message;
  return out;
}

store_sync_actor::behavior_type
store_sync(store_sync_actor::stateful_pointer<store_sync_state> self, waku_store_settings config,
           std::shared_ptr<store> db, std::shared_ptr<store_query_server> server,
           relay_actor relay, relay_sink_actor node, relay_sink_actor gate) {
  auto& st = self->state;
  st.config = config;
  st.db = std::move(db);
  st.server = std::move(server);
  st.relay = std::move(relay);
  st.node = std::move(node);
  st.gate = std::move(gate);
  if (st.server) {
    st.server->attach(st.db);
    // The server outlives us in the relay's host: it must let go of the
    // store (a node restarted in the same process reopens it).
    self->attach_functor([server = st.server] { server->attach(nullptr); });
    self->send(self, tick_atom::value);
  }
  self->set_exit_handler([self](const caf::exit_msg& msg) {
    flush(self);
    self->quit(msg.reason);
  });
  return {
    [self](const waku_envelope& envelope) {
      if (auto r = to_record(envelope)) {
        record_message(self, std::move(*r));
        // A magnet link is rare and what a late member asks for first:
        // written now, not with the next batch.
        if (self->state.magnetlink_topics.count(envelope.content_topic))
          flush(self);
      }
    },
    [self](sync_atom, const std::string& community_id, bool member) {
      auto& st = self->state;
      auto pub = public_key::from_community_id(community_id);
      if (!pub)
        return;
      auto record = st.db->get_community(*pub);
      if (!record || !*record)
        return;
      store_sync_state::watched w;
      w.member = member;
      w.community = *pub;
      w.pubsub_topic = community_pubsub_topic(**record);
      w.magnetlink_topic = content_topic(chat_topic(magnetlinks_chat_id(community_id)));
      for (const auto& channel : (*record)->channels())
        w.channel_topics.push_back(
          content_topic(chat_topic(channel_chat_id(community_id, channel.id()))));
      if (st.server) {
        // An owner's node records the channel messages it keeps, in the
        // same write; a member's history has no live channel messages, so
        // its store records them here.
        auto topics = member ? w.channel_topics : std::vector<std::string>{};
        topics.push_back(w.magnetlink_topic);
        self->send(st.relay, subscribe_atom::value, w.pubsub_topic, topics,
                   caf::actor_cast<relay_sink_actor>(self));
      }
      if (!member) {
        // Where this start may have left a gap: since the newest channel
        // message recorded before it (a little before: clocks drift), else
        // since the last build; a community with neither is new.
        std::int64_t from = 0;
        if (auto info = st.db->get_archive_info(*pub); info && info->last_archive_end > 0)
          from = static_cast<std::int64_t>(info->last_archive_end) * 1'000'000'000;
        store_query newest;
        newest.pubsub_topic = w.pubsub_topic;
        newest.content_topics = w.channel_topics;
        newest.limit = 1;
        if (auto page = st.db->query_relay_messages(newest, 1 << 20);
            page && !page->messages.empty())
          from = std::max(from, page->messages.back().timestamp - owner_sync_overlap_ns);
        if (from > 0 && !w.channel_topics.empty())
          w.owner_gap = std::pair{from, now_ns() + owner_sync_overlap_ns};
      }
      st.magnetlink_topics.insert(w.magnetlink_topic);
      bool fresh = st.communities.emplace(community_id, w).second;
      if (!st.config.sync)
        return;
      if (fresh)
        for (const auto& peer : st.store_peers)
          sync_community(self, peer, community_id);
      if (!st.polling) {
        st.polling = true;
        poll_peers(self);
      }
    },
    [self](peers_atom) { poll_peers(self); },
    [self](flush_atom) {
      self->state.flush_armed = false;
      flush(self);
    },
    [self](tick_atom) {
      auto& st = self->state;
      auto before = now_ns() - static_cast<std::int64_t>(st.config.max_age) * 1'000'000'000;
      if (auto dropped = st.db->prune_relay_messages(before, st.config.max_messages, prune_step))
        st.pruned += *dropped;
      else
        log_warn("store", "pruning recorded relay messages failed: "
                            + dropped.error().to_string());
      self->delayed_send(self, prune_interval, tick_atom::value);
    },
    [self](status_atom) {
      auto& st = self->state;
      component_status out;
      out.component = "store";
      out.healthy = true;
      auto n = [](auto v) { return static_cast<double>(v); };
      std::uint64_t held = 0;
      if (auto count = st.db->count_relay_messages())
        held = *count;
      out.state = std::string(st.server ? "serving " : "not serving, ") + std::to_string(held)
                  + " messages, " + std::to_string(st.store_peers.size()) + " store peers";
      out.gauge("annals_store_messages", "Relay messages recorded for the Waku store", n(held))
        .gauge("annals_store_peers", "Connected peers that serve the Waku store",
               n(st.store_peers.size()))
        .counter("annals_store_recorded_total", "Relay messages recorded", n(st.recorded))
        .counter("annals_store_record_failures_total",
                 "Relay messages the store refused to record", n(st.record_failures))
        .counter("annals_store_pruned_total", "Recorded messages dropped by retention",
                 n(st.pruned))
        .counter("annals_store_syncs_total", "Community syncs started from a store peer",
                 n(st.syncs))
        .counter("annals_store_syncs_failed_total",
                 "Sync steps that ended on an error or a refusal", n(st.syncs_failed))
        .counter("annals_store_queries_made_total", "Store query pages asked for", n(st.queries))
        .counter("annals_store_links_found_total",
                 "Magnet-link messages a sync handed to the gate", n(st.links_found))
        .counter("annals_store_messages_gap_filled_total",
                 "Channel messages a sync handed to the node", n(st.messages_found))
        .counter("annals_store_answers_refused_total", "Store answers that were not 200",
                 n(st.answers_refused))
        .counter("annals_store_messages_forged_total",
                 "Messages from a store peer with a wrong hash, topic or shape",
                 n(st.messages_forged));
      if (st.server) {
        auto served = st.server->counters();
        for (const auto& [code, count] : served.answers)
          out.counter("annals_store_queries_served_total", "Store queries answered, by status",
                      n(count), {"status", std::to_string(code)});
        out.counter("annals_store_messages_served_total", "Messages sent in store answers",
                    n(served.messages_served));
      }
      out.histograms.push_back(st.sync_seconds);
      return out;
    },
  };
}

} // namespace annals
