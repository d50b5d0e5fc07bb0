// The only translation unit with Catch2's main; compiled once for all tests.
// Logs below warnings stay quiet unless ANNALS_LOG_LEVEL asks for them, so a
// failing test's output is its own.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <annals/log.hpp>

#include <cstdlib>

int main(int argc, char* argv[]) {
  annals::log_options options;
  options.level = annals::log_level::warn;
  if (const char* level = std::getenv("ANNALS_LOG_LEVEL"))
    if (auto parsed = annals::parse_log_level(level))
      options.level = *parsed;
  annals::configure_log(options);
  return Catch::Session().run(argc, argv);
}
