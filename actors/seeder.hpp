#pragma once

#include "messages/actors.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

namespace annals {

class torrent_session;

struct seeder_config {
  std::filesystem::path archive_root;  // archivedata/ and torrents/
  /// Put this session's own address in published magnet links (x.pe), so
  /// peers find it without DHT or trackers (loopback, private networks).
  bool advertise_address = false;
  std::string advertised_host = "127.0.0.1";
};

/// Owns the node's one libtorrent session; everything asynchronous in it
/// arrives as alerts, drained on a timer.
struct seeder_state {
  static inline const char* name = "seeder";
  seeder_config config;
  std::shared_ptr<torrent_session> session;
  signal_bus_actor bus;
  std::map<std::string, std::string> seeding;  // community ID -> info hash (seeding or fetching)
  /// flush requests waiting for libtorrent's flushed event, by info hash.
  std::multimap<std::string, caf::typed_response_promise<bool>> flushes;
  std::uint64_t torrent_errors = 0;
  ~seeder_state();
};

/// `session` is started by the caller, so a port that is taken fails the
/// node's start with the port's name instead of killing an actor later.
seeder_actor::behavior_type seeder(seeder_actor::stateful_pointer<seeder_state> self,
                                   seeder_config config, std::shared_ptr<torrent_session> session,
                                   signal_bus_actor bus);

} // namespace annals
