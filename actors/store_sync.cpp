#include "actors/store_sync.hpp"

#include "core/hex.hpp"
#include <annals/log.hpp>
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
constexpr auto verify_query_timeout = std::chrono::seconds(60);
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

/// Hands the pending batch to the storage thread. On the way out too: the
/// job runs even when nobody is left to read the answer, so a failure is
/// logged where it happens.
void flush(self_ptr self) {
  auto& st = self->state;
  if (st.pending.empty())
    return;
  auto batch = std::make_shared<std::vector<stored_relay_message>>(std::move(st.pending));
  st.pending.clear();
  off_scheduler(
    self, st.io,
    [db = st.db, batch] {
      auto written = db->relay_messages().record(*batch);
      // The record is a cache of the relay (history has its own path); a
      // refused write costs the served tail, never the history.
      if (!written)
        log_warn("store", "recording " + std::to_string(batch->size())
                            + " relay messages failed: " + written.error().to_string());
      return written;
    },
    [self, size = batch->size()](result<std::size_t> written) {
      if (written)
        self->state.recorded += *written;
      else
        self->state.record_failures += size;
    });
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
  std::uint32_t throttled = 0;  // 429s in a row for this job
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::function<void()> then;  // the next step of this community's sync
};

void query_page(self_ptr self, std::shared_ptr<sync_job> job, store_query query);
void query_page_now(self_ptr self, std::shared_ptr<sync_job> job, store_query query);

/// Runs `send` when the peer's next query may go: a store server answers
/// 429 past 20 queries a second from one peer, so a long sync paces itself.
void paced(self_ptr self, const std::string& peer, std::function<void()> send) {
  auto& st = self->state;
  auto now = std::chrono::steady_clock::now();
  auto& next = st.next_query[peer];
  if (next <= now) {
    next = now + st.config.query_spacing;
    send();
    return;
  }
  auto at = next;
  next += st.config.query_spacing;
  st.paced.emplace(at, std::move(send));
  self->delayed_send(self, std::chrono::duration_cast<std::chrono::milliseconds>(at - now)
                             + std::chrono::milliseconds(1),
                     poll_atom::value);
}

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
  auto wait = r.pause;
  r.after = std::chrono::steady_clock::now() + r.pause;
  r.pause = std::min(r.pause * 2, std::chrono::seconds(300));
  // A timer already set for an earlier pause re-arms itself for this one.
  if (!st.retry_armed) {
    st.retry_armed = true;
    self->delayed_send(self, std::chrono::duration_cast<std::chrono::milliseconds>(wait)
                               + std::chrono::milliseconds(1),
                       peers_atom::value);
  }
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
  // After the envelopes it found, in the same channel: the gate judges
  // them first.
  if (job->links)
    self->send(st.gate, checked_atom::value, job->community_id);
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
  // Every query is paced, the first of a job too: a member syncing several
  // communities (links and channels) from one peer starts them together.
  paced(self, job->peer, [self, job, query]() mutable { query_page_now(self, job, std::move(query)); });
}

/// A 429 is the peer asking us to slow down, not a failed sync: the same
/// query goes again after a pause that doubles (1 s, 2 s, ... 32 s), and
/// every query to that peer waits behind it. Returns false once the peer
/// has said it too often in a row.
bool throttled_by(self_ptr self, const std::string& peer, std::uint32_t& times) {
  constexpr std::uint32_t max_in_a_row = 6;
  if (times >= max_in_a_row)
    return false;
  auto& st = self->state;
  ++st.answers_throttled;
  auto pause = std::chrono::seconds(1) * (1u << times);
  ++times;
  auto& next = st.next_query[peer];
  next = std::max(next, std::chrono::steady_clock::now() + pause);
  return true;
}

void query_page_now(self_ptr self, std::shared_ptr<sync_job> job, store_query query) {
  auto& st = self->state;
  ++st.queries;
  ++job->pages;
  // Channel pages wait behind the relay traffic on a congested link, as a
  // verification's do: a 15 s limit there failed an owner's gap sync over
  // and over.
  self->request(st.relay, job->links ? query_timeout : verify_query_timeout,
                store_query_atom::value, job->peer, encode_store_query(query))
    .then(
      [self, job, query](const std::string& bytes) mutable {
        auto& st = self->state;
        auto answer = parse_store_answer(bytes);
        if (answer
            && answer->status_code
                 == static_cast<std::uint32_t>(store_status::too_many_requests)
            && throttled_by(self, job->peer, job->throttled)) {
          --job->pages;  // the same page again
          query_page(self, job, std::move(query));
          return;
        }
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
        job->throttled = 0;
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
            off_scheduler(
              self, st.io, [db = st.db, key = w->second.community] { return db->get_archive_info(key); },
              [self, peer = job->peer](result<archive_info> info) {
                if (info && info->magnetlink_clock == 0)
                  retry_later(self, peer);
              });
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
/// archive (0: nothing yet). Runs on the storage thread.
std::uint64_t member_history_end(const store& db, const public_key& community) {
  std::uint64_t end = 0;
  if (auto archives = db.list_archives(community))
    for (const auto& [id, record] : *archives)
      if (record.imported())
        end = std::max<std::uint64_t>(end, record.to());
  return end;
}

void sync_channels_from(self_ptr self, const std::string& peer, const std::string& community_id,
                        std::int64_t since, std::optional<std::int64_t> until);

/// A member's channels from the end of its imported archives: from `peer`
/// (a store peer just adopted), or, with none, from the first store peer
/// and only when the archives moved on since the last such sync (the tail).
/// The archive records are read on the storage thread.
void sync_member_channels(self_ptr self, std::optional<std::string> peer,
                          const std::string& community_id) {
  auto& st = self->state;
  auto it = st.communities.find(community_id);
  if (it == st.communities.end() || it->second.channel_topics.empty())
    return;
  off_scheduler(
    self, st.io,
    [db = st.db, key = it->second.community] { return member_history_end(*db, key); },
    [self, peer, community_id](std::uint64_t end) {
      auto& st = self->state;
      auto w = st.communities.find(community_id);
      if (end == 0 || w == st.communities.end())
        return;
      if (!peer && (st.store_peers.empty() || end <= w->second.channels_from))
        return;
      w->second.channels_from = end;
      sync_channels_from(self, peer ? *peer : *st.store_peers.begin(), community_id,
                         static_cast<std::int64_t>(end) * 1'000'000'000, std::nullopt);
    });
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
  if (w.member) {
    sync_member_channels(self, peer, community_id);
    return;
  }
  if (w.owner_synced || !w.owner_gap)
    return;
  w.owner_synced = true;
  sync_channels_from(self, peer, community_id, w.owner_gap->first, w.owner_gap->second);
}

void sync_channels_from(self_ptr self, const std::string& peer, const std::string& community_id,
                        std::int64_t since, std::optional<std::int64_t> until) {
  auto& st = self->state;
  auto it = st.communities.find(community_id);
  if (it == st.communities.end())
    return;
  const auto& w = it->second;
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

/// Owner: one window of channel traffic checked against one store peer.
struct verify_job {
  std::string peer;
  std::string community_id;
  std::string pubsub_topic;
  std::vector<std::string> topics;  // every channel's
  std::size_t group = 0;            // which 10 topics are being listed
  std::int64_t from = 0, to = 0;    // Unix ns
  std::optional<std::string> cursor;
  std::vector<std::string> missing; // hashes this node lacks
  std::uint64_t pages = 0;
  std::size_t next_missing = 0;     // the first hash not asked for yet
  std::size_t fetches_in_flight = 0;
  std::uint32_t throttled = 0;      // 429s in a row
  bool ended = false;               // failed or done; late answers are dropped
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

/// By-hash fetches of one verification in flight at once: one at a time
/// waits a round trip per 100 messages, and under a congested relay that
/// is a second or more (14,000 missed messages took 3.5 minutes).
constexpr std::size_t max_fetches_in_flight = 4;
/// Fetched hashes remembered (32 bytes each): far more than the node has
/// not written yet at any time.
constexpr std::size_t max_recovered_remembered = 100'000;

constexpr std::size_t max_missing_per_verification = 100'000;
/// How far back a verification starts before the last verified point: a
/// message that reached its store peer late (a slow path, a skewed clock)
/// lands behind it.
constexpr std::int64_t verify_overlap_ns = std::int64_t{60} * 1'000'000'000;
/// The furthest back a verification reaches: older gaps are for the
/// start-up sync (an owner that was down) and the archives.
constexpr std::int64_t max_verify_window_ns = std::int64_t{3600} * 1'000'000'000;

void verify_owned(self_ptr self);

void end_verification(self_ptr self, const std::shared_ptr<verify_job>& job, bool ok,
                      const std::string& why = {}) {
  auto& st = self->state;
  if (job->ended)
    return;
  job->ended = true;
  auto w = st.communities.find(job->community_id);
  if (w == st.communities.end())
    return;
  w->second.verifying = false;
  if (!ok) {
    // Kept from the next round with this peer on: the window stays open.
    if (st.verifications_failed++ % 10 == 0)
      log_info("store", "verifying " + job->community_id.substr(0, 10) + "…'s channel traffic with "
                          + job->peer + " failed after " + std::to_string(job->pages)
                          + " page(s) (tried again on its turn): " + why);
    return;
  }
  ++st.verifications;
  auto& verified = w->second.verified_until;
  auto& until = verified[job->peer];
  until = std::max(until, job->to);
  // Peers come and go: the one checked longest ago is forgotten first.
  if (verified.size() > 1024)
    verified.erase(std::min_element(verified.begin(), verified.end(), [](const auto& a, const auto& b) {
      return a.second < b.second;
    }));
  if (!job->missing.empty()) {
    log_info("store", "verified " + job->community_id.substr(0, 10) + "…'s channel traffic with "
                        + job->peer + ": fetched " + std::to_string(job->missing.size())
                        + " message(s) this node had missed, in "
                        + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                           std::chrono::steady_clock::now() - job->started)
                                           .count())
                        + " s");
    // Where one peer had messages this node lacked, others may hold more
    // (a crash, a congested link): ask the next at once, not a round later.
    verify_owned(self);
  }
}

/// Sends one query of a verification; `on_page` gets a 200 answer, anything
/// else ends the verification as failed.
void ask_for_verification(self_ptr self, const std::shared_ptr<verify_job>& job,
                          const store_query& q,
                          std::function<void(store_answer&)> on_page) {
  auto& st = self->state;
  ++st.queries;
  // Longer than a sync's: a verification matters most when links are
  // congested, and its answers wait behind the relay traffic then.
  self->request(st.relay, verify_query_timeout, store_query_atom::value, job->peer,
                encode_store_query(q))
    .then(
      [self, job, q, on_page = std::move(on_page)](const std::string& bytes) mutable {
        auto answer = parse_store_answer(bytes);
        if (answer
            && answer->status_code
                 == static_cast<std::uint32_t>(store_status::too_many_requests)
            && !job->ended && throttled_by(self, job->peer, job->throttled)) {
          paced(self, job->peer, [self, job, q, on_page = std::move(on_page)]() mutable {
            if (!job->ended)
              ask_for_verification(self, job, q, std::move(on_page));
          });
          return;
        }
        if (!answer || answer->status_code != static_cast<std::uint32_t>(store_status::ok)) {
          ++self->state.answers_refused;
          end_verification(self, job, false,
                           answer ? std::to_string(answer->status_code) + " " + answer->status_desc
                                  : answer.error().to_string());
          return;
        }
        job->throttled = 0;
        on_page(*answer);
      },
      [self, job](const caf::error& err) {
        end_verification(self, job, false, self->system().render(err));
      });
}

/// Asks the peer for the missing messages by hash, 100 a query, a few
/// queries at once; ends the verification when every answer is in.
void fetch_missing(self_ptr self, std::shared_ptr<verify_job> job) {
  if (job->ended)
    return;
  if (job->next_missing >= job->missing.size()) {
    if (job->fetches_in_flight == 0)
      end_verification(self, job, true);
    return;
  }
  while (job->next_missing < job->missing.size()
         && job->fetches_in_flight < max_fetches_in_flight) {
    auto at = job->next_missing;
    auto end = std::min(job->missing.size(), at + 100);
    job->next_missing = end;
    ++job->fetches_in_flight;
    paced(self, job->peer, [self, job, at, end] {
      if (job->ended)
        return;
      store_query q;
      q.request_id = new_request_id();
      q.include_data = true;
      q.message_hashes.assign(job->missing.begin() + static_cast<std::ptrdiff_t>(at),
                              job->missing.begin() + static_cast<std::ptrdiff_t>(end));
      q.limit = q.message_hashes.size();  // the default page (20) would drop the rest
      ask_for_verification(self, job, q, [self, job](store_answer& answer) {
        auto& st = self->state;
        --job->fetches_in_flight;
        if (job->ended)
          return;
        for (const auto& found : answer.messages)
          if (auto envelope = check_found(self, job->pubsub_topic, job->topics, found)) {
            if (!st.recovered_hashes.insert(found.hash).second)
              continue;  // another verification's fetch brought it first
            st.recovered_order.push_back(found.hash);
            if (st.recovered_order.size() > max_recovered_remembered) {
              st.recovered_hashes.erase(st.recovered_order.front());
              st.recovered_order.pop_front();
            }
            ++st.messages_recovered;
            ++st.messages_found;
            self->send(st.node, *envelope);
          }
        fetch_missing(self, job);
      });
    });
  }
}

/// Lists the window's message hashes at the peer, ten topics at a time, and
/// keeps those this node's store does not hold.
void list_hashes(self_ptr self, std::shared_ptr<verify_job> job) {
  if (job->group * 10 >= job->topics.size()) {
    fetch_missing(self, job);
    return;
  }
  paced(self, job->peer, [self, job] {
    store_query q;
    q.request_id = new_request_id();
    q.include_data = false;
    q.pubsub_topic = job->pubsub_topic;
    auto first = job->group * 10;
    q.content_topics.assign(job->topics.begin() + static_cast<std::ptrdiff_t>(first),
                            job->topics.begin()
                              + static_cast<std::ptrdiff_t>(std::min(job->topics.size(), first + 10)));
    q.time_start = job->from;
    q.time_end = job->to;
    q.forward = true;
    q.limit = 2000;  // hashes only: 64 KB a page (a store that caps lower pages on)
    q.cursor = job->cursor;
    ++job->pages;
    ask_for_verification(self, job, q, [self, job](store_answer& answer) {
      auto& st = self->state;
      store_query local;
      local.include_data = false;
      for (const auto& m : answer.messages)
        if (m.hash.size() == 32)
          local.message_hashes.push_back(m.hash);
      st.hashes_checked += local.message_hashes.size();
      bool more =
        answer.cursor && !answer.messages.empty() && job->pages < st.config.max_sync_pages;
      auto next = [self, job, more, cursor = answer.cursor] {
        if (more) {
          job->cursor = cursor;
        } else {
          job->cursor.reset();
          ++job->group;
        }
        list_hashes(self, job);
      };
      if (local.message_hashes.empty()) {
        next();
        return;
      }
      local.limit = local.message_hashes.size();
      auto hashes = local.message_hashes;
      off_scheduler(
        self, st.io,
        [db = st.db, local = std::move(local)] { return db->relay_messages().query(local, 1 << 20); },
        [self, job, next, hashes = std::move(hashes)](result<store_page> held) {
          if (!held) {
            end_verification(self, job, false, held.error().to_string());
            return;
          }
          std::set<std::string> have;
          for (const auto& m : held->messages)
            have.insert(m.hash);
          auto& fetched = self->state.recovered_hashes;
          for (const auto& h : hashes)
            if (!have.count(h) && !fetched.count(h)
                && job->missing.size() < max_missing_per_verification)
              job->missing.push_back(h);
          next();
        });
    });
  });
}

/// Owner: checks [from, to) of the community's channels against `peer`.
void verify_channels(self_ptr self, const std::string& peer, const std::string& community_id,
                     std::int64_t from, std::int64_t to) {
  auto& st = self->state;
  auto it = st.communities.find(community_id);
  if (it == st.communities.end() || it->second.member || it->second.verifying
      || it->second.channel_topics.empty() || from >= to)
    return;
  it->second.verifying = true;
  auto job = std::make_shared<verify_job>();
  job->peer = peer;
  job->community_id = community_id;
  job->pubsub_topic = it->second.pubsub_topic;
  job->topics = it->second.channel_topics;
  job->from = from;
  job->to = to;
  list_hashes(self, job);
}

/// Owner, every verify_interval: the traffic since the last verified point
/// (less an overlap for late arrivals) against the next store peer in turn.
void verify_owned(self_ptr self) {
  auto& st = self->state;
  if (st.config.verify_interval.count() == 0 || st.store_peers.empty() || !st.config.sync)
    return;
  auto peer = std::next(st.store_peers.begin(),
                        static_cast<std::ptrdiff_t>(st.verify_turn++ % st.store_peers.size()));
  auto interval = static_cast<std::int64_t>(st.config.verify_interval.count()) * 1'000'000'000;
  // The newest interval waits for the next round: what is still queued on a
  // slow link reaches the peer (and maybe this node) meanwhile.
  auto to = now_ns() - interval;
  for (auto& [id, w] : st.communities) {
    if (w.member)
      continue;
    // From where this peer was last checked (or since it connected), never
    // more than max_verify_window back.
    auto last = w.verified_until.find(*peer);
    auto from = last != w.verified_until.end() ? last->second : to - interval;
    from = std::max(from - verify_overlap_ns, to - max_verify_window_ns);
    verify_channels(self, *peer, id, from, to);
  }
}

/// A store peer to sync from: every watched community is synced from it,
/// and one that comes back after a while away is verified (an owner) for
/// the time it was gone.
void adopt_store_peer(self_ptr self, const std::string& peer) {
  auto& st = self->state;
  if (!st.store_peers.insert(peer).second)
    return;
  for (auto& [id, w] : st.communities) {
    sync_community(self, peer, id);
    // What this peer hears from now on is checked on its turn.
    if (!w.member)
      w.verified_until.emplace(peer, now_ns());
  }
  // Back after a while away: what it heard meanwhile may not have reached
  // this owner (a partition, a dropped link).
  if (auto left = st.store_peers_left.find(peer); left != st.store_peers_left.end()) {
    for (auto& [id, w] : st.communities) {
      if (w.member)
        continue;
      auto from = left->second;
      if (auto last = w.verified_until.find(peer); last != w.verified_until.end())
        from = std::min(from, last->second);
      verify_channels(self, peer, id,
                      std::max(from - verify_overlap_ns, now_ns() - max_verify_window_ns),
                      now_ns());
    }
    st.store_peers_left.erase(left);
  }
}

/// Store-capable peers whose pause after a failed sync has ended are synced
/// again; the timer is set for the next pause to end.
void retry_due(self_ptr self) {
  auto& st = self->state;
  st.retry_armed = false;
  auto clock = std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::time_point> next;
  for (const auto& peer : st.store_capable) {
    if (st.store_peers.count(peer))
      continue;
    auto retry = st.retries.find(peer);
    if (retry == st.retries.end() || retry->second.after <= clock)
      adopt_store_peer(self, peer);
    else
      next = next ? std::min(*next, retry->second.after) : retry->second.after;
  }
  if (next && !st.retry_armed) {
    st.retry_armed = true;
    self->delayed_send(self,
                       std::chrono::duration_cast<std::chrono::milliseconds>(*next - clock)
                         + std::chrono::milliseconds(1),
                       peers_atom::value);
  }
}

/// The relay told of a peer: one whose identify lists the store protocol is
/// a store peer until it goes.
void on_peer_event(self_ptr self, const relay_peer_event& event) {
  auto& st = self->state;
  if (event.kind == relay_peer_event::identified) {
    bool serves = std::find(event.protocols.begin(), event.protocols.end(), store_query_protocol)
                  != event.protocols.end();
    if (!serves || !st.store_capable.insert(event.peer_id).second)
      return;
    retry_due(self);
    return;
  }
  if (event.kind != relay_peer_event::disconnected)
    return;
  st.store_capable.erase(event.peer_id);
  if (st.store_peers.erase(event.peer_id) > 0 && st.store_peers_left.size() < 4096)
    st.store_peers_left.emplace(event.peer_id, now_ns());
}

/// A member whose archives moved on fetches the new tail from one peer.
void sync_member_tail(self_ptr self, const std::string& community_id) {
  auto& st = self->state;
  auto w = st.communities.find(community_id);
  if (w == st.communities.end() || !w->second.member || st.store_peers.empty())
    return;
  sync_member_channels(self, std::nullopt, community_id);
}

/// What watching a community needs from the store: its topics and, for an
/// owner, where this start may have left a gap. Read on the storage thread.
struct watch_facts {
  std::string pubsub_topic;
  std::string magnetlink_topic;
  std::vector<std::string> channel_topics;
  std::int64_t gap_from = 0;  // owner: Unix ns, 0: a new community
};

std::optional<watch_facts> read_watch(const store& db, const public_key& community, bool member) {
  auto record = db.get_community(community);
  if (!record || !*record)
    return std::nullopt;
  auto community_id = community.community_id();
  watch_facts out;
  out.pubsub_topic = community_pubsub_topic(**record);
  out.magnetlink_topic = content_topic(chat_topic(magnetlinks_chat_id(community_id)));
  for (const auto& channel : (*record)->channels())
    out.channel_topics.push_back(
      content_topic(chat_topic(channel_chat_id(community_id, channel.id()))));
  if (!member && !out.channel_topics.empty()) {
    // Where this start may have left a gap: since the newest channel
    // message recorded before it (a little before: clocks drift), else
    // since the last build; a community with neither is new.
    if (auto info = db.get_archive_info(community); info && info->last_archive_end > 0)
      out.gap_from = static_cast<std::int64_t>(info->last_archive_end) * 1'000'000'000;
    store_query newest;
    newest.pubsub_topic = out.pubsub_topic;
    newest.content_topics = out.channel_topics;
    newest.limit = 1;
    if (auto page = db.relay_messages().query(newest, 1 << 20); page && !page->messages.empty())
      out.gap_from = std::max(out.gap_from, page->messages.back().timestamp - owner_sync_overlap_ns);
  }
  return out;
}

/// Records, syncs and (an owner) verifies the community from now on.
void watch(self_ptr self, const std::string& community_id, bool member, const public_key& key,
           watch_facts facts) {
  auto& st = self->state;
  store_sync_state::watched w;
  w.member = member;
  w.community = key;
  w.pubsub_topic = std::move(facts.pubsub_topic);
  w.magnetlink_topic = std::move(facts.magnetlink_topic);
  w.channel_topics = std::move(facts.channel_topics);
  if (st.server) {
    // An owner's node records the channel messages it keeps, in the
    // same write; a member's history has no live channel messages, so
    // its store records them here.
    auto topics = member ? w.channel_topics : std::vector<std::string>{};
    topics.push_back(w.magnetlink_topic);
    self->send(st.relay, subscribe_atom::value, w.pubsub_topic, topics,
               caf::actor_cast<relay_sink_actor>(self));
  }
  if (!member && facts.gap_from > 0)
    w.owner_gap = std::pair{facts.gap_from, now_ns() + owner_sync_overlap_ns};
  st.magnetlink_topics.insert(w.magnetlink_topic);
  bool fresh = st.communities.emplace(community_id, w).second;
  if (!st.config.sync)
    return;
  if (fresh)
    for (const auto& peer : st.store_peers)
      sync_community(self, peer, community_id);
  if (!st.listening) {
    st.listening = true;
    self->send(st.relay, subscribe_atom::value, peers_atom::value,
               caf::actor_cast<relay_peer_sink_actor>(self));
  }
}

/// The store's status record; `held`: the relay messages it records.
component_status store_status_of(self_ptr self, std::uint64_t held) {
  auto& st = self->state;
  component_status out;
  out.component = "store";
  out.healthy = true;
  auto n = [](auto v) { return static_cast<double>(v); };
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
    .counter("annals_store_answers_throttled_total",
             "Store answers of 429 (too many requests), each followed by a pause and the same query",
             n(st.answers_throttled))
    .counter("annals_store_messages_forged_total",
             "Messages from a store peer with a wrong hash, topic or shape",
             n(st.messages_forged))
    .counter("annals_store_verifications_total",
             "Owner: windows of channel traffic checked against a store peer",
             n(st.verifications))
    .counter("annals_store_verifications_failed_total",
             "Owner: verifications that ended on an error or a refusal",
             n(st.verifications_failed))
    .counter("annals_store_hashes_checked_total",
             "Owner: message hashes a verification compared with its own store",
             n(st.hashes_checked))
    .counter("annals_store_messages_recovered_total",
             "Owner: channel messages the relay had not brought, fetched by a verification",
             n(st.messages_recovered));
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
           std::shared_ptr<store> db, storage_io_actor io,
           std::shared_ptr<store_query_server> server, relay_actor relay, relay_sink_actor node,
           link_sink_actor gate) {
  auto& st = self->state;
  st.config = config;
  st.db = std::move(db);
  st.io = std::move(io);
  st.server = std::move(server);
  st.relay = std::move(relay);
  st.node = std::move(node);
  st.gate = std::move(gate);
  if (st.server) {
    st.server->attach(st.db);
    // The server outlives us in the relay's host: it must let go of the
    // store (a node restarted in the same process reopens it).
    self->attach_functor([server = st.server] { server->attach(nullptr); });
  }
  // Retention (serving) and an owner's verification (syncing) both tick.
  if (st.server || st.config.sync)
    self->send(self, tick_atom::value);
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
      auto pub = public_key::from_community_id(community_id);
      if (!pub)
        return;
      off_scheduler(self, self->state.io,
                    [db = self->state.db, key = *pub, member] { return read_watch(*db, key, member); },
                    [self, community_id, member, key = *pub](std::optional<watch_facts> facts) {
                      if (facts)
                        watch(self, community_id, member, key, std::move(*facts));
                    });
    },
    [self](peers_atom) { retry_due(self); },
    [self](const relay_peer_event& event) { on_peer_event(self, event); },
    [self](const signal& s) {
      // An archive set imported: the tail after it comes from a store peer.
      if (auto* done = caf::get_if<downloading_history_archives_finished>(&s))
        sync_member_tail(self, done->community_id);
    },
    [self](flush_atom) {
      self->state.flush_armed = false;
      flush(self);
    },
    [self](tick_atom) {
      auto& st = self->state;
      auto clock = std::chrono::steady_clock::now();
      if (st.server && clock - st.last_prune >= prune_interval && !st.pruning) {
        st.last_prune = clock;
        st.pruning = true;
        auto before = now_ns() - static_cast<std::int64_t>(st.config.max_age) * 1'000'000'000;
        off_scheduler(
          self, st.io,
          [db = st.db, before, keep = st.config.max_messages] {
            return db->relay_messages().prune(before, keep, prune_step);
          },
          [self](result<std::uint64_t> dropped) {
            self->state.pruning = false;
            if (dropped)
              self->state.pruned += *dropped;
            else
              log_warn("store", "pruning recorded relay messages failed: "
                                  + dropped.error().to_string());
          });
      }
      verify_owned(self);
      auto every = st.config.verify_interval.count() > 0
                     ? std::min<std::chrono::seconds>(st.config.verify_interval, prune_interval)
                     : std::chrono::seconds(prune_interval);
      self->delayed_send(self, every, tick_atom::value);
    },
    [self](poll_atom) {
      auto& st = self->state;
      auto now = std::chrono::steady_clock::now();
      while (!st.paced.empty() && st.paced.begin()->first <= now) {
        auto send = std::move(st.paced.begin()->second);
        st.paced.erase(st.paced.begin());
        send();
      }
    },
    [self](status_atom) {
      auto rp = self->make_response_promise<component_status>();
      off_scheduler(
        self, self->state.io, [db = self->state.db] { return db->relay_messages().count(); },
        [self, rp](result<std::uint64_t> count) mutable {
          rp.deliver(store_status_of(self, count ? *count : 0));
        });
      return rp;
    },
  };
}

} // namespace annals
