// `annals enr decode|self` as an operator runs them.
#include "core/enr.hpp"
#include "core/enr_tree.hpp"
#include "core/identity.hpp"
#include "tests/app/run_annals.hpp"
#include "tests/enr_vectors.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <set>

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
  // With discv5 the record names its UDP port.
  write_file(dir / "node.toml",
             "data_dir = \"n\"\n[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/60101\"]\n[discovery]\n"
             "discv5 = true\ndiscv5_listen = \"0.0.0.0:9123\"\n[[community]]\nrole = \"member\"\n"
             "id = \"" + community + "\"\nchannels = [\"general\"]\n");
  auto with_udp = self();
  CHECK(with_udp["seq"] == 3);
  CHECK(with_udp["udp"] == 9123);
  CHECK(with_udp["tcp"] == 60101);
}

TEST_CASE("enr tree writes a signed DNS node list that verifies and names its URL; a bad record "
          "exits 2",
          "[cli][enr][enrtree]") {
  temp_dir dir("enr-tree");
  REQUIRE(run_annals("keygen --out " + (dir / "tree.key").string(), dir).code == 0);
  std::vector<std::string> records;
  for (int i = 0; i < 20; ++i) {
    enr_fields f;
    f.ip = std::array<std::uint8_t, 4>{10, 0, 0, static_cast<std::uint8_t>(i)};
    f.tcp = 60000;
    f.waku2 = waku2_relay;
    records.push_back(make_enr(private_key::generate(), 1, f)->text());
  }
  std::string list;
  for (std::size_t i = 1; i < records.size(); ++i)
    list += records[i] + "\n";
  write_file(dir / "records.txt", "# the fleet\n" + list);
  auto r = run_annals("enr tree --format json --seq 42 --key " + (dir / "tree.key").string()
                        + " --domain Nodes.Example.org --records-file "
                        + (dir / "records.txt").string() + " " + records[0],
                      dir);
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto out = nlohmann::json::parse(r.out);
  auto url = parse_enrtree_url(out["url"].get<std::string>());
  REQUIRE(url);
  CHECK(url->domain == "nodes.example.org");
  CHECK_THAT(r.err, Catch::Contains(url->text()));
  auto root = parse_enrtree_root(out["txt"]["nodes.example.org"].get<std::string>(), url->key);
  REQUIRE(root);
  CHECK(root->seq == 42);
  std::set<std::string> listed;
  for (auto& [name, text] : out["txt"].items()) {
    if (name == "nodes.example.org")
      continue;
    auto label = name.substr(0, name.find('.'));
    CHECK(enrtree_label(text.get<std::string>()) == label);
    if (auto entry = parse_enrtree_entry(text.get<std::string>());
        entry && entry->type == enrtree_entry::kind::record)
      listed.insert(entry->record.text());
  }
  CHECK(listed == std::set<std::string>(records.begin(), records.end()));

  // The zone form splits every value into quoted strings of at most 255 bytes.
  auto zone = run_annals("enr tree --key " + (dir / "tree.key").string()
                           + " --domain nodes.example.org " + records[0],
                         dir);
  REQUIRE(zone.code == 0);
  CHECK_THAT(zone.out, Catch::StartsWith("; enrtree://"));
  CHECK_THAT(zone.out, Catch::Contains("nodes.example.org. 300 IN TXT \"enrtree-root:v1 e="));

  auto bad = run_annals("enr tree --key " + (dir / "tree.key").string()
                          + " --domain nodes.example.org " + records[0] + " enr:-abc",
                        dir);
  CHECK(bad.code == 2);
  CHECK_THAT(bad.err, Catch::Contains("record 2"));
  auto bad_domain = run_annals("enr tree --key " + (dir / "tree.key").string()
                                 + " --domain nodes..org " + records[0],
                               dir);
  CHECK(bad_domain.code == 2);
  CHECK_THAT(bad_domain.err, Catch::Contains("--domain"));
}
