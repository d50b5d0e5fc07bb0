// Shared by the libFuzzer targets (scripts/fuzz.sh): each target feeds one
// decoder bytes from strangers and must neither crash, hang nor grow without
// bound; errors are fine, they are the decoder's answer.
#pragma once

#include <annals/log.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace annals::fuzz {

inline std::string_view view(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Splits the input at a length taken from its first two bytes, so one input
/// can carry two parts (an index and its data, a key and a message).
struct two_parts {
  std::string_view first, second;
};
inline two_parts split(std::string_view in) {
  if (in.size() < 2)
    return {in, {}};
  std::size_t n = (static_cast<unsigned char>(in[0]) << 8) | static_cast<unsigned char>(in[1]);
  in.remove_prefix(2);
  n = n > in.size() ? in.size() : n;
  return {in.substr(0, n), in.substr(n)};
}

} // namespace annals::fuzz

/// Errors only: a target that logs every refused input runs at a fraction of
/// its speed.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  annals::log_options quiet;
  quiet.level = annals::log_level::error;
  annals::configure_log(quiet);
  annals::route_protobuf_logs();
  return 0;
}
