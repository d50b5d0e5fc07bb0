// Unsigned LEB128 varints (multiformats unsigned-varint) and the
// uvarint-length-prefixed framing that multistream-select, identify,
// gossipsub and Waku metadata all use on their streams.
#pragma once

#include "core/result.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace annals::p2p {

/// A u64 needs at most ceil(64 / 7) = 10 groups of 7 bits.
inline constexpr std::size_t max_uvarint_size = 10;

void append_uvarint(std::string& out, std::uint64_t value);
std::string encode_uvarint(std::uint64_t value);

struct uvarint {
  std::uint64_t value;
  std::size_t size;  // bytes consumed
};

/// Decodes a varint at the front of `bytes`. nullopt means the bytes end
/// mid-varint (read more); errors are for bytes that can never become valid:
/// a non-minimal encoding (trailing zero group) or more than 64 bits.
result<std::optional<uvarint>> peek_uvarint(std::string_view bytes);

/// Like peek_uvarint, but running out of bytes is an error too: for decoding
/// a complete buffer such as a multiaddr or multihash.
result<uvarint> decode_uvarint(std::string_view bytes);

/// uvarint(payload size) || payload.
std::string frame(std::string_view payload);

/// Reassembles length-prefixed frames from a byte stream that arrives in
/// arbitrary pieces. The size cap keeps a hostile length from making us
/// buffer without bound. After an error the stream position is lost, so the
/// reader stays failed and keeps returning that error.
class frame_reader {
public:
  explicit frame_reader(std::size_t max_frame_size);

  void feed(std::string_view bytes);

  /// The next complete payload, or nullopt until more bytes are fed.
  result<std::optional<std::string>> next();

  /// Everything fed but not yet returned as a frame. The reader is empty
  /// afterwards; used to hand pipelined bytes to the next protocol layer.
  std::string take_buffered();

private:
  std::size_t max_frame_size_;
  std::string buffer_;
  std::optional<annals::error> failure_;
};

} // namespace annals::p2p
