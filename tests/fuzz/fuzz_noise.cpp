// Noise XX handshake messages from a stranger, both roles, and the
// transport framing.
#include "net/p2p/noise.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace annals;
  using namespace annals::p2p;
  static const auto identity = *private_key::from_bytes(std::string(32, '\x05'));
  noise_handshake::options fixed;
  fixed.static_private = x25519_key{};
  fixed.static_private->fill(3);
  fixed.ephemeral_private = x25519_key{};
  fixed.ephemeral_private->fill(4);
  auto bytes = fuzz::view(data, size);
  auto buffer = bytes;
  while (auto frame = next_noise_frame(buffer)) {
  }
  auto parts = fuzz::split(bytes);
  if (auto responder = noise_handshake::responder(identity, fixed)) {
    if (responder->read_message(parts.first) && responder->my_turn())
      if (responder->write_message())
        (void)responder->read_message(parts.second);
  }
  if (auto initiator = noise_handshake::initiator(identity, fixed)) {
    if (initiator->write_message())
      (void)initiator->read_message(parts.second);
  }
  return 0;
}
