#pragma once

#include "actors/scheduler.hpp"
#include "core/identity.hpp"
#include "actors/storage_io.hpp"
#include "messages/actors.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <map>
#include <memory>
#include <string>

namespace annals {

class store;

/// Unix milliseconds; injectable for tests.
using unix_ms_clock = std::function<std::uint64_t()>;
unix_ms_clock system_unix_ms_clock();

struct magnetlink_publisher_config {
  private_key node_key;          // signs the Waku envelope (status-go's node identity)
  std::string installation_id;   // status-go's device UUID in ProtocolMessage
  unix_ms_clock now_ms = system_unix_ms_clock();
  /// Where store reads and writes run (none: in line, for tests).
  storage_io_actor io = {};
};

struct magnetlink_publisher_state {
  static inline const char* name = "magnetlink_publisher";
  magnetlink_publisher_config config;
  std::shared_ptr<store> db;
  relay_actor relay;
  /// The last clock used per community: two publications in flight must
  /// not both take the stored clock + 1.
  std::map<std::string, std::uint64_t> last_clock;
  signal_bus_actor bus;
  std::uint64_t published = 0;
  std::map<std::string, std::uint64_t> published_by_community;
  std::map<std::string, std::uint64_t> refused_by_community;
};

/// status-go's dispatchMagnetlinkMessage: CommunityMessageArchiveMagnetlink
/// signed with the community key, wrapped layer by layer into a WakuMessage
/// on the community's pubsub topic and "<communityID>-magnetlinks" content
/// topic. The clock and URI are stored once the relay took the message.
magnetlink_publisher_actor::behavior_type
magnetlink_publisher(magnetlink_publisher_actor::stateful_pointer<magnetlink_publisher_state> self,
                     magnetlink_publisher_config config, std::shared_ptr<store> db,
                     relay_actor relay, signal_bus_actor bus);

} // namespace annals
