// `annals enr decode|self` as an operator runs them.
#include "core/enr.hpp"
#include "core/identity.hpp"
#include "tests/app/run_annals.hpp"
#include "tests/enr_vectors.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace annals;
using annals::test::run_annals;
using annals::test::temp_dir;
using annals::test::write_file;

TEST_CASE("enr decode prints a record's peer and addresses, and refuses a forged one with exit 2",
          "[cli][enr]") {
  temp_dir dir("enr-decode");
  auto r = run_annals(std::string("enr decode ") + test::js_waku_tcp_enr, dir);
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto out = nlohmann::json::parse(r.out);
  CHECK(out["peer_id"] == "16Uiu2HAmPLe7Mzm8TsYUubgCAW1aJoeFScxrLj8ppHFivPo97bUZ");
  CHECK(out["ip"] == "134.209.139.210");
  CHECK(out["tcp"] == 30303);
  CHECK(out["addresses"][0]
        == "/ip4/134.209.139.210/tcp/30303/p2p/16Uiu2HAmPLe7Mzm8TsYUubgCAW1aJoeFScxrLj8ppHFivPo97bUZ");

  // The same record with one signature byte changed.
  auto record = *parse_enr(test::js_waku_tcp_enr);
  auto bytes = record.encoded;
  bytes[10] ^= 1;
  auto forged = run_annals("enr decode enr:" + to_base64url(bytes), dir);
  CHECK(forged.code == 2);
  CHECK_THAT(forged.err, Catch::Contains("`signature`"));
}

TEST_CASE("enr self keeps its sequence number until what the record says changes",
          "[cli][enr]") {
  temp_dir dir("enr-self");
  auto community = private_key::generate().public_key().community_id();
  auto config = [&](int port) {
    write_file(dir / "node.toml",
               "data_dir = \"n\"\n[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/" + std::to_string(port)
                 + "\"]\n[[community]]\nrole = \"member\"\nid = \"" + community
                 + "\"\nchannels = [\"general\"]\n");
  };
  auto self = [&] {
    auto r = run_annals("enr self --config " + (dir / "node.toml").string(), dir);
    INFO(r.err);
    REQUIRE(r.code == 0);
    return nlohmann::json::parse(r.out);
  };
  config(60100);
  auto first = self();
  CHECK(first["seq"] == 1);
  CHECK(first["tcp"] == 60100);
  CHECK(first["capabilities"] == nlohmann::json::array({"relay", "store"}));
  CHECK(first["cluster"] == 16);
  auto again = self();
  CHECK(again["seq"] == 1);
  CHECK(again["enr"] == first["enr"]);
  config(60101);
  auto moved = self();
  CHECK(moved["seq"] == 2);
  CHECK(moved["tcp"] == 60101);
  CHECK(moved["peer_id"] == first["peer_id"]);  // the node key stays
}
