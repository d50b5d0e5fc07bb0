// What a node may advertise: wildcards become the interfaces' addresses,
// loopback ones reach only peers on loopback, and an external address the
// node cannot see comes first.
#include "net/interfaces.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace annals;

namespace {

std::vector<interface_address> sample_interfaces() {
  return {
    {"lo", "127.0.0.1", false, true, false},
    {"eth0", "10.77.0.2", false, false, false},
    {"eth0", "169.254.3.4", false, false, true},
    {"wlan0", "192.168.1.20", false, false, false},
    {"lo", "::1", true, true, false},
    {"eth0", "fe80::1", true, false, true},
    {"eth0", "fd00::2", true, false, false},
  };
}

} // namespace

TEST_CASE("a wildcard is advertised as the interfaces' addresses, loopback only to loopback "
          "peers",
          "[net][addresses]") {
  auto ifs = sample_interfaces();
  CHECK(advertised_ips("0.0.0.0", ifs, false) == std::vector<std::string>{"10.77.0.2", "192.168.1.20"});
  CHECK(advertised_ips("0.0.0.0", ifs, true)
        == std::vector<std::string>{"10.77.0.2", "192.168.1.20", "127.0.0.1"});
  CHECK(advertised_ips("::", ifs, false) == std::vector<std::string>{"fd00::2"});
  CHECK(advertised_ips("::", ifs, true) == std::vector<std::string>{"fd00::2", "::1"});
  // A specific address is itself; a loopback one never goes to another host.
  CHECK(advertised_ips("10.77.0.2", ifs, false) == std::vector<std::string>{"10.77.0.2"});
  CHECK(advertised_ips("127.0.0.1", ifs, false).empty());
  CHECK(advertised_ips("127.0.0.5", ifs, true) == std::vector<std::string>{"127.0.0.5"});
  // Repeats (an address on two interfaces) once.
  ifs.push_back({"eth1", "10.77.0.2", false, false, false});
  CHECK(advertised_ips("0.0.0.0", ifs, false).size() == 2);
}

TEST_CASE("torrent endpoints: the external address, else the interfaces, else loopback",
          "[net][addresses]") {
  auto ifs = sample_interfaces();
  CHECK(advertised_endpoints("0.0.0.0", 6881, "", ifs)
        == std::vector<std::string>{"10.77.0.2:6881", "192.168.1.20:6881"});
  CHECK(advertised_endpoints("0.0.0.0", 6881, "203.0.113.7:7000", ifs)
        == std::vector<std::string>{"203.0.113.7:7000"});
  CHECK(advertised_endpoints("::", 6881, "", ifs) == std::vector<std::string>{"[fd00::2]:6881"});
  // A host on loopback alone: its peers are on loopback too.
  std::vector<interface_address> only_lo{{"lo", "127.0.0.1", false, true, false}};
  CHECK(advertised_endpoints("0.0.0.0", 9, "", only_lo) == std::vector<std::string>{"127.0.0.1:9"});
  CHECK(advertised_endpoints("127.0.0.1", 9, "", ifs) == std::vector<std::string>{"127.0.0.1:9"});
  CHECK(advertised_endpoints("0.0.0.0", 9, "", ifs, 1).size() == 1);
}

TEST_CASE("addresses are classified and ADDR:PORT is split strictly", "[net][addresses]") {
  CHECK(is_wildcard_ip("0.0.0.0"));
  CHECK(is_wildcard_ip("::"));
  CHECK_FALSE(is_wildcard_ip("10.0.0.1"));
  CHECK(is_loopback_ip("127.0.0.1"));
  CHECK(is_loopback_ip("127.255.0.9"));
  CHECK(is_loopback_ip("::1"));
  CHECK(is_loopback_ip("::ffff:127.0.0.1"));
  CHECK_FALSE(is_loopback_ip("128.0.0.1"));
  CHECK_FALSE(is_loopback_ip("not an address"));
  std::string ip;
  unsigned port = 0;
  REQUIRE(split_host_port("203.0.113.7:6881", ip, port));
  CHECK(ip == "203.0.113.7");
  CHECK(port == 6881);
  REQUIRE(split_host_port("[2001:db8::1]:443", ip, port));
  CHECK(ip == "2001:db8::1");
  CHECK(port == 443);
  for (const char* bad : {"2001:db8::1:443", "host.example:80", "1.2.3.4", "1.2.3.4:", ":80",
                          "1.2.3.4:65536", "1.2.3.4:-1", "[1.2.3.4]:80x"})
    CHECK_FALSE(split_host_port(bad, ip, port));
  CHECK(format_host_port("fd00::2", 1) == "[fd00::2]:1");
  CHECK(format_host_port("10.0.0.1", 1) == "10.0.0.1:1");
}

TEST_CASE("this host's interfaces include loopback and are all up", "[net][addresses]") {
  auto ifs = local_interface_addresses();
  REQUIRE_FALSE(ifs.empty());
  CHECK(std::any_of(ifs.begin(), ifs.end(),
                    [](const interface_address& a) { return a.loopback && a.ip == "127.0.0.1"; }));
  for (const auto& a : ifs) {
    CHECK_FALSE(a.ip.empty());
    CHECK(a.loopback == is_loopback_ip(a.ip));
    CHECK_FALSE(is_wildcard_ip(a.ip));
  }
}
