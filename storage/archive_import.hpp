// Importing a decoded archive into the store, as a member does: in write
// batches, dedup by message hash, and the archive's imported flag in the
// same write as its last batch, so a crash re-imports at most this archive.
// Shared by the node's importer and `annals archive import`.
#pragma once

#include "core/archive_format.hpp"
#include "core/archive_reader.hpp"
#include "core/identity.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace annals {

class store;

struct archive_import_stats {
  std::uint64_t messages = 0;    // in the archive
  std::uint64_t inserted = 0;    // new to the store
  std::uint64_t duplicates = 0;  // already stored
};

/// Hashes of the messages of each batch once it is written (observers,
/// pacing); the views live until the call returns.
using import_batch_observer = std::function<void(const std::vector<std::string_view>& hashes)>;

/// Imports `archive` (recorded as downloaded under `id`) in batches of
/// `batch` messages, each stored as the archive holds it.
result<archive_import_stats> import_archive(store& db, const public_key& community,
                                            const std::string& id, const archive_wire& archive,
                                            std::size_t batch,
                                            const import_batch_observer& on_batch = {});

/// Reads archive `entry` from `data_file` (opened with `keys` when sealed)
/// and imports it: a malformed archive is refused before a message of it
/// is written.
result<archive_import_stats>
import_archive_file(store& db, const public_key& community, const std::string& id,
                    const std::filesystem::path& data_file,
                    const pb::WakuMessageArchiveIndexMetadata& entry, const hr_keyring* keys,
                    std::size_t batch, const import_batch_observer& on_batch = {});

} // namespace annals
