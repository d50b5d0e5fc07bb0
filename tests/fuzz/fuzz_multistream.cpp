// multistream-select as a listener hears it from a dialer.
#include "net/p2p/multistream.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace annals::p2p;
  multistream_listener listener({"/noise", "/yamux/1.0.0", "/vac/waku/relay/2.0.0"});
  (void)listener.start();
  auto bytes = annals::fuzz::view(data, size);
  // In two reads, as TCP may cut it.
  auto cut = bytes.size() / 2;
  if (listener.feed(bytes.substr(0, cut)))
    (void)listener.feed(bytes.substr(cut));
  multistream_dialer dialer({"/noise"});
  (void)dialer.start();
  (void)dialer.feed(bytes);
  return 0;
}
