// discv5 input from strangers: a UDP datagram (unmasked with our node ID
// under either protocol ID), the authdata of each packet kind, and a
// message's plaintext as a peer's session key would open it. A message that
// decodes must encode back to bytes that decode to the same encoding.
#include "core/discv5_wire.hpp"
#include "tests/fuzz/fuzz.hpp"

#include <cstdlib>

namespace {

void check_message(std::string_view bytes) {
  auto m = annals::discv5::decode_message(bytes);
  if (!m)
    return;
  auto encoded = annals::discv5::encode_message(*m);
  auto again = annals::discv5::decode_message(encoded);
  if (!again || annals::discv5::encode_message(*again) != encoded)
    std::abort();
  if (annals::discv5::id_of(*m).size() > 8)
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace d5 = annals::discv5;
  // The spec vectors' node B: their packets unmask with it.
  static const d5::node_id local = [] {
    d5::node_id id{};
    const std::uint8_t b[32] = {0xbb, 0xbb, 0x9d, 0x04, 0x7f, 0x04, 0x88, 0xc0, 0xb5, 0xa9, 0x3c,
                                0x1c, 0x3f, 0x2d, 0x8b, 0xaf, 0xc7, 0xc8, 0xff, 0x33, 0x70, 0x24,
                                0xa5, 0x54, 0x34, 0xa0, 0xd0, 0x55, 0x5d, 0xe6, 0x4d, 0xb9};
    std::copy(b, b + 32, id.begin());
    return id;
  }();
  auto bytes = annals::fuzz::view(data, size);
  for (auto protocol : {d5::ethereum_protocol_id, d5::waku_protocol_id}) {
    auto p = d5::decode_packet(protocol, local, bytes);
    if (!p)
      continue;
    if (p->header.size() < d5::static_header_size || p->authdata.size() + d5::static_header_size
                                                       != p->header.size())
      std::abort();
    switch (p->kind) {
      case d5::packet_kind::message:
        (void)d5::message_source(*p);
        break;
      case d5::packet_kind::whoareyou:
        (void)d5::parse_whoareyou(*p);
        break;
      case d5::packet_kind::handshake:
        if (auto h = d5::parse_handshake(*p))
          if (h->id_signature.size() != 64 || h->ephemeral_key.size() != 33)
            std::abort();
        break;
    }
    // What an all-zero session key opens (the spec's ping vector uses one).
    if (auto pt = d5::open(d5::key128{}, p->nonce, p->sealed, p->associated_data()))
      check_message(*pt);
  }
  check_message(bytes);
  return 0;
}
