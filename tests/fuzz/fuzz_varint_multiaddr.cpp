// The small libp2p encodings: uvarint framing, multiaddrs (text and bytes),
// peer IDs and base58.
#include "net/p2p/multiaddr.hpp"
#include "net/p2p/peer_id.hpp"
#include "net/p2p/varint.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace annals::p2p;
  auto bytes = annals::fuzz::view(data, size);
  (void)decode_uvarint(bytes);
  (void)multiaddr::parse(bytes);
  if (auto m = multiaddr::from_bytes(bytes))
    (void)m->to_string();
  (void)peer_id::parse(bytes);
  (void)peer_id::from_bytes(bytes);
  (void)base58btc_decode(bytes);
  (void)parse_tcp_address(bytes);
  return 0;
}
