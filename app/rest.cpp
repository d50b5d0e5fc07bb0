#include "app/rest.hpp"
#include "app/status_page.hpp"

#include "app/json_text.hpp"
#include "core/identity.hpp"

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

namespace annals::app {

namespace {

using json = nlohmann::json;

http_response json_response(int status, const json& body) {
  return {status, "application/json", json_text(body) + "\n"};
}

http_response error_response(int status, const std::string& message) {
  return json_response(status, json{{"error", message}});
}

json to_json(const component_status& part) {
  json details = json::object();
  for (std::size_t i = 0; i + 1 < part.details.size(); i += 2) {
    auto& slot = details[part.details[i]];
    // A key given more than once (listen addresses) becomes a list.
    if (slot.is_null())
      slot = part.details[i + 1];
    else if (slot.is_array())
      slot.push_back(part.details[i + 1]);
    else
      slot = json::array({slot, part.details[i + 1]});
  }
  return {{"state", part.state}, {"healthy", part.healthy}, {"details", details}};
}

json to_json(const community_status& s) {
  json out{{"communityId", s.community_id},
           {"role", s.role},
           {"messages", s.messages},
           {"archives", s.archives},
           {"importedArchives", s.imported},
           {"magnetlink", {{"uri", s.last_magnet_uri}, {"clock", s.magnetlink_clock}}},
           {"lastError", s.last_error},
           {"missingKey", s.missing_key},
           {"bytesFetched", s.bytes_fetched},
           {"warnings", s.warnings}};
  json sources = json::array();
  for (const auto& source : s.download_sources)
    sources.push_back({{"address", source.address}, {"bytes", source.bytes}});
  out["downloadSources"] = std::move(sources);
  if (s.role == "owner")
    out["unarchivedMessages"] = s.unarchived;
  if (s.download.empty()) {
    out["download"] = nullptr;
  } else {
    out["download"] = {{"state", s.download},
                       {"bytesDone", s.download_bytes_done},
                       {"bytesTotal", s.download_bytes_total},
                       {"rateBytesPerSecond", s.download_rate},
                       {"peers", s.download_peers}};
  }
  return out;
}

const component_status* part_named(const std::vector<component_status>& parts,
                                   const std::string& name) {
  for (const auto& p : parts)
    if (p.component == name)
      return &p;
  return nullptr;
}

std::vector<std::string> details_named(const component_status* part, const std::string& key) {
  std::vector<std::string> out;
  if (part)
    for (std::size_t i = 0; i + 1 < part->details.size(); i += 2)
      if (part->details[i] == key)
        out.push_back(part->details[i + 1]);
  return out;
}

const char* endpoints[] = {"/", "/events", "/debug/v1/history", "/health",           "/debug/v1/info",         "/debug/v1/version",
                           "/admin/v1/peers",   "/archive/v1/communities", "/archive/v1/communities/{id}",
                           "/metrics"};

} // namespace

http_response route_rest(const http_request& request, rest_source& source,
                         const rest_identity& identity) {
  auto path = request.target.substr(0, request.target.find('?'));
  if (path.size() > 1 && path.back() == '/')
    path.pop_back();

  if (path == "/health") {
    auto parts = source.components();
    if (!parts)
      return json_response(503, json{{"status", "unavailable"}, {"error", parts.error().message}});
    bool healthy = !parts->empty();
    json states = json::object();
    for (const auto& part : *parts) {
      healthy = healthy && part.healthy;
      states[part.component] = to_json(part);
    }
    json body{{"status", healthy ? "ok" : "unhealthy"}, {"parts", states}};
    // A community waiting for something the node cannot fix (no magnet
    // link yet) is a warning, not ill health: still 200.
    if (auto communities = source.communities()) {
      json warned = json::object();
      for (const auto& c : *communities)
        if (!c.warnings.empty())
          warned[c.community_id] = json{{"role", c.role}, {"warnings", c.warnings}};
      if (!warned.empty())
        body["communities"] = std::move(warned);
    }
    return json_response(healthy ? 200 : 503, body);
  }
  if (auto asset = status_page_asset(path))
    return std::move(*asset);
  if (path == "/events") {
    http_response stream;
    stream.content_type = "text/event-stream";
    stream.event_stream = true;
    return stream;
  }
  if (path == "/debug/v1/history") {
    if (!identity.history)
      return error_response(404, "this node keeps no history");
    return {200, "application/json", identity.history->json() + "\n"};
  }
  if (path == "/debug/v1/version")
    return json_response(200, json{{"version", identity.version}, {"revision", identity.revision}});
  if (path == "/debug/v1/info") {
    auto parts = source.components();
    if (!parts)
      return error_response(503, parts.error().message);
    const auto* relay = part_named(*parts, "relay");
    const auto* distribution = part_named(*parts, "distribution");
    auto peer = details_named(relay, "peer_id");
    auto torrent = details_named(distribution, "listen");
    return json_response(200, json{{"version", identity.version},
                                   {"revision", identity.revision},
                                   {"peerId", peer.empty() ? json(nullptr) : json(peer.front())},
                                   {"listenAddresses", details_named(relay, "listen")},
                                   {"relayMode", details_named(relay, "mode")},
                                   {"relayBound", details_named(relay, "bound")},
                                   {"torrentListen",
                                    torrent.empty() ? json(nullptr) : json(torrent.front())},
                                   {"torrentAddresses", details_named(distribution, "address")},
                                   {"uptimeSeconds",
                                    identity.started_unix_ms > 0
                                      ? json((unix_ms_now() - identity.started_unix_ms) / 1000)
                                      : json(nullptr)}});
  }
  if (path == "/admin/v1/peers") {
    auto peers = source.peers();
    if (!peers)
      return error_response(503, peers.error().message);
    auto now = unix_ms_now();
    json out = json::array();
    for (const auto& p : *peers)
      out.push_back({{"peerId", p.peer_id},
                     {"address", p.address},
                     {"protocols", p.protocols},
                     {"agent", p.agent},
                     {"direction", p.inbound ? "inbound" : "outbound"},
                     {"source", p.source},
                     {"connectedAt", p.connected_unix_ms},
                     {"connectedSeconds",
                      p.connected_unix_ms > 0 && now > p.connected_unix_ms
                        ? (now - p.connected_unix_ms) / 1000
                        : 0}});
    return json_response(200, out);
  }
  if (path == "/archive/v1/communities") {
    auto communities = source.communities();
    if (!communities)
      return error_response(503, communities.error().message);
    json out = json::array();
    for (const auto& c : *communities)
      out.push_back(to_json(c));
    return json_response(200, out);
  }
  static const std::string community_prefix = "/archive/v1/communities/";
  if (path.rfind(community_prefix, 0) == 0) {
    auto id = path.substr(community_prefix.size());
    auto key = public_key::from_community_id(id);
    if (!key || key->community_id() != id)
      return error_response(400, "\"" + id
                                   + "\" is not a community ID (0x + 66 lowercase hex of a "
                                     "compressed public key)");
    auto communities = source.communities();
    if (!communities)
      return error_response(503, communities.error().message);
    bool known = std::any_of(communities->begin(), communities->end(),
                             [&](const auto& c) { return c.community_id == id; });
    if (!known)
      return error_response(404, "this node neither owns nor joined " + id);
    auto status = source.community(id);
    if (!status)
      return error_response(503, status.error().message);
    auto archives = source.archives(id);
    if (!archives)
      return error_response(503, archives.error().message);
    auto out = to_json(*status);
    out["archiveList"] = json::array();
    for (const auto& a : *archives)
      out["archiveList"].push_back(
        {{"id", a.id}, {"from", a.from}, {"to", a.to}, {"imported", a.imported}});
    return json_response(200, out);
  }
  if (path == "/metrics") {
    auto parts = source.components();
    if (!parts)
      return error_response(503, parts.error().message);
    return {200, "text/plain; version=0.0.4; charset=utf-8", prometheus_text(*parts)};
  }
  return json_response(404, json{{"error", "no such endpoint: " + path},
                                 {"endpoints", json(std::vector<std::string>(
                                                 std::begin(endpoints), std::end(endpoints)))}});
}

namespace {

/// Asks the node's actors from the HTTP thread, one blocking request at a time.
class node_rest_source : public rest_source {
public:
  node_rest_source(caf::actor_system& sys, node_actor node, relay_actor relay,
                   std::chrono::milliseconds timeout)
      : sys_(sys), node_(std::move(node)), relay_(std::move(relay)), timeout_(timeout) {}

  result<std::vector<component_status>> components() override {
    return ask<std::vector<component_status>>(node_, status_atom::value);
  }
  result<std::vector<community_status>> communities() override {
    return ask<std::vector<community_status>>(node_, index_atom::value);
  }
  result<community_status> community(const std::string& id) override {
    return ask<community_status>(node_, status_atom::value, id);
  }
  result<std::vector<archive_entry>> archives(const std::string& id) override {
    return ask<std::vector<archive_entry>>(node_, index_atom::value, id);
  }
  result<std::vector<relay_peer_info>> peers() override {
    return ask<std::vector<relay_peer_info>>(relay_, peer_info_atom::value);
  }

private:
  template <class T, class Handle, class... Ts>
  result<T> ask(const Handle& handle, Ts&&... xs) {
    caf::scoped_actor self{sys_};
    std::optional<result<T>> out;
    self->request(handle, timeout_, std::forward<Ts>(xs)...)
      .receive([&](T& value) { out.emplace(std::move(value)); },
               [&](const caf::error& err) {
                 out.emplace(make_error(errc::io, "the node did not answer: " + sys_.render(err)));
               });
    return std::move(*out);
  }

  caf::actor_system& sys_;
  node_actor node_;
  relay_actor relay_;
  std::chrono::milliseconds timeout_;
};

} // namespace

std::unique_ptr<rest_source> make_node_rest_source(caf::actor_system& sys, node_actor node,
                                                   relay_actor relay,
                                                   std::chrono::milliseconds timeout) {
  return std::make_unique<node_rest_source>(sys, std::move(node), std::move(relay), timeout);
}

} // namespace annals::app
