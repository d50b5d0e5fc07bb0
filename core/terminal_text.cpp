#include "core/terminal_text.hpp"

#include <cstdint>

namespace annals {

namespace {

void escape(std::string& out, std::uint8_t byte) {
  constexpr char digits[] = "0123456789abcdef";
  out += "\\x";
  out += digits[byte >> 4];
  out += digits[byte & 0xf];
}

// Length of the valid UTF-8 sequence at `text[i]` (2 to 4 bytes), 0 when
// it is not one: overlong forms, surrogates and code points past U+10FFFF
// included.
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(text[i + k]); };
  auto lead = byte(0);
  std::size_t length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc2 ? 2 : 0;
  if (length == 0 || lead > 0xf4 || i + length > text.size())
    return 0;
  for (std::size_t k = 1; k < length; ++k)
    if ((byte(k) & 0xc0) != 0x80)
      return 0;
  if ((lead == 0xe0 && byte(1) < 0xa0) || (lead == 0xed && byte(1) > 0x9f)
      || (lead == 0xf0 && byte(1) < 0x90) || (lead == 0xf4 && byte(1) > 0x8f))
    return 0;
  return length;
}

} // namespace

std::string terminal_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    auto byte = static_cast<std::uint8_t>(text[i]);
    if (byte == '\\') {
      out += "\\\\";
      ++i;
    } else if (byte < 0x20 || byte == 0x7f) {
      escape(out, byte);
      ++i;
    } else if (byte < 0x80) {
      out += static_cast<char>(byte);
      ++i;
    } else if (auto length = utf8_sequence(text, i); length == 0) {
      escape(out, byte);
      ++i;
    } else if (length == 2 && byte == 0xc2 && static_cast<std::uint8_t>(text[i + 1]) < 0xa0) {
      // U+0080..U+009F: the C1 controls (CSI among them), as their bytes.
      escape(out, byte);
      escape(out, static_cast<std::uint8_t>(text[i + 1]));
      i += 2;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

} // namespace annals
