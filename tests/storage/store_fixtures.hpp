// Messages for the storage tests.
#pragma once

#include "core/archive_format.hpp"

#include <string>

namespace annals::test {

/// A message as the owner stores it; the payload names the hash.
inline archive_message message(std::uint64_t timestamp, topic4 topic, std::string hash) {
  archive_message m;
  m.timestamp = timestamp;
  m.topic = topic;
  m.payload = "payload of " + hash;
  m.sig = std::string(65, '\x04');
  m.hash = std::move(hash);
  return m;
}

} // namespace annals::test
