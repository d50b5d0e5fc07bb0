// Telling a message observer (load benches) which messages reached a stage.
#pragma once

#include "core/archive_format.hpp"
#include "messages/actors.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace annals {

inline std::string_view observed_hash(const archive_message& message) { return message.hash; }
inline std::string_view observed_hash(std::string_view hash) { return hash; }

/// Sends `observer`, when there is one, the hashes of `batch` (messages, or
/// their hashes) as reaching `kind` in `node`.
template <class Self, class Batch>
void observe(Self* self, const message_observer_actor& observer, const std::string& node,
             const std::string& community_id, std::uint8_t kind, const Batch& batch) {
  if (!observer)
    return;
  message_observation seen{node, community_id, kind, {}};
  seen.hashes.reserve(batch.size());
  for (const auto& item : batch)
    seen.hashes.emplace_back(observed_hash(item));
  self->send(observer, std::move(seen));
}

} // namespace annals
