// The supported API, used the way a host uses it: only <annals/...> headers
// (what `cmake --install` installs), so a name a host needs that slipped
// back into the private sources fails to compile here.
#include <annals/node.hpp>
#include <annals/relay.hpp>
#include <annals/traffic.hpp>

#include "tests/temp_dir.hpp"

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

using namespace annals;
using namespace std::chrono_literals;

namespace {

std::string peer_id_of(caf::actor_system& sys, const relay_actor& relay) {
  caf::scoped_actor self{sys};
  std::string id;
  self->request(relay, 10s, status_atom::value)
    .receive([&](const component_status& s) { id = s.detail_of("peer_id"); },
             [&](const caf::error& err) { FAIL(sys.render(err)); });
  return id;
}

} // namespace

TEST_CASE("a host's network relay keeps its peer ID in its identity file and names a bad "
          "address",
          "[actors][public]") {
  test::temp_dir dir("annals-public-relay");
  node_system_config cfg;
  caf::actor_system sys{cfg};
  network_relay_settings settings;
  settings.identity_file = dir / "relay.key";
  settings.listen = {"/ip4/127.0.0.1/tcp/0"};
  std::string first;
  {
    auto relay = spawn_network_relay(sys, settings);
    REQUIRE(relay);
    first = peer_id_of(sys, *relay);
    caf::anon_send_exit(*relay, caf::exit_reason::user_shutdown);
  }
  CHECK(first.rfind("16Uiu2", 0) == 0);
  CHECK(std::filesystem::exists(settings.identity_file));
  auto again = spawn_network_relay(sys, settings);
  REQUIRE(again);
  CHECK(peer_id_of(sys, *again) == first);
  caf::anon_send_exit(*again, caf::exit_reason::user_shutdown);

  settings.listen = {"/ip4/127.0.0.1/udp/9"};
  auto refused = spawn_network_relay(sys, settings);
  REQUIRE_FALSE(refused);
  CHECK(sys.render(refused.error()).find("/ip4/127.0.0.1/udp/9") != std::string::npos);
}

TEST_CASE("synthetic traffic refuses a malformed community key, naming it", "[actors][public]") {
  node_system_config cfg;
  caf::actor_system sys{cfg};
  auto relay = spawn_inprocess_relay(sys);
  auto refused = spawn_synthetic_traffic(sys, relay, "00ff", {"general"});
  REQUIRE_FALSE(refused);
  auto err = from_caf_error(refused.error());
  REQUIRE(err);
  CHECK(err->code == errc::invalid_argument);
  CHECK(err->message.find("community key") != std::string::npos);
  caf::anon_send_exit(relay, caf::exit_reason::user_shutdown);
}
