// The REST routes over fixed status records: what each endpoint answers and
// which status code, independent of any transport.
#include "app/rest.hpp"
#include "app/status_page.hpp"
#include "core/identity.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <nlohmann/json.hpp>

using namespace annals;
using namespace annals::app;
using json = nlohmann::json;

namespace {

/// Records as a node would give them; `down` makes every call fail.
struct fixed_source : rest_source {
  std::vector<component_status> parts;
  std::vector<community_status> list;
  std::vector<archive_entry> archive_list;
  std::vector<relay_peer_info> peer_list;
  bool down = false;

  result<std::vector<component_status>> components() override {
    if (down)
      return make_error(errc::io, "the node did not answer: request_timeout");
    return parts;
  }
  result<std::vector<community_status>> communities() override {
    if (down)
      return make_error(errc::io, "down");
    return list;
  }
  result<community_status> community(const std::string& id) override {
    for (const auto& c : list)
      if (c.community_id == id)
        return c;
    return make_error(errc::not_found, id);
  }
  result<std::vector<archive_entry>> archives(const std::string&) override { return archive_list; }
  result<std::vector<relay_peer_info>> peers() override { return peer_list; }
};

http_response get(rest_source& source, const std::string& target) {
  return route_rest({"GET", target}, source, {"1.2.3", "abc1234"});
}

} // namespace

TEST_CASE("REST: /health is 200 only when every part is healthy", "[app][rest]") {
  fixed_source source;
  component_status relay;
  relay.component = "relay";
  relay.state = "listening, 1 peers";
  relay.detail("peer_id", "16Uiu2HA").detail("listen", "/ip4/127.0.0.1/tcp/1").detail("listen", "/ip4/127.0.0.1/tcp/2");
  component_status distribution;
  distribution.component = "distribution";
  distribution.detail("listen", "127.0.0.1:9025");
  source.parts = {relay, distribution};
  auto ok = get(source, "/health");
  CHECK(ok.status == 200);
  auto j = json::parse(ok.body);
  CHECK(j["status"] == "ok");
  CHECK(j["parts"]["relay"]["state"] == "listening, 1 peers");
  CHECK(j["parts"]["relay"]["details"]["listen"].size() == 2);

  source.parts[0].healthy = false;
  source.parts[0].state = "not listening";
  auto bad = get(source, "/health");
  CHECK(bad.status == 503);
  CHECK(json::parse(bad.body)["parts"]["relay"]["healthy"] == false);

  source.down = true;
  auto down = get(source, "/health");
  CHECK(down.status == 503);
  CHECK_THAT(json::parse(down.body)["error"].get<std::string>(), Catch::Contains("did not answer"));
}

TEST_CASE("REST: info, version, peers and metrics", "[app][rest]") {
  fixed_source source;
  component_status relay;
  relay.component = "relay";
  relay.detail("peer_id", "16Uiu2HA").detail("listen", "/ip4/127.0.0.1/tcp/1");
  relay.gauge("annals_relay_peers", "Connected relay peers", 1);
  component_status distribution;
  distribution.component = "distribution";
  distribution.detail("listen", "127.0.0.1:9025");
  source.parts = {relay, distribution};
  source.peer_list = {{"16Uiu2HB", "/ip4/127.0.0.1/tcp/5", {"/vac/waku/relay/2.0.0"}, "js-waku",
                       unix_ms_now() - 5000, true, "inbound"}};

  auto info = json::parse(get(source, "/debug/v1/info").body);
  CHECK(info["version"] == "1.2.3");
  CHECK(info["peerId"] == "16Uiu2HA");
  CHECK(info["listenAddresses"] == json::array({"/ip4/127.0.0.1/tcp/1"}));
  CHECK(info["torrentListen"] == "127.0.0.1:9025");
  CHECK(json::parse(get(source, "/debug/v1/version").body)["revision"] == "abc1234");

  auto peers = json::parse(get(source, "/admin/v1/peers").body);
  REQUIRE(peers.size() == 1);
  CHECK(peers[0]["protocols"] == json::array({"/vac/waku/relay/2.0.0"}));
  CHECK(peers[0]["direction"] == "inbound");
  CHECK(peers[0]["source"] == "inbound");
  CHECK(peers[0]["connectedSeconds"].get<int>() >= 4);

  auto metrics = get(source, "/metrics");
  CHECK(metrics.status == 200);
  CHECK_THAT(metrics.content_type, Catch::StartsWith("text/plain; version=0.0.4"));
  CHECK_THAT(metrics.body, Catch::Contains("annals_relay_peers 1\n"));

  auto missing = get(source, "/nope");
  CHECK(missing.status == 404);
  auto listed = json::parse(missing.body)["endpoints"];
  CHECK(listed.size() == 10);
  CHECK(std::find(listed.begin(), listed.end(), "/events") != listed.end());

  // The status page and its files, under one strict policy; no history
  // kept by this source.
  for (const char* path : {"/", "/ui/app.js", "/ui/app.css"}) {
    CAPTURE(path);
    auto asset = get(source, path);
    CHECK(asset.status == 200);
    CHECK_FALSE(asset.body.empty());
    REQUIRE(asset.headers.size() >= 1);
    CHECK(asset.headers[0].first == "Content-Security-Policy");
    CHECK_THAT(asset.headers[0].second, Catch::StartsWith("default-src 'none'; script-src 'self'"));
  }
  CHECK_THAT(get(source, "/").content_type, Catch::StartsWith("text/html"));
  CHECK(get(source, "/events").event_stream);
  CHECK(get(source, "/debug/v1/history").status == 404);
}

TEST_CASE("REST: communities, one community with its archives, and bad IDs", "[app][rest]") {
  fixed_source source;
  auto id = private_key::generate().public_key().community_id();
  community_status member;
  member.community_id = id;
  member.role = "member";
  member.messages = 120;
  member.archives = 2;
  member.imported = 1;
  member.download = "fetching archives: 1 of 2 recorded";
  member.download_bytes_done = 100;
  member.download_bytes_total = 400;
  member.download_peers = 1;
  member.last_error = "no metadata for the magnet link after 2 attempts";
  source.list = {member};
  source.archive_list = {{"0xaa", 10, 20, true}, {"0xbb", 20, 30, false}};

  auto all = json::parse(get(source, "/archive/v1/communities").body);
  REQUIRE(all.size() == 1);
  CHECK(all[0]["communityId"] == id);
  CHECK(all[0]["download"]["bytesTotal"] == 400);
  CHECK(all[0]["lastError"] == member.last_error);
  CHECK_FALSE(all[0].contains("unarchivedMessages"));

  auto one = get(source, "/archive/v1/communities/" + id);
  CHECK(one.status == 200);
  auto j = json::parse(one.body);
  CHECK(j["importedArchives"] == 1);
  REQUIRE(j["archiveList"].size() == 2);
  CHECK(j["archiveList"][1]["imported"] == false);

  auto unknown = get(source, "/archive/v1/communities/"
                               + private_key::generate().public_key().community_id());
  CHECK(unknown.status == 404);
  auto bad = get(source, "/archive/v1/communities/0x03");
  CHECK(bad.status == 400);
  CHECK_THAT(json::parse(bad.body)["error"].get<std::string>(), Catch::Contains("not a community ID"));
}

TEST_CASE("REST: /debug/v1/history keeps the last samples, summing each figure over parts and "
          "labels",
          "[app][rest]") {
  auto history = std::make_shared<app::status_history>(3, 10);
  for (std::uint64_t i = 1; i <= 5; ++i) {
    component_status node, relay;
    node.component = "node";
    node.gauge("annals_messages_stored", "", double(10 * i), {"community", "a"});
    node.gauge("annals_messages_stored", "", 1, {"community", "b"});
    node.gauge("annals_process_anonymous_memory_bytes", "", 4096);
    relay.component = "relay";
    relay.counter("annals_relay_messages_in_total", "", double(i));
    history->record({node, relay}, 1000 * i);
  }
  CHECK(history->size() == 3);
  fixed_source source;
  auto reply = route_rest({"GET", "/debug/v1/history"}, source, {"1", "r", 0, history});
  REQUIRE(reply.status == 200);
  auto j = json::parse(reply.body);
  CHECK(j["intervalSeconds"] == 10);
  REQUIRE(j["samples"].size() == 3);
  CHECK(j["samples"][0]["t"] == 3000);
  CHECK(j["samples"][2]["messagesStored"] == 51.0);
  CHECK(j["samples"][2]["relayMessagesIn"] == 5.0);
  CHECK(j["samples"][2]["memoryBytes"] == 4096.0);
  CHECK(j["samples"][2]["seededBytes"] == 0.0);
}
