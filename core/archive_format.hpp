// status-go's history archive format: constants, padding, IDs and the on-disk
// layout. See status-go protocol/communities/manager_archive_file.go.
#pragma once

#include "core/result.hpp"
#include "core/topics.hpp"
#include "proto/status_archive.pb.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

namespace annals {

namespace pb = ::annals::status;

/// Torrent piece length; every archive starts and ends on a piece boundary.
inline constexpr std::uint64_t archive_piece_length = 100 * 1024;
/// Upper bound on the sum of len(payload)+len(sig) of one archive's messages.
inline constexpr std::uint64_t max_archive_payload = 30'000'000;
/// status-go's archive interval and partition length.
inline constexpr std::uint64_t default_partition_seconds = 7 * 24 * 3600;

struct padded_size {
  std::uint64_t size;     // bytes the archive occupies in `data`
  std::uint64_t padding;  // zero bytes after the serialized archive
};

/// status-go: raw > L ? raw + L - raw % L : L. Note that an exact multiple of
/// L above L gets a whole extra zero piece and raw == L gets no padding.
padded_size pad_archive(std::uint64_t raw_size);

/// Proto serialization with sorted map keys, so equal indexes give equal bytes.
std::string serialize_deterministic(const google::protobuf::MessageLite& message);

/// "0x" + hex(keccak256(serialized WakuMessageArchiveIndexMetadata)).
std::string archive_id(const pb::WakuMessageArchiveIndexMetadata& entry);

/// Where a community's archives live under a node's (or a build's) directory:
/// <root>/archivedata/<communityID>/{data,index} and
/// <root>/torrents/<communityID>.torrent.
/// The file name of archive_layout::fetching_index_file.
inline constexpr const char* fetching_index_name = ".index.fetching";

struct archive_layout {
  std::filesystem::path root;
  std::string community_id;  // "0x" + 66 hex

  std::filesystem::path archive_dir() const { return root / "archivedata" / community_id; }
  std::filesystem::path data_file() const { return archive_dir() / "data"; }
  std::filesystem::path index_file() const { return archive_dir() / "index"; }
  /// The index of a build that is written but not yet committed (owner
  /// builds: promoted to index_file() once the store recorded the build).
  std::filesystem::path staged_index_file() const { return archive_dir() / "index.next"; }
  /// Where a member's fetch writes a newer set's index until the set is
  /// complete and its torrent saved, so `index` and the .torrent always
  /// describe one version (the newer data lands past the older's end).
  std::filesystem::path fetching_index_file() const { return archive_dir() / fetching_index_name; }
  std::filesystem::path torrent_file() const {
    return root / "torrents" / (community_id + ".torrent");
  }
};

/// SHA-1 digests (20 bytes each) of consecutive torrent pieces of `data`,
/// the first being piece `first`.
struct data_piece_hashes {
  std::uint64_t first = 0;
  std::string digests;
};

/// One message as status-go stores it in waku_messages and puts in archives.
struct archive_message {
  std::uint64_t timestamp = 0;  // unix seconds (Waku envelope `Sent`)
  topic4 topic{};
  std::string payload;          // ProtocolMessage bytes after decryption
  std::string sig;              // 65-byte uncompressed key of the envelope signer
  std::string padding;
  std::string hash;             // envelope hash bytes; the dedup key
  std::string third_party_id;   // set for Discord imports only

  /// What counts against the 30 MB cap: len(payload) + len(sig).
  std::uint64_t cap_size() const { return payload.size() + sig.size(); }
};

void to_proto(const archive_message& in, pb::WakuMessage& out);
archive_message from_proto(const pb::WakuMessage& in);

/// A WakuMessage as serialized bytes in their canonical form (what the store
/// keeps and what archives hold), with what the builder reads off it. The
/// views point into the bytes' owner.
struct message_wire {
  std::string_view bytes;       // a serialized WakuMessage
  std::uint64_t timestamp = 0;
  std::string_view hash;
  std::uint64_t cap_size = 0;   // len(payload) + len(sig)
  std::string_view topic;       // the content topic as written (4 bytes for Status)
};

/// Appends the serialization of `message`: byte for byte what protobuf
/// writes for to_proto(message), without building the proto (no copies of
/// the payload but the one into `out`).
void append_wire(std::string& out, const archive_message& message);

/// Reads `bytes` as a WakuMessage in canonical form: known fields only, each
/// at most once and in number order, no empty or zero field written, minimal
/// varints, no thirdPartyId (a string protobuf must check as UTF-8). Such
/// bytes are exactly what protobuf would write again, so they can go into an
/// archive as they are; anything else is nullopt (parse and re-encode it).
std::optional<message_wire> read_wire(std::string_view bytes);

/// Appends a protobuf varint to a byte string (std::string, page_buffer).
template <class Bytes>
void append_varint(Bytes& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

} // namespace annals
