#include "core/enr.hpp"
#include "net/p2p/enr_peer.hpp"
#include "tests/enr_vectors.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace annals;
using namespace annals::p2p;

TEST_CASE("an ENR gives its peer ID, its multiaddrs and a dialable relay address", "[p2p][enr]") {
  // js-waku's shared test vector: dns4, dns6 and onion3 entries.
  auto waku = parse_enr(
    test::js_waku_multiaddrs_enr);
  REQUIRE(waku);
  auto texts = enr_multiaddr_texts(*waku);
  REQUIRE(texts.size() == 3);
  CHECK(texts[0] == "/dns4/node-01.do-ams3.wakuv2.test.statusim.net/tcp/443/wss");
  CHECK(texts[1] == "/dns6/node-01.ac-cn-hongkong-c.wakuv2.test.statusim.net/tcp/443/wss");
  CHECK(texts[2].rfind("unsupported: ", 0) == 0);  // onion3
  // No ip + tcp and only host names: nothing a TCP relay host dials.
  CHECK_FALSE(enr_dial_address(*waku));

  auto tcp = parse_enr(
    test::js_waku_tcp_enr);
  REQUIRE(tcp);
  CHECK(enr_peer_id(*tcp) == "16Uiu2HAmPLe7Mzm8TsYUubgCAW1aJoeFScxrLj8ppHFivPo97bUZ");
  auto dial = enr_dial_address(*tcp);
  REQUIRE(dial);
  CHECK(*dial == "/ip4/134.209.139.210/tcp/30303/p2p/16Uiu2HAmPLe7Mzm8TsYUubgCAW1aJoeFScxrLj8ppHFivPo97bUZ");
  CHECK(*static_peer_address(tcp->text()) == *dial);
  CHECK_FALSE(static_peer_address("enr:-IS4QAmC"));
}

TEST_CASE("a host's own record says its advertised addresses, capabilities and shards",
          "[p2p][enr]") {
  auto key = private_key::generate();
  auto fields = own_enr_fields({"/ip4/10.0.0.9/tcp/0", "/ip4/10.0.0.2/tcp/60000", "/ip4/10.0.0.3/tcp/60001",
                                "/ip6/::1/tcp/60002", "/dns4/node.example.org/tcp/443/wss"},
                               waku2_relay | waku2_store, relay_shards{16, {32, 64}});
  auto record = make_enr(key, 1, fields);
  REQUIRE(record);
  auto addresses = enr_addresses(*record);
  auto id = enr_peer_id(*record);
  CHECK(addresses.front() == "/ip4/10.0.0.2/tcp/60000/p2p/" + id);
  CHECK(std::find(addresses.begin(), addresses.end(), "/ip4/10.0.0.3/tcp/60001/p2p/" + id)
        != addresses.end());
  CHECK(std::find(addresses.begin(), addresses.end(), "/ip6/::1/tcp/60002/p2p/" + id)
        != addresses.end());
  CHECK(std::find(addresses.begin(), addresses.end(),
                  "/dns4/node.example.org/tcp/443/wss/p2p/" + id)
        != addresses.end());
  CHECK(*enr_dial_address(*record) == "/ip4/10.0.0.2/tcp/60000/p2p/" + id);
  CHECK(std::none_of(addresses.begin(), addresses.end(),
                     [](const std::string& a) { return a.find("10.0.0.9") != std::string::npos; }));
  CHECK(record->fields.waku2 == 3);
  CHECK(record->fields.shards->shards == std::vector<std::uint16_t>{32, 64});
}
