// What any archive distribution backend (BitTorrent today; a content-
// addressed store such as Codex tomorrow) tells a member about one
// community's archive set. Plain data: the member fetch sequence
// (core/member_fetch.hpp) decides on it, the actors carry it as it is.
#pragma once

#include <annals/status.hpp>  // transfer_source

#include <cstdint>
#include <string>
#include <vector>

namespace annals {

/// The shape of a community's archive set, known before any of it is
/// fetched (BitTorrent: the torrent's info dictionary).
struct archive_set_summary {
  std::string name;              // the community ID it claims to hold
  std::uint64_t data_size = 0;   // bytes of `data`, piece-padded archives
  std::uint64_t index_size = 0;  // bytes of `index`
};

/// Where an archive lies in the set's `data` file, by the (checked) index: a
/// backend fetches it without reading the index, which may be encrypted.
struct archive_slot {
  std::string id;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;  // padding included
};

/// Where one community's fetch stands in a backend.
struct fetch_progress {
  /// The set's shape is known and passed the backend's own shape rules.
  bool located = false;
  archive_set_summary summary;  // when located
  /// The backend refused the set's shape (names the rule); nothing of it
  /// is wanted.
  std::string refusal;
  /// The fetch stopped for good (a file error); empty while it runs.
  std::string failure;
  /// The last error a peer caused, for the message when time runs out.
  std::string peer_error;
  std::uint64_t received = 0;     // payload bytes received
  std::uint64_t wanted_done = 0;  // bytes of what is wanted that are in place
  std::uint64_t wanted_total = 0; // bytes wanted so far
  std::uint64_t rate = 0;         // payload bytes/s now
  std::uint64_t peers = 0;        // peers connected for this set
  /// The index is complete in its file and may be read.
  bool index_ready = false;
  /// Wanted archives complete in the data file and readable, by ID.
  std::vector<std::string> ready;
  /// Who sent what of this community's sets since the node started, most
  /// first.
  std::vector<transfer_source> sources;
};

} // namespace annals
