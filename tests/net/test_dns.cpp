#include "core/enr.hpp"
#include "core/enr_tree.hpp"
#include "net/dns_discovery.hpp"
#include "net/dns_txt.hpp"
#include "tests/dns_server.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>

using namespace annals;
using namespace std::chrono_literals;

namespace {

std::string node_record(std::uint16_t port, std::size_t extra_multiaddrs = 0) {
  enr_fields f;
  f.ip = std::array<std::uint8_t, 4>{10, 0, 0, 1};
  f.tcp = port;
  f.waku2 = waku2_relay;
  for (std::size_t i = 0; i < extra_multiaddrs; ++i) {
    // /dns4/node-i.example.org/tcp/443/wss, binary
    std::string host = "node-" + std::to_string(i) + ".example.org";
    std::string m = std::string("\x36", 1) + char(host.size()) + host
                    + std::string("\x06\x01\xbb\xde\x03", 5);
    f.multiaddrs.push_back(m);
  }
  auto r = make_enr(private_key::generate(), 1, f);
  REQUIRE(r);
  return r->text();
}

} // namespace

TEST_CASE("dns: TXT records come back whole through libresolv from a real server",
          "[net][dns]") {
  test::temp_dir dir("annals-dns");
  test::dns_server server(dir, "nodes.test");
  // A record over 255 bytes travels as several character-strings.
  auto long_record = node_record(30303, 4);
  REQUIRE(long_record.size() > 300);
  server.serve({{"", "first"}, {"", "second"}, {"LONG", long_record}});
  dns_resolver_options o{server.address(), 2000ms, 1};

  auto both = resolve_txt("nodes.test", o);
  REQUIRE(both);
  REQUIRE(both->size() == 2);
  CHECK(((*both)[0] == "first" || (*both)[0] == "second"));
  auto longer = resolve_txt("LONG.nodes.test", o);
  REQUIRE(longer);
  REQUIRE(longer->size() == 1);
  CHECK(longer->front() == long_record);

  auto missing = resolve_txt("nothing.nodes.test", o);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == errc::not_found);
  CHECK_THAT(missing.error().message, Catch::Contains("nothing.nodes.test"));

  // Nobody listens there: an error, within the timeout.
  auto start = std::chrono::steady_clock::now();
  auto silent = resolve_txt("nodes.test", {"127.0.0.1:" + std::to_string(test::free_udp_port()),
                                           1000ms, 1});
  CHECK_FALSE(silent);
  CHECK(std::chrono::steady_clock::now() - start < 10s);
  for (const char* bad : {"localhost:53", "10.0.0.1:0", "10.0.0.1:x", "::1"}) {
    INFO(bad);
    CHECK_FALSE(check_dns_server(bad));
  }
}

TEST_CASE("dns: a tree served by dnsmasq walks to every record; an update is read, a swap is "
          "refused",
          "[net][dns][enrtree]") {
  test::temp_dir dir("annals-dns");
  test::dns_server server(dir, "nodes.test");
  auto key = private_key::generate();
  std::vector<std::string> records;
  for (std::uint16_t i = 0; i < 30; ++i)
    records.push_back(node_record(static_cast<std::uint16_t>(31000 + i), i % 3));
  auto tree = make_enr_tree(key, 1, records, {});
  REQUIRE(tree);
  server.serve(*tree);
  dns_resolver_options o{server.address(), 2000ms, 1};
  txt_lookup lookup = [&](const std::string& name) { return resolve_txt(name, o); };
  enrtree_client client;
  enrtree_url url{key.public_key(), "nodes.test"};
  auto synced = client.sync(url, lookup);
  REQUIRE(synced);
  CHECK(synced->records.size() == 30);
  CHECK(synced->failures.empty());

  // The operator adds a node and raises seq: the new record is found.
  records.push_back(node_record(32000));
  auto updated = make_enr_tree(key, 2, records, {});
  REQUIRE(updated);
  server.serve(*updated);
  auto again = client.sync(url, lookup);
  REQUIRE(again);
  CHECK(again->seq == 2);
  CHECK(again->records.size() == 31);

  // A server that answers a forged root (another key) is refused outright.
  auto forged = make_enr_tree(private_key::generate(), 3, {node_record(33000)}, {});
  server.serve(*forged);
  auto refused = client.sync(url, lookup);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == errc::verification_failed);
}

TEST_CASE("dns discovery: the thread hands records on, counts failures, and stops at once",
          "[net][dns]") {
  test::temp_dir dir("annals-dns");
  test::dns_server server(dir, "nodes.test");
  auto key = private_key::generate();
  std::vector<std::string> records{node_record(34000), node_record(34001)};
  server.serve(*make_enr_tree(key, 1, records, {}));

  std::mutex m;
  std::vector<std::string> found;
  std::vector<std::string> problems;
  dns_discovery_config c;
  c.trees = {enrtree_url{key.public_key(), "nodes.test"}.text(),
             // a second tree at a name the server does not know
             enrtree_url{key.public_key(), "other.nodes.test"}.text()};
  c.resolver = {server.address(), 1000ms, 1};
  c.retry_initial = 100ms;
  c.retry_max = 200ms;
  auto d = dns_discovery::start(
    c,
    [&](std::vector<std::string> r, const std::string&) {
      std::lock_guard l(m);
      found.insert(found.end(), r.begin(), r.end());
    },
    [&](bool problem, const std::string& line) {
      std::lock_guard l(m);
      if (problem)
        problems.push_back(line);
    });
  REQUIRE(d);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto s = (*d)->stats();
    if (s.syncs >= 1 && s.failures >= 2)
      break;
    std::this_thread::sleep_for(20ms);
  }
  auto s = (*d)->stats();
  CHECK(s.syncs == 1);  // the next walk is 30 min away
  CHECK(s.failures >= 2);  // the unknown tree, retried with backoff
  CHECK(s.records == 2);
  CHECK_THAT(s.last_error, Catch::Contains("other.nodes.test"));
  {
    std::lock_guard l(m);
    CHECK(found.size() == 2);
    CHECK_FALSE(problems.empty());
  }
  auto start = std::chrono::steady_clock::now();
  d->reset();
  CHECK(std::chrono::steady_clock::now() - start < 500ms);

  // Bad configuration is refused before any thread starts.
  dns_discovery_config bad;
  bad.trees = {"enrtree://nope@nodes.test"};
  CHECK_FALSE(dns_discovery::start(bad, {}, {}));
  bad.trees = {enrtree_url{key.public_key(), "nodes.test"}.text()};
  bad.resolver.server = "nodes.test:53";
  CHECK_FALSE(dns_discovery::start(bad, {}, {}));
}
