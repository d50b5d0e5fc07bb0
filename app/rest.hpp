// The REST API of `annals run`: routes over one status contract. The routes
// read a `rest_source` (the node's actors in `annals run`, fixed records in
// tests) and answer with JSON, or Prometheus text for /metrics; the HTTP
// transport (net/http_server.hpp) knows nothing of them.
#pragma once

#include "core/result.hpp"
#include <annals/status.hpp>
#include "messages/actors.hpp"
#include "net/http_server.hpp"

#include <memory>
#include <string>
#include <vector>

namespace caf {
class actor_system;
}

namespace annals::app {

/// What the routes read. Each call may fail (the node is stopping, a stage
/// does not answer); the route then answers 503 naming the cause.
class rest_source {
public:
  virtual ~rest_source() = default;
  virtual result<std::vector<component_status>> components() = 0;
  virtual result<std::vector<community_status>> communities() = 0;
  virtual result<community_status> community(const std::string& id) = 0;
  virtual result<std::vector<archive_entry>> archives(const std::string& id) = 0;
  virtual result<std::vector<relay_peer_info>> peers() = 0;
};

class status_history;

struct rest_identity {
  std::string version;
  std::string revision;
  std::uint64_t started_unix_ms = 0;  // for uptime; 0: not told
  /// The samples of /debug/v1/history (none: 404).
  std::shared_ptr<const status_history> history = {};
};

/// Answers one request: the status page (/, /ui/…), /health, /debug/v1/info,
/// /debug/v1/version, /debug/v1/history, /admin/v1/peers,
/// /archive/v1/communities[/{id}], /metrics, and /events (an event stream
/// the server feeds with http_server::publish_event).
http_response route_rest(const http_request& request, rest_source& source,
                         const rest_identity& identity);

/// The source `annals run` serves: asks the node and its relay, waiting at
/// most `timeout` for each answer.
std::unique_ptr<rest_source> make_node_rest_source(caf::actor_system& sys, node_actor node,
                                                   relay_actor relay,
                                                   std::chrono::milliseconds timeout =
                                                     std::chrono::milliseconds(3000));

} // namespace annals::app
