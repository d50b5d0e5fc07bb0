// Telling a message observer (load benches) which messages reached a stage.
#pragma once

#include "core/archive_format.hpp"
#include "messages/actors.hpp"

#include <string>
#include <vector>

namespace annals {

/// Sends `observer`, when there is one, the hashes of `batch` as reaching
/// `kind` in `node`.
template <class Self>
void observe(Self* self, const message_observer_actor& observer, const std::string& node,
             const std::string& community_id, std::uint8_t kind,
             const std::vector<archive_message>& batch) {
  if (!observer)
    return;
  message_observation seen{node, community_id, kind, {}};
  seen.hashes.reserve(batch.size());
  for (const auto& message : batch)
    seen.hashes.push_back(message.hash);
  self->send(observer, std::move(seen));
}

/// As above, for a batch told by its messages' hashes.
template <class Self>
void observe(Self* self, const message_observer_actor& observer, const std::string& node,
             const std::string& community_id, std::uint8_t kind,
             const std::vector<std::string_view>& hashes) {
  if (!observer)
    return;
  message_observation seen{node, community_id, kind, {}};
  seen.hashes.assign(hashes.begin(), hashes.end());
  self->send(observer, std::move(seen));
}

} // namespace annals
