// The one place where a core `annals::error` crosses into CAF.
#pragma once

#include "core/result.hpp"

#include <caf/error.hpp>
#include <caf/sec.hpp>

namespace annals {

/// The cause and detail travel as the error's message ("malformed: ...").
inline caf::error to_caf_error(const error& err) {
  return caf::make_error(caf::sec::runtime_error, err.to_string());
}

} // namespace annals
