// TXT lookups through the C library's resolver (libresolv), for DNS
// discovery. Blocking: call it from a thread of its own, never from an I/O
// or actor thread.
#pragma once

#include "core/result.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace annals {

struct dns_resolver_options {
  /// "IPv4:PORT" of the server to ask; empty: the system's (/etc/resolv.conf).
  std::string server;
  /// Per try (rounded up to whole seconds, as libresolv counts them).
  std::chrono::milliseconds timeout{5000};
  int attempts = 2;
};

/// Checks a `server` value; the error says what form is expected.
result<void> check_dns_server(const std::string& server);

/// The TXT records at `name`, each one's character-strings joined (a record
/// over 255 bytes comes as several). An existing name without TXT records
/// answers an empty list. Errors: not_found (no such name), io (timeout,
/// server failure or refusal, with the resolver's word for it).
result<std::vector<std::string>> resolve_txt(const std::string& name,
                                             const dns_resolver_options& options);

} // namespace annals
