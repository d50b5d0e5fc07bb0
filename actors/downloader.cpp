#include "actors/downloader.hpp"
#include "actors/errors.hpp"

#include "core/archive_reader.hpp"
#include "storage/store.hpp"

#include <caf/all.hpp>

#include <sys/statvfs.h>

namespace annals {

namespace {

using self_ptr = downloader_actor::stateful_pointer<downloader_state>;
using task = downloader_state::task;
using phase = downloader_state::phase;
using steady = std::chrono::steady_clock;

void emit(self_ptr self, signal s) {
  self->send(self->state.bus, publish_atom::value, std::move(s));
}

void arm(self_ptr self, const std::string& community, std::uint64_t generation) {
  self->delayed_send(self, self->state.config.tick, tick_atom::value, community, generation);
}

/// Ends the task. status-go sends downloadingHistoryArchivesFinished on
/// errors too; what was downloaded stays, and keeps seeding.
void finish(self_ptr self, const std::string& community, const std::string& failure = {}) {
  if (!failure.empty())
    caf::aout(self) << "downloader: " << community << ": " << failure << "\n";
  if (auto it = self->state.tasks.find(community); it != self->state.tasks.end()) {
    self->state.bytes_fetched[community] = it->second.downloaded;
    self->state.tasks.erase(it);
  }
  self->request(self->state.importer, caf::infinite, import_atom::value, community)
    .then([self, community](std::uint64_t) {
            emit(self, downloading_history_archives_finished{community});
          },
          [self, community](const caf::error& err) {
            caf::aout(self) << "downloader: importing " << community
                            << " failed: " << self->system().render(err) << "\n";
            emit(self, downloading_history_archives_finished{community});
          });
}

std::optional<std::uint64_t> free_bytes(const std::filesystem::path& dir) {
  struct statvfs st;
  if (::statvfs(dir.c_str(), &st) != 0)
    return std::nullopt;
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

bool have_all(const fetch_status& status, int first, int end) {
  if (status.pieces.size() < static_cast<std::size_t>(end))
    return false;
  for (int i = first; i < end; ++i)
    if (status.pieces[static_cast<std::size_t>(i)] == 0)
      return false;
  return true;
}

/// Wants every missing archive at once: libtorrent fetches them from all
/// peers in parallel, and they are recorded and imported oldest first as
/// their pieces complete (one archive at a time with a poll between each
/// cost a tick and a flush per archive: seconds for a few dozen archives).
void want_missing(self_ptr self, task& t) {
  for (const auto& archive : t.missing)
    self->send(self->state.seeder, want_atom::value, t.info_hash,
               static_cast<std::int32_t>(archive.first_piece),
               static_cast<std::int32_t>(archive.end_piece));
}

/// The torrent is complete as far as this node wants it: keep it for
/// re-seeding after a restart and remember the link as processed.
void complete(self_ptr self, const std::string& community) {
  // Busy until finish() removes the task: no tick may advance it further.
  auto& t = self->state.tasks.at(community);
  t.busy = true;
  auto generation = t.generation;
  auto magnet = t.magnet;
  auto current = [self, community, generation] {
    auto it = self->state.tasks.find(community);
    return it != self->state.tasks.end() && it->second.generation == generation;
  };
  self->request(self->state.seeder, caf::infinite, save_atom::value, community)
    .then(
      [self, community, magnet, current](bool) {
        if (!current())
          return;  // a newer link took over meanwhile
        auto key = public_key::from_community_id(community);
        if (auto saved = self->state.db->set_last_magnet_uri(*key, magnet); !saved)
          caf::aout(self) << "downloader: " << saved.error().to_string() << "\n";
        emit(self, history_archives_seeding{community, magnet});
        finish(self, community);
      },
      [self, community, current](const caf::error& err) {
        if (current())
          finish(self, community, "saving the torrent failed: " + self->system().render(err));
      });
}

/// The next `t.ready` archives' pieces are had and flushed: record each as
/// downloaded, oldest first (before importing, so a crash between the two
/// is resumed at start-up), then import them.
void archives_arrived(self_ptr self, const std::string& community) {
  auto& t = self->state.tasks.at(community);
  auto key = *public_key::from_community_id(community);
  archive_layout layout{self->state.config.archive_root, community};
  for (; t.ready > 0; --t.ready, ++t.next) {
    const auto& archive = t.missing[t.next];
    auto decoded = read_archive(layout.data_file(), archive.entry);
    if (!decoded) {
      finish(self, community, "archive " + archive.id + ": " + decoded.error().to_string());
      return;
    }
    built_archive held{archive.id, archive.entry,
                       static_cast<std::size_t>(decoded->messages_size())};
    if (auto marked = self->state.db->mark_archives_downloaded(key, {held}); !marked) {
      finish(self, community, marked.error().to_string());
      return;
    }
    const auto& meta = archive.entry.metadata();
    emit(self, history_archive_downloaded{community, meta.from(), meta.to()});
  }
  self->request(self->state.importer, caf::infinite, import_atom::value, community)
    .then([](std::uint64_t) {}, [](const caf::error&) {});
  if (t.next == t.missing.size()) {
    complete(self, community);
    return;
  }
  t.since = steady::now();
}

void index_arrived(self_ptr self, const std::string& community) {
  auto& t = self->state.tasks.at(community);
  archive_layout layout{self->state.config.archive_root, community};
  auto index = read_index(layout.index_file());
  if (!index) {
    finish(self, community, index.error().to_string());
    return;
  }
  if (auto checked = check_index_for_torrent(*index, t.meta.data_size); !checked) {
    finish(self, community, "index: " + checked.error().to_string());
    return;
  }
  auto key = *public_key::from_community_id(community);
  std::set<std::string> held;
  if (auto archives = self->state.db->list_archives(key))
    for (const auto& [id, record] : *archives)
      held.insert(id);
  t.missing = missing_archives(*index, held);
  if (t.missing.empty()) {
    complete(self, community);
    return;
  }
  emit(self, downloading_history_archives_started{community});
  t.at = phase::archives;
  t.next = 0;
  t.ready = 0;
  t.since = steady::now();
  want_missing(self, t);
}

void metadata_arrived(self_ptr self, const std::string& community, const torrent_summary& meta) {
  auto& state = self->state;
  auto& t = state.tasks.at(community);
  if (auto ok = check_torrent_for_fetch(meta, community, state.config.limits); !ok) {
    // A hostile torrent: drop it before a single piece is wanted.
    self->send(state.seeder, unseed_atom::value, community);
    finish(self, community, "torrent refused: " + ok.error().to_string());
    return;
  }
  auto free = free_bytes(state.config.archive_root);
  auto needed = meta.data_size + meta.index_size + state.config.disk_headroom;
  if (free && *free < needed) {
    self->send(state.seeder, unseed_atom::value, community);
    finish(self, community, "not enough disk space in " + state.config.archive_root.string()
                              + ": the archives need " + std::to_string(needed) + " bytes, "
                              + std::to_string(*free) + " are free");
    return;
  }
  t.meta = meta;
  t.at = phase::index;
  t.since = steady::now();
  auto first_index_piece = static_cast<std::int32_t>(meta.data_size / archive_piece_length);
  self->send(state.seeder, want_atom::value, t.info_hash, first_index_piece,
             static_cast<std::int32_t>(meta.piece_count));
}

/// Flushes libtorrent's write cache, then runs `next` (files are read next).
template <class Next>
void after_flush(self_ptr self, const std::string& community, std::uint64_t generation, Next next) {
  auto& t = self->state.tasks.at(community);
  t.busy = true;
  self->request(self->state.seeder, std::chrono::seconds(30), flush_atom::value, t.info_hash)
    .then(
      [self, community, generation, next](bool) {
        auto it = self->state.tasks.find(community);
        if (it == self->state.tasks.end() || it->second.generation != generation)
          return;
        it->second.busy = false;
        next(self, community);
      },
      [self, community, generation](const caf::error& err) {
        auto it = self->state.tasks.find(community);
        if (it != self->state.tasks.end() && it->second.generation == generation)
          finish(self, community, "flushing the download failed: " + self->system().render(err));
      });
}

void advance(self_ptr self, const std::string& community, std::uint64_t generation) {
  auto& t = self->state.tasks.at(community);
  const auto& config = self->state.config;
  auto now = steady::now();
  if (t.at == phase::metadata && now - t.since > config.metadata_timeout) {
    if (t.attempts >= config.metadata_attempts) {
      finish(self, community, "no metadata from any peer within "
                                + std::to_string(config.metadata_timeout.count()) + " s ("
                                + std::to_string(t.attempts) + " attempts)");
      return;
    }
    ++t.attempts;
    t.since = now;
    t.busy = true;
    self->request(self->state.seeder, caf::infinite, fetch_atom::value, community, t.magnet)
      .then([self, community, generation](const std::string& hash) {
              auto it = self->state.tasks.find(community);
              if (it != self->state.tasks.end() && it->second.generation == generation) {
                it->second.info_hash = hash;
                it->second.busy = false;
              }
            },
            [self, community](const caf::error& err) {
              finish(self, community, self->system().render(err));
            });
    return;
  }
  if (t.at != phase::metadata && now - t.since > config.stall_timeout) {
    finish(self, community, "no data from any peer for "
                              + std::to_string(config.stall_timeout.count()) + " s");
    return;
  }
  t.busy = true;
  self->request(self->state.seeder, caf::infinite, progress_atom::value, t.info_hash)
    .then(
      [self, community, generation](const fetch_status& status) {
        auto it = self->state.tasks.find(community);
        if (it == self->state.tasks.end() || it->second.generation != generation)
          return;
        auto& t = it->second;
        t.busy = false;
        if (status.downloaded > t.downloaded) {
          t.downloaded = status.downloaded;
          if (t.at != phase::metadata)
            t.since = steady::now();
        }
        switch (t.at) {
          case phase::metadata:
            if (!status.has_metadata)
              return;
            t.busy = true;
            self->request(self->state.seeder, caf::infinite, metadata_atom::value, t.info_hash)
              .then(
                [self, community, generation](const torrent_summary& meta) {
                  auto it = self->state.tasks.find(community);
                  if (it == self->state.tasks.end() || it->second.generation != generation)
                    return;
                  it->second.busy = false;
                  metadata_arrived(self, community, meta);
                },
                [self, community](const caf::error& err) {
                  self->send(self->state.seeder, unseed_atom::value, community);
                  finish(self, community, "torrent refused: " + self->system().render(err));
                });
            return;
          case phase::index:
            if (have_all(status, static_cast<int>(t.meta.data_size / archive_piece_length),
                         static_cast<int>(t.meta.piece_count)))
              after_flush(self, community, generation, index_arrived);
            return;
          case phase::archives: {
            // Every archive complete from the oldest unrecorded one on: one
            // flush covers them all.
            t.ready = 0;
            for (auto i = t.next; i < t.missing.size(); ++i) {
              const auto& archive = t.missing[i];
              if (!have_all(status, archive.first_piece, archive.end_piece))
                break;
              ++t.ready;
            }
            if (t.ready > 0)
              after_flush(self, community, generation, archives_arrived);
            return;
          }
        }
      },
      [self, community](const caf::error& err) {
        finish(self, community, self->system().render(err));
      });
}

} // namespace

downloader_actor::behavior_type
downloader(downloader_actor::stateful_pointer<downloader_state> self, downloader_config config,
           std::shared_ptr<store> db, seeder_actor seeder, importer_actor importer,
           signal_bus_actor bus) {
  auto& state = self->state;
  state.config = std::move(config);
  state.db = std::move(db);
  state.seeder = std::move(seeder);
  state.importer = std::move(importer);
  state.bus = std::move(bus);
  return {
    [self](fetch_atom, const std::string& community, const std::string& magnet,
           std::uint64_t clock) {
      auto& state = self->state;
      // The same link again (a republish or a welcome) while it is being
      // fetched: keep going, only the clock is newer.
      if (auto running = state.tasks.find(community);
          running != state.tasks.end() && running->second.magnet == magnet) {
        running->second.clock = std::max(running->second.clock, clock);
        return;
      }
      // A newer link replaces the running task; the seeder drops its torrent
      // when the new one is added, and stale replies see another generation.
      auto& t = state.tasks[community];
      t = task{};
      t.generation = ++state.generations;
      t.magnet = magnet;
      t.clock = clock;
      t.since = steady::now();
      t.busy = true;
      auto generation = t.generation;
      self->request(state.seeder, caf::infinite, fetch_atom::value, community, magnet)
        .then(
          [self, community, generation](const std::string& hash) {
            auto it = self->state.tasks.find(community);
            if (it == self->state.tasks.end() || it->second.generation != generation)
              return;
            it->second.info_hash = hash;
            it->second.busy = false;
            arm(self, community, generation);
          },
          [self, community, generation](const caf::error& err) {
            auto it = self->state.tasks.find(community);
            if (it != self->state.tasks.end() && it->second.generation == generation)
              finish(self, community, "cannot fetch the magnet link: " + self->system().render(err));
          });
    },
    [self](cancel_atom, const std::string& community) {
      if (self->state.tasks.erase(community) > 0)
        self->send(self->state.seeder, unseed_atom::value, community);
    },
    [self](tick_atom, const std::string& community, std::uint64_t generation) {
      auto it = self->state.tasks.find(community);
      if (it == self->state.tasks.end() || it->second.generation != generation)
        return;
      if (!it->second.busy)
        advance(self, community, generation);
      if (self->state.tasks.count(community)
          && self->state.tasks.at(community).generation == generation)
        arm(self, community, generation);
    },
    [self](status_atom) {
      std::vector<std::string> running;
      for (const auto& [community, t] : self->state.tasks)
        running.push_back(community);
      return running;
    },
    [self](progress_atom, const std::string& community) {
      auto it = self->state.bytes_fetched.find(community);
      return it == self->state.bytes_fetched.end() ? std::uint64_t{0} : it->second;
    },
  };
}

} // namespace annals
