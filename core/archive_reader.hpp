// Reading archives back (status-go manager_archive_file.go:413-513) and
// verifying an archive directory without trusting it.
#pragma once

#include "core/archive_format.hpp"
#include "core/hash_ratchet.hpp"

#include <optional>

namespace annals {

/// Parses `index` bytes. An empty file and bytes that are not an index each
/// get their own error. A token-gated community's index (a hash-ratchet
/// ProtocolMessage, which status-go tells by its parse as an index listing
/// no archive) is opened with `keys`; without the key the error is
/// missing_key, naming it.
result<pb::WakuMessageArchiveIndex> parse_index(std::string_view bytes,
                                                const hr_keyring* keys = nullptr);
result<pb::WakuMessageArchiveIndex> read_index(const std::filesystem::path& index_file,
                                               const hr_keyring* keys = nullptr);

/// Reads archive `entry` from `data` (offset, size - padding) and decodes it;
/// an encrypted archive (told by its structure: field 101) is opened with
/// `keys`.
result<pb::WakuMessageArchive> read_archive(const std::filesystem::path& data_file,
                                            const pb::WakuMessageArchiveIndexMetadata& entry,
                                            const hr_keyring* keys = nullptr);

/// Index entries ordered by (offset), the order they were appended.
std::vector<std::pair<std::string, pb::WakuMessageArchiveIndexMetadata>>
sorted_entries(const pb::WakuMessageArchiveIndex& index);

struct verified_archive {
  std::string id;
  pb::WakuMessageArchiveIndexMetadata entry;
  std::size_t message_count = 0;
  bool ok = false;
};

struct verify_report {
  std::vector<verified_archive> archives;  // by offset
  std::vector<std::string> problems;       // each names the archive and the fault
  std::uint64_t data_size = 0;
  bool ok() const { return problems.empty(); }
};

/// Checks an archive directory (the one holding `data` and `index`): every ID
/// matches its entry, offsets and sizes are piece-aligned, contiguous and
/// inside `data`, padding is zero, and each archive decodes with the metadata
/// its entry claims. With `decode` false the archives' contents are not
/// parsed (structure only).
result<verify_report> verify_archive_dir(const std::filesystem::path& archive_dir,
                                         bool decode = true, const hr_keyring* keys = nullptr);

} // namespace annals
