#pragma once

#include "messages/actors.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace annals {

class store;

struct archive_builder_config {
  std::filesystem::path archive_root;  // archivedata/ and torrents/ live here
  std::vector<std::string> trackers;   // announce-list of every torrent
  std::string created_by;              // the node identity, as status-go writes it
  std::string node_name;               // names the node in observations
  message_observer_actor observer;     // optional: told which messages were archived
};

/// Wraps the pure archive core. Spawn it detached: a build hashes and writes
/// up to gigabytes and must not hold a scheduler thread.
struct archive_builder_state {
  static inline const char* name = "archive_builder";
  archive_builder_config config;
  std::shared_ptr<store> db;
  signal_bus_actor bus;
  std::uint64_t built = 0;
  std::uint64_t failed = 0;
  std::string last_error;
  status_histogram seconds = status_histogram::seconds(
    "annals_archive_build_duration_seconds", "Time to build a community's new archives and torrent");
};

archive_builder_actor::behavior_type
archive_builder(archive_builder_actor::stateful_pointer<archive_builder_state> self,
                archive_builder_config config, std::shared_ptr<store> db, signal_bus_actor bus);

} // namespace annals
