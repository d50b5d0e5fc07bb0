// The archive torrent in status-go's shape: a v1 torrent named after the
// community ID, files `data` then `index`, 102400-byte SHA-1 pieces, and the
// magnet link anacrolix prints. libtorrent's create_torrent refuses a piece
// length that is not a power of two, so the info dictionary is built with
// libtorrent's own entry/bencode/hasher instead. No libtorrent types here.
#pragma once

#include "core/archive_format.hpp"
#include "core/torrent_summary.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace annals {

/// status-go's trackers, for production configs (tests use none).
std::vector<std::string> status_go_trackers();

struct torrent_options {
  std::vector<std::string> trackers;  // one tier each, in this order
  std::string created_by;             // status-go: owner identity key hex
  std::int64_t creation_date = 0;     // unix s; 0 = omit (reproducible bytes)
};

/// Hashes `data` and `index` of `layout` and writes layout.torrent_file()
/// atomically. Fails when either file is missing or `data` is not a multiple
/// of the piece length. With `appended` (a build's report), the pieces it
/// hashed are not read again, nor are those before it when the torrent in
/// place describes exactly that prefix of `data`.
result<torrent_summary> write_archive_torrent(const archive_layout& layout,
                                              const torrent_options& options,
                                              const data_piece_hashes* appended = nullptr);

/// Parses and checks a .torrent in status-go's shape: v1, name = community
/// ID (0x + 66 hex), exactly the files `data` then `index`, 102400-byte
/// pieces, `data` piece-aligned. Errors say which rule failed.
result<torrent_summary> read_archive_torrent(const std::filesystem::path& file);

/// The same checks on an info dictionary alone: the metadata a magnet
/// download receives from peers. The summary has no trackers.
result<torrent_summary> check_archive_info_dict(std::string_view bencoded_info);

/// Checks that layout's `data` and `index` are what its torrent describes:
/// sizes equal and every piece's SHA-1 matching. The error names the first
/// bad piece and the file it lies in.
/// `data` may be longer: a member fetching a newer set writes past the held
/// set's end (archive_layout::fetching_index_file). The index checked is
/// described_index_file's.
result<torrent_summary> verify_archive_torrent_files(const archive_layout& layout);

/// The index file of the set layout's .torrent describes: the staged index
/// (archive_layout::fetching_index_file) when a member stopped between
/// saving a fetched set's .torrent and moving that index into place and it
/// is the one the .torrent describes (size and piece hashes), `index`
/// otherwise. Reads only: readers see the set the next start puts in place.
std::filesystem::path described_index_file(const archive_layout& layout);

/// A member's crash between saving a fetched set's .torrent and moving its
/// staged index into place left the staged index behind: when it is the
/// index the .torrent describes (size and piece hashes), it becomes
/// `index`. True when it was moved.
result<bool> promote_fetched_index(const archive_layout& layout);

/// The 40 lowercase hex of a magnet link's xt=urn:btih: (a 40-hex or
/// 32-char base32 hash); nullopt when it has none.
std::optional<std::string> magnet_info_hash(std::string_view magnet);

/// Whether `locator` is a magnet link (rather than a .torrent file's path).
inline bool is_magnet_link(std::string_view locator) { return locator.rfind("magnet:", 0) == 0; }

/// The dn (display name) of a magnet link, unescaped; nullopt when the link
/// has none or is not a magnet link. status-go's dn is the community ID.
std::optional<std::string> magnet_name(std::string_view magnet);

/// magnet:?xt=urn:btih:<hash>&dn=<name>&tr=<tracker>...&x.pe=<peer>...
/// Parameters after xt are sorted by key and query-escaped as Go's
/// url.Values.Encode does.
std::string magnet_link(const std::string& info_hash_hex, const std::string& name,
                        const std::vector<std::string>& trackers,
                        const std::vector<std::string>& peers = {});

/// Go's url.QueryEscape.
std::string query_escape(std::string_view text);

} // namespace annals
