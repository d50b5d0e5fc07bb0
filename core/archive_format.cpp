#include "core/archive_format.hpp"

#include "core/keccak.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace annals {

padded_size pad_archive(std::uint64_t raw_size) {
  constexpr auto L = archive_piece_length;
  std::uint64_t size = raw_size > L ? raw_size + L - raw_size % L : L;
  return {size, size - raw_size};
}

std::string serialize_deterministic(const google::protobuf::MessageLite& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

std::string archive_id(const pb::WakuMessageArchiveIndexMetadata& entry) {
  // Proto3 omits zero fields and writes fields in number order, exactly as Go's
  // proto.Marshal does for this map-free message, so the IDs agree.
  return to_hex0x(keccak256(serialize_deterministic(entry)));
}

void to_proto(const archive_message& in, pb::WakuMessage& out) {
  out.set_sig(in.sig);
  out.set_timestamp(in.timestamp);
  out.set_topic(std::string(as_view(in.topic)));
  out.set_payload(in.payload);
  out.set_padding(in.padding);
  out.set_hash(in.hash);
  out.set_thirdpartyid(in.third_party_id);
}

archive_message from_proto(const pb::WakuMessage& in) {
  archive_message out;
  out.timestamp = in.timestamp();
  const auto& topic = in.topic();
  for (std::size_t i = 0; i < out.topic.size() && i < topic.size(); ++i)
    out.topic[i] = static_cast<std::uint8_t>(topic[i]);
  out.payload = in.payload();
  out.sig = in.sig();
  out.padding = in.padding();
  out.hash = in.hash();
  out.third_party_id = in.thirdpartyid();
  return out;
}

namespace {

constexpr std::uint8_t wire_varint = 0;
constexpr std::uint8_t wire_bytes = 2;

constexpr std::uint8_t tag(int field, std::uint8_t type) {
  return static_cast<std::uint8_t>(field << 3 | type);
}

void append_bytes_field(std::string& out, int field, std::string_view value) {
  if (value.empty())
    return;  // proto3 writes no empty bytes field
  out.push_back(static_cast<char>(tag(field, wire_bytes)));
  append_varint(out, value.size());
  out.append(value);
}

/// A minimal varint at `at`, or nullopt (truncated, too long or padded).
std::optional<std::uint64_t> read_minimal_varint(std::string_view bytes, std::size_t& at) {
  if (at < bytes.size() && !(static_cast<std::uint8_t>(bytes[at]) & 0x80))
    return static_cast<std::uint8_t>(bytes[at++]);  // one byte: minimal by itself
  std::uint64_t value = 0;
  auto start = at;
  for (int shift = 0; shift < 64 && at < bytes.size(); shift += 7) {
    auto byte = static_cast<std::uint8_t>(bytes[at++]);
    if (shift == 63 && byte > 1)
      return std::nullopt;
    value |= std::uint64_t(byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      // A last byte of zero adds nothing: the varint was padded.
      if (byte == 0 && at - start > 1)
        return std::nullopt;
      return value;
    }
  }
  return std::nullopt;
}

} // namespace

void append_wire(std::string& out, const archive_message& message) {
  // Field number order, as protobuf's serializer writes them.
  append_bytes_field(out, 1, message.sig);
  if (message.timestamp != 0) {
    out.push_back(static_cast<char>(tag(2, wire_varint)));
    append_varint(out, message.timestamp);
  }
  append_bytes_field(out, 3, as_view(message.topic));
  append_bytes_field(out, 4, message.payload);
  append_bytes_field(out, 5, message.padding);
  append_bytes_field(out, 6, message.hash);
  append_bytes_field(out, 7, message.third_party_id);
}

std::optional<message_wire> read_wire(std::string_view bytes) {
  message_wire out;
  out.bytes = bytes;
  int last_field = 0;
  for (std::size_t at = 0; at < bytes.size();) {
    auto key = read_minimal_varint(bytes, at);
    if (!key || *key > 0xff)
      return std::nullopt;
    auto field = static_cast<int>(*key >> 3);
    auto type = static_cast<std::uint8_t>(*key & 7);
    if (field <= last_field || field < 1 || field > 6)
      return std::nullopt;
    last_field = field;
    if (field == 2) {
      if (type != wire_varint)
        return std::nullopt;
      auto value = read_minimal_varint(bytes, at);
      if (!value || *value == 0)
        return std::nullopt;
      out.timestamp = *value;
      continue;
    }
    if (type != wire_bytes)
      return std::nullopt;
    auto size = read_minimal_varint(bytes, at);
    if (!size || *size == 0 || *size > bytes.size() - at)
      return std::nullopt;
    auto value = bytes.substr(at, static_cast<std::size_t>(*size));
    at += value.size();
    if (field == 1 || field == 4)
      out.cap_size += value.size();
    else if (field == 3)
      out.topic = value;
    else if (field == 6)
      out.hash = value;
  }
  return out;
}

} // namespace annals
