#include "net/p2p/varint.hpp"

#include <utility>

namespace annals::p2p {

void append_uvarint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

std::string encode_uvarint(std::uint64_t value) {
  std::string out;
  append_uvarint(out, value);
  return out;
}

result<std::optional<uvarint>> peek_uvarint(std::string_view bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto byte = static_cast<std::uint8_t>(bytes[i]);
    // The 10th group holds only bit 63: a larger value or a continuation
    // bit there means more than 64 bits, which also bounds the loop.
    if (i == max_uvarint_size - 1 && byte > 1)
      return make_error(errc::malformed, "varint longer than 64 bits");
    value |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      // The spec requires minimal encodings, so that each value has exactly
      // one byte form (peer IDs and message IDs are hashes of bytes).
      if (byte == 0 && i > 0)
        return make_error(errc::malformed, "varint is not minimally encoded");
      return std::optional<uvarint>(uvarint{value, i + 1});
    }
  }
  return std::optional<uvarint>();
}

result<uvarint> decode_uvarint(std::string_view bytes) {
  auto peeked = peek_uvarint(bytes);
  if (!peeked)
    return peeked.error();
  if (!*peeked)
    return make_error(errc::malformed, "varint truncated");
  return **peeked;
}

std::string frame(std::string_view payload) {
  auto out = encode_uvarint(payload.size());
  out.append(payload);
  return out;
}

frame_reader::frame_reader(std::size_t max_frame_size) : max_frame_size_(max_frame_size) {}

void frame_reader::feed(std::string_view bytes) {
  buffer_.append(bytes);
}

result<std::optional<std::string>> frame_reader::next() {
  if (failure_)
    return *failure_;
  auto length = peek_uvarint(buffer_);
  if (!length) {
    failure_ = length.error();
    return *failure_;
  }
  if (!*length)
    return std::optional<std::string>();
  // Checked before buffering the payload, so an oversized frame is refused
  // as soon as its header arrives.
  if ((*length)->value > max_frame_size_) {
    failure_ = make_error(errc::malformed, "frame of " + std::to_string((*length)->value) +
                                               " bytes exceeds the limit of " +
                                               std::to_string(max_frame_size_));
    return *failure_;
  }
  auto header = (*length)->size;
  auto size = static_cast<std::size_t>((*length)->value);
  if (buffer_.size() - header < size)
    return std::optional<std::string>();
  std::string payload = buffer_.substr(header, size);
  buffer_.erase(0, header + size);
  return std::optional<std::string>(std::move(payload));
}

std::string frame_reader::take_buffered() {
  return std::exchange(buffer_, std::string());
}

} // namespace annals::p2p
