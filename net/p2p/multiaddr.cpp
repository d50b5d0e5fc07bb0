#include "net/p2p/multiaddr.hpp"

#include "net/p2p/peer_id.hpp"
#include "net/p2p/varint.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <optional>

namespace annals::p2p {

namespace {

struct protocol_info {
  multiaddr_protocol protocol;
  std::string_view name;
  bool has_value;
};

constexpr std::array<protocol_info, 11> protocols{{
    {multiaddr_protocol::ip4, "ip4", true},
    {multiaddr_protocol::tcp, "tcp", true},
    {multiaddr_protocol::ip6, "ip6", true},
    {multiaddr_protocol::dns, "dns", true},
    {multiaddr_protocol::dns4, "dns4", true},
    {multiaddr_protocol::dns6, "dns6", true},
    {multiaddr_protocol::dnsaddr, "dnsaddr", true},
    {multiaddr_protocol::udp, "udp", true},
    {multiaddr_protocol::p2p, "p2p", true},
    {multiaddr_protocol::ws, "ws", false},
    {multiaddr_protocol::wss, "wss", false},
}};

bool is_host_name(multiaddr_protocol protocol) {
  return protocol == multiaddr_protocol::dns || protocol == multiaddr_protocol::dns4
         || protocol == multiaddr_protocol::dns6 || protocol == multiaddr_protocol::dnsaddr;
}

// A DNS name as multiaddr carries it: 1 to 253 characters, none of them a
// '/' (the text form's separator) or a control character.
bool valid_host_name(std::string_view name) {
  return !name.empty() && name.size() <= 253
         && std::none_of(name.begin(), name.end(), [](char c) {
              auto u = static_cast<unsigned char>(c);
              return c == '/' || u <= 0x20 || u == 0x7f;
            });
}

const protocol_info* find_by_name(std::string_view name) {
  for (const auto& info : protocols)
    if (info.name == name)
      return &info;
  return nullptr;
}

const protocol_info* find_by_code(std::uint64_t code) {
  for (const auto& info : protocols)
    if (static_cast<std::uint64_t>(info.protocol) == code)
      return &info;
  return nullptr;
}

error bad(std::string message) {
  return make_error(errc::malformed, "multiaddr: " + std::move(message));
}

// inet_pton is pure text parsing and already rejects leading zeros in IPv4
// octets; it needs a NUL-terminated copy.
result<std::string> parse_ip(int family, std::string_view text) {
  std::array<unsigned char, 16> address{};
  std::string terminated(text);
  if (inet_pton(family, terminated.c_str(), address.data()) != 1)
    return bad("invalid " + std::string(family == AF_INET ? "ip4" : "ip6") + " address \"" +
               terminated + "\"");
  return std::string(reinterpret_cast<const char*>(address.data()), family == AF_INET ? 4 : 16);
}

std::string format_ip(int family, const std::string& bytes) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  inet_ntop(family, bytes.data(), text.data(), text.size());
  return text.data();
}

result<std::string> parse_port(std::string_view what, std::string_view text) {
  auto invalid = [&] {
    return bad("invalid " + std::string(what) + " port \"" + std::string(text) + "\"");
  };
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0'))
    return invalid();
  unsigned port = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return invalid();
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port > 65535)
    return bad(std::string(what) + " port " + std::to_string(port) + " out of range");
  return std::string{static_cast<char>(port >> 8), static_cast<char>(port & 0xff)};
}

result<std::string> parse_value(multiaddr_protocol protocol, std::string_view text) {
  switch (protocol) {
    case multiaddr_protocol::ip4: return parse_ip(AF_INET, text);
    case multiaddr_protocol::ip6: return parse_ip(AF_INET6, text);
    case multiaddr_protocol::tcp: return parse_port("tcp", text);
    case multiaddr_protocol::udp: return parse_port("udp", text);
    case multiaddr_protocol::p2p: {
      auto id = peer_id::parse(text);
      if (!id)
        return bad(id.error().message);
      return id->bytes();
    }
    case multiaddr_protocol::dns:
    case multiaddr_protocol::dns4:
    case multiaddr_protocol::dns6:
    case multiaddr_protocol::dnsaddr:
      if (!valid_host_name(text))
        return bad("invalid host name \"" + std::string(text) + "\"");
      return std::string(text);
    case multiaddr_protocol::ws:
    case multiaddr_protocol::wss: break;
  }
  return std::string();
}

std::string format_value(const multiaddr_component& component) {
  const auto& value = component.value;
  switch (component.protocol) {
    case multiaddr_protocol::ip4: return format_ip(AF_INET, value);
    case multiaddr_protocol::ip6: return format_ip(AF_INET6, value);
    case multiaddr_protocol::tcp:
    case multiaddr_protocol::udp:
      return std::to_string(static_cast<std::uint8_t>(value[0]) << 8 |
                            static_cast<std::uint8_t>(value[1]));
    case multiaddr_protocol::p2p: return peer_id::from_bytes(value)->to_string();
    case multiaddr_protocol::dns:
    case multiaddr_protocol::dns4:
    case multiaddr_protocol::dns6:
    case multiaddr_protocol::dnsaddr: return value;
    case multiaddr_protocol::ws:
    case multiaddr_protocol::wss: break;
  }
  return {};
}

// The binary value of `protocol` at the front of `bytes`, validated as
// strictly as the text form, so both forms accept the same addresses.
result<std::string> read_value(multiaddr_protocol protocol, std::string_view bytes,
                               std::size_t& consumed) {
  std::size_t size = 0;
  std::size_t prefix = 0;
  switch (protocol) {
    case multiaddr_protocol::ip4: size = 4; break;
    case multiaddr_protocol::ip6: size = 16; break;
    case multiaddr_protocol::tcp:
    case multiaddr_protocol::udp: size = 2; break;
    case multiaddr_protocol::ws:
    case multiaddr_protocol::wss: size = 0; break;
    case multiaddr_protocol::dns:
    case multiaddr_protocol::dns4:
    case multiaddr_protocol::dns6:
    case multiaddr_protocol::dnsaddr:
    case multiaddr_protocol::p2p: {
      auto length = decode_uvarint(bytes);
      if (!length)
        return bad("value length: " + length.error().message);
      if (length->value > bytes.size() - length->size)
        return bad("value truncated");
      prefix = length->size;
      size = static_cast<std::size_t>(length->value);
      break;
    }
  }
  if (bytes.size() < size)
    return bad("value truncated");
  std::string value(bytes.substr(prefix, size));
  if (protocol == multiaddr_protocol::p2p) {
    if (auto id = peer_id::from_bytes(value); !id)
      return bad(id.error().message);
  }
  if (is_host_name(protocol) && !valid_host_name(value))
    return bad("invalid host name");
  consumed = prefix + size;
  return value;
}

} // namespace

result<multiaddr> multiaddr::parse(std::string_view text) {
  if (text.empty() || text[0] != '/')
    return bad("text must start with '/'");
  multiaddr out;
  std::size_t pos = 1;
  // Each step takes "name" or "name/value" and leaves pos after it.
  auto next_part = [&]() -> std::optional<std::string_view> {
    if (pos > text.size())
      return std::nullopt;
    auto end = text.find('/', pos);
    if (end == std::string_view::npos)
      end = text.size();
    auto part = text.substr(pos, end - pos);
    pos = end + 1;
    return part;
  };
  while (auto name = next_part()) {
    if (name->empty())
      return bad("empty component in \"" + std::string(text) + "\"");
    const auto* info = find_by_name(*name);
    if (info == nullptr)
      return make_error(errc::unsupported, "multiaddr: protocol \"" + std::string(*name) + "\"");
    std::string value;
    if (info->has_value) {
      auto value_text = next_part();
      if (!value_text)
        return bad("/" + std::string(*name) + " needs a value");
      auto parsed = parse_value(info->protocol, *value_text);
      if (!parsed)
        return parsed.error();
      value = std::move(*parsed);
    }
    out.components_.push_back({info->protocol, std::move(value)});
  }
  return out;
}

result<multiaddr> multiaddr::from_bytes(std::string_view bytes) {
  if (bytes.empty())
    return bad("empty");
  multiaddr out;
  while (!bytes.empty()) {
    auto code = decode_uvarint(bytes);
    if (!code)
      return bad("protocol code: " + code.error().message);
    const auto* info = find_by_code(code->value);
    if (info == nullptr)
      return make_error(errc::unsupported,
                        "multiaddr: protocol code " + std::to_string(code->value));
    bytes.remove_prefix(code->size);
    std::size_t consumed = 0;
    auto value = read_value(info->protocol, bytes, consumed);
    if (!value)
      return value.error();
    bytes.remove_prefix(consumed);
    out.components_.push_back({info->protocol, std::move(*value)});
  }
  return out;
}

std::string multiaddr::to_string() const {
  std::string out;
  for (const auto& component : components_) {
    const auto* info = find_by_code(static_cast<std::uint64_t>(component.protocol));
    out += '/';
    out += info->name;
    if (info->has_value) {
      out += '/';
      out += format_value(component);
    }
  }
  return out;
}

std::string multiaddr::to_bytes() const {
  std::string out;
  for (const auto& component : components_) {
    append_uvarint(out, static_cast<std::uint64_t>(component.protocol));
    if (component.protocol == multiaddr_protocol::p2p || is_host_name(component.protocol))
      append_uvarint(out, component.value.size());
    out += component.value;
  }
  return out;
}

result<tcp_address> parse_tcp_address(std::string_view text) {
  auto addr = multiaddr::parse(text);
  auto named = [&](const std::string& why) { return "multiaddr " + std::string(text) + ": " + why; };
  if (!addr)
    return make_error(errc::invalid_argument, named(addr.error().message));
  tcp_address out;
  bool has_port = false;
  for (const auto& c : addr->components()) {
    switch (c.protocol) {
      case multiaddr_protocol::ip4:
      case multiaddr_protocol::ip6:
        out.ip = c.value;
        break;
      case multiaddr_protocol::tcp:
        out.port = static_cast<std::uint16_t>((static_cast<unsigned char>(c.value[0]) << 8)
                                              | static_cast<unsigned char>(c.value[1]));
        has_port = true;
        break;
      case multiaddr_protocol::p2p:
        out.peer = c.value;
        break;
      case multiaddr_protocol::ws:
      case multiaddr_protocol::wss:
        return make_error(errc::unsupported, named("/ws and /wss are not supported, use TCP"));
      case multiaddr_protocol::udp:
        return make_error(errc::unsupported, named("/udp is not a relay transport, use TCP"));
      case multiaddr_protocol::dns:
      case multiaddr_protocol::dns4:
      case multiaddr_protocol::dns6:
      case multiaddr_protocol::dnsaddr:
        return make_error(errc::unsupported, named("host names are not dialled, give /ip4 or /ip6"));
    }
  }
  if (out.ip.empty() || !has_port)
    return make_error(errc::invalid_argument, named("needs /ip4 or /ip6 and /tcp"));
  return out;
}

result<void> check_listen_address(std::string_view text) {
  if (auto address = parse_tcp_address(text); !address)
    return address.error();
  return ok_result();
}

result<void> check_external_address(std::string_view text) {
  auto address = parse_tcp_address(text);
  if (!address)
    return address.error();
  auto named = [&](const std::string& why) {
    return make_error(errc::invalid_argument, "multiaddr " + std::string(text) + ": " + why);
  };
  if (!address->peer.empty())
    return named("leave out /p2p/: the node appends its own ID");
  if (address->port == 0)
    return named("port 0 is not an address a peer can dial");
  if (std::all_of(address->ip.begin(), address->ip.end(), [](char c) { return c == 0; }))
    return named("0.0.0.0 and :: mean \"this host\" to a peer; name the address it can dial");
  return ok_result();
}

result<void> check_peer_address(std::string_view text) {
  auto address = parse_tcp_address(text);
  if (!address)
    return address.error();
  auto named = [&](const std::string& why) {
    return make_error(errc::invalid_argument, "multiaddr " + std::string(text) + ": " + why);
  };
  if (address->peer.empty())
    return named("needs /p2p/<peer ID>, so Noise can check whom it reached");
  auto id = peer_id::from_bytes(address->peer);
  if (!id)
    return named(id.error().message);
  if (!id->public_key())
    return named("its /p2p/ ID is a hash, not a key Noise can check");
  return ok_result();
}

} // namespace annals::p2p
