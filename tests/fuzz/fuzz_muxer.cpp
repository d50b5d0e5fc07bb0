// yamux and mplex frames from the peer (the bytes inside Noise), both roles.
#include "net/p2p/muxer.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace annals::p2p;
  if (size == 0)
    return 0;
  // The first byte picks the muxer and role.
  auto protocol = (data[0] & 1) ? "/yamux/1.0.0" : "/mplex/6.7.0";
  auto mux = make_muxer(protocol, (data[0] & 2) != 0);
  if (!mux)
    return 0;
  if (data[0] & 4)
    (void)mux->open_stream();
  auto bytes = annals::fuzz::view(data + 1, size - 1);
  std::vector<muxer_event> events;
  // Fed in pieces, as reads arrive.
  for (std::size_t at = 0; at < bytes.size(); at += 97) {
    if (!mux->feed(bytes.substr(at, 97), events))
      break;
    for (const auto& e : events)
      (void)mux->write(e.stream, "ok");
    events.clear();
    (void)mux->take_output();
  }
  return 0;
}
