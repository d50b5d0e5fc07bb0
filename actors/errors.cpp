#include "actors/errors.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

namespace annals {

namespace {

constexpr int errc_count = static_cast<int>(errc::missing_key) + 1;

std::optional<errc> code_of(std::uint8_t value) {
  if (value == 0 || value > errc_count)
    return std::nullopt;
  return static_cast<errc>(value - 1);
}

std::string detail_of(const caf::message& context) {
  if (context.size() == 1 && context.match_element<std::string>(0))
    return context.get_as<std::string>(0);
  return context.empty() ? std::string() : caf::to_string(context);
}

} // namespace

std::optional<error> from_caf_error(const caf::error& err) {
  if (!err || err.category() != error_category)
    return std::nullopt;
  auto code = code_of(err.code());
  if (!code)
    return std::nullopt;
  return error{*code, detail_of(err.context())};
}

void add_error_category(caf::actor_system_config& cfg) {
  cfg.add_error_category(error_category,
                         [](std::uint8_t value, caf::atom_value, const caf::message& context) {
                           auto detail = detail_of(context);
                           if (auto code = code_of(value))
                             return error{*code, detail}.to_string();
                           return "annals error " + std::to_string(value) + ": " + detail;
                         });
}

} // namespace annals
