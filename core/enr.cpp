#include "core/enr.hpp"

#include "core/hex.hpp"
#include "core/keccak.hpp"
#include "core/rlp.hpp"

#include <algorithm>
#include <iterator>
#include <map>

namespace annals {

namespace {

constexpr std::string_view enr_prefix = "enr:";

error malformed(const std::string& what) { return make_error(errc::malformed, "enr: " + what); }
error field_error(std::string_view key, const std::string& why) {
  return malformed("`" + std::string(key) + "`: " + why);
}

result<std::uint16_t> read_port(std::string_view key, std::string_view payload) {
  auto value = rlp::decode_uint(payload);
  if (!value)
    return field_error(key, value.error().message);
  if (*value > 65535)
    return field_error(key, std::to_string(*value) + " is not a port");
  return static_cast<std::uint16_t>(*value);
}

template <std::size_t N>
result<std::array<std::uint8_t, N>> read_fixed(std::string_view key, std::string_view payload) {
  if (payload.size() != N)
    return field_error(key, std::to_string(payload.size()) + " bytes, not " + std::to_string(N));
  std::array<std::uint8_t, N> out{};
  std::copy(payload.begin(), payload.end(), out.begin());
  return out;
}

std::uint16_t be16(std::string_view bytes, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<std::uint8_t>(bytes[at]) << 8
                                    | static_cast<std::uint8_t>(bytes[at + 1]));
}

void append_be16(std::string& out, std::uint16_t value) {
  out += static_cast<char>(value >> 8);
  out += static_cast<char>(value & 0xff);
}

result<std::vector<std::string>> read_multiaddrs(std::string_view payload) {
  std::vector<std::string> out;
  while (!payload.empty()) {
    if (payload.size() < 2)
      return field_error("multiaddrs", "a length cut short");
    auto size = be16(payload, 0);
    if (size == 0 || size > payload.size() - 2)
      return field_error("multiaddrs", "an entry of " + std::to_string(size) + " bytes where "
                                         + std::to_string(payload.size() - 2) + " are left");
    out.emplace_back(payload.substr(2, size));
    payload.remove_prefix(2 + size);
  }
  return out;
}

result<relay_shards> read_rs(std::string_view payload) {
  if (payload.size() < 3)
    return field_error("rs", std::to_string(payload.size()) + " bytes, at least 3");
  relay_shards out{be16(payload, 0), {}};
  std::size_t count = static_cast<std::uint8_t>(payload[2]);
  if (payload.size() != 3 + 2 * count)
    return field_error("rs", std::to_string(count) + " shards need " + std::to_string(3 + 2 * count)
                               + " bytes, not " + std::to_string(payload.size()));
  for (std::size_t i = 0; i < count; ++i)
    out.shards.push_back(be16(payload, 3 + 2 * i));
  std::sort(out.shards.begin(), out.shards.end());
  out.shards.erase(std::unique(out.shards.begin(), out.shards.end()), out.shards.end());
  if (!out.shards.empty() && out.shards.back() > 1023)
    return field_error("rs", "shard " + std::to_string(out.shards.back()) + " is past 1023");
  return out;
}

constexpr std::size_t rsv_bytes = 2 + 128;

result<relay_shards> read_rsv(std::string_view payload) {
  if (payload.size() != rsv_bytes)
    return field_error("rsv", std::to_string(payload.size()) + " bytes, not 130");
  relay_shards out{be16(payload, 0), {}};
  for (std::uint16_t shard = 0; shard < 1024; ++shard)
    if (static_cast<std::uint8_t>(payload[2 + shard / 8]) & (0x80 >> (shard % 8)))
      out.shards.push_back(shard);
  return out;
}

// The keys read as typed fields: their values must be byte strings.
constexpr std::string_view typed_keys[] = {"id",   "secp256k1", "ip",         "ip6",
                                           "tcp",  "udp",       "tcp6",       "udp6",
                                           "waku2", "multiaddrs", "rs",        "rsv"};

} // namespace

std::string enr_record::text() const { return std::string(enr_prefix) + to_base64url(encoded); }

hash256 enr_record::node_id() const {
  auto full = key.uncompressed();
  return keccak256(as_view(full.data() + 1, 64));
}

result<enr_record> parse_enr(std::string_view text) {
  if (text.substr(0, enr_prefix.size()) != enr_prefix)
    return malformed("text does not start with \"enr:\"");
  text.remove_prefix(enr_prefix.size());
  // base64 of 300 bytes is 400 characters: longer text is refused unread.
  if (text.size() > (enr_max_bytes * 4 + 2) / 3)
    return malformed("longer than " + std::to_string(enr_max_bytes) + " bytes");
  auto bytes = from_base64url(text);
  if (!bytes)
    return malformed("not base64url without padding");
  return decode_enr(*bytes);
}

result<enr_record> decode_enr(std::string_view rlp_bytes) {
  if (rlp_bytes.size() > enr_max_bytes)
    return malformed(std::to_string(rlp_bytes.size()) + " bytes, more than "
                     + std::to_string(enr_max_bytes));
  auto rest = rlp_bytes;
  auto outer = rlp::take_item(rest);
  if (!outer)
    return malformed(outer.error().message);
  if (!outer->list || !rest.empty())
    return malformed(outer->list ? "bytes after the record" : "not an RLP list");
  auto items = rlp::list_items(outer->payload);
  if (!items)
    return malformed(items.error().message);
  if (items->size() < 2 || items->size() % 2 != 0)
    return malformed("a record is [signature, seq, key, value, ...]; this has "
                     + std::to_string(items->size()) + " items");
  enr_record out;
  out.encoded = std::string(rlp_bytes);
  const auto& signature = (*items)[0];
  if (signature.list)
    return field_error("signature", "a list, not bytes");
  out.signature = std::string(signature.payload);
  const auto& seq = (*items)[1];
  if (seq.list)
    return field_error("seq", "a list, not an integer");
  auto seq_value = rlp::decode_uint(seq.payload);
  if (!seq_value)
    return field_error("seq", seq_value.error().message);
  out.seq = *seq_value;

  std::map<std::string, std::string_view> values;  // key -> payload, byte strings only
  for (std::size_t i = 2; i < items->size(); i += 2) {
    const auto& k = (*items)[i];
    const auto& v = (*items)[i + 1];
    if (k.list)
      return malformed("a key that is a list");
    std::string key(k.payload);
    if (!out.pairs.empty() && key <= out.pairs.back().first)
      return field_error(key, out.pairs.back().first == key ? "given twice"
                                                             : "out of order (keys are sorted)");
    out.pairs.emplace_back(key, std::string(v.encoded));
    if (!v.list)
      values[key] = v.payload;
    else if (std::find(std::begin(typed_keys), std::end(typed_keys), key) != std::end(typed_keys))
      return field_error(key, "a list, not bytes");
  }

  auto id = values.find("id");
  if (id == values.end())
    return field_error("id", "missing (the identity scheme)");
  if (id->second != "v4")
    return make_error(errc::unsupported,
                      "enr: `id`: identity scheme \"" + std::string(id->second) + "\", not \"v4\"");
  auto key = values.find("secp256k1");
  if (key == values.end())
    return field_error("secp256k1", "missing (the \"v4\" scheme's public key)");
  if (key->second.size() != 33)
    return field_error("secp256k1", std::to_string(key->second.size()) + " bytes, not 33");
  auto parsed_key = public_key::parse(key->second);
  if (!parsed_key)
    return field_error("secp256k1", "not a point on the curve");
  out.key = *parsed_key;
  if (out.signature.size() != 64)
    return field_error("signature", std::to_string(out.signature.size()) + " bytes, not 64");
  // Signed: [seq, k1, v1, ...], the record's items after the signature.
  auto digest = keccak256(rlp::encode_list(outer->payload.substr(signature.encoded.size())));
  if (!verify_compact(out.key, digest, out.signature))
    return make_error(errc::verification_failed,
                      "enr: `signature`: does not verify with the record's `secp256k1` key");

  auto& f = out.fields;
  if (auto it = values.find("ip"); it != values.end()) {
    auto ip = read_fixed<4>("ip", it->second);
    if (!ip)
      return ip.error();
    f.ip = *ip;
  }
  if (auto it = values.find("ip6"); it != values.end()) {
    auto ip6 = read_fixed<16>("ip6", it->second);
    if (!ip6)
      return ip6.error();
    f.ip6 = *ip6;
  }
  const std::pair<const char*, std::optional<std::uint16_t>*> ports[] = {
    {"tcp", &f.tcp}, {"udp", &f.udp}, {"tcp6", &f.tcp6}, {"udp6", &f.udp6}};
  for (auto [name, slot] : ports)
    if (auto it = values.find(name); it != values.end()) {
      auto port = read_port(name, it->second);
      if (!port)
        return port.error();
      *slot = *port;
    }
  if (auto it = values.find("waku2"); it != values.end()) {
    if (it->second.size() != 1)
      return field_error("waku2", std::to_string(it->second.size()) + " bytes, not 1");
    f.waku2 = static_cast<std::uint8_t>(it->second[0]);
  }
  if (auto it = values.find("multiaddrs"); it != values.end()) {
    auto list = read_multiaddrs(it->second);
    if (!list)
      return list.error();
    f.multiaddrs = std::move(*list);
  }
  auto rs = values.find("rs");
  auto rsv = values.find("rsv");
  if (rs != values.end() && rsv != values.end())
    return field_error("rsv", "given with `rs`; a record carries one of them");
  if (rs != values.end() || rsv != values.end()) {
    auto shards = rs != values.end() ? read_rs(rs->second) : read_rsv(rsv->second);
    if (!shards)
      return shards.error();
    f.shards = std::move(*shards);
  }
  return out;
}

result<enr_record> make_enr(const private_key& key, std::uint64_t seq, const enr_fields& f) {
  std::map<std::string, std::string> values;  // key -> value bytes
  values["id"] = "v4";
  auto pub = key.public_key();
  values["secp256k1"] = std::string(as_view(pub.compressed()));
  auto port = [](std::uint16_t p) {
    std::string out;
    if (p >= 256)
      out += static_cast<char>(p >> 8);
    if (p > 0)
      out += static_cast<char>(p & 0xff);
    return out;
  };
  if (f.ip)
    values["ip"] = std::string(as_view(*f.ip));
  if (f.ip6)
    values["ip6"] = std::string(as_view(*f.ip6));
  if (f.tcp)
    values["tcp"] = port(*f.tcp);
  if (f.udp)
    values["udp"] = port(*f.udp);
  if (f.tcp6)
    values["tcp6"] = port(*f.tcp6);
  if (f.udp6)
    values["udp6"] = port(*f.udp6);
  if (f.waku2)
    values["waku2"] = std::string(1, static_cast<char>(*f.waku2));
  if (!f.multiaddrs.empty()) {
    std::string field;
    for (const auto& m : f.multiaddrs) {
      if (m.empty() || m.size() > 65535)
        return field_error("multiaddrs", "an entry of " + std::to_string(m.size()) + " bytes");
      append_be16(field, static_cast<std::uint16_t>(m.size()));
      field += m;
    }
    values["multiaddrs"] = field;
  }
  if (f.shards) {
    auto shards = f.shards->shards;
    std::sort(shards.begin(), shards.end());
    shards.erase(std::unique(shards.begin(), shards.end()), shards.end());
    if (!shards.empty() && shards.back() > 1023)
      return field_error("rs", "shard " + std::to_string(shards.back()) + " is past 1023");
    std::string field;
    append_be16(field, f.shards->cluster);
    // js-waku's choice: the list while it is shorter than the bit vector.
    if (shards.size() < 64) {
      field += static_cast<char>(shards.size());
      for (auto s : shards)
        append_be16(field, s);
      values["rs"] = field;
    } else {
      field.append(128, '\0');
      for (auto s : shards)
        field[2 + s / 8] = static_cast<char>(field[2 + s / 8] | (0x80 >> (s % 8)));
      values["rsv"] = field;
    }
  }

  // Signed: [seq, k1, v1, ...]; the record puts the signature first.
  auto content = rlp::encode_uint(seq);
  for (const auto& [k, v] : values)
    content += rlp::encode_bytes(k) + rlp::encode_bytes(v);
  auto signature = key.sign_compact(keccak256(rlp::encode_list(content)));
  auto items = rlp::encode_bytes(as_view(signature)) + content;
  auto encoded = rlp::encode_list(items);
  if (encoded.size() > enr_max_bytes)
    return malformed("the record would be " + std::to_string(encoded.size())
                     + " bytes, more than " + std::to_string(enr_max_bytes)
                     + " (fewer multiaddrs or shards)");
  return decode_enr(encoded);
}

} // namespace annals
