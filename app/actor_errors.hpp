// Ending a command on an error an actor replied with: annals' own codes map
// to exit statuses as core errors do; CAF's own errors (timeouts, an actor
// that went down) are failed work.
#pragma once

#include "actors/errors.hpp"
#include "app/commands.hpp"

#include <caf/actor_system.hpp>

namespace annals::app {

[[noreturn]] inline void fail(caf::actor_system& sys, const caf::error& err,
                              const std::string& context = {}) {
  if (auto core = from_caf_error(err)) {
    if (!context.empty())
      core->message = context + ": " + core->message;
    fail(*core, exit_code_for(core->code));
  }
  fail(context.empty() ? sys.render(err) : context + ": " + sys.render(err));
}

} // namespace annals::app
