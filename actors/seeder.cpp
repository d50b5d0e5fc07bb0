#include "actors/seeder.hpp"

#include "core/archive_format.hpp"
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
        return caf::make_error(caf::sec::runtime_error, torrent.error().to_string());
      if (torrent->name != community)
        return caf::make_error(caf::sec::runtime_error,
                               layout.torrent_file().string() + " names " + torrent->name);
      auto current = state.seeding.find(community);
      if (current != state.seeding.end() && current->second != torrent->info_hash) {
        // status-go unseeds before every create-and-seed; a changed torrent
        // replaces the old one here.
        if (auto removed = state.session->remove(current->second); !removed)
          caf::aout(self) << "seeder: " << removed.error().to_string() << "\n";
        state.seeding.erase(current);
      }
      if (!state.seeding.count(community)) {
        auto added = state.session->seed(layout.torrent_file(), layout.root / "archivedata");
        if (!added)
          return caf::make_error(caf::sec::runtime_error, added.error().to_string());
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
      auto& state = self->state;
      auto it = state.seeding.find(community);
      if (it == state.seeding.end())
        return;
      if (auto removed = state.session->remove(it->second); !removed)
        caf::aout(self) << "seeder: " << removed.error().to_string() << "\n";
      state.seeding.erase(it);
      emit(self, history_archives_unseeded{community});
    },
    [self](poll_atom) {
      for (const auto& event : self->state.session->poll(std::chrono::milliseconds(0)))
        if (event.what == torrent_event::kind::error) {
          ++self->state.torrent_errors;
          caf::aout(self) << "seeder: torrent " << event.info_hash << ": " << event.message
                          << "\n";
        }
      self->delayed_send(self, alert_poll_interval, poll_atom::value);
    },
    [self](status_atom) { return listen_address(self); },
  };
}

} // namespace annals
