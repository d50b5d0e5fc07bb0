// Gossipsub RPCs from a relay peer: subscriptions, publishes (with Waku's
// validator), control messages.
#include "net/p2p/gossipsub.hpp"
#include "net/p2p/host.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace annals::p2p;
  gossipsub_router router;
  router.set_validator(waku_validator());
  router.subscribe("/waku/2/rs/16/32");
  router.add_peer(1);
  router.add_peer(2);
  std::vector<gossip_message> delivered;
  auto parts = annals::fuzz::split(annals::fuzz::view(data, size));
  auto now = gossipsub_router::clock::now();
  (void)router.handle_rpc(1, parts.first, now, delivered);
  (void)router.handle_rpc(2, parts.second, now, delivered);
  router.heartbeat(now + std::chrono::seconds(1));
  return 0;
}
