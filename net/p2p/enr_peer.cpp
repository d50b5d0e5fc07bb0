#include "net/p2p/enr_peer.hpp"

#include "core/hex.hpp"
#include "net/p2p/multiaddr.hpp"
#include "net/p2p/peer_id.hpp"

#include <algorithm>

namespace annals::p2p {

namespace {

std::string port_bytes(std::uint16_t port) {
  return {static_cast<char>(port >> 8), static_cast<char>(port & 0xff)};
}

// /ipX/<ip>/tcp/<port> in binary form.
std::string ip_tcp(multiaddr_protocol ip, std::string_view address, std::uint16_t port) {
  auto text = multiaddr::from_bytes(std::string(1, static_cast<char>(ip)) + std::string(address)
                                    + std::string(1, static_cast<char>(multiaddr_protocol::tcp))
                                    + port_bytes(port));
  return text ? text->to_string() : std::string();
}

bool names_peer(const multiaddr& m) {
  return std::any_of(m.components().begin(), m.components().end(),
                     [](const auto& c) { return c.protocol == multiaddr_protocol::p2p; });
}

} // namespace

std::string enr_peer_id(const enr_record& record) {
  return peer_id::from_secp256k1(record.key).to_string();
}

std::vector<std::string> enr_addresses(const enr_record& record) {
  std::vector<std::string> out;
  auto suffix = "/p2p/" + enr_peer_id(record);
  const auto& f = record.fields;
  if (f.ip && f.tcp)
    out.push_back(ip_tcp(multiaddr_protocol::ip4, as_view(*f.ip), *f.tcp) + suffix);
  if (f.ip6 && (f.tcp6 || f.tcp))
    out.push_back(ip_tcp(multiaddr_protocol::ip6, as_view(*f.ip6), f.tcp6 ? *f.tcp6 : *f.tcp)
                  + suffix);
  for (const auto& bytes : f.multiaddrs)
    if (auto m = multiaddr::from_bytes(bytes))
      out.push_back(m->to_string() + (names_peer(*m) ? "" : suffix));
  return out;
}

std::vector<std::string> enr_multiaddr_texts(const enr_record& record) {
  std::vector<std::string> out;
  for (const auto& bytes : record.fields.multiaddrs) {
    auto m = multiaddr::from_bytes(bytes);
    out.push_back(m ? m->to_string() : "unsupported: " + to_hex(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
  }
  return out;
}

result<std::string> enr_dial_address(const enr_record& record) {
  for (const auto& address : enr_addresses(record))
    if (parse_tcp_address(address))
      return address;
  return make_error(errc::invalid_argument,
                    "enr: peer " + enr_peer_id(record)
                      + " gives no address a TCP relay can dial (ip and tcp, ip6 and tcp6, "
                        "or an /ip4|ip6/…/tcp/… multiaddr)");
}

result<std::string> static_peer_address(std::string_view entry) {
  if (entry.substr(0, 4) == "enr:") {
    auto record = parse_enr(entry);
    if (!record)
      return record.error();
    return enr_dial_address(*record);
  }
  if (auto ok = check_peer_address(entry); !ok)
    return ok.error();
  return std::string(entry);
}

enr_fields own_enr_fields(const std::vector<std::string>& advertised, std::uint8_t waku2,
                          std::optional<relay_shards> shards) {
  enr_fields f;
  f.waku2 = waku2;
  f.shards = std::move(shards);
  for (const auto& text : advertised) {
    auto m = multiaddr::parse(text);
    if (!m || names_peer(*m))
      continue;
    const auto& c = m->components();
    // Port 0 is "any free port" to bind, not a port a peer can reach.
    if (std::any_of(c.begin(), c.end(), [](const auto& part) {
          return (part.protocol == multiaddr_protocol::tcp
                  || part.protocol == multiaddr_protocol::udp)
                 && part.value == std::string(2, '\0');
        }))
      continue;
    bool plain_tcp = c.size() == 2 && c[1].protocol == multiaddr_protocol::tcp;
    auto port = [&] {
      return static_cast<std::uint16_t>(static_cast<std::uint8_t>(c[1].value[0]) << 8
                                        | static_cast<std::uint8_t>(c[1].value[1]));
    };
    if (plain_tcp && c[0].protocol == multiaddr_protocol::ip4 && !f.ip) {
      f.ip.emplace();
      std::copy(c[0].value.begin(), c[0].value.end(), f.ip->begin());
      f.tcp = port();
    } else if (plain_tcp && c[0].protocol == multiaddr_protocol::ip6 && !f.ip6) {
      f.ip6.emplace();
      std::copy(c[0].value.begin(), c[0].value.end(), f.ip6->begin());
      f.tcp6 = port();
    } else {
      f.multiaddrs.push_back(m->to_bytes());
    }
  }
  return f;
}

} // namespace annals::p2p
