// The bench programs' command lines: --help prints the usage, and a
// number that does not parse is an error instead of a silent 0.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace annals::bench {

/// Prints `usage` and exits 0 on -h/--help; exits 2 on any other option.
inline void handle_help(int argc, char** argv, const char* usage) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "--help") == 0) {
      std::printf("%s", usage);
      std::exit(0);
    }
  }
}

/// argv[i] as a positive number, or `fallback` when absent; exits 2 naming
/// `what` when it is not one.
inline double number_arg(int argc, char** argv, int i, double fallback, const char* what) {
  if (i >= argc)
    return fallback;
  char* end = nullptr;
  double value = std::strtod(argv[i], &end);
  if (end == argv[i] || *end != '\0' || !(value > 0)) {
    std::fprintf(stderr, "%s: %s must be a positive number, not \"%s\" (--help)\n", argv[0], what,
                 argv[i]);
    std::exit(2);
  }
  return value;
}

} // namespace annals::bench
