// An identify answer and a WakuMessage as a peer sends them.
#include "net/p2p/connection.hpp"
#include "net/p2p/host.hpp"
#include "proto/waku_message.pb.h"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace annals::p2p;
  auto bytes = annals::fuzz::view(data, size);
  (void)parse_identify(bytes);
  static const auto validate = waku_validator();
  (void)validate("/waku/2/rs/16/32", std::string(bytes));
  annals::waku::WakuMessage message;
  (void)message.ParseFromArray(data, static_cast<int>(size));
  return 0;
}
