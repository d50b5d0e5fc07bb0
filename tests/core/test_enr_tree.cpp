#include "core/enr.hpp"
#include "core/enr_tree.hpp"
#include "core/hex.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace annals;

namespace {

// EIP-1459's example tree, as the EIP prints it (zone file, nodes.example.org).
// The EIP's example URL names the key AM5F…, but its root is signed by the
// key the EIP spells out in hex (049f88…), whose URL form is AKPYQ… (the
// one go-ethereum's tests use): the URL below is that key's.
const std::string eip_url =
  "enrtree://AKPYQIUQIL7PSIACI32J7FGZW56E5FKHEFCCOFHILBIMW3M6LWXS2@nodes.example.org";
const std::string eip_printed_url =
  "enrtree://AM5FCQLWIZX2QFPNJAP7VUERCCRNGRHWZG3YYHIUV7BVDQ5FDPRT2@nodes.example.org";
const std::string eip_root =
  "enrtree-root:v1 e=JWXYDBPXYWG6FX3GMDIBFA6CJ4 l=C7HRFPF3BLGF3YR4DY5KX3SMBE seq=1 "
  "sig=o908WmNp7LibOfPsr4btQwatZJ5URBr2ZAuxvK4UWHlsB9sUOTJQaGAlLPVAhM__XJesCHxLISo94z5Z2a463gA";
const std::map<std::string, std::string> eip_entries = {
  {"C7HRFPF3BLGF3YR4DY5KX3SMBE",
   "enrtree://AM5FCQLWIZX2QFPNJAP7VUERCCRNGRHWZG3YYHIUV7BVDQ5FDPRT2@morenodes.example.org"},
  {"JWXYDBPXYWG6FX3GMDIBFA6CJ4",
   "enrtree-branch:2XS2367YHAXJFGLZHVAWLQD4ZY,H4FHT4B454P6UXFD7JCYQ5PWDY,"
   "MHTDO6TMUBRIA2XWG5LUDACK24"},
  {"2XS2367YHAXJFGLZHVAWLQD4ZY",
   "enr:-HW4QOFzoVLaFJnNhbgMoDXPnOvcdVuj7pDpqRvh6BRDO68aVi5ZcjB3vzQRZH2IcLBGHzo8uUN3snqmgTiE56CH3A"
   "MBgmlkgnY0iXNlY3AyNTZrMaECC2_24YYkYHEgdzxlSNKQEnHhuNAbNlMlWJxrJxbAFvA"},
  {"H4FHT4B454P6UXFD7JCYQ5PWDY",
   "enr:-HW4QAggRauloj2SDLtIHN1XBkvhFZ1vtf1raYQp9TBW2RD5EEawDzbtSmlXUfnaHcvwOizhVYLtr7e6vw7NAf6mTu"
   "oCgmlkgnY0iXNlY3AyNTZrMaECjrXI8TLNXU0f8cthpAMxEshUyQlK-AM0PW2wfrnacNI"},
  {"MHTDO6TMUBRIA2XWG5LUDACK24",
   "enr:-HW4QLAYqmrwllBEnzWWs7I5Ev2IAs7x_dZlbYdRdMUx5EyKHDXp7AV5CkuPGUPdvbv1_Ms1CPfhcGCvSElSosZmy"
   "oqAgmlkgnY0iXNlY3AyNTZrMaECriawHKWdDRk2xeZkrOXBQ0dfMFLHY4eENZwdufn1S1o"},
};

// A zone in memory: name -> TXT strings; counts the questions asked.
struct zone {
  std::map<std::string, std::vector<std::string>> names;
  std::size_t asked = 0;
  txt_lookup lookup() {
    return [this](const std::string& name) -> result<std::vector<std::string>> {
      ++asked;
      auto it = names.find(name);
      if (it == names.end())
        return make_error(errc::not_found, "no such name");
      return it->second;
    };
  }
  void put(const std::string& domain, const std::vector<enrtree_txt>& tree) {
    for (const auto& t : tree)
      names[t.label.empty() ? domain : t.label + "." + domain] = {t.text};
  }
};

std::string node_record(std::uint16_t port) {
  enr_fields f;
  f.ip = std::array<std::uint8_t, 4>{10, 0, 0, 1};
  f.tcp = port;
  f.waku2 = waku2_relay;
  return make_enr(private_key::generate(), 1, f)->text();
}

} // namespace

TEST_CASE("enrtree: EIP-1459's example tree verifies: key, root signature, every hash",
          "[core][enrtree]") {
  auto url = parse_enrtree_url(eip_url);
  REQUIRE(url);
  CHECK(url->domain == "nodes.example.org");
  // The EIP names the key behind the URL in uncompressed form.
  CHECK(to_hex(as_view(url->key.uncompressed()))
        == "049f88229042fef9200246f49f94d9b77c4e954721442714e85850cb6d9e5daf2d880ea0e53cb3ac1a75f9"
           "923c2726a4f941f7d326781baa6380754a360de5c2b6");
  CHECK(url->text() == eip_url);

  auto root = parse_enrtree_root(eip_root, url->key);
  REQUIRE(root);
  // The key the EIP's URL text names did not sign it.
  auto printed = parse_enrtree_url(eip_printed_url);
  REQUIRE(printed);
  CHECK_FALSE(parse_enrtree_root(eip_root, printed->key));
  CHECK(root->enr_root == "JWXYDBPXYWG6FX3GMDIBFA6CJ4");
  CHECK(root->link_root == "C7HRFPF3BLGF3YR4DY5KX3SMBE");
  CHECK(root->seq == 1);
  for (const auto& [label, text] : eip_entries) {
    INFO(label);
    CHECK(enrtree_label(text) == label);
    CHECK(parse_enrtree_entry(text));
  }
  auto branch = parse_enrtree_entry(eip_entries.at("JWXYDBPXYWG6FX3GMDIBFA6CJ4"));
  REQUIRE(branch);
  CHECK(branch->type == enrtree_entry::kind::branch);
  CHECK(branch->children.size() == 3);
  auto link = parse_enrtree_entry(eip_entries.at("C7HRFPF3BLGF3YR4DY5KX3SMBE"));
  REQUIRE(link);
  CHECK(link->type == enrtree_entry::kind::link);
  CHECK(link->link.domain == "morenodes.example.org");

  // Walked through a zone: three records, the link followed (and its
  // missing root reported, not fatal).
  zone z;
  z.names["nodes.example.org"] = {"v=spf1 -all", eip_root};
  for (const auto& [label, text] : eip_entries)
    z.names[label + ".nodes.example.org"] = {text};
  enrtree_client client;
  auto synced = client.sync(*url, z.lookup());
  REQUIRE(synced);
  CHECK(synced->records.size() == 3);
  CHECK(synced->seq == 1);
  REQUIRE(synced->failures.size() == 1);
  CHECK_THAT(synced->failures[0], Catch::Contains("morenodes.example.org"));
}

TEST_CASE("enrtree: a root that was changed, or signed by another key, is refused",
          "[core][enrtree]") {
  auto url = parse_enrtree_url(eip_url);
  REQUIRE(url);
  auto changed = eip_root;
  changed.replace(changed.find("seq=1"), 5, "seq=2");
  auto refused = parse_enrtree_root(changed, url->key);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == errc::verification_failed);
  CHECK_FALSE(parse_enrtree_root(eip_root, private_key::generate().public_key()));
  for (const char* bad : {"enrtree-root:v1 e=JWXYDBPXYWG6FX3GMDIBFA6CJ4 seq=1 sig=AA",
                          "enrtree-root:v2 e=A l=B seq=1 sig=C", "", "enrtree-root:v1",
                          "enrtree-root:v1 e=JWXYDBPXYWG6FX3GMDIBFA6CJ4 l=C7HRFPF3BLGF3YR4DY5KX3SMBE "
                          "seq=x sig=o908"}) {
    INFO(bad);
    auto r = parse_enrtree_root(bad, url->key);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::malformed);
  }
  for (const char* bad : {"enrtree://@nodes.example.org", "enr://AM5F@x", "enrtree://AAAA@x.org",
                          "enrtree://AM5FCQLWIZX2QFPNJAP7VUERCCRNGRHWZG3YYHIUV7BVDQ5FDPRT2@",
                          "enrtree://AM5FCQLWIZX2QFPNJAP7VUERCCRNGRHWZG3YYHIUV7BVDQ5FDPRT2@a..b"}) {
    INFO(bad);
    CHECK_FALSE(parse_enrtree_url(bad));
  }
  CHECK_FALSE(parse_enrtree_entry("enrtree-branch:not-a-hash"));
  CHECK_FALSE(parse_enrtree_entry("txt:hello"));
}

TEST_CASE("enrtree: a built tree of many records walks back to every record, once",
          "[core][enrtree]") {
  auto key = private_key::generate();
  std::vector<std::string> records;
  for (std::uint16_t i = 0; i < 40; ++i)
    records.push_back(node_record(static_cast<std::uint16_t>(30000 + i)));
  records.push_back(records.front());  // listed twice, kept once
  auto tree = make_enr_tree(key, 7, records, {});
  REQUIRE(tree);
  CHECK(tree->front().label.empty());
  // 40 leaves, 4 branches of ≤ 13 and one above them, the empty link branch, the root.
  CHECK(tree->size() == 40 + 4 + 1 + 1 + 1);
  for (const auto& t : *tree) {
    CHECK(t.text.size() < 480);  // fits one UDP answer with its name
    if (!t.label.empty())
      CHECK(enrtree_label(t.text) == t.label);
  }

  zone z;
  z.put("nodes.test", *tree);
  enrtree_url url{key.public_key(), "nodes.test"};
  enrtree_client client;
  auto synced = client.sync(url, z.lookup());
  REQUIRE(synced);
  CHECK(synced->records.size() == 40);
  CHECK(synced->failures.empty());
  CHECK(synced->seq == 7);
  CHECK(synced->lookups == tree->size());

  // Unchanged, the second walk asks only for the root.
  z.asked = 0;
  auto again = client.sync(url, z.lookup());
  REQUIRE(again);
  CHECK(again->records.size() == 40);
  CHECK(z.asked == 1);

  // An older root is stale.
  auto older = make_enr_tree(key, 6, records, {});
  REQUIRE(older);
  zone z_old;
  z_old.put("nodes.test", *older);
  auto stale = client.sync(url, z_old.lookup());
  REQUIRE_FALSE(stale);
  CHECK_THAT(stale.error().message, Catch::Contains("stale root"));
}

TEST_CASE("enrtree: a leaf swapped by the server is refused; the rest of the tree still counts",
          "[core][enrtree]") {
  auto key = private_key::generate();
  std::vector<std::string> records;
  for (std::uint16_t i = 0; i < 5; ++i)
    records.push_back(node_record(static_cast<std::uint16_t>(31000 + i)));
  auto tree = make_enr_tree(key, 1, records, {});
  REQUIRE(tree);
  zone z;
  z.put("nodes.test", *tree);
  // One leaf's name now answers another node's record.
  auto leaf = enrtree_label(records[2]);
  z.names[leaf + ".nodes.test"] = {node_record(32000)};
  enrtree_client client;
  auto synced = client.sync({key.public_key(), "nodes.test"}, z.lookup());
  REQUIRE(synced);
  CHECK(synced->records.size() == 4);
  REQUIRE(synced->failures.size() == 1);
  CHECK_THAT(synced->failures[0], Catch::Contains("hashes to its name"));

  // A root the server rewrote is fatal: nothing below it is trusted.
  z.names["nodes.test"] = {enrtree_root{enrtree_label(records[0]), "AAAAAAAAAAAAAAAAAAAAAAAAAA", 9}
                             .sign(private_key::generate())};
  auto forged = client.sync({key.public_key(), "nodes.test"}, z.lookup());
  REQUIRE_FALSE(forged);
  CHECK(forged.error().code == errc::verification_failed);
}

TEST_CASE("enrtree: links are followed to their own trees, each checked with its own key; "
          "limits bound a hostile tree",
          "[core][enrtree]") {
  auto key_a = private_key::generate(), key_b = private_key::generate();
  std::vector<std::string> a_records{node_record(1), node_record(2)};
  std::vector<std::string> b_records{node_record(3)};
  enrtree_url url_a{key_a.public_key(), "a.test"}, url_b{key_b.public_key(), "b.test"};
  zone z;
  // The trees link to each other: the walk must not loop.
  z.put("a.test", *make_enr_tree(key_a, 1, a_records, {url_b.text()}));
  z.put("b.test", *make_enr_tree(key_b, 1, b_records, {url_a.text()}));
  enrtree_client client;
  auto synced = client.sync(url_a, z.lookup());
  REQUIRE(synced);
  CHECK(synced->records.size() == 3);
  CHECK(synced->trees == 2);
  CHECK(synced->failures.empty());

  // A linked tree signed by a key other than its link names is not read.
  z.put("b.test", *make_enr_tree(private_key::generate(), 2, {node_record(4)}, {}));
  enrtree_client fresh;
  auto forged = fresh.sync(url_a, z.lookup());
  REQUIRE(forged);
  CHECK(forged->records.size() == 2);
  REQUIRE(forged->failures.size() == 1);
  CHECK_THAT(forged->failures[0], Catch::Contains("not signed by the tree's key"));

  // A tree of 200 records with a budget of 50 lookups: 50 questions at most.
  std::vector<std::string> many;
  for (std::uint16_t i = 0; i < 200; ++i)
    many.push_back(node_record(static_cast<std::uint16_t>(40000 + i)));
  zone big;
  big.put("big.test", *make_enr_tree(key_a, 1, many, {}));
  enrtree_client bounded({50, 20, 1});
  auto partial = bounded.sync({key_a.public_key(), "big.test"}, big.lookup());
  REQUIRE(partial);
  CHECK(big.asked <= 50);
  CHECK(partial->records.size() == 20);
}
