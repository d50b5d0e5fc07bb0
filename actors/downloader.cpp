#include "actors/downloader.hpp"

#include <annals/log.hpp>
#include "actors/errors.hpp"

#include "core/archive_reader.hpp"
#include "storage/community_keys.hpp"
#include "storage/store.hpp"

#include <caf/all.hpp>

namespace annals {

namespace {

using self_ptr = downloader_actor::stateful_pointer<downloader_state>;
using task = downloader_state::task;

void emit(self_ptr self, signal s) {
  self->send(self->state.bus, publish_atom::value, std::move(s));
}

void arm(self_ptr self, const std::string& community, std::uint64_t generation) {
  self->delayed_send(self, self->state.config.tick, tick_atom::value, community, generation);
}

/// The community's task if it is still the one of `generation` (a newer
/// link replaces a task; replies to the old one must not touch the new).
task* current(self_ptr self, const std::string& community, std::uint64_t generation) {
  auto it = self->state.tasks.find(community);
  return it != self->state.tasks.end() && it->second.generation == generation ? &it->second
                                                                              : nullptr;
}

/// Ends the task: downloadingHistoryArchivesFinished when it got everything,
/// annals.downloadFailed otherwise (status-go says "finished" either way).
/// What was downloaded stays, is imported, and keeps seeding.
void finish(self_ptr self, const std::string& community, const std::string& failure = {}) {
  auto& counts = self->state.counts[community];
  if (!failure.empty()) {
    log_warn("downloader", community + ": download failed: " + failure);
    self->state.last_errors[community] = failure;
    ++counts.failed;
  } else {
    self->state.last_errors.erase(community);
    ++counts.finished;
  }
  if (auto it = self->state.tasks.find(community); it != self->state.tasks.end()) {
    auto received = it->second.fetch ? it->second.fetch->received() : 0;
    self->state.bytes_fetched[community] = received;
    counts.bytes += received;
    self->state.tasks.erase(it);
  }
  if (auto next = self->state.queued.find(community); next != self->state.queued.end()) {
    auto link = std::move(next->second);
    self->state.queued.erase(next);
    self->send(self, fetch_atom::value, community, link.magnet, link.clock);
  }
  // What arrived is imported either way; only a complete download whose
  // import succeeded is "finished". A failed import is a failed download
  // (the importer retries one that met a full disk, and says "finished"
  // when it gets through).
  self->request(self->state.importer, caf::infinite, import_atom::value, community)
    .then(
      [self, community, failure](std::uint64_t) {
        if (failure.empty())
          emit(self, downloading_history_archives_finished{community});
        else
          emit(self, download_failed{community, failure});
      },
      [self, community, failure](const caf::error& err) {
        auto why = "importing failed: " + self->system().render(err);
        log_error("downloader", community + ": " + why);
        // Counted by the importer (annals_import_failures_total); the
        // transfer itself stays counted as it ended.
        self->state.last_errors[community] = why;
        emit(self, download_failed{community, failure.empty() ? why : failure + "; " + why});
      });
}

std::filesystem::file_time_type changed_at(const std::filesystem::path& file) {
  std::error_code ec;
  return std::filesystem::last_write_time(file, ec);
}

/// A key is missing: say which, end the task, and wait for the keys file
/// to change before fetching the link again.
void park(self_ptr self, const std::string& community, const error& why) {
  auto* t = &self->state.tasks.at(community);
  auto key_id = hr_missing_key_id(why);
  emit(self, archive_key_missing{community, key_id});
  auto magnet = t->magnet;
  auto clock = t->clock;
  finish(self, community, why.message);
  off_scheduler(
    self, self->state.config.io,
    [db = self->state.db, community, key_id]() {
      if (auto noted = db->put_setting(missing_key_setting(community), key_id); !noted)
        log_error("downloader", noted.error().to_string());
      std::filesystem::path keys_file;
      auto key = public_key::from_community_id(community);
      if (key)
        if (auto record = db->get_community(*key); record && *record)
          keys_file = (*record)->keys_file();
      return std::make_pair(keys_file, changed_at(keys_file));
    },
    [self, community, magnet, clock](
      const std::pair<std::filesystem::path, std::filesystem::file_time_type>& keys) {
      self->state.parked[community] =
        downloader_state::parked_fetch{magnet, clock, keys.first, keys.second};
      if (!self->state.polling) {
        self->state.polling = true;
        self->delayed_send(self, self->state.config.keys_poll, poll_atom::value);
      }
    });
}

/// Everything wanted is held: the backend keeps serving it after a restart,
/// and the link is remembered as processed.
void complete(self_ptr self, const std::string& community, std::uint64_t generation) {
  // Busy until finish() removes the task: no tick may advance it further.
  auto* t = current(self, community, generation);
  t->busy = true;
  auto magnet = t->magnet;
  auto clock = t->clock;
  self->request(self->state.distribution, caf::infinite, save_atom::value, community)
    .then(
      [self, community, generation, magnet, clock](bool) {
        if (!current(self, community, generation))
          return;  // a newer link took over meanwhile
        // A newer link that waited stays the one a restart resumes.
        bool clear_pending = !self->state.queued.count(community);
        off_scheduler(
          self, self->state.config.io,
          [db = self->state.db, community, magnet, clock, clear_pending] {
            auto key = public_key::from_community_id(community);
            if (auto saved = db->set_completed_link(*key, magnet, clock); !saved)
              log_error("downloader", saved.error().to_string());
            (void)db->put_setting(missing_key_setting(community), "");
            if (clear_pending)
              (void)db->put_setting(pending_link_setting(community), "");
          },
          [self, community, generation, magnet] {
            if (!current(self, community, generation))
              return;
            emit(self, history_archives_seeding{community, magnet});
            finish(self, community);
          });
      },
      [self, community, generation](const caf::error& err) {
        if (current(self, community, generation))
          finish(self, community, "keeping the archives failed: " + self->system().render(err));
      });
}

/// What recording a batch of arrived archives came to.
struct recorded_archives {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> windows;  // [from, to) of each recorded
  std::optional<error> missing_key;  // stopped at an archive sealed with a key we lack
  std::string failure;               // stopped at an archive that does not decode or record
};

/// Decodes each archive from the data file and records it as downloaded,
/// oldest first; on the storage thread (an archive is up to 30 MB).
recorded_archives record_archives(store& db, const archive_layout& layout, const public_key& key,
                                  const std::vector<archive_pieces>& archives,
                                  std::shared_ptr<const hr_keyring> keys) {
  recorded_archives out;
  for (const auto& archive : archives) {
    auto decoded = read_archive(layout.data_file(), archive.entry, keys.get());
    if (!decoded && decoded.error().code == errc::missing_key) {
      out.missing_key = decoded.error();
      return out;
    }
    if (!decoded) {
      out.failure = "archive " + archive.id + ": " + decoded.error().to_string();
      return out;
    }
    built_archive held{archive.id, archive.entry,
                       static_cast<std::size_t>(decoded->messages_size())};
    if (auto marked = db.mark_archives_downloaded(key, {held}); !marked) {
      out.failure = marked.error().to_string();
      return out;
    }
    const auto& meta = archive.entry.metadata();
    out.windows.emplace_back(meta.from(), meta.to());
  }
  return out;
}

void advance(self_ptr self, const std::string& community, std::uint64_t generation);

/// The backend moved while a request was in flight: ask where it stands now.
void catch_up(self_ptr self, const std::string& community, std::uint64_t generation) {
  auto* t = current(self, community, generation);
  if (t && !t->busy && t->stale) {
    t->stale = false;
    advance(self, community, generation);
  }
}

/// Records arrived archives as downloaded, oldest first, then imports them;
/// the task waits (busy) meanwhile, and completes after the last.
void record(self_ptr self, const std::string& community, std::uint64_t generation,
            std::vector<archive_pieces> archives, bool last) {
  auto* t = current(self, community, generation);
  t->busy = true;
  off_scheduler(
    self, self->state.config.io,
    [db = self->state.db, layout = archive_layout{self->state.config.archive_root, community},
     key = *public_key::from_community_id(community), archives = std::move(archives),
     keys = t->fetch->shared_keys()] { return record_archives(*db, layout, key, archives, keys); },
    [self, community, generation, last](const recorded_archives& r) {
      auto* t = current(self, community, generation);
      if (!t)
        return;  // a newer link took over; what was recorded stays recorded
      t->busy = false;
      for (const auto& [from, to] : r.windows) {
        ++self->state.counts[community].archives;
        emit(self, history_archive_downloaded{community, from, to});
      }
      if (!r.windows.empty())
        self->request(self->state.importer, caf::infinite, import_atom::value, community)
          .then([](std::uint64_t) {}, [](const caf::error&) {});
      if (r.missing_key) {
        park(self, community, *r.missing_key);
        return;
      }
      if (!r.failure.empty()) {
        finish(self, community, r.failure);
        return;
      }
      if (last)
        complete(self, community, generation);
      else
        catch_up(self, community, generation);
    });
}

/// Starts (or restarts) the backend's fetch of the task's link.
void start_fetch(self_ptr self, const std::string& community, std::uint64_t generation) {
  auto* t = current(self, community, generation);
  t->busy = true;
  self
    ->request(self->state.distribution, caf::infinite, fetch_atom::value, community, t->magnet,
              std::vector<std::string>{})
    .then(
      [self, community, generation](const std::string&) {
        if (auto* t = current(self, community, generation))
          t->busy = false;
        catch_up(self, community, generation);
      },
      [self, community, generation](const caf::error& err) {
        if (current(self, community, generation))
          finish(self, community, "cannot fetch the magnet link: " + self->system().render(err));
      });
}

/// Carries out what the member sequence decided.
void act(self_ptr self, const std::string& community, std::uint64_t generation,
         member_step step) {
  auto& distribution = self->state.distribution;
  switch (step.kind) {
    case member_step::wait:
      return;
    case member_step::relocate:
      start_fetch(self, community, generation);
      return;
    case member_step::want_index:
      self->send(distribution, index_atom::value, community, step.with_data);
      return;
    case member_step::want_archives:
      emit(self, downloading_history_archives_started{community});
      // Every missing archive at once: the backend fetches them from all
      // peers in parallel; they are recorded oldest first as they arrive.
      self->send(distribution, want_atom::value, community, std::move(step.slots));
      return;
    case member_step::record:
      record(self, community, generation, std::move(step.archives), step.last);
      return;
    case member_step::complete:
      complete(self, community, generation);
      return;
    case member_step::refuse:
      // A hostile or oversized set: dropped before anything of it is wanted,
      // and not tried again at the next start.
      self->send(distribution, unseed_atom::value, community);
      off_scheduler(self->state.config.io, [db = self->state.db, community] {
        (void)db->put_setting(pending_link_setting(community), "");
      });
      finish(self, community, "refused: " + step.reason);
      return;
    case member_step::fail:
      if (step.code == errc::missing_key)
        park(self, community, error{step.code, step.reason});
      else
        finish(self, community, step.reason);
      return;
  }
}

void advance(self_ptr self, const std::string& community, std::uint64_t generation) {
  current(self, community, generation)->busy = true;
  self->request(self->state.distribution, caf::infinite, progress_atom::value, community)
    .then(
      [self, community, generation](const fetch_progress& progress) {
        auto* t = current(self, community, generation);
        if (!t)
          return;
        t->busy = false;
        if (progress.received > t->last.received)
          t->moved = self->clock().now();
        t->last = progress;
        self->state.sources[community] = progress.sources;
        act(self, community, generation, t->fetch->advance(progress, self->clock().now()));
        catch_up(self, community, generation);
      },
      [self, community, generation](const caf::error& err) {
        if (current(self, community, generation))
          finish(self, community, self->system().render(err));
      });
}

} // namespace

downloader_actor::behavior_type
downloader(downloader_actor::stateful_pointer<downloader_state> self, downloader_config config,
           std::shared_ptr<store> db, archive_distribution_actor distribution,
           importer_actor importer, signal_bus_actor bus) {
  auto& state = self->state;
  state.config = std::move(config);
  state.db = std::move(db);
  state.distribution = std::move(distribution);
  state.importer = std::move(importer);
  state.bus = std::move(bus);
  return {
    [self](fetch_atom, const std::string& community, const std::string& magnet,
           std::uint64_t clock) {
      auto& state = self->state;
      // The same link again while it waits for a key: trying again would
      // fail the same way; the keys file's watch restarts it once it changes.
      if (auto parked = state.parked.find(community);
          parked != state.parked.end() && parked->second.magnet == magnet)
        return;
      // The same link again (a republish or a welcome) while it is being
      // fetched: keep going, only the clock is newer.
      if (auto running = state.tasks.find(community);
          running != state.tasks.end() && running->second.magnet == magnet) {
        running->second.clock = std::max(running->second.clock, clock);
        return;
      }
      // Archives are arriving for an older link: they are in the newer set
      // too (data only grows), so the task goes on and the newer link
      // follows it. Restarting would throw away the connections and recheck
      // every piece, and an owner that builds more often than this member
      // can fetch would keep it from ever finishing.
      if (auto running = state.tasks.find(community);
          running != state.tasks.end() && running->second.fetch
          && running->second.fetch->at() == member_fetch::phase::archives) {
        auto& next = state.queued[community];
        if (clock >= next.clock) {
          next = {magnet, clock};
          // A restart resumes the newest link, not the one running now.
          off_scheduler(state.config.io, [db = state.db, community, clock, magnet] {
            (void)db->put_setting(pending_link_setting(community),
                                  encode_pending_link(clock, magnet));
          });
          log_info("downloader", community.substr(0, 10)
                                   + "…: a newer link waits for the running download");
        }
        return;
      }
      state.queued.erase(community);
      // What this member holds of the set, and the keys that open it, are
      // read on the storage thread; the task starts when they are back.
      struct holdings {
        std::set<std::string> held;
        std::shared_ptr<const hr_keyring> keys;
        std::string failure;
      };
      off_scheduler(
        self, state.config.io,
        [db = state.db, community, clock, magnet] {
          holdings out;
          auto key = public_key::from_community_id(community);
          if (!key)
            return out;
          if (auto archives = db->list_archives(*key))
            for (const auto& [id, record] : *archives)
              out.held.insert(id);
          if (auto record = db->get_community(*key); record && *record) {
            auto loaded = community_keys(**record);
            if (!loaded) {
              out.failure = loaded.error().to_string();
              return out;
            }
            out.keys = std::move(*loaded);
          }
          // Kept until the fetch completes, so a restart resumes it.
          if (auto kept = db->put_setting(pending_link_setting(community),
                                          encode_pending_link(clock, magnet));
              !kept)
            log_error("downloader", kept.error().to_string());
          return out;
        },
        [self, community, magnet, clock](holdings h) {
          auto& state = self->state;
          if (!h.failure.empty()) {
            log_error("downloader", community + ": " + h.failure);
            return;
          }
          state.parked.erase(community);
          // A newer link replaces the running task; the backend drops the
          // old fetch when the new one starts, and stale replies see another
          // generation.
          auto& t = state.tasks[community];
          t = task{};
          t.generation = ++state.generations;
          t.magnet = magnet;
          t.clock = clock;
          auto options = state.config.fetch;
          options.keys = std::move(h.keys);
          t.fetch.emplace(community, state.config.archive_root, std::move(h.held),
                          std::move(options), self->clock().now());
          t.moved = self->clock().now();
          ++state.counts[community].started;
          log_debug("downloader", community + ": fetching " + magnet);
          start_fetch(self, community, t.generation);
          arm(self, community, t.generation);
        });
    },
    [self](cancel_atom, const std::string& community) {
      self->state.queued.erase(community);
      if (self->state.tasks.erase(community) > 0)
        self->send(self->state.distribution, unseed_atom::value, community);
    },
    [self](tick_atom, const std::string& community, std::uint64_t generation) {
      auto* t = current(self, community, generation);
      if (!t)
        return;
      // A newer link waits, and this older set stopped arriving: the newer
      // set holds everything it does, so it takes over.
      if (auto next = self->state.queued.find(community);
          next != self->state.queued.end() && !t->busy
          && self->clock().now() - t->moved >= self->state.queued_patience) {
        auto link = std::move(next->second);
        self->state.queued.erase(next);
        log_info("downloader", community.substr(0, 10) + "…: no byte of the older set for "
                                 + std::to_string(self->state.queued_patience.count())
                                 + " s; the newer link takes over");
        self->state.tasks.erase(community);
        self->send(self, fetch_atom::value, community, link.magnet, link.clock);
        return;
      }
      if (!t->busy)
        advance(self, community, generation);
      if (current(self, community, generation))
        arm(self, community, generation);
    },
    [self](progressed_atom, const std::string& community) {
      auto it = self->state.tasks.find(community);
      if (it == self->state.tasks.end())
        return;
      if (it->second.busy)
        it->second.stale = true;
      else
        advance(self, community, it->second.generation);
    },
    [self](poll_atom) {
      auto& state = self->state;
      // The keys files are looked at on the I/O thread.
      std::map<std::string, std::filesystem::path> files;
      for (const auto& [community, parked] : state.parked)
        files.emplace(community, parked.keys_file);
      off_scheduler(
        self, state.config.io,
        [files = std::move(files)] {
          std::map<std::string, std::filesystem::file_time_type> changed;
          for (const auto& [community, file] : files)
            changed.emplace(community, changed_at(file));
          return changed;
        },
        [self](const std::map<std::string, std::filesystem::file_time_type>& changed) {
          auto& state = self->state;
          state.polling = false;
          std::vector<std::pair<std::string, downloader_state::parked_fetch>> ready;
          for (const auto& [community, parked] : state.parked)
            if (auto it = changed.find(community);
                it != changed.end() && it->second != parked.keys_changed)
              ready.emplace_back(community, parked);
          for (auto& [community, parked] : ready) {
            state.parked.erase(community);
            self->send(self, fetch_atom::value, community, parked.magnet, parked.clock);
          }
          if (!state.parked.empty()) {
            state.polling = true;
            self->delayed_send(self, state.config.keys_poll, poll_atom::value);
          }
        });
    },
    [self](status_atom) {
      auto& st = self->state;
      component_status out;
      out.component = "downloader";
      out.state = std::to_string(st.tasks.size()) + " downloads running";
      if (!st.parked.empty())
        out.state += ", " + std::to_string(st.parked.size()) + " waiting for a key";
      out.gauge("annals_downloads_running", "Archive downloads in progress",
                static_cast<double>(st.tasks.size()))
        .gauge("annals_downloads_waiting_for_key",
               "Downloads parked until a hash-ratchet key arrives",
               static_cast<double>(st.parked.size()));
      for (const auto& [community, c] : st.counts) {
        std::vector<std::string> label{"community", community};
        out.counter("annals_downloads_started_total", "Downloads started (one per new link)",
                    double(c.started), label)
          .counter("annals_downloads_finished_total", "Downloads that got everything wanted",
                   double(c.finished), label)
          .counter("annals_downloads_failed_total",
                   "Downloads that failed or gave up (annals.downloadFailed)", double(c.failed),
                   label)
          .counter("annals_archives_downloaded_total", "Archives downloaded and recorded",
                   double(c.archives), label);
        auto running = st.tasks.find(community);
        auto received = running != st.tasks.end() && running->second.fetch
                          ? running->second.fetch->received()
                          : 0;
        out.counter("annals_fetched_bytes_total", "Payload bytes received for archives",
                    double(c.bytes + received), label);
      }
      for (const auto& [community, error] : st.last_errors)
        out.detail("last_error", community + ": " + error);
      return out;
    },
    [self](checked_atom, const std::string& community) {
      self->state.links_checked.insert(community);
    },
    [self](progress_atom, const std::string& community) {
      auto& state = self->state;
      download_status out;
      out.links_checked = state.links_checked.count(community) != 0;
      if (auto it = state.bytes_fetched.find(community); it != state.bytes_fetched.end())
        out.bytes_fetched = it->second;
      if (auto it = state.last_errors.find(community); it != state.last_errors.end())
        out.last_error = it->second;
      if (auto it = state.sources.find(community); it != state.sources.end())
        out.sources = it->second;
      if (auto it = state.tasks.find(community); it != state.tasks.end() && it->second.fetch) {
        const auto& fetch = *it->second.fetch;
        const auto& last = it->second.last;
        out.bytes_done = last.wanted_done;
        out.bytes_total = last.wanted_total;
        out.rate = last.rate;
        out.peers = last.peers;
        switch (fetch.at()) {
          case member_fetch::phase::locate:
            out.state = "waiting for metadata (attempt " + std::to_string(fetch.attempts()) + "/"
                        + std::to_string(state.config.fetch.locate_attempts) + ")";
            break;
          case member_fetch::phase::index:
            out.state = "fetching the index";
            break;
          case member_fetch::phase::archives:
          case member_fetch::phase::done:
            out.state = "fetching archives: " + std::to_string(fetch.recorded()) + " of "
                        + std::to_string(fetch.missing().size()) + " recorded";
            break;
        }
      } else if (state.parked.count(community)) {
        out.state = "waiting for a hash-ratchet key";
      }
      return out;
    },
  };
}

} // namespace annals
