// CLI11 2.1 converts integers with strtoull/strtoll in base 0 and checks
// neither the sign of an unsigned value nor overflow: "-1" becomes 2^64-1,
// an out-of-range value saturates, "010" is octal. Floats take "nan" and
// "inf". Every numeric option of the binary gets this check instead, so a
// number is either what the user wrote or a usage error (exit 2).
#include "app/commands.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace annals::app {

namespace {

bool all_digits(const std::string& text, std::size_t from) {
  if (text.size() <= from)
    return false;
  for (auto i = from; i < text.size(); ++i)
    if (text[i] < '0' || text[i] > '9')
      return false;
  return true;
}

std::string check_unsigned(const std::string& text) {
  if (!all_digits(text, 0))
    return "expects a whole number of 0 or more in decimal, not \"" + text + "\"";
  errno = 0;
  (void)std::strtoull(text.c_str(), nullptr, 10);
  if (errno == ERANGE)
    return text + " is out of range (at most "
           + std::to_string(std::numeric_limits<unsigned long long>::max()) + ")";
  return {};
}

std::string check_signed(const std::string& text) {
  if (!all_digits(text, text.rfind('-', 0) == 0 ? 1 : 0))
    return "expects a whole number in decimal, not \"" + text + "\"";
  errno = 0;
  (void)std::strtoll(text.c_str(), nullptr, 10);
  if (errno == ERANGE)
    return text + " is out of range (" + std::to_string(std::numeric_limits<long long>::min())
           + " to " + std::to_string(std::numeric_limits<long long>::max()) + ")";
  return {};
}

std::string check_float(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size())
    return "expects a number, not \"" + text + "\"";
  if (!std::isfinite(value) || errno == ERANGE)
    return text + " is not a finite number in range";
  return {};
}

void guard(CLI::App& app) {
  for (auto* option : app.get_options()) {
    // The name starts with the value's type; validators append theirs.
    auto type = option->get_type_name();
    if (type.rfind("UINT", 0) == 0)
      option->check(CLI::Validator(check_unsigned, ""));
    else if (type.rfind("INT", 0) == 0)
      option->check(CLI::Validator(check_signed, ""));
    else if (type.rfind("FLOAT", 0) == 0)
      option->check(CLI::Validator(check_float, ""));
  }
  for (auto* sub : app.get_subcommands({}))
    guard(*sub);
}

} // namespace

void check_numbers(CLI::App& app) { guard(app); }

} // namespace annals::app
