// Peer exchange with code no one here wrote: js-waku's WakuPeerExchange
// (tests/js/waku-px.mjs, pinned @waku/discovery 0.0.4) asks an annals host,
// decodes the records it gets with @waku/enr, and dials one of them.
#include "core/enr.hpp"
#include "net/p2p/enr_peer.hpp"
#include "net/p2p/host.hpp"
#include "tests/eventually.hpp"
#include "tests/process.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <sstream>

using namespace annals;
using namespace annals::p2p;
using namespace std::chrono_literals;
using annals::test::eventually;

TEST_CASE("js-waku's peer-exchange client asks an annals host and dials a record it got",
          "[p2p][js][discovery]") {
  std::filesystem::path js = ANNALS_JS_DIR;
  if (!std::filesystem::exists(js / "node_modules" / "@waku" / "discovery"))
    FAIL("tests/js/node_modules is missing: run scripts/setup.sh (npm ci in tests/js)");
  test::temp_dir dir("px-interop");

  // Two relay hosts the server was given by their records.
  std::vector<std::unique_ptr<host>> relays;
  std::vector<std::string> records, relay_ids;
  for (int i = 0; i < 2; ++i) {
    host_config c;
    c.listen = {"/ip4/127.0.0.1/tcp/0"};
    auto key = c.identity;
    auto h = host::start(std::move(c));
    REQUIRE(h);
    auto record = make_enr(key, 1, own_enr_fields((*h)->bound_addrs(), waku2_relay,
                                                  relay_shards{16, {32}}));
    REQUIRE(record);
    records.push_back(record->text());
    relay_ids.push_back((*h)->peer_id());
    relays.push_back(std::move(*h));
  }
  host_config sc;
  sc.listen = {"/ip4/127.0.0.1/tcp/0"};
  sc.static_peers = records;
  sc.serve_peer_exchange = true;
  auto server = host::start(std::move(sc));
  REQUIRE(server);
  // The server passes a peer on once it has seen it speak relay.
  REQUIRE(eventually([&] {
    auto peers = (*server)->peer_summaries();
    return peers.size() == 2 && std::all_of(peers.begin(), peers.end(), [](const auto& p) {
             return !p.protocols.empty();
           });
  }));

  auto client = test::child_process(
    std::vector<std::string>{"node", "--import", "./polyfill.mjs", "waku-px.mjs"},
    dir / "px.out", dir / "px.err",
    {"DIAL=" + (*server)->listen_addrs().at(0), "NUM_PEERS=5", "TIMEOUT_MS=30000"}, js);
  auto code = client.wait(40s);
  INFO("js stdout:\n" << client.out() << "\njs stderr:\n" << client.err());
  REQUIRE(code == std::optional<int>(0));
  std::vector<std::string> got;
  std::string dialled;
  std::istringstream out(client.out());
  for (std::string line; std::getline(out, line);) {
    if (line.rfind("ENR ", 0) == 0)
      got.push_back(line.substr(4, line.find(' ', 4) - 4));
    if (line.rfind("DIALLED ", 0) == 0)
      dialled = line.substr(8);
  }
  std::sort(got.begin(), got.end());
  std::sort(relay_ids.begin(), relay_ids.end());
  CHECK(got == relay_ids);
  CHECK(std::count(relay_ids.begin(), relay_ids.end(), dialled) == 1);
  // The relay js-waku dialled from the record saw it arrive (js-waku has
  // left again by now): the server's connection and js-waku's.
  for (auto& r : relays)
    if (r->peer_id() == dialled)
      CHECK(r->stats().connections_opened == 2);
  auto stats = (*server)->stats();
  CHECK(stats.discovery.exchanges_served == 1);
  CHECK(stats.discovery.records_served == 2);
}
