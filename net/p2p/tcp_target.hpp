// A TCP multiaddr as Boost.Asio dials or binds it (net/p2p internal).
#pragma once

#include "net/p2p/multiaddr.hpp"
#include "net/p2p/peer_id.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <algorithm>
#include <optional>
#include <string>

namespace annals::p2p {

struct tcp_target {
  boost::asio::ip::tcp::endpoint endpoint;
  std::optional<peer_id> peer;  // when the multiaddr names one with /p2p/
};

inline result<tcp_target> parse_tcp_target(const std::string& text) {
  auto address = parse_tcp_address(text);
  if (!address)
    return address.error();
  tcp_target target;
  if (address->ip.size() == 4) {
    boost::asio::ip::address_v4::bytes_type b{};
    std::copy(address->ip.begin(), address->ip.end(), b.begin());
    target.endpoint = {boost::asio::ip::address_v4(b), address->port};
  } else {
    boost::asio::ip::address_v6::bytes_type b{};
    std::copy(address->ip.begin(), address->ip.end(), b.begin());
    target.endpoint = {boost::asio::ip::address_v6(b), address->port};
  }
  if (!address->peer.empty()) {
    auto id = peer_id::from_bytes(address->peer);
    if (!id)
      return make_error(errc::invalid_argument, "multiaddr " + text + ": " + id.error().message);
    target.peer = *id;
  }
  return target;
}

} // namespace annals::p2p
