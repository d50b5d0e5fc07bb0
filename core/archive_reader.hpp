// Reading archives back (status-go manager_archive_file.go:413-513) and
// verifying an archive directory without trusting it.
#pragma once

#include "core/archive_format.hpp"
#include "core/hash_ratchet.hpp"

#include <deque>
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

/// Archive `entry`'s serialized WakuMessageArchive in clear (opened with
/// `keys` when sealed), not parsed.
result<std::string> read_archive_bytes(const std::filesystem::path& data_file,
                                       const pb::WakuMessageArchiveIndexMetadata& entry,
                                       const hr_keyring* keys = nullptr);

/// An archive's messages as a store keeps them, without building the
/// archive's protobuf: canonical messages are views into the archive's own
/// bytes (no copy of a payload), any other is parsed and written again in
/// canonical form into `reencoded`. Each has a 4-byte topic and its hash.
struct archive_wire {
  pb::WakuMessageArchiveMetadata metadata;
  std::vector<message_wire> messages;  // in the archive's order
  std::deque<std::string> reencoded;   // owns what non-canonical messages view
  std::deque<archive_message> reparsed;
};

/// Reads `bytes` (a serialized WakuMessageArchive) as protobuf would parse
/// it: malformed bytes or a missing metadata field are refused. The views
/// in the result point into `bytes` and into the result itself.
result<archive_wire> wire_archive(std::string_view bytes);

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
  /// Bytes past the last archive that a member's fetch of a newer set wrote
  /// (its staged index, archive_layout::fetching_index_file, is there):
  /// not a fault of this set, which stays whole.
  std::uint64_t fetching_bytes = 0;
  bool ok() const { return problems.empty(); }
};

/// Decodes archive `entry` of `data_file` (opened with `keys` when sealed)
/// and checks it against its entry: its metadata is the entry's and every
/// message lies in its window. Its message count, or what is wrong. The
/// check verify_archive_dir makes of each archive with `decode`, for one
/// archive as soon as it arrives.
result<std::size_t> verify_archive_contents(const std::filesystem::path& data_file,
                                            const pb::WakuMessageArchiveIndexMetadata& entry,
                                            const hr_keyring* keys = nullptr);

/// Checks an archive directory (the one holding `data` and `index`): every ID
/// matches its entry, offsets and sizes are piece-aligned, contiguous and
/// inside `data`, padding is zero, and each archive decodes with the metadata
/// its entry claims. With `decode` false the archives' contents are not
/// parsed (structure only). `index_file`, when given, is read in place of
/// the directory's `index` (a member's staged index the .torrent describes).
result<verify_report> verify_archive_dir(const std::filesystem::path& archive_dir,
                                         bool decode = true, const hr_keyring* keys = nullptr,
                                         const std::filesystem::path& index_file = {});

} // namespace annals
