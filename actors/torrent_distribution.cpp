#include "actors/torrent_distribution.hpp"

#include <annals/log.hpp>

#include "actors/errors.hpp"

#include "core/archive_format.hpp"
#include "core/file_io.hpp"
#include "net/interfaces.hpp"
#include "net/torrent_file.hpp"
#include "net/torrent_session.hpp"

#include <caf/all.hpp>

#include <cstdio>

#include <algorithm>
#include <chrono>

namespace annals {

namespace {

/// How often a running fetch's connections are read into its source ledger.
constexpr auto sources_interval = std::chrono::seconds(1);

using self_ptr = torrent_distribution_actor::stateful_pointer<torrent_distribution_state>;
using fetch_entry = torrent_distribution_state::fetch_entry;

void emit(self_ptr self, signal s) {
  self->send(self->state.bus, publish_atom::value, std::move(s));
}

/// Reads the community's torrent's connections into its ledger.
void note_sources(self_ptr self, const std::string& community, const std::string& info_hash) {
  auto transfers = self->state.session->peer_transfers(info_hash);
  if (!transfers)
    return;
  auto& ledger = self->state.sources[community];
  std::set<std::string> seen;
  for (const auto& t : *transfers) {
    auto& known = ledger.live[t.endpoint];
    // Fewer bytes than last time: a new connection from the same endpoint.
    if (t.downloaded < known.bytes)
      ledger.banked[known.address] += known.bytes;
    known = {t.ip, t.downloaded};
    seen.insert(t.endpoint);
  }
  for (auto it = ledger.live.begin(); it != ledger.live.end();) {
    if (seen.count(it->first)) {
      ++it;
      continue;
    }
    ledger.banked[it->second.address] += it->second.bytes;
    it = ledger.live.erase(it);
  }
}

/// The community's sources, most bytes first.
std::vector<transfer_source> sources_of(self_ptr self, const std::string& community) {
  auto found = self->state.sources.find(community);
  if (found == self->state.sources.end())
    return {};
  auto totals = found->second.banked;
  for (const auto& [endpoint, live] : found->second.live)
    totals[live.address] += live.bytes;
  std::vector<transfer_source> out;
  for (const auto& [address, bytes] : totals)
    if (bytes > 0)
      out.push_back({address, bytes});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.bytes > b.bytes; });
  return out;
}

/// Drops the community's current torrent from the session, if any.
void drop(self_ptr self, const std::string& community) {
  auto& state = self->state;
  state.fetches.erase(community);
  auto it = state.torrents.find(community);
  if (it == state.torrents.end())
    return;
  note_sources(self, community, it->second);
  // Its connections end with it.
  auto& ledger = state.sources[community];
  for (const auto& [endpoint, live] : ledger.live)
    ledger.banked[live.address] += live.bytes;
  ledger.live.clear();
  if (auto progress = state.session->progress(it->second)) {
    state.retired_upload[community] += progress->total_upload;
    state.retired_download[community] += progress->total_download;
  }
  // A save waiting for its index to move: the torrent ends first.
  if (auto pending = state.renaming.find(it->second); pending != state.renaming.end()) {
    pending->second.promise.deliver(
      to_caf_error(errc::io, "the torrent of " + community + " was dropped while saving it"));
    state.renaming.erase(pending);
  }
  if (auto removed = state.session->remove(it->second); !removed)
    log_warn("distribution", removed.error().to_string());
  state.torrents.erase(it);
}


/// The fetch of `info_hash` and its community, if one runs.
std::pair<const std::string*, fetch_entry*> fetch_of_hash(self_ptr self,
                                                          const std::string& info_hash) {
  for (auto& [community, entry] : self->state.fetches)
    if (entry.info_hash == info_hash)
      return {&community, &entry};
  return {nullptr, nullptr};
}

bool have_all(const std::vector<bool>& have, int first, int end) {
  if (first < 0 || end > static_cast<int>(have.size()))
    return false;
  return std::all_of(have.begin() + first, have.begin() + end, [](bool had) { return had; });
}

/// Learns the torrent's shape once libtorrent has the metadata; a torrent
/// that breaks status-go's shape rules is refused, never wanted.
void learn_metadata(self_ptr self, fetch_entry& entry) {
  if (entry.summary || !entry.refusal.empty())
    return;
  auto summary = self->state.session->metadata_summary(entry.info_hash);
  if (!summary) {
    entry.refusal = summary.error().message;
    return;
  }
  entry.summary = archive_set_summary{summary->name, summary->data_size, summary->index_size};
  entry.piece_count = summary->piece_count;
}

/// Flushes what became complete since the last flush, so it is readable
/// after the `flushed` event; one flush at a time per torrent.
result<void> flush_completed(self_ptr self, fetch_entry& entry) {
  if (entry.flushing || !entry.summary || (!entry.index_wanted && entry.wanted.empty()))
    return ok_result();
  auto have = self->state.session->have_pieces(entry.info_hash);
  if (!have)
    return have.error();
  auto index_first = static_cast<int>(entry.summary->data_size / archive_piece_length);
  bool index = entry.index_wanted && !entry.index_ready
               && have_all(*have, index_first, static_cast<int>(entry.piece_count));
  std::set<std::string> archives;
  for (const auto& [id, pieces] : entry.wanted)
    if (!entry.ready.count(id) && have_all(*have, pieces.first, pieces.second))
      archives.insert(id);
  if (!index && archives.empty())
    return ok_result();
  if (auto flushed = self->state.session->flush(entry.info_hash); !flushed)
    return flushed.error();
  entry.flushing = true;
  entry.flushing_index = index;
  entry.flushing_archives = std::move(archives);
  return ok_result();
}

/// Where a fetch writes the index (relative to archivedata/) until the set
/// is complete: the held set's `index` stays the one its .torrent describes.
std::string staged_index_name(const std::string& community) {
  return community + "/" + fetching_index_name;
}

/// After the staged index was renamed: `index` is there and the staged one
/// is gone, or the rename failed and the save did too.
void check_promoted_index(self_ptr self, const std::string& community,
                          caf::typed_response_promise<bool> promise) {
  off_scheduler(
    self, self->state.config.io,
    [layout = archive_layout{self->state.config.archive_root, community}]() -> result<void> {
      std::error_code ec;
      if (std::filesystem::exists(layout.fetching_index_file(), ec)
          || !std::filesystem::exists(layout.index_file(), ec))
        return make_error(errc::io, "moving " + layout.fetching_index_file().string() + " to "
                                      + layout.index_file().string() + " failed");
      return ok_result();
    },
    [promise](result<void> promoted) mutable {
      if (!promoted)
        promise.deliver(to_caf_error(promoted.error()));
      else
        promise.deliver(true);
    });
}

/// Where peers on other hosts reach this session (what x.pe carries).
std::vector<std::string> advertised_peers(self_ptr self) {
  const auto& config = self->state.config;
  return advertised_endpoints(config.listen_ip, self->state.session->listen_port(),
                              config.external_address, local_interface_addresses());
}

/// One ledger timer at a time, and only while fetches run: an idle node
/// has no timer here.
void arm_sources_tick(self_ptr self) {
  auto& state = self->state;
  if (state.fetches.empty() || state.sources_tick_pending)
    return;
  state.sources_tick_pending = true;
  self->delayed_send(self, sources_interval, tick_atom::value);
}

/// Records a fetch the session took on (or says why it did not).
caf::expected<std::string> fetching(self_ptr self, const std::string& community,
                                    const std::vector<std::string>& peers,
                                    const caf::actor_addr& watcher, result<std::string> hash) {
  if (!hash)
    return to_caf_error(hash.error());
  auto& state = self->state;
  state.torrents[community] = *hash;
  auto& entry = state.fetches[community];
  entry.info_hash = *hash;
  entry.peers = peers;
  entry.watcher = watcher;
  arm_sources_tick(self);
  return std::move(*hash);
}

} // namespace

torrent_distribution_state::~torrent_distribution_state() {
  // The session may outlive this actor (the node holds it too).
  if (session)
    session->set_alert_notify({});
}

torrent_distribution_actor::behavior_type
torrent_distribution(torrent_distribution_actor::stateful_pointer<torrent_distribution_state> self,
                     torrent_distribution_config config, std::shared_ptr<torrent_session> session,
                     signal_bus_actor bus) {
  self->state.config = std::move(config);
  self->state.session = std::move(session);
  self->state.bus = std::move(bus);
  // libtorrent calls this from its own thread when alerts arrive in an empty
  // queue; the weak address keeps the session from holding the actor alive.
  self->state.session->set_alert_notify([addr = self->address()] {
    if (auto actor = caf::actor_cast<caf::actor>(addr))
      caf::anon_send(actor, poll_atom::value);
  });
  self->send(self, poll_atom::value);
  return {
    [self](seed_atom, const std::string& community) -> caf::result<std::string> {
      struct loaded {
        result<torrent_summary> torrent;
        result<prepared_torrent> prepared = make_error(errc::not_found, "not read");
      };
      archive_layout layout{self->state.config.archive_root, community};
      auto promise = self->make_response_promise<std::string>();
      // The .torrent is read and the files' sizes checked on the I/O thread;
      // libtorrent gets the parsed torrent here.
      off_scheduler(
        self, self->state.config.io,
        [layout, community] {
          loaded out{read_archive_torrent(layout.torrent_file())};
          if (out.torrent && out.torrent->name == community)
            out.prepared = torrent_session::prepare_seed(layout.torrent_file(),
                                                         layout.root / "archivedata");
          return out;
        },
        [self, promise, layout, community](loaded in) mutable {
          auto& state = self->state;
          if (!in.torrent)
            return promise.deliver(to_caf_error(in.torrent.error()));
          const auto& torrent = *in.torrent;
          if (torrent.name != community)
            return promise.deliver(to_caf_error(
              errc::verification_failed, layout.torrent_file().string() + " names " + torrent.name));
          auto current = state.torrents.find(community);
          // status-go unseeds before every create-and-seed; a changed torrent
          // replaces the old one here.
          if (current != state.torrents.end() && current->second != torrent.info_hash)
            drop(self, community);
          if (!state.torrents.count(community)) {
            if (!in.prepared)
              return promise.deliver(to_caf_error(in.prepared.error()));
            auto added = state.session->add(std::move(*in.prepared));
            if (!added)
              return promise.deliver(to_caf_error(added.error()));
            state.torrents[community] = torrent.info_hash;
          }
          std::vector<std::string> peers;
          if (state.config.advertise_address)
            peers = advertised_peers(self);
          auto magnet = magnet_link(torrent.info_hash, torrent.name, torrent.trackers, peers);
          emit(self, history_archives_seeding{community, magnet});
          return promise.deliver(magnet);
        });
      return promise;
    },
    [self](unseed_atom, const std::string& community) {
      if (!self->state.torrents.count(community))
        return;
      drop(self, community);
      emit(self, history_archives_unseeded{community});
    },
    [self](fetch_atom, const std::string& community, const std::string& locator,
           const std::vector<std::string>& peers) -> caf::result<std::string> {
      auto& state = self->state;
      auto watcher = caf::actor_cast<caf::actor_addr>(self->current_sender());
      auto save_path = archive_layout{state.config.archive_root, community}.root / "archivedata";
      if (is_magnet_link(locator)) {
        drop(self, community);
        // Nothing is wanted until the member asks (download_all = false).
        return fetching(self, community, peers, watcher,
                        state.session->fetch(locator, save_path, peers, false,
                                             staged_index_name(community)));
      }
      // A .torrent file: read and parsed on the I/O thread.
      auto promise = self->make_response_promise<std::string>();
      off_scheduler(
        self, state.config.io,
        [locator, save_path, community] {
          auto prepared = torrent_session::prepare_fetch(locator, save_path);
          if (prepared)
            prepared->staged_index = staged_index_name(community);
          return prepared;
        },
        [self, promise, community, peers, watcher](result<prepared_torrent> prepared) mutable {
          if (!prepared)
            return promise.deliver(to_caf_error(prepared.error()));
          drop(self, community);
          auto hash = fetching(self, community, peers, watcher,
                               self->state.session->add(std::move(*prepared), peers, false));
          if (!hash)
            return promise.deliver(std::move(hash.error()));
          return promise.deliver(std::move(*hash));
        });
      return promise;
    },
    [self](index_atom, const std::string& community, bool with_data) {
      auto it = self->state.fetches.find(community);
      if (it == self->state.fetches.end() || !it->second.summary)
        return;
      auto& entry = it->second;
      entry.index_wanted = true;
      auto first = static_cast<int>(entry.summary->data_size / archive_piece_length);
      // The index at the top priority: libtorrent picks it before any data
      // piece wanted beside it.
      if (auto wanted = self->state.session->want_pieces(
            entry.info_hash, first, static_cast<int>(entry.piece_count), piece_priority::top);
          !wanted)
        entry.peer_error = wanted.error().to_string();
      if (with_data)
        if (auto wanted = self->state.session->want_pieces(entry.info_hash, 0, first); !wanted)
          entry.peer_error = wanted.error().to_string();
      // Wanting nothing, the torrent was a seed to libtorrent, which dials
      // peers at its next tick; now it has reason to, so at once.
      for (const auto& peer : entry.peers)
        (void)self->state.session->connect_peer(entry.info_hash, peer);
    },
    [self](want_atom, const std::string& community, const std::vector<archive_slot>& slots) {
      auto it = self->state.fetches.find(community);
      if (it == self->state.fetches.end() || !it->second.summary)
        return;
      auto& entry = it->second;
      constexpr auto L = archive_piece_length;
      for (const auto& slot : slots) {
        // The member checked the index against the torrent; these bounds
        // keep a mistake from wanting pieces outside `data`.
        if (entry.wanted.count(slot.id) || slot.offset % L != 0 || slot.size % L != 0
            || slot.offset + slot.size > entry.summary->data_size)
          continue;
        std::pair<int, int> pieces{static_cast<int>(slot.offset / L),
                                   static_cast<int>((slot.offset + slot.size) / L)};
        entry.wanted.emplace(slot.id, pieces);
        if (auto wanted = self->state.session->want_pieces(entry.info_hash, pieces.first,
                                                           pieces.second);
            !wanted)
          entry.peer_error = wanted.error().to_string();
      }
    },
    [self](progress_atom, const std::string& community) -> caf::result<fetch_progress> {
      auto it = self->state.fetches.find(community);
      if (it == self->state.fetches.end())
        return to_caf_error(errc::not_found, "no fetch of " + community);
      auto& entry = it->second;
      auto progress = self->state.session->progress(entry.info_hash);
      if (!progress)
        return to_caf_error(progress.error());
      fetch_progress out;
      note_sources(self, community, entry.info_hash);
      out.sources = sources_of(self, community);
      out.received = progress->total_download;
      out.wanted_done = progress->total_wanted_done;
      out.wanted_total = progress->total_wanted;
      out.rate = progress->download_rate;
      out.peers = static_cast<std::uint64_t>(std::max(0, progress->num_peers));
      out.failure = progress->error;
      if (progress->has_metadata)
        learn_metadata(self, entry);
      if (auto flushed = flush_completed(self, entry); !flushed)
        out.failure = flushed.error().to_string();
      out.located = entry.summary.has_value();
      if (entry.summary)
        out.summary = *entry.summary;
      out.refusal = entry.refusal;
      out.peer_error = entry.peer_error;
      out.index_ready = entry.index_ready;
      out.ready.assign(entry.ready.begin(), entry.ready.end());
      return out;
    },
    [self](save_atom, const std::string& community) -> caf::result<bool> {
      auto& state = self->state;
      auto it = state.torrents.find(community);
      if (it == state.torrents.end())
        return to_caf_error(errc::not_found, "no torrent of " + community);
      auto bytes = state.session->torrent_file_bytes(it->second);
      if (!bytes)
        return to_caf_error(bytes.error());
      auto promise = self->make_response_promise<bool>();
      off_scheduler(
        self, state.config.io,
        [file = archive_layout{state.config.archive_root, community}.torrent_file(),
         bytes = std::move(*bytes)]() -> result<void> {
          if (auto dir = create_private_dirs(file.parent_path()); !dir)
            return dir.error();
          return write_file_atomic(file, bytes);
        },
        [self, promise, community](result<void> saved) mutable {
          auto& state = self->state;
          if (!saved) {
            promise.deliver(to_caf_error(saved.error()));
            return;
          }
          auto fetch = state.fetches.find(community);
          auto torrent = state.torrents.find(community);
          if (fetch == state.fetches.end() || torrent == state.torrents.end()) {
            // Not fetched here (or dropped meanwhile): no staged index.
            state.fetches.erase(community);
            promise.deliver(true);
            return;
          }
          // The .torrent is the new set's now, so its index takes the
          // place of the old one; a crash in between is repaired at start
          // (promote_fetched_index). The flush after the rename is answered
          // once libtorrent's disk thread did both, in order.
          auto hash = torrent->second;
          int earlier_flushes = fetch->second.flushing ? 1 : 0;
          state.fetches.erase(fetch);
          auto failed = [&](const error& e) { promise.deliver(to_caf_error(e)); };
          if (auto renamed = state.session->rename_file(hash, 1, community + "/index"); !renamed)
            return failed(renamed.error());
          if (auto flushed = state.session->flush(hash); !flushed)
            return failed(flushed.error());
          state.renaming[hash] = {community, earlier_flushes, promise};
        });
      return promise;
    },
    [self](status_atom) {
      auto& state = self->state;
      component_status out;
      out.component = "distribution";
      auto port = state.session->listen_port();
      auto listen = format_host_port(state.config.listen_ip, port);
      out.detail("backend", "bittorrent").detail("listen", listen);
      // Where peers on other hosts reach it (what x.pe carries).
      for (const auto& a : advertised_peers(self))
        out.detail("address", a);
      std::uint64_t peers = 0, down_rate = 0, up_rate = 0, seeded = 0;
      std::uint64_t fetching = 0;
      std::set<std::string> communities;
      for (const auto& [community, bytes] : state.retired_upload)
        communities.insert(community);
      for (const auto& [community, hash] : state.torrents)
        communities.insert(community);
      for (const auto& community : communities) {
        std::uint64_t up = state.retired_upload[community];
        std::uint64_t down = state.retired_download[community];
        if (auto t = state.torrents.find(community); t != state.torrents.end()) {
          if (auto progress = state.session->progress(t->second)) {
            up += progress->total_upload;
            down += progress->total_download;
            peers += static_cast<std::uint64_t>(std::max(0, progress->num_peers));
            down_rate += progress->download_rate;
            up_rate += progress->upload_rate;
            out.gauge("annals_torrent_peers", "BitTorrent peers of the community's torrent",
                      std::max(0, progress->num_peers), {"community", community});
          }
        }
        fetching += state.fetches.count(community);
        seeded += up;
        out.counter("annals_seeded_bytes_total", "Payload bytes uploaded to BitTorrent peers",
                    double(up), {"community", community})
          .counter("annals_torrent_downloaded_bytes_total",
                   "Payload bytes downloaded from BitTorrent peers", double(down),
                   {"community", community});
      }
      // What an operator reads in `annals run`'s status line.
      char figures[160];
      std::snprintf(figures, sizeof figures,
                    ", %llu peers, up %.2f MB/s (%.1f MB seeded), down %.2f MB/s",
                    static_cast<unsigned long long>(peers), double(up_rate) / 1e6,
                    double(seeded) / 1e6, double(down_rate) / 1e6);
      out.state = "BitTorrent on " + listen + ", " + std::to_string(state.torrents.size())
                  + " torrents" + figures;
      out.gauge("annals_torrents", "Torrents in the session (seeded or fetched)",
                double(state.torrents.size()))
        .gauge("annals_torrents_fetching", "Torrents a member is fetching", double(fetching))
        .gauge("annals_torrent_session_peers", "BitTorrent peers over all torrents", double(peers))
        .gauge("annals_torrent_download_rate_bytes_per_second", "Payload download rate, bytes per second",
               double(down_rate))
        .gauge("annals_torrent_upload_rate_bytes_per_second", "Payload upload rate, bytes per second",
               double(up_rate))
        .counter("annals_torrent_errors_total", "Torrent errors libtorrent reported",
                 double(state.torrent_errors))
        .counter("annals_torrent_pieces_failed_total",
                 "Pieces that failed their hash check (a peer sent bad data) and were fetched "
                 "again",
                 double(state.pieces_failed))
        .counter("annals_torrent_peers_banned_total",
                 "BitTorrent peers banned for sending corrupt pieces", double(state.peers_banned))
        .counter("annals_torrent_alert_wakeups_total",
                 "Times libtorrent woke the distribution actor to drain its alerts",
                 double(state.alert_wakeups));
      return out;
    },
    [self](poll_atom) {
      auto& state = self->state;
      std::set<std::string> moved;  // fetches to tell their watcher about
      for (const auto& event : state.session->poll(std::chrono::milliseconds(0))) {
        auto [community, entry] = fetch_of_hash(self, event.info_hash);
        if (community)
          moved.insert(*community);
        if (event.what == torrent_event::kind::flushed)
          if (auto pending = state.renaming.find(event.info_hash); pending != state.renaming.end()) {
            if (pending->second.earlier_flushes > 0) {
              --pending->second.earlier_flushes;
              continue;
            }
            check_promoted_index(self, pending->second.community, pending->second.promise);
            state.renaming.erase(pending);
            continue;
          }
        switch (event.what) {
          case torrent_event::kind::flushed:
            if (entry && entry->flushing) {
              entry->flushing = false;
              entry->index_ready = entry->index_ready || entry->flushing_index;
              entry->ready.insert(entry->flushing_archives.begin(),
                                  entry->flushing_archives.end());
              entry->flushing_archives.clear();
            }
            break;
          case torrent_event::kind::peer_disconnected:
            if (entry)
              entry->peer_error = event.message;
            break;
          case torrent_event::kind::piece_failed:
            // Fetched again from another peer; the peer that sent it loses
            // trust and, alone behind a bad piece, is banned.
            ++state.pieces_failed;
            if (entry)
              entry->peer_error = event.message;
            break;
          case torrent_event::kind::peer_banned:
            ++state.peers_banned;
            log_warn("distribution", "torrent " + event.info_hash + ": banned peer "
                                       + event.message + " for sending corrupt pieces");
            break;
          case torrent_event::kind::error:
            ++state.torrent_errors;
            // A fetch reports it with its progress (a piece failing its
            // hash is retried from another peer); a served torrent here.
            if (entry)
              entry->peer_error = event.message;
            else
              log_warn("distribution", "torrent " + event.info_hash + ": " + event.message);
            break;
          default:
            break;
        }
      }
      ++state.alert_wakeups;
      // One word per fetch per drain, however many pieces came: the watcher
      // asks for the whole picture.
      for (const auto& community : moved)
        if (auto it = state.fetches.find(community); it != state.fetches.end())
          if (auto watcher = caf::actor_cast<downloader_actor>(it->second.watcher))
            self->send(watcher, progressed_atom::value, community);
    },
    [self](tick_atom) {
      auto& state = self->state;
      state.sources_tick_pending = false;
      // A connection's bytes are readable only while it lasts.
      for (const auto& [community, entry] : state.fetches)
        note_sources(self, community, entry.info_hash);
      arm_sources_tick(self);
    },
  };
}

} // namespace annals
