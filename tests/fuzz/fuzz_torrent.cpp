// Torrent metadata from peers (a magnet link's info dict) and magnet links
// from the relay: the shape checks run before any piece is asked for.
#include "net/torrent_file.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parts = annals::fuzz::split(annals::fuzz::view(data, size));
  (void)annals::check_archive_info_dict(parts.second);
  (void)annals::magnet_info_hash(parts.first);
  (void)annals::magnet_name(parts.first);
  return 0;
}
