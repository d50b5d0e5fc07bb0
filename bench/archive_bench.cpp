// Archive build throughput against the physical limit of the step.
//
//   archive_bench [MESSAGES=100000] [MIN_PAYLOAD=64] [MAX_PAYLOAD=1024]
//
// Builds status-go archives from MESSAGES synthetic messages (4 channels,
// 4 weekly windows) into a temp dir, writes the torrent, and hashes the same
// bytes again with SHA-1 in memory: building can be no faster than piece
// hashing, which every torrent needs.
#include "bench/usage.hpp"
#include "core/archive_builder.hpp"
#include "core/synthetic.hpp"
#include "net/torrent_file.hpp"

#include <libtorrent/hasher.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

using namespace annals;
using clock_type = std::chrono::steady_clock;

namespace {

double since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

std::string read_all(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

int main(int argc, char** argv) {
  bench::handle_help(argc, argv,
                     "usage: archive_bench [MESSAGES=100000] [MIN_PAYLOAD=64] [MAX_PAYLOAD=1024]\n"
                     "Times an archive build against SHA-1 of the same bytes.\n");
  auto count = bench::count_arg(argc, argv, 1, 100'000, "MESSAGES");
  synthetic_traffic traffic;
  traffic.count = count;
  traffic.min_payload = bench::count_arg(argc, argv, 2, 64, "MIN_PAYLOAD");
  traffic.max_payload = bench::count_arg(argc, argv, 3, 1024, "MAX_PAYLOAD");
  traffic.from = 1'700'000'000;
  traffic.to = traffic.from + 4 * default_partition_seconds;

  auto community = synthetic_community::make(4, 7);
  auto t = clock_type::now();
  auto messages = make_synthetic_messages(community, traffic);
  auto generate_s = since(t);
  std::uint64_t payload_bytes = 0;
  for (const auto& m : messages)
    payload_bytes += m.cap_size();

  char pattern[] = "/tmp/annals-bench-XXXXXX";
  if (!::mkdtemp(pattern)) {
    std::perror("mkdtemp");
    return 1;
  }
  archive_layout layout{pattern, community.id()};
  build_request request{traffic.from, traffic.to, default_partition_seconds,
                        community.channel_topics};

  t = clock_type::now();
  auto report = build_archives(layout, request, memory_source(std::move(messages)));
  auto build_s = since(t);
  if (!report) {
    std::fprintf(stderr, "build failed: %s\n", report.error().to_string().c_str());
    return 1;
  }
  t = clock_type::now();
  auto torrent = write_archive_torrent(layout, {}, &report->appended_pieces);
  auto torrent_s = since(t);
  if (!torrent) {
    std::fprintf(stderr, "torrent failed: %s\n", torrent.error().to_string().c_str());
    return 1;
  }

  // The same bytes, hashed in memory in 102400-byte pieces: the SHA-1 limit.
  auto bytes = read_all(layout.data_file()) + read_all(layout.index_file());
  t = clock_type::now();
  std::size_t pieces = 0;
  for (std::size_t off = 0; off < bytes.size(); off += archive_piece_length, ++pieces) {
    lt::hasher h(bytes.data() + off,
                 static_cast<int>(std::min<std::size_t>(archive_piece_length, bytes.size() - off)));
    volatile auto first = h.final()[0];
    (void)first;
  }
  auto sha1_s = since(t);

  const double mb = 1e6;
  auto data_mb = static_cast<double>(bytes.size()) / mb;
  std::printf("messages            %zu (%.1f MB payload+sig)\n", count,
              static_cast<double>(payload_bytes) / mb);
  std::printf("archives            %zu in %zu windows, data+index %.1f MB, %zu pieces\n",
              report->archives.size(), report->windows, data_mb, pieces);
  std::printf("generate            %.3f s\n", generate_s);
  std::printf("build (encode+write) %.3f s  %.0f msg/s  %.1f MB/s\n", build_s,
              static_cast<double>(count) / build_s, data_mb / build_s);
  std::printf("torrent (.torrent)   %.3f s  %.1f MB/s\n", torrent_s, data_mb / torrent_s);
  std::printf("build+torrent       %.3f s  %.0f msg/s  %.1f MB/s\n", build_s + torrent_s,
              static_cast<double>(count) / (build_s + torrent_s), data_mb / (build_s + torrent_s));
  std::printf("SHA-1 in memory     %.3f s  %.1f MB/s  (limit; build+torrent at %.0f%% of it)\n",
              sha1_s, data_mb / sha1_s, 100.0 * sha1_s / (build_s + torrent_s));
  std::filesystem::remove_all(pattern);
  return 0;
}
