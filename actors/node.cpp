#include "actors/node.hpp"

#include <annals/log.hpp>

#include "actors/errors.hpp"

#include "actors/archive_builder.hpp"
#include "actors/control_node_gate.hpp"
#include "actors/downloader.hpp"
#include "actors/importer.hpp"
#include "actors/inprocess_relay.hpp"
#include "actors/magnetlink_publisher.hpp"
#include "actors/observation.hpp"
#include "actors/torrent_distribution.hpp"
#include "storage/community_keys.hpp"
#include "actors/signal_bus.hpp"
#include "net/interfaces.hpp"
#include "net/torrent_file.hpp"
#include "net/torrent_session.hpp"
#include "storage/store.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <ctime>

namespace annals {

namespace {

using self_ptr = node_actor::stateful_pointer<node_state>;

/// Kept messages are written in batches: one synced write per batch instead
/// of one per message.
constexpr auto flush_interval = std::chrono::milliseconds(100);
constexpr std::size_t flush_batch = 1000;

/// Kept messages held per community while the store refuses writes.
constexpr std::size_t max_unsaved_messages = 200'000;

/// One community's kept messages on their way to the store.
struct flush_batch_of {
  std::string community_id;
  bool member = false;
  std::vector<archive_message> messages;
  std::vector<stored_relay_message> relayed;
  result<insert_stats> stored = make_error(errc::io, "not written yet");
};

void flush(self_ptr self);

/// What the storage thread answered for a flush: written batches are
/// observed, refused ones go back in front of what arrived meanwhile.
void flushed(self_ptr self, std::vector<flush_batch_of> batches) {
  auto& state = self->state;
  state.flush_in_flight = false;
  bool retry = false;
  for (auto& b : batches) {
    if (b.stored) {
      observe(self, state.hooks.observer, state.config.name, b.community_id,
              message_observation::stored, b.messages);
      continue;
    }
    // Kept for the next try (a full disk frees up, a compaction ends); past
    // the cap the oldest go, counted, so memory stays bounded.
    ++state.store_failures;
    log_error("node", "storing " + std::to_string(b.messages.size()) + " messages of "
                        + b.community_id + " failed (kept, retried every second): "
                        + b.stored.error().to_string());
    auto& messages = state.pending[b.community_id];
    auto& relayed = state.pending_relayed[b.community_id];
    messages.insert(messages.begin(), std::make_move_iterator(b.messages.begin()),
                    std::make_move_iterator(b.messages.end()));
    relayed.insert(relayed.begin(), std::make_move_iterator(b.relayed.begin()),
                   std::make_move_iterator(b.relayed.end()));
    if (messages.size() > max_unsaved_messages) {
      auto excess = messages.size() - max_unsaved_messages;
      messages.erase(messages.begin(), messages.begin() + static_cast<std::ptrdiff_t>(excess));
      relayed.erase(relayed.begin(),
                    relayed.begin() + static_cast<std::ptrdiff_t>(std::min(excess, relayed.size())));
      state.unsaved_dropped += excess;
    }
    retry = true;
  }
  state.store_failing = retry;
  if (retry) {
    if (!state.flush_armed) {
      state.flush_armed = true;
      self->delayed_send(self, std::chrono::seconds(1), flush_atom::value);
    }
    return;
  }
  // What arrived while this write ran.
  for (const auto& [id, messages] : state.pending)
    if (!messages.empty()) {
      flush(self);
      break;
    }
}

/// The kept messages not handed over yet, by community.
std::vector<flush_batch_of> take_pending(self_ptr self) {
  auto& state = self->state;
  std::vector<flush_batch_of> batches;
  for (auto& [community_id, messages] : state.pending) {
    if (messages.empty())
      continue;
    flush_batch_of b;
    b.community_id = community_id;
    b.member = state.member_communities.count(community_id) > 0;
    b.messages = std::move(messages);
    b.relayed = std::move(state.pending_relayed[community_id]);
    messages.clear();
    state.pending_relayed[community_id].clear();
    batches.push_back(std::move(b));
  }
  return batches;
}

/// Writes batches on the storage thread (the caller's thread without one).
std::vector<flush_batch_of> write_batches(store& db, std::vector<flush_batch_of> batches) {
  for (auto& b : batches) {
    auto community = public_key::from_community_id(b.community_id);
    b.stored = b.member ? db.insert_member_messages(*community, b.messages, b.relayed)
                        : db.insert_messages(*community, b.messages, b.relayed);
  }
  return batches;
}

/// Hands the kept messages to the storage thread, one write at a time (in
/// order; what arrives meanwhile waits for the next).
void flush(self_ptr self) {
  auto& state = self->state;
  if (state.flush_in_flight)
    return;  // the write in flight flushes again when it is done
  auto batches = take_pending(self);
  if (batches.empty())
    return;
  state.flush_in_flight = true;
  off_scheduler(
    self, state.io,
    [db = state.db, batches = std::move(batches)]() mutable {
      return write_batches(*db, std::move(batches));
    },
    [self](std::vector<flush_batch_of> done) { flushed(self, std::move(done)); });
}

/// Channel messages of the community are kept from now on (decrypted with
/// its channels' keys); returns their content topics.
std::vector<std::string> add_kept_channels(self_ptr self, const public_key& community,
                                           const record::Community& record) {
  std::vector<std::string> content_topics;
  for (const auto& channel : record.channels()) {
    auto chat = channel_chat_id(community.community_id(), channel.id());
    auto topic = chat_topic(chat);
    auto ct = content_topic(topic);
    self->state.channels[ct] = kept_channel{community, topic, chat, std::nullopt};
    content_topics.push_back(ct);
  }
  return content_topics;
}

/// Subscribes to the channels of an owned community, so its traffic is kept.
void keep_channels(self_ptr self, const record::Community& community) {
  auto& state = self->state;
  auto pub = public_key::parse(community.public_key());
  if (!pub)
    return;
  auto content_topics = add_kept_channels(self, *pub, community);
  if (!content_topics.empty())
    self->send(state.relay, subscribe_atom::value, community_pubsub_topic(community),
               content_topics, caf::actor_cast<relay_sink_actor>(self));
  if (state.store_sync)
    self->send(state.store_sync, sync_atom::value, pub->community_id(), false);
}

/// A member keeps the channel messages a store sync finds (it does not
/// listen to channels itself: its history comes from archives).
void watch_member_channels(self_ptr self, const std::string& community_id) {
  auto& state = self->state;
  auto pub = public_key::from_community_id(community_id);
  if (!pub)
    return;
  state.member_communities.insert(community_id);
  if (!state.store_sync)
    return;
  off_scheduler(
    self, state.io,
    [db = state.db, key = *pub] { return db->get_community(key); },
    [self, community_id, key = *pub](result<std::optional<record::Community>> record) {
      if (record && *record)
        add_kept_channels(self, key, **record);
      self->send(self->state.store_sync, sync_atom::value, community_id, true);
    });
}

/// status-go's handleRetrievedMessages(storeWakuMessages): a channel message
/// is kept as the decrypted payload, its envelope signer and the envelope
/// hash, before any further decoding.
void keep_message(self_ptr self, const waku_envelope& envelope) {
  auto& state = self->state;
  auto channel = state.channels.find(envelope.content_topic);
  if (channel == state.channels.end())
    return;
  waku::WakuMessage message;
  if (!message.ParseFromString(envelope.message)) {
    ++state.unreadable;
    return;
  }
  if (!channel->second.key)
    channel->second.key = chat_symmetric_key(channel->second.chat_id);
  auto plaintext = open_waku_payload(message.payload(), *channel->second.key);
  auto payload = plaintext ? decode_signed_waku_payload(*plaintext)
                           : result<signed_waku_payload>(plaintext.error());
  if (!payload) {
    ++state.unreadable;
    return;
  }
  archive_message kept;
  kept.timestamp = static_cast<std::uint64_t>(std::max<std::int64_t>(message.timestamp(), 0))
                   / 1'000'000'000;
  kept.topic = channel->second.topic;
  kept.payload = std::move(payload->data);
  auto signer = payload->signer.uncompressed();
  kept.sig.assign(reinterpret_cast<const char*>(signer.data()), signer.size());
  kept.hash = envelope.hash;
  auto& pending = state.pending[channel->second.community.community_id()];
  pending.push_back(std::move(kept));
  if (state.records_relayed)
    state.pending_relayed[channel->second.community.community_id()].push_back(
      relay_record(envelope, message.timestamp()));
  ++state.kept;
  // While the store refuses writes, the once-a-second retry writes them.
  if (pending.size() >= flush_batch && !state.store_failing) {
    flush(self);
  } else if (!state.flush_armed) {
    state.flush_armed = true;
    self->delayed_send(self, flush_interval, flush_atom::value);
  }
}

/// A member listens for links, resumes imports a crash interrupted, and
/// seeds what it holds again (status-go forgets to after a restart). The
/// promise, when given, is kept once the gate listens.
void start_membership(self_ptr self, const std::string& community_id,
                      std::optional<caf::typed_response_promise<std::string>> joined = {}) {
  auto& state = self->state;
  watch_member_channels(self, community_id);
  state.listening_since.emplace(community_id, std::chrono::system_clock::now());
  self->request(state.gate, caf::infinite, join_atom::value, community_id)
    .then(
      [joined, community_id](bool) mutable {
        if (joined)
          joined->deliver(community_id);
      },
      [joined](const caf::error& err) mutable {
        if (joined)
          joined->deliver(err);
      });
  // A link whose fetch a stop interrupted: resumed now, not at the next
  // announcement (which may be hours away, or never for a peer that is
  // back before the owner notices it left).
  struct resume {
    std::optional<pending_link> link;  // to fetch again
    bool seed = false;                 // else: a torrent to seed again
  };
  auto key = public_key::from_community_id(community_id);
  if (!key)
    return;
  off_scheduler(
    self, state.io,
    [db = state.db, key = *key, community_id,
     layout = archive_layout{state.config.data_dir, community_id}] {
      resume out;
      // A crash after a fetched set's .torrent was saved, before its index
      // moved into place: the directory is made one version again before
      // anything reads it.
      if (auto promoted = promote_fetched_index(layout); !promoted)
        log_error("node", promoted.error().to_string());
      else if (*promoted)
        log_info("node", "moved the fetched index of " + community_id
                           + " into place (a stop interrupted the move)");
      auto torrent = layout.torrent_file();
      auto setting = db->get_setting(pending_link_setting(community_id));
      if (setting && *setting)
        if (auto pending = decode_pending_link(**setting)) {
          auto info = db->get_archive_info(key);
          if (info && info->last_magnet_uri != pending->magnet) {
            out.link = *pending;
            return out;
          }
        }
      std::error_code ec;
      out.seed = std::filesystem::exists(torrent, ec);
      return out;
    },
    [self, community_id](const resume& r) {
      auto& state = self->state;
      self->request(state.importer, caf::infinite, import_atom::value, community_id)
        .then([](std::uint64_t) {},
              [self, community_id](const caf::error& err) {
                log_error("node", "resuming the import of " + community_id
                                    + " failed: " + self->system().render(err));
              });
      if (r.link) {
        // The fetch replaces any torrent of the community.
        self->send(state.downloader, fetch_atom::value, community_id, r.link->magnet,
                   r.link->clock);
        return;
      }
      if (r.seed)
        self->request(state.distribution, caf::infinite, seed_atom::value, community_id)
          .then([](const std::string&) {},
                [self, community_id](const caf::error& err) {
                  log_error("node", "re-seeding " + community_id
                                      + " failed: " + self->system().render(err));
                });
    });
}

/// What the store knows of a community (the download part is the
/// downloader's); on the storage thread.
result<community_status> store_status(store& db, const std::string& community_id) {
  auto pub = public_key::from_community_id(community_id);
  if (!pub)
    return pub.error();
  community_status status;
  status.community_id = community_id;
  if (auto record = db.get_community(*pub); record && *record)
    status.role = (*record)->role() == record::Community::OWNER ? "owner" : "member";
  if (auto count = db.count_messages(*pub))
    status.messages = *count;
  if (auto missing = db.get_setting(missing_key_setting(community_id)); missing && *missing)
    status.missing_key = **missing;
  if (auto queued = db.count_unarchived(*pub))
    status.unarchived = *queued;
  // Running counts: a status call reads no archive record.
  auto archives = db.count_archives(*pub);
  status.archives = archives.archives;
  status.imported = archives.imported;
  if (auto info = db.get_archive_info(*pub)) {
    status.magnetlink_clock = info->magnetlink_clock;
    status.last_magnet_uri = info->last_magnet_uri;
    status.completed_clock = info->completed_clock;
  }
  return status;
}

/// Adds what the downloader says of the community, then calls `done`
/// (with the store part alone when the downloader does not answer).
/// "2026-12-06T05:31:00Z"
std::string utc_text(std::chrono::system_clock::time_point t) {
  auto seconds = std::chrono::system_clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

/// A member that has waited longer than link_patience for a verified link
/// says so, with what it could be missing: relay peers, store peers.
void with_link_warning(self_ptr self, community_status status,
                       std::function<void(community_status)> done) {
  auto patience = self->state.config.archives.link_patience;
  auto since = self->state.listening_since.find(status.community_id);
  if (status.role != "member" || status.magnetlink_clock != 0 || patience == 0
      || since == self->state.listening_since.end()
      || std::chrono::system_clock::now() - since->second < std::chrono::seconds(patience)) {
    done(std::move(status));
    return;
  }
  auto text = "no magnet link seen for this community since " + utc_text(since->second);
  self->request(self->state.config.relay, std::chrono::seconds(2), peer_info_atom::value)
    .then(
      [status, done, text](const std::vector<relay_peer_info>& peers) mutable {
        std::size_t store_peers = 0;
        for (const auto& p : peers)
          store_peers += std::any_of(p.protocols.begin(), p.protocols.end(), [](const auto& proto) {
            return proto.rfind("/vac/waku/store", 0) == 0;
          });
        status.warnings.push_back(text + "; peers: " + std::to_string(peers.size())
                                  + ", store peers: " + std::to_string(store_peers));
        done(std::move(status));
      },
      [status, done, text](const caf::error&) mutable {
        status.warnings.push_back(text + "; peers: unknown (the relay did not answer)");
        done(std::move(status));
      });
}

void with_download(self_ptr self, community_status status,
                   std::function<void(community_status)> done) {
  auto id = status.community_id;
  done = [self, done = std::move(done)](community_status s) {
    with_link_warning(self, std::move(s), done);
  };
  self->request(self->state.downloader, std::chrono::seconds(2), progress_atom::value, id)
    .then(
      [status, done](const download_status& download) mutable {
        status.bytes_fetched = download.bytes_fetched;
        status.download = download.state;
        status.last_error = download.last_error;
        status.download_bytes_done = download.bytes_done;
        status.download_bytes_total = download.bytes_total;
        status.download_rate = download.rate;
        status.download_peers = download.peers;
        status.download_sources = download.sources;
        status.links_checked = download.links_checked;
        done(std::move(status));
      },
      [status, done](const caf::error&) mutable { done(std::move(status)); });
}

/// What the node's own record needs of the store, read on its thread.
struct store_numbers {
  std::optional<error> failure;  // the communities could not be listed
  std::vector<community_status> communities;  // owned or joined
  std::uint64_t refused_writes = 0;
};

store_numbers read_store_numbers(store& db) {
  store_numbers out;
  out.refused_writes = db.refused_writes();
  auto communities = db.list_communities();
  if (!communities) {
    out.failure = communities.error();
    return out;
  }
  for (const auto& c : *communities) {
    auto pub = public_key::parse(c.public_key());
    if (!pub)
      continue;
    bool owner = c.role() == record::Community::OWNER;
    if (!owner && !c.joined())
      continue;
    if (auto status = store_status(db, pub->community_id()))
      out.communities.push_back(std::move(*status));
  }
  return out;
}

/// The node's own record: communities, what the store holds, memory.
component_status own_status(self_ptr self, const store_numbers& numbers) {
  auto& state = self->state;
  component_status out;
  out.component = "node";
  std::size_t owned = 0, joined = 0;
  if (numbers.failure) {
    out.healthy = false;
    out.detail("last_error", numbers.failure->to_string());
  }
  // Relayed messages the store refuses (a full disk) are kept and retried,
  // but the node is not healthy until a write succeeds: /health says so.
  if (state.store_failing) {
    out.healthy = false;
    out.detail("store", "refusing writes: " + std::to_string(state.store_failures)
                          + " failed writes, relayed messages kept in memory and retried");
  }
  for (const auto& status : numbers.communities) {
    (status.role == "owner" ? owned : joined) += 1;
    std::vector<std::string> label{"community", status.community_id, "role", status.role};
    out.gauge("annals_messages_stored", "Messages of the community in the store",
              double(status.messages), label)
      .gauge("annals_messages_unarchived", "Owner: stored messages in no archive yet",
             double(status.unarchived), label)
      .gauge("annals_archives", "Archives recorded (built or downloaded)",
             double(status.archives), label)
      .gauge("annals_archives_imported", "Archives imported into the store",
             double(status.imported), label)
      .gauge("annals_magnetlink_clock", "Clock of the last magnet link published or accepted",
             double(status.magnetlink_clock), label);
  }
  out.state = "up, " + std::to_string(owned) + " owned, " + std::to_string(joined) + " joined";
  auto memory = read_process_memory();
  out.gauge("annals_communities", "Communities this node owns", double(owned), {"role", "owner"})
    .gauge("annals_communities", "Communities this node joined", double(joined),
           {"role", "member"})
    .counter("annals_messages_kept_total", "Owner: channel messages taken from the relay",
             double(state.kept))
    .counter("annals_messages_unreadable_total",
             "Owner: channel messages that did not decrypt or verify", double(state.unreadable))
    .counter("annals_store_write_failures_total",
             "Writes the store refused (disk below its reserve, or a RocksDB error), any writer",
             double(numbers.refused_writes))
    .counter("annals_messages_unsaved_batches_total",
             "Owner: flushes of kept messages the store refused (the messages are held and retried)",
             double(state.store_failures))
    .counter("annals_messages_unsaved_dropped_total",
             "Kept messages dropped while the store refused writes (over 200,000 held)",
             double(state.unsaved_dropped))
    .gauge("process_resident_memory_bytes", "Resident memory of the process",
           double(memory.resident))
    .gauge("annals_process_anonymous_memory_bytes",
           "Anonymous resident memory (libtorrent's file-backed pages excluded)",
           double(memory.anonymous));
  return out;
}

/// The node's record and each stage's, in a fixed order. A stage that does
/// not answer in time is reported, never waited for: the builder and the
/// importer work on one job at a time and answer between jobs.
caf::result<std::vector<component_status>> gather_status(self_ptr self) {
  auto& state = self->state;
  struct gathered {
    std::vector<component_status> parts;
    std::size_t pending = 0;
    caf::typed_response_promise<std::vector<component_status>> rp;
    void done() {
      if (--pending == 0)
        rp.deliver(parts);
    }
  };
  auto g = std::make_shared<gathered>();
  g->rp = self->make_response_promise<std::vector<component_status>>();
  {
    component_status placeholder;
    placeholder.component = "node";
    g->parts.push_back(placeholder);
    ++g->pending;
    off_scheduler(self, state.io, [db = state.db] { return read_store_numbers(*db); },
                  [self, g](const store_numbers& numbers) {
                    g->parts[0] = own_status(self, numbers);
                    g->done();
                  });
  }
  auto ask = [&](auto handle, const char* name, bool may_be_busy) {
    auto slot = g->parts.size();
    component_status placeholder;
    placeholder.component = name;
    g->parts.push_back(placeholder);
    ++g->pending;
    self->request(handle, std::chrono::seconds(2), status_atom::value)
      .then(
        [g, slot](component_status& s) {
          g->parts[slot] = std::move(s);
          g->done();
        },
        [g, slot, may_be_busy](const caf::error& err) {
          auto& part = g->parts[slot];
          bool timeout = err == caf::sec::request_timeout;
          part.healthy = may_be_busy && timeout;
          part.state = may_be_busy && timeout ? "busy" : "not answering";
          g->done();
        });
  };
  ask(state.relay, "relay", false);
  ask(state.distribution, "distribution", false);
  ask(state.scheduler, "scheduler", false);
  ask(state.builder, "builder", true);
  ask(state.publisher, "publisher", false);
  ask(state.gate, "gate", false);
  ask(state.downloader, "downloader", false);
  ask(state.importer, "importer", true);
  ask(state.bus, "signals", false);
  if (state.store_sync)
    ask(state.store_sync, "store", false);
  if (state.probe)
    ask(state.probe, "scheduler_latency", false);
  return g->rp;
}

result<record::Community> owned_community(const community_spec& spec) {
  auto key = private_key::generate();
  if (!spec.private_key_hex.empty()) {
    auto raw = from_hex(spec.private_key_hex);
    if (!raw)
      return make_error(errc::malformed, "community private key is not hex");
    auto parsed = private_key::from_bytes(*raw);
    if (!parsed)
      return parsed.error();
    key = *parsed;
  }
  auto community = community_record(key.public_key(), spec.channel_ids, record::Community::OWNER);
  community.set_private_key(std::string(as_view(key.bytes())));
  if (!spec.keys_file.empty())
    community.set_keys_file(std::filesystem::absolute(spec.keys_file).string());
  community.set_encrypted(spec.encrypted);
  return community;
}

node_actor::behavior_type node(self_ptr self, std::shared_ptr<node_state> init) {
  self->state = std::move(*init);
  auto& state = self->state;
  for (const auto& child : std::vector<caf::actor_addr>{
         state.bus.address(), state.builder.address(), state.distribution.address(),
         state.scheduler.address(), state.publisher.address(), state.gate.address(),
         state.downloader.address(), state.importer.address()})
    self->link_to(child);
  if (state.hooks.store_server || state.config.waku_store.sync) {
    state.records_relayed = state.hooks.store_server && state.config.waku_store.serve;
    state.store_sync = self->spawn<caf::linked>(
      store_sync, state.config.waku_store, state.db, state.io,
      state.records_relayed ? state.hooks.store_server : nullptr, state.relay,
      caf::actor_cast<relay_sink_actor>(self), caf::actor_cast<link_sink_actor>(state.gate));
    self->send(state.bus, subscribe_atom::value,
               caf::actor_cast<signal_sink_actor>(state.store_sync));
  }
  if (state.config.probe_scheduler)
    state.probe = self->spawn<caf::linked>(scheduler_probe, std::chrono::milliseconds(10));
  off_scheduler(
    self, state.io, [db = state.db] { return db->list_communities(); },
    [self](result<std::vector<record::Community>> communities) {
      if (!communities) {
        log_error("node", "listing the communities failed: " + communities.error().to_string());
        return;
      }
      for (const auto& community : *communities) {
        auto pub = public_key::parse(community.public_key());
        if (!pub || !community.archives_enabled())
          continue;
        if (community.role() == record::Community::OWNER) {
          keep_channels(self, community);
          self->send(self->state.scheduler, start_atom::value, pub->community_id());
        } else if (community.joined()) {
          start_membership(self, pub->community_id());
        }
      }
    });
  // A host stops the node with an exit message; nothing kept is dropped.
  // The stages go first, then the storage thread (after the jobs handed to
  // it so far, which the stages' own exits may add to), then the node.
  self->set_exit_handler([self](const caf::exit_msg& msg) {
    auto& state = self->state;
    if (state.stopping)
      return;  // a stage's exit while it stops
    state.stopping = msg.reason;
    // Written after any write in flight (the storage thread takes jobs in
    // order), before the storage thread stops.
    off_scheduler(state.io, [db = state.db, batches = take_pending(self)]() mutable {
      for (const auto& b : write_batches(*db, std::move(batches)))
        if (!b.stored)
          log_error("node", "storing " + std::to_string(b.messages.size()) + " messages of "
                              + b.community_id + " at shutdown failed: "
                              + b.stored.error().to_string());
    });
    for (const auto& stage : std::vector<caf::actor_addr>{
           state.bus.address(), state.builder.address(), state.distribution.address(),
           state.scheduler.address(), state.publisher.address(), state.gate.address(),
           state.downloader.address(), state.importer.address(), state.store_sync.address(),
           state.probe.address()}) {
      if (!stage)
        continue;
      self->unlink_from(stage);
      self->monitor(stage);
      state.stopping_stages.insert(stage);
      self->send_exit(stage, msg.reason);
    }
    if (state.stopping_stages.empty()) {
      self->monitor(state.io);
      caf::anon_send_exit(state.io, caf::exit_reason::user_shutdown);
    }
  });
  self->set_down_handler([self](const caf::down_msg& msg) {
    auto& state = self->state;
    if (!state.stopping)
      return;
    if (msg.source == state.io.address()) {
      self->quit(*state.stopping);
      return;
    }
    if (state.stopping_stages.erase(msg.source) > 0 && state.stopping_stages.empty()) {
      // Not linked: a link's exit message would overtake the jobs queued.
      self->monitor(state.io);
      caf::anon_send_exit(state.io, caf::exit_reason::user_shutdown);
    }
  });
  // If the node dies another way, the storage thread still stops.
  self->attach_functor([io = state.io] {
    caf::anon_send_exit(io, caf::exit_reason::user_shutdown);
  });
  return {
    [self](const waku_envelope& envelope) { keep_message(self, envelope); },
    [self](flush_atom) {
      self->state.flush_armed = false;
      flush(self);
    },
    [self](create_atom, const community_spec& spec) -> caf::result<std::string> {
      auto community = owned_community(spec);
      if (!community)
        return to_caf_error(community.error());
      auto pub = *public_key::parse(community->public_key());
      // A token-gated community's keys are checked before anything is built.
      if (auto cipher = community_cipher(*community, self->state.config.data_dir); !cipher)
        return to_caf_error(cipher.error());
      auto rp = self->make_response_promise<std::string>();
      off_scheduler(
        self, self->state.io,
        [db = self->state.db, pub, community = std::move(*community)]() mutable
        -> result<record::Community> {
          auto existing = db->get_community(pub);
          if (existing && *existing) {
            // Re-creating keeps what the store knows (channels added later stay).
            for (const auto& channel : (*existing)->channels())
              if (std::none_of(community.channels().begin(), community.channels().end(),
                               [&](const auto& c) { return c.id() == channel.id(); }))
                *community.add_channels() = channel;
          }
          if (auto saved = db->put_community(community); !saved)
            return saved.error();
          return community;
        },
        [self, rp, pub](result<record::Community> saved) mutable {
          if (!saved) {
            rp.deliver(to_caf_error(saved.error()));
            return;
          }
          keep_channels(self, *saved);
          self->send(self->state.scheduler, start_atom::value, pub.community_id());
          rp.deliver(pub.community_id());
        });
      return rp;
    },
    [self](join_atom, const membership_spec& spec) -> caf::result<std::string> {
      auto pub = public_key::from_community_id(spec.community_id);
      if (!pub)
        return to_caf_error(pub.error());
      auto community = community_record(*pub, spec.channel_ids, record::Community::MEMBER);
      if (!spec.keys_file.empty())
        community.set_keys_file(std::filesystem::absolute(spec.keys_file).string());
      auto joined = self->make_response_promise<std::string>();
      off_scheduler(
        self, self->state.io,
        [db = self->state.db, key = *pub, community, id = spec.community_id]() -> result<void> {
          // A keys file that does not load is refused before anything is stored.
          if (auto keys = community_keys(community); !keys)
            return keys.error();
          auto existing = db->get_community(key);
          if (existing && *existing && (*existing)->role() == record::Community::OWNER)
            return make_error(errc::conflict, "this node controls " + id + "; it cannot join it");
          return db->put_community(community);
        },
        [self, joined, id = spec.community_id](result<void> saved) mutable {
          if (!saved) {
            joined.deliver(to_caf_error(saved.error()));
            return;
          }
          start_membership(self, id, joined);
        });
      return joined;
    },
    [self](status_atom) -> caf::result<std::vector<component_status>> {
      return gather_status(self);
    },
    [self](status_atom, const std::string& community_id) -> caf::result<community_status> {
      auto rp = self->make_response_promise<community_status>();
      off_scheduler(
        self, self->state.io,
        [db = self->state.db, community_id] { return store_status(*db, community_id); },
        [self, rp](result<community_status> status) mutable {
          if (!status) {
            rp.deliver(to_caf_error(status.error()));
            return;
          }
          with_download(self, std::move(*status),
                        [rp](community_status s) mutable { rp.deliver(s); });
        });
      return rp;
    },
    [self](index_atom) -> caf::result<std::vector<community_status>> {
      struct gathered {
        std::vector<community_status> out;
        std::size_t pending = 0;
        caf::typed_response_promise<std::vector<community_status>> rp;
      };
      auto g = std::make_shared<gathered>();
      g->rp = self->make_response_promise<std::vector<community_status>>();
      off_scheduler(
        self, self->state.io, [db = self->state.db] { return read_store_numbers(*db); },
        [self, g](store_numbers numbers) {
          if (numbers.failure) {
            g->rp.deliver(to_caf_error(*numbers.failure));
            return;
          }
          g->out = std::move(numbers.communities);
          g->pending = g->out.size();
          if (g->pending == 0) {
            g->rp.deliver(g->out);
            return;
          }
          for (std::size_t i = 0; i < g->out.size(); ++i)
            with_download(self, g->out[i], [g, i](community_status s) {
              g->out[i] = std::move(s);
              if (--g->pending == 0)
                g->rp.deliver(g->out);
            });
        });
      return g->rp;
    },
    [self](index_atom, const std::string& community_id) -> caf::result<std::vector<archive_entry>> {
      auto pub = public_key::from_community_id(community_id);
      if (!pub)
        return to_caf_error(pub.error());
      auto rp = self->make_response_promise<std::vector<archive_entry>>();
      off_scheduler(
        self, self->state.io,
        [db = self->state.db, key = *pub]() -> result<std::vector<archive_entry>> {
          auto archives = db->list_archives(key);
          if (!archives)
            return archives.error();
          std::vector<archive_entry> out;
          for (const auto& [id, record] : *archives)
            out.push_back({id, record.from(), record.to(), record.imported()});
          std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
            return std::tie(a.from, a.id) < std::tie(b.from, b.id);
          });
          return out;
        },
        [rp](result<std::vector<archive_entry>> out) mutable {
          if (out)
            rp.deliver(std::move(*out));
          else
            rp.deliver(to_caf_error(out.error()));
        });
      return rp;
    },
    [self](subscribe_atom, const signal_sink_actor& sink) {
      self->send(self->state.bus, subscribe_atom::value, sink);
    },
    [self](relay_atom) { return self->state.relay; },
  };
}

} // namespace

void register_types(caf::actor_system_config& cfg) {
  add_error_category(cfg);
  cfg.add_message_type<signal>("annals::signal");
  cfg.add_message_type<waku_envelope>("annals::waku_envelope");
  cfg.add_message_type<build_job>("annals::build_job");
  cfg.add_message_type<build_outcome>("annals::build_outcome");
  cfg.add_message_type<community_spec>("annals::community_spec");
  cfg.add_message_type<membership_spec>("annals::membership_spec");
  cfg.add_message_type<archive_set_summary>("annals::archive_set_summary");
  cfg.add_message_type<transfer_source>("annals::transfer_source");
  cfg.add_message_type<std::vector<transfer_source>>("std::vector<annals::transfer_source>");
  cfg.add_message_type<fetch_progress>("annals::fetch_progress");
  cfg.add_message_type<archive_slot>("annals::archive_slot");
  cfg.add_message_type<download_status>("annals::download_status");
  cfg.add_message_type<std::vector<archive_slot>>("std::vector<annals::archive_slot>");
  cfg.add_message_type<community_status>("annals::community_status");
  cfg.add_message_type<message_observation>("annals::message_observation");
  cfg.add_message_type<status_metric>("annals::status_metric");
  cfg.add_message_type<status_histogram>("annals::status_histogram");
  cfg.add_message_type<component_status>("annals::component_status");
  cfg.add_message_type<std::vector<component_status>>("std::vector<annals::component_status>");
  cfg.add_message_type<relay_peer_info>("annals::relay_peer_info");
  cfg.add_message_type<relay_peer_event>("annals::relay_peer_event");
  cfg.add_message_type<std::vector<relay_peer_info>>("std::vector<annals::relay_peer_info>");
  cfg.add_message_type<archive_entry>("annals::archive_entry");
  cfg.add_message_type<std::vector<archive_entry>>("std::vector<annals::archive_entry>");
  cfg.add_message_type<std::vector<community_status>>("std::vector<annals::community_status>");
}

node_system_config::node_system_config(std::size_t threads) {
  register_types(*this);
  set("scheduler.max-threads", threads);
  set("logger.verbosity", caf::atom("quiet"));
  // CAF 0.17's work-stealing workers, out of work, poll, sleep in 50 us
  // steps, then wait on a condition variable that times out to steal: an
  // idle node woke every few milliseconds, and a longer timeout delays work
  // queued behind a busy worker. Work sharing keeps one queue: an idle
  // worker waits without a timeout and is woken by the next job, whichever
  // worker queued it. A node's actors mostly wait for I/O, so the shared
  // queue's lock is not where its time goes.
  set("scheduler.policy", caf::atom("sharing"));
  // CAF 0.17 lets an actor run its whole mailbox in one turn (max-throughput
  // is unlimited by default): a relay handed 100,000 messages kept a worker
  // for seconds while every other actor of every node waited. A few dozen
  // messages a turn, then the next actor in line.
  set("scheduler.max-throughput", scheduler_max_throughput);
}

caf::expected<node_actor> spawn_node(caf::actor_system& sys, node_config config,
                                     node_hooks hooks) {
  auto db = store::open(config.data_dir / "db", config.store);
  if (!db)
    return to_caf_error(db.error());
  auto identity = private_key::load_or_create(config.data_dir / "identity.key");
  if (!identity)
    return to_caf_error(identity.error());

  torrent_session_options torrent = config.torrent.loopback ? loopback_session_options()
                                                            : torrent_session_options{};
  torrent.listen = config.torrent.listen;
  if (!config.torrent.loopback) {
    torrent.dht = config.torrent.dht;
    torrent.lsd = config.torrent.lsd;
    torrent.trackers = config.torrent.use_trackers;
    torrent.dht_bootstrap = config.torrent.dht_bootstrap;
    torrent.private_network = config.torrent.private_network;
    torrent.external_address = config.torrent.external_address;
  }
  auto session = torrent_session::start(torrent);
  if (!session)
    return to_caf_error(session.error());

  auto init = std::make_shared<node_state>();
  init->db = std::shared_ptr<store>(std::move(*db));
  init->identity = *identity;
  init->bus = sys.spawn(signal_bus);
  // The node's storage thread: every store read and write of its
  // event-based actors runs there (actors/storage_io.hpp).
  init->io = sys.spawn<caf::detached>(storage_io);
  for (const auto& sink : config.subscribers)
    caf::anon_send(init->bus, subscribe_atom::value, sink);
  init->relay = config.relay ? config.relay : sys.spawn(inprocess_relay);
  init->builder = sys.spawn<caf::detached>(
    archive_builder,
    archive_builder_config{config.data_dir, config.torrent.trackers,
                           to_hex0x(identity->public_key().uncompressed()), config.name,
                           hooks.observer},
    init->db, init->bus);
  torrent_distribution_config seeding;
  seeding.archive_root = config.data_dir;
  seeding.advertise_address = config.torrent.advertise_address;
  seeding.external_address = config.torrent.external_address;
  seeding.io = init->io;
  if (unsigned port = 0; !split_host_port(config.torrent.listen, seeding.listen_ip, port))
    seeding.listen_ip = "127.0.0.1";
  init->distribution =
    sys.spawn(torrent_distribution, seeding,
              std::shared_ptr<torrent_session>(std::move(*session)), init->bus);
  init->publisher = sys.spawn(magnetlink_publisher,
                              magnetlink_publisher_config{*identity,
                                                          to_hex(identity->public_key().compressed()),
                                                          system_unix_ms_clock(), init->io},
                              init->db, init->relay, init->bus);
  init->importer = sys.spawn<caf::detached>(importer, config.data_dir, init->db, init->bus,
                                            config.archives.import_rate,
                                            import_observer{config.name, hooks.observer});
  downloader_config downloads;
  downloads.archive_root = config.data_dir;
  downloads.fetch.locate_timeout = config.archives.metadata_timeout;
  downloads.fetch.stall_timeout = config.archives.stall_timeout;
  downloads.io = init->io;
  init->downloader = sys.spawn(downloader, downloads, init->db, init->distribution, init->importer,
                               init->bus);
  control_node_gate_config gate_config;
  gate_config.republish_interval = config.archives.republish_interval;
  gate_config.welcome_gap = config.archives.welcome_gap;
  gate_config.io = init->io;
  init->gate = sys.spawn(control_node_gate, gate_config,
                         init->db, init->publisher, init->relay, init->downloader, init->bus);
  // After the gate: the scheduler hands it each seeded link.
  scheduler_config schedule{config.archives.interval, config.data_dir, hooks.now,
                            config.archives.settle, init->io};
  schedule.gate = init->gate;
  init->scheduler = sys.spawn(scheduler, schedule, init->db, init->builder, init->distribution);
  init->config = std::move(config);
  init->hooks = std::move(hooks);
  return sys.spawn(node, init);
}

caf::expected<node_actor> spawn_node(caf::actor_system& sys, node_config config) {
  return spawn_node(sys, std::move(config), node_hooks{});
}

relay_actor spawn_inprocess_relay(caf::actor_system& sys) {
  return sys.spawn(inprocess_relay);
}

} // namespace annals
