// `annals bench throughput`: the owner's build and the member's import, each
// timed in the same run beside this machine's limit for the same work
// (single-core OpenSSL SHA-1 of the same bytes; RocksDB's own write of as
// many values of the same size), and the member's fetch beside aria2's from
// the same seeder (bench/fetch), printed as ratios.
#pragma once

#include "bench/fetch.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace annals::bench {

struct throughput_options {
  double size_mib = 256;       // of archive data
  std::size_t payload = 1000;  // bytes per message
  bool fetch = true;           // the fetch part (needs aria2c and opentracker)
  std::filesystem::path annals_binary;  // for `archive fetch|seed` in the fetch part
  // The targets each figure is judged against (ratios to this machine's limit).
  double build_target = 0.6;
  double import_target = 0.6;
  double rss_target_mb = 256;  // the import's peak anonymous RSS, at most
  double fetch_target = 1.0;
};

struct throughput_result {
  std::uint64_t stored = 0;    // messages in the owner's store
  std::uint64_t messages = 0;  // of them, in the timed build
  std::size_t archives = 0;
  std::uint64_t data_bytes = 0;
  double build_s = 0;    // archives: encode, append, fsync, index
  double torrent_s = 0;  // piece hashes and the .torrent
  std::string build_read;  // how the build read the store (owner_build_result::read)
  double sha1_s = 0;     // the limit: SHA-1 of the same bytes
  std::uint64_t imported = 0;
  double import_s = 0;
  double import_base_rss_mb = 0;  // anonymous RSS when the import starts
  double import_peak_rss_mb = 0;  // its peak during the import
  double rocksdb_s = 0;  // the limit: plain RocksDB writes
  fetch_figures fetch;
  double build_ratio() const;
  double import_ratio() const;
};

throughput_result run_throughput(const throughput_options& options,
                                 const std::function<void(const std::string&)>& line);
std::string throughput_json(const throughput_options& options, const throughput_result& result);
/// Each target the result misses, as "build 0.41x SHA-1 is below its target 0.6";
/// a fetch that was asked for and not measured is one.
std::vector<std::string> missed_targets(const throughput_options& options,
                                        const throughput_result& result);

} // namespace annals::bench
