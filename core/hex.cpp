#include "core/hex.hpp"
#include "core/result.hpp"

#include <cryptopp/base64.h>
#include <cryptopp/filters.h>

namespace annals {

const char* to_string(errc code) {
  switch (code) {
    case errc::invalid_argument: return "invalid argument";
    case errc::malformed: return "malformed";
    case errc::verification_failed: return "verification failed";
    case errc::unsupported: return "unsupported";
    case errc::not_found: return "not found";
    case errc::io: return "i/o error";
    case errc::conflict: return "conflict";
    case errc::missing_key: return "missing key";
  }
  return "unknown";
}

std::string error::to_string() const {
  return std::string(annals::to_string(code)) + ": " + message;
}

std::string to_hex(const std::uint8_t* data, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(size * 2, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 0x0f];
  }
  return out;
}

std::string to_hex(std::string_view bytes) {
  return to_hex(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

std::optional<std::string> from_hex(std::string_view text) {
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
    text.remove_prefix(2);
  if (text.size() % 2 != 0)
    return std::nullopt;
  std::string out(text.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = hex_value(text[2 * i]);
    int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

std::string to_base64(std::string_view bytes) {
  std::string out;
  CryptoPP::StringSource source(
    reinterpret_cast<const CryptoPP::byte*>(bytes.data()), bytes.size(), true,
    new CryptoPP::Base64Encoder(new CryptoPP::StringSink(out), /*insertLineBreaks=*/false));
  return out;
}

std::optional<std::string> from_base64(std::string_view text) {
  // Crypto++'s decoder skips characters outside the alphabet; a strict
  // decoder is wanted here, so the alphabet and padding are checked first.
  if (text.size() % 4 != 0)
    return std::nullopt;
  std::size_t pad = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                 || c == '+' || c == '/';
    if (c == '=') {
      ++pad;
      if (pad > 2 || i < text.size() - 2)
        return std::nullopt;
    } else if (!alpha || pad > 0) {
      return std::nullopt;
    }
  }
  std::string out;
  CryptoPP::StringSource source(reinterpret_cast<const CryptoPP::byte*>(text.data()),
                                text.size(), true,
                                new CryptoPP::Base64Decoder(new CryptoPP::StringSink(out)));
  return out;
}

std::string to_base64url(std::string_view bytes) {
  auto text = to_base64(bytes);
  while (!text.empty() && text.back() == '=')
    text.pop_back();
  for (auto& c : text)
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  return text;
}

std::optional<std::string> from_base64url(std::string_view text) {
  if (text.size() % 4 == 1)
    return std::nullopt;
  std::string standard(text);
  for (auto& c : standard) {
    if (c == '+' || c == '/' || c == '=')
      return std::nullopt;
    c = c == '-' ? '+' : c == '_' ? '/' : c;
  }
  standard.append((4 - standard.size() % 4) % 4, '=');
  return from_base64(standard);
}

namespace {
constexpr char base32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
}

std::string to_base32(std::string_view bytes) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char byte : bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += base32_alphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0)
    out += base32_alphabet[(buffer << (5 - bits)) & 31];
  return out;
}

std::optional<std::string> from_base32(std::string_view text) {
  // Lengths 1, 3 and 6 (mod 8) are never produced by an encoder.
  auto tail = text.size() % 8;
  if (tail == 1 || tail == 3 || tail == 6)
    return std::nullopt;
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int value = -1;
    if (c >= 'A' && c <= 'Z')
      value = c - 'A';
    else if (c >= 'a' && c <= 'z')
      value = c - 'a';
    else if (c >= '2' && c <= '7')
      value = c - '2' + 26;
    if (value < 0)
      return std::nullopt;
    buffer = (buffer << 5) | static_cast<std::uint32_t>(value);
    bits += 5;
    if (bits >= 8) {
      out += static_cast<char>((buffer >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  // The bits left over must be zero, so each byte string has one encoding.
  if ((buffer & ((1u << bits) - 1)) != 0)
    return std::nullopt;
  return out;
}

} // namespace annals
