#include "net/interfaces.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace annals {

namespace {

bool parse_v4(std::string_view ip, in_addr& out) {
  return ::inet_pton(AF_INET, std::string(ip).c_str(), &out) == 1;
}

bool parse_v6(std::string_view ip, in6_addr& out) {
  return ::inet_pton(AF_INET6, std::string(ip).c_str(), &out) == 1;
}

bool link_local_v4(const in_addr& a) {
  auto host = ntohl(a.s_addr);
  return (host >> 16) == 0xa9fe;  // 169.254/16
}

} // namespace

bool is_wildcard_ip(std::string_view ip) {
  in_addr v4{};
  if (parse_v4(ip, v4))
    return v4.s_addr == htonl(INADDR_ANY);
  in6_addr v6{};
  return parse_v6(ip, v6) && IN6_IS_ADDR_UNSPECIFIED(&v6);
}

bool is_loopback_ip(std::string_view ip) {
  in_addr v4{};
  if (parse_v4(ip, v4))
    return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (!parse_v6(ip, v6))
    return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6))
    return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

std::vector<interface_address> local_interface_addresses() {
  std::vector<interface_address> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0)
    return out;
  for (auto* it = list; it; it = it->ifa_next) {
    if (!it->ifa_addr || !(it->ifa_flags & IFF_UP))
      continue;
    char text[INET6_ADDRSTRLEN] = {};
    interface_address a;
    a.interface = it->ifa_name ? it->ifa_name : "";
    if (it->ifa_addr->sa_family == AF_INET) {
      const auto& sin = *reinterpret_cast<const sockaddr_in*>(it->ifa_addr);
      if (!::inet_ntop(AF_INET, &sin.sin_addr, text, sizeof(text)))
        continue;
      a.loopback = (ntohl(sin.sin_addr.s_addr) >> 24) == 127;
      a.link_local = link_local_v4(sin.sin_addr);
    } else if (it->ifa_addr->sa_family == AF_INET6) {
      const auto& sin6 = *reinterpret_cast<const sockaddr_in6*>(it->ifa_addr);
      if (!::inet_ntop(AF_INET6, &sin6.sin6_addr, text, sizeof(text)))
        continue;
      a.v6 = true;
      a.loopback = IN6_IS_ADDR_LOOPBACK(&sin6.sin6_addr);
      a.link_local = IN6_IS_ADDR_LINKLOCAL(&sin6.sin6_addr);
    } else {
      continue;
    }
    a.ip = text;
    out.push_back(std::move(a));
  }
  ::freeifaddrs(list);
  return out;
}

std::vector<std::string> advertised_ips(std::string_view bound_ip,
                                        const std::vector<interface_address>& interfaces,
                                        bool to_loopback_peer) {
  std::vector<std::string> routable, loopback;
  auto add = [](std::vector<std::string>& to, const std::string& ip) {
    if (std::find(to.begin(), to.end(), ip) == to.end())
      to.push_back(ip);
  };
  if (!is_wildcard_ip(bound_ip)) {
    std::string ip(bound_ip);
    if (!is_loopback_ip(ip))
      return {ip};
    return to_loopback_peer ? std::vector<std::string>{ip} : std::vector<std::string>{};
  }
  in_addr v4{};
  bool want_v6 = !parse_v4(bound_ip, v4);
  for (const auto& a : interfaces) {
    if (a.v6 != want_v6 || a.link_local)
      continue;
    if (a.loopback) {
      if (to_loopback_peer)
        add(loopback, a.ip);
    } else {
      add(routable, a.ip);
    }
  }
  routable.insert(routable.end(), loopback.begin(), loopback.end());
  return routable;
}

std::vector<std::string> advertised_endpoints(std::string_view listen_ip, unsigned port,
                                              const std::string& external,
                                              const std::vector<interface_address>& interfaces,
                                              std::size_t limit) {
  if (!external.empty())
    return {external};
  auto ips = advertised_ips(listen_ip, interfaces, false);
  if (ips.empty())
    ips = advertised_ips(listen_ip, interfaces, true);
  std::vector<std::string> out;
  for (const auto& ip : ips)
    if (out.size() < limit)
      out.push_back(format_host_port(ip, port));
  return out;
}

std::string format_host_port(std::string_view ip, unsigned port) {
  bool v6 = ip.find(':') != std::string_view::npos;
  return (v6 ? "[" + std::string(ip) + "]" : std::string(ip)) + ":" + std::to_string(port);
}

bool split_host_port(std::string_view text, std::string& ip, unsigned& port) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return false;
  auto host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']')
      return false;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return false;  // IPv6 without brackets is ambiguous
  }
  auto digits = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || value > 65535)
    return false;
  in_addr v4{};
  in6_addr v6{};
  if (!parse_v4(host, v4) && !parse_v6(host, v6))
    return false;
  ip = std::string(host);
  port = value;
  return true;
}

} // namespace annals
