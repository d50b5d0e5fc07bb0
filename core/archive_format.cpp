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

} // namespace annals
