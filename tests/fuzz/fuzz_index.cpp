// An archive `index` as fetched from a peer: parse, then the checks a member
// runs before trusting it.
#include "core/archive_reader.hpp"
#include "core/fetch_plan.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto index = annals::parse_index(annals::fuzz::view(data, size));
  if (index)
    (void)annals::sorted_entries(*index);
  return 0;
}
