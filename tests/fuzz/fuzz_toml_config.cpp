// `annals run --config FILE`: TOML from an operator's editor (or a template
// gone wrong), read and checked whole before anything starts.
#include "app/run_config.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)annals::app::parse_run_config(annals::fuzz::view(data, size), "/nonexistent/node.toml");
  return 0;
}
