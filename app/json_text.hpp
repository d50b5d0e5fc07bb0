// JSON for stdout. Some strings come from strangers (a torrent's name, a
// directory's name, a peer's agent version) and need not be UTF-8; they are
// printed with U+FFFD instead of ending the command with an exception.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace annals::app {

template <class Json>
std::string json_text(const Json& j, int indent = -1) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

} // namespace annals::app
