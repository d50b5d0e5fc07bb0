// What annals knows of an archive torrent once its info dictionary is
// known: shared by the torrent code (net/), the fetch rules (core/) and the
// actors, which pass it between them as it is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace annals {

struct torrent_summary {
  std::string info_hash;      // 40 lowercase hex (v1, SHA-1 of the info dict)
  std::string name;           // the community ID
  std::uint64_t data_size = 0;
  std::uint64_t index_size = 0;
  std::uint64_t piece_count = 0;
  std::vector<std::string> trackers;
  std::string magnet;         // magnet_link(info_hash, name, trackers)
};

} // namespace annals
