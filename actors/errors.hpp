// The one place where a core `annals::error` crosses into CAF: annals' own
// error category, so the code (disk full, forged, malformed, ...) survives
// actor boundaries and a caller can act on it without parsing text.
#pragma once

#include "core/result.hpp"
#include <annals/interfaces.hpp>  // error_category, from_caf_error

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/make_message.hpp>

#include <optional>
#include <string>

namespace annals {


/// The code travels as errc + 1 (CAF reserves 0 for "no error"), the
/// detail as the error's context.
inline caf::error to_caf_error(const error& err) {
  return caf::error(static_cast<std::uint8_t>(static_cast<int>(err.code) + 1), error_category,
                    caf::make_message(err.message));
}

inline caf::error to_caf_error(errc code, std::string message) {
  return to_caf_error(make_error(code, std::move(message)));
}

/// The same code, the detail after `context` ("importer: ...").
inline caf::error to_caf_error(const error& err, const std::string& context) {
  return to_caf_error(err.code, context + ": " + err.message);
}


/// Lets `actor_system::render` print annals errors as "cause: detail";
/// register_types calls it.
void add_error_category(caf::actor_system_config& cfg);

} // namespace annals
