// A whole inbound connection before and during the handshake: multistream
// proposals, Noise frames, whatever a stranger sends first.
#include "net/p2p/connection.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

struct quiet_handler : annals::p2p::connection_handler {
  void on_established(const annals::p2p::peer_id&, const std::string&) override {}
  void on_relay_rpc(std::string) override {}
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace annals::p2p;
  static const auto identity = *annals::private_key::from_bytes(std::string(32, '\x09'));
  connection_config config;
  config.identity = identity;
  quiet_handler handler;
  connection conn(connection::role::listener, config, handler);
  (void)conn.start();
  auto bytes = annals::fuzz::view(data, size);
  for (std::size_t at = 0; at < bytes.size(); at += 61) {
    if (!conn.on_bytes(bytes.substr(at, 61)))
      break;
    (void)conn.take_output();
  }
  return 0;
}
