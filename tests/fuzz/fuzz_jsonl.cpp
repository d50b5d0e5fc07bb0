// One line of `archive build --messages FILE.jsonl`.
#include "core/message_jsonl.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)annals::parse_message_json(annals::fuzz::view(data, size));
  return 0;
}
