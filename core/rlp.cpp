#include "core/rlp.hpp"

namespace annals::rlp {

namespace {

error bad(const std::string& why) { return make_error(errc::malformed, "rlp: " + why); }

std::string length_prefix(std::size_t length, std::uint8_t short_base, std::uint8_t long_base) {
  if (length < 56)
    return std::string(1, static_cast<char>(short_base + length));
  std::string digits;
  for (auto n = length; n > 0; n >>= 8)
    digits.insert(digits.begin(), static_cast<char>(n & 0xff));
  return static_cast<char>(long_base + digits.size()) + digits;
}

} // namespace

result<item> take_item(std::string_view& in) {
  if (in.empty())
    return bad("no item where one was expected");
  auto first = static_cast<std::uint8_t>(in[0]);
  item out;
  std::size_t header = 1, length = 0;
  if (first < 0x80) {
    header = 0;
    length = 1;
  } else if (first < 0xb8 || (first >= 0xc0 && first < 0xf8)) {
    out.list = first >= 0xc0;
    length = first - (out.list ? 0xc0 : 0x80);
  } else {
    out.list = first >= 0xf8;
    std::size_t digits = first - (out.list ? 0xf7 : 0xb7);
    if (digits > 4 || in.size() < 1 + digits)
      return bad(digits > 4 ? "length over 4 GiB" : "length truncated");
    if (in[1] == 0)
      return bad("length with a leading zero");
    for (std::size_t i = 0; i < digits; ++i)
      length = (length << 8) | static_cast<std::uint8_t>(in[1 + i]);
    if (length < 56)
      return bad("long form for a length under 56");
    header = 1 + digits;
  }
  if (length > in.size() - header)
    return bad("item of " + std::to_string(length) + " bytes past the end of its input");
  out.payload = in.substr(header, length);
  out.encoded = in.substr(0, header + length);
  if (!out.list && header == 1 && length == 1 && static_cast<std::uint8_t>(out.payload[0]) < 0x80)
    return bad("a byte below 0x80 given a prefix");
  in.remove_prefix(header + length);
  return out;
}

result<std::vector<item>> list_items(std::string_view payload) {
  std::vector<item> out;
  while (!payload.empty()) {
    auto next = take_item(payload);
    if (!next)
      return next.error();
    out.push_back(*next);
  }
  return out;
}

std::string encode_bytes(std::string_view bytes) {
  if (bytes.size() == 1 && static_cast<std::uint8_t>(bytes[0]) < 0x80)
    return std::string(bytes);
  return length_prefix(bytes.size(), 0x80, 0xb7) + std::string(bytes);
}

std::string encode_list(std::string_view items) {
  return length_prefix(items.size(), 0xc0, 0xf7) + std::string(items);
}

std::string encode_uint(std::uint64_t value) {
  std::string digits;
  for (; value > 0; value >>= 8)
    digits.insert(digits.begin(), static_cast<char>(value & 0xff));
  return encode_bytes(digits);
}

result<std::uint64_t> decode_uint(std::string_view payload) {
  if (payload.size() > 8)
    return bad("integer of " + std::to_string(payload.size()) + " bytes, at most 8");
  if (!payload.empty() && payload[0] == 0)
    return bad("integer with a leading zero");
  std::uint64_t value = 0;
  for (char c : payload)
    value = (value << 8) | static_cast<std::uint8_t>(c);
  return value;
}

} // namespace annals::rlp
