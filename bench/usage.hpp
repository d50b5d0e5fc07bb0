// The bench programs' command lines: --help prints the usage, and a
// number that does not parse is an error instead of a silent 0.
#pragma once

#include <cstddef>
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

/// `text` as a positive number; exits 2 naming `what` when it is not one
/// (std::stod would throw, std::atof would read "abc" as 0).
inline double positive_number(const char* program, const char* what, const char* text) {
  char* end = nullptr;
  double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(value > 0) || !(value < 1e18)) {
    std::fprintf(stderr, "%s: %s must be a positive number, not \"%s\" (--help)\n", program, what,
                 text);
    std::exit(2);
  }
  return value;
}

/// `text` as a positive whole number (a count, a size in bytes); exits 2
/// naming `what` when it is not one.
inline std::size_t positive_count(const char* program, const char* what, const char* text) {
  auto value = positive_number(program, what, text);
  if (value != static_cast<double>(static_cast<std::size_t>(value))) {
    std::fprintf(stderr, "%s: %s must be a whole number, not \"%s\" (--help)\n", program, what,
                 text);
    std::exit(2);
  }
  return static_cast<std::size_t>(value);
}

/// argv[i] as a positive number, or `fallback` when absent; exits 2 naming
/// `what` when it is not one.
inline double number_arg(int argc, char** argv, int i, double fallback, const char* what) {
  return i < argc ? positive_number(argv[0], what, argv[i]) : fallback;
}

/// argv[i] as a positive whole number, or `fallback` when absent.
inline std::size_t count_arg(int argc, char** argv, int i, std::size_t fallback, const char* what) {
  return i < argc ? positive_count(argv[0], what, argv[i]) : fallback;
}

} // namespace annals::bench
