#include <annals/signals.hpp>

#include <nlohmann/json.hpp>

namespace annals {

namespace {

// ordered: status-go (Go structs) writes "type" before "event", fields in order.
using json = nlohmann::ordered_json;

json event_of(const std::string& community_id) {
  return {{"communityId", community_id}};
}

struct to_json_visitor {
  using result_type = json;

  template <const char* Type, const char* Name>
  json operator()(const window_signal<Type, Name>& x) const {
    return {{"type", Type}, {"event", {{"communityId", x.community_id}, {"from", x.from}, {"to", x.to}}}};
  }
  json operator()(const history_archives_protocol& x) const {
    return {{"type", x.enabled ? "community.historyArchivesProtocolEnabled"
                               : "community.historyArchivesProtocolDisabled"},
            {"event", nullptr}};
  }
  json operator()(const magnetlink_published& x) const {
    return {{"type", magnetlink_published::type},
            {"event", {{"communityId", x.community_id}, {"clock", x.clock}, {"magnetUri", x.magnet_uri}}}};
  }
  json operator()(const download_failed& x) const {
    return {{"type", download_failed::type},
            {"event", {{"communityId", x.community_id}, {"reason", x.reason}}}};
  }
  json operator()(const archive_key_missing& x) const {
    return {{"type", archive_key_missing::type},
            {"event", {{"communityId", x.community_id}, {"keyId", x.key_id}}}};
  }
  json operator()(const magnetlink_rejected& x) const {
    json event = {{"reason", x.reason}};
    if (!x.community_id.empty())
      event["communityId"] = x.community_id;
    return {{"type", magnetlink_rejected::type}, {"event", event}};
  }
  // The remaining signals carry only the community ID in status-go.
  template <class T>
  json operator()(const T& x) const {
    return {{"type", T::type}, {"event", event_of(x.community_id)}};
  }
};

} // namespace

std::string to_json_line(const signal& s) {
  // Strings from peers (a rejected link's text) need not be UTF-8.
  return caf::visit(to_json_visitor{}, s).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string signal_type(const signal& s) {
  return caf::visit(to_json_visitor{}, s)["type"].get<std::string>();
}

} // namespace annals
