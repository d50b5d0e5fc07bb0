// The layers of a status-go message from the relay: the WakuMessage, the
// symmetric envelope, the signed payload, the ProtocolMessage and the signed
// magnet link inside.
#include "core/status_envelope.hpp"
#include "core/identity.hpp"
#include "proto/waku_message.pb.h"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace annals;
  static const auto community = private_key::from_bytes(std::string(32, '\x07'))->public_key();
  static const auto channel = magnetlink_channel::of(community);
  auto bytes = fuzz::view(data, size);
  (void)decode_magnetlink_message(bytes);
  (void)decode_public_protocol_message(bytes);
  (void)decode_signed_waku_payload(bytes);
  (void)open_waku_payload(bytes, channel.key);
  waku::WakuMessage message;
  if (message.ParseFromArray(data, static_cast<int>(size)))
    (void)open_magnetlink_waku_message(message, channel);
  return 0;
}
