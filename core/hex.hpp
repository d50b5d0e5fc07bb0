#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace annals {

using hash256 = std::array<std::uint8_t, 32>;

/// Lowercase hex of raw bytes, no prefix.
std::string to_hex(std::string_view bytes);
std::string to_hex(const std::uint8_t* data, std::size_t size);
template <std::size_t N>
std::string to_hex(const std::array<std::uint8_t, N>& bytes) {
  return to_hex(bytes.data(), N);
}

/// "0x" + lowercase hex, the form status-go uses for IDs and topics.
template <class Bytes>
std::string to_hex0x(const Bytes& bytes) {
  return "0x" + to_hex(bytes);
}

/// Decodes hex (either case), with or without a "0x" prefix; nullopt when the
/// text has an odd length or a non-hex character.
std::optional<std::string> from_hex(std::string_view text);

/// Like from_hex but also requires exactly N bytes.
template <std::size_t N>
std::optional<std::array<std::uint8_t, N>> from_hex_fixed(std::string_view text) {
  auto raw = from_hex(text);
  if (!raw || raw->size() != N)
    return std::nullopt;
  std::array<std::uint8_t, N> out{};
  for (std::size_t i = 0; i < N; ++i)
    out[i] = static_cast<std::uint8_t>((*raw)[i]);
  return out;
}

/// Standard base64 (RFC 4648, with padding); nullopt on invalid input.
std::string to_base64(std::string_view bytes);
std::optional<std::string> from_base64(std::string_view text);
/// URL-safe base64 without padding (RFC 4648 §5), as ENR text uses it;
/// nullopt on characters outside its alphabet, padding, or a length no
/// encoding produces.
std::string to_base64url(std::string_view bytes);
std::optional<std::string> from_base64url(std::string_view text);
/// Base32 (RFC 4648 §6, upper-case alphabet) without padding, as EIP-1459
/// names tree keys and hashes; decoding takes either case.
std::string to_base32(std::string_view bytes);
std::optional<std::string> from_base32(std::string_view text);

inline std::string_view as_view(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}
template <std::size_t N>
std::string_view as_view(const std::array<std::uint8_t, N>& bytes) {
  return as_view(bytes.data(), N);
}

} // namespace annals
