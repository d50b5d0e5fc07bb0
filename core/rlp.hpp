// Recursive Length Prefix (Ethereum Yellow Paper, appendix B), the encoding
// of ENRs: byte strings and lists, decoded strictly so one value has one
// encoding (a record's signature covers the bytes).
#pragma once

#include "core/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace annals::rlp {

struct item {
  bool list = false;
  std::string_view payload;  // the string's bytes, or the list's items encoded
  std::string_view encoded;  // prefix and payload
};

/// Takes one item off the front of `in`. Refuses truncation and every
/// non-canonical form: a single byte below 0x80 given a prefix, a long form
/// for a payload under 56 bytes, length bytes with a leading zero.
result<item> take_item(std::string_view& in);
/// The items of a list's payload, which they must fill exactly.
result<std::vector<item>> list_items(std::string_view payload);

std::string encode_bytes(std::string_view bytes);
/// `items` is the concatenation of already encoded items.
std::string encode_list(std::string_view items);
/// Big-endian without leading zeros; 0 is the empty string.
std::string encode_uint(std::uint64_t value);
/// The inverse of encode_uint's payload: at most 8 bytes, no leading zero.
result<std::uint64_t> decode_uint(std::string_view payload);

} // namespace annals::rlp
