#include "actors/seeder.hpp"

#include "actors/errors.hpp"

#include "core/archive_format.hpp"
#include "core/file_io.hpp"
#include "net/torrent_file.hpp"
#include "net/torrent_session.hpp"

#include <caf/all.hpp>

#include <chrono>

namespace annals {

namespace {

constexpr auto alert_poll_interval = std::chrono::milliseconds(200);

using self_ptr = seeder_actor::stateful_pointer<seeder_state>;

void emit(self_ptr self, signal s) {
  self->send(self->state.bus, publish_atom::value, std::move(s));
}

/// Drops the community's current torrent from the session, if any.
void drop(self_ptr self, const std::string& community) {
  auto& state = self->state;
  auto it = state.seeding.find(community);
  if (it == state.seeding.end())
    return;
  if (auto removed = state.session->remove(it->second); !removed)
    caf::aout(self) << "seeder: " << removed.error().to_string() << "\n";
  state.seeding.erase(it);
}

std::string listen_address(self_ptr self) {
  return self->state.config.advertised_host + ":"
         + std::to_string(self->state.session->listen_port());
}

} // namespace

seeder_state::~seeder_state() = default;

seeder_actor::behavior_type seeder(seeder_actor::stateful_pointer<seeder_state> self,
                                   seeder_config config, std::shared_ptr<torrent_session> session,
                                   signal_bus_actor bus) {
  self->state.config = std::move(config);
  self->state.session = std::move(session);
  self->state.bus = std::move(bus);
  self->send(self, poll_atom::value);
  return {
    [self](seed_atom, const std::string& community) -> caf::result<std::string> {
      auto& state = self->state;
      archive_layout layout{state.config.archive_root, community};
      auto torrent = read_archive_torrent(layout.torrent_file());
      if (!torrent)
        return to_caf_error(torrent.error());
      if (torrent->name != community)
        return to_caf_error(errc::verification_failed,
                            layout.torrent_file().string() + " names " + torrent->name);
      auto current = state.seeding.find(community);
      // status-go unseeds before every create-and-seed; a changed torrent
      // replaces the old one here.
      if (current != state.seeding.end() && current->second != torrent->info_hash)
        drop(self, community);
      if (!state.seeding.count(community)) {
        auto added = state.session->seed(layout.torrent_file(), layout.root / "archivedata");
        if (!added)
          return to_caf_error(added.error());
        state.seeding[community] = torrent->info_hash;
      }
      std::vector<std::string> peers;
      if (state.config.advertise_address)
        peers.push_back(listen_address(self));
      auto magnet = magnet_link(torrent->info_hash, torrent->name, torrent->trackers, peers);
      emit(self, history_archives_seeding{community, magnet});
      return magnet;
    },
    [self](unseed_atom, const std::string& community) {
      if (!self->state.seeding.count(community))
        return;
      drop(self, community);
      emit(self, history_archives_unseeded{community});
    },
    [self](poll_atom) {
      auto& state = self->state;
      for (const auto& event : state.session->poll(std::chrono::milliseconds(0))) {
        if (event.what == torrent_event::kind::error) {
          ++state.torrent_errors;
          caf::aout(self) << "seeder: torrent " << event.info_hash << ": " << event.message
                          << "\n";
        } else if (event.what == torrent_event::kind::flushed) {
          auto [first, last] = state.flushes.equal_range(event.info_hash);
          for (auto it = first; it != last; ++it)
            it->second.deliver(true);
          state.flushes.erase(first, last);
        }
      }
      self->delayed_send(self, alert_poll_interval, poll_atom::value);
    },
    [self](fetch_atom, const std::string& community,
           const std::string& magnet) -> caf::result<std::string> {
      auto& state = self->state;
      drop(self, community);
      archive_layout layout{state.config.archive_root, community};
      auto hash = state.session->fetch(magnet, layout.root / "archivedata", {},
                                       /*download_all=*/false);
      if (!hash)
        return to_caf_error(hash.error());
      state.seeding[community] = *hash;
      return *hash;
    },
    [self](want_atom, const std::string& hash, std::int32_t first, std::int32_t end) {
      if (auto wanted = self->state.session->want_pieces(hash, first, end); !wanted)
        caf::aout(self) << "seeder: " << wanted.error().to_string() << "\n";
    },
    [self](progress_atom, const std::string& hash) -> caf::result<fetch_status> {
      auto& session = *self->state.session;
      auto progress = session.progress(hash);
      if (!progress)
        return to_caf_error(progress.error());
      fetch_status status{progress->has_metadata, progress->total_download, {}};
      if (progress->has_metadata) {
        auto pieces = session.have_pieces(hash);
        if (!pieces)
          return to_caf_error(pieces.error());
        status.pieces.reserve(pieces->size());
        for (bool had : *pieces)
          status.pieces.push_back(had ? 1 : 0);
      }
      return status;
    },
    [self](metadata_atom, const std::string& hash) -> caf::result<torrent_summary> {
      auto summary = self->state.session->metadata_summary(hash);
      if (!summary)
        return to_caf_error(summary.error());
      return std::move(*summary);
    },
    [self](flush_atom, const std::string& hash) -> caf::result<bool> {
      if (auto flushed = self->state.session->flush(hash); !flushed)
        return to_caf_error(flushed.error());
      auto promise = self->make_response_promise<bool>();
      self->state.flushes.emplace(hash, promise);
      return promise;
    },
    [self](save_atom, const std::string& community) -> caf::result<bool> {
      auto& state = self->state;
      auto it = state.seeding.find(community);
      if (it == state.seeding.end())
        return to_caf_error(errc::not_found, "no torrent of " + community);
      archive_layout layout{state.config.archive_root, community};
      if (auto dir = create_private_dirs(layout.torrent_file().parent_path()); !dir)
        return to_caf_error(dir.error());
      if (auto saved = state.session->save_torrent_file(it->second, layout.torrent_file()); !saved)
        return to_caf_error(saved.error());
      return true;
    },
    [self](status_atom) { return listen_address(self); },
  };
}

} // namespace annals
