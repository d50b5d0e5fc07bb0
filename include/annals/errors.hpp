// Why something failed, by cause: the codes every annals error carries, in
// its own results and across actor boundaries (a node's replies keep them as
// CAF errors of category "annals"; annals/interfaces.hpp turns one back).
#pragma once

#include <string>
#include <utility>

namespace annals {

/// Why something failed; the code lets callers count failures by cause.
enum class errc {
  invalid_argument,   // the caller passed something unusable
  malformed,          // bytes that do not parse (protobuf, hex, JSON, bencode)
  verification_failed,// parsed, but a check failed (signature, ID, size, padding)
  unsupported,        // valid for status-go, not handled here (e.g. encrypted archives)
  not_found,          // a file, key or record that should exist does not
  io,                 // the operating system refused (disk full, permissions, port in use)
  conflict,           // the operation would overwrite something it must not
  missing_key,        // encrypted bytes whose key this node does not hold
};

const char* to_string(errc code);

struct error {
  errc code;
  std::string message;
  /// "malformed: index: ..." - the cause and the detail, for logs and CLIs.
  std::string to_string() const;
};

inline error make_error(errc code, std::string message) {
  return error{code, std::move(message)};
}

} // namespace annals
