// `annals bench throughput`: the owner's build and the member's import, each
// timed in the same run beside this machine's limit for the same work
// (single-core OpenSSL SHA-1 of the same bytes; RocksDB's own write of as
// many values of the same size), printed as ratios. Fetch beside aria2 is
// still measured by the interop test and its README figures.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace annals::bench {

struct throughput_options {
  double size_mib = 256;       // of archive data
  std::size_t payload = 1000;  // bytes per message
};

struct throughput_result {
  std::uint64_t messages = 0;
  std::size_t archives = 0;
  std::uint64_t data_bytes = 0;
  double build_s = 0;    // archives: encode, append, fsync, index
  double torrent_s = 0;  // piece hashes and the .torrent
  double sha1_s = 0;     // the limit: SHA-1 of the same bytes
  unsigned char sha1_fold = 0;  // keeps the hashing from being optimised away
  std::uint64_t imported = 0;
  double import_s = 0;
  double rocksdb_s = 0;  // the limit: plain RocksDB writes
  double build_ratio() const;
  double import_ratio() const;
};

throughput_result run_throughput(const throughput_options& options,
                                 const std::function<void(const std::string&)>& line);
std::string throughput_json(const throughput_options& options, const throughput_result& result);

} // namespace annals::bench
