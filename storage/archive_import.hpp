// Importing a decoded archive into the store, as a member does: in write
// batches, dedup by message hash, and the archive's imported flag in the
// same write as its last batch, so a crash re-imports at most this archive.
// Shared by the node's importer and `annals archive import`.
#pragma once

#include "core/archive_format.hpp"
#include "core/identity.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace annals {

class store;

struct archive_import_stats {
  std::uint64_t messages = 0;    // in the archive
  std::uint64_t inserted = 0;    // new to the store
  std::uint64_t duplicates = 0;  // already stored
};

/// Imports `archive` (recorded as downloaded under `id`) in batches of
/// `batch` messages; `on_batch` runs after each write (observers, pacing).
result<archive_import_stats>
import_archive(store& db, const public_key& community, const std::string& id,
               const pb::WakuMessageArchive& archive, std::size_t batch,
               const std::function<void(const std::vector<archive_message>&)>& on_batch = {});

} // namespace annals
