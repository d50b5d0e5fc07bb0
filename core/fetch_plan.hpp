// A member's fetch of a community's archives, as pure decisions: whether a
// torrent may be fetched at all, whether its index is safe to act on, and
// which pieces to ask for (status-go DownloadHistoryArchivesByMagnetlink,
// manager_archive.go:473-642). The torrent session carries them out.
#pragma once

#include "core/archive_format.hpp"
#include "core/distribution.hpp"

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace annals {

/// Caps on what a member agrees to fetch. status-go has none, so a magnet
/// link signed by the community key could make members fill their disks.
struct fetch_limits {
  /// 64 GiB: over 2,000 archives at the 30 MB cap, years of a busy community.
  std::uint64_t max_data_size = 64ull << 30;
  /// 64 MiB: the index is parsed in memory whole; an entry is about 100 bytes
  /// plus 6 a channel topic, so this lists several hundred thousand archives.
  std::uint64_t max_index_size = 64ull << 20;
};

/// Checks made on an archive set's shape before any of it is wanted, on top
/// of the backend's own shape rules (BitTorrent: check_archive_info_dict):
/// the name is the community the member expects (status-go saves into
/// DataDir/<name>/ and reads the index from DataDir/<communityID>/), `index`
/// is not empty, both files are within `limits`, and `data` is made of whole
/// pieces, as status-go pads every archive. The error names the rule.
result<void> check_archive_set_for_fetch(const archive_set_summary& set,
                                         std::string_view expected_community_id,
                                         const fetch_limits& limits);

/// Checks a fetched index before its archives' pieces are wanted: every ID is
/// keccak-256 of its entry, offsets and sizes are whole pieces, each archive
/// lies inside `data` (`data_size` bytes) and none overlaps another. The
/// error names the first bad archive. (verify_archive_dir checks the rest,
/// padding and contents, once the data is there.)
result<void> check_index_for_torrent(const pb::WakuMessageArchiveIndex& index,
                                     std::uint64_t data_size);

/// One archive to fetch and the torrent pieces that hold it.
struct archive_pieces {
  std::string id;
  pb::WakuMessageArchiveIndexMetadata entry;
  int first_piece = 0;  // offset / L
  int end_piece = 0;    // (offset + size) / L, exclusive
};

/// The archives of `index` whose IDs are not in `held_ids`, oldest `from`
/// first (ties by offset), as status-go orders its downloads. status-go
/// compares only the counts (len(existing) == len(index)), so a member that
/// holds as many archives as the index lists, but not the same ones, fetches
/// nothing; this compares the ID sets. Expects an index that passed
/// check_index_for_torrent for a set that passed check_archive_set_for_fetch,
/// so every piece number fits an int.
std::vector<archive_pieces> missing_archives(const pb::WakuMessageArchiveIndex& index,
                                             const std::set<std::string>& held_ids);

} // namespace annals
