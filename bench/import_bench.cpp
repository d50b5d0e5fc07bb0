// Member import throughput and memory on a large archive set.
//
//   import_bench [GIB=1.0] [PAYLOAD=1000]
//
// Builds at least GIB GiB of status-go archives (synthetic messages made
// window by window, so the build itself stays small), records them as
// downloaded in a fresh RocksDB, and has the node's real importer actor
// import them. Prints msg/s, MB/s and the process's peak RSS: the importer
// holds one archive (about 30 MB) at a time, never the whole `data` file
// (status-go's import used 3 GB for less, status-app#10026).
#include "actors/downloader.hpp"
#include "actors/importer.hpp"
#include "actors/node.hpp"
#include "actors/signal_bus.hpp"
#include "core/archive_builder.hpp"
#include "core/synthetic.hpp"
#include "bench/usage.hpp"
#include "storage/store.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sys/resource.h>

using namespace annals;
using clock_type = std::chrono::steady_clock;

namespace {

double since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}


} // namespace

int main(int argc, char** argv) {
  bench::handle_help(argc, argv, "usage: import_bench [GIB=1.0] [PAYLOAD=1000]\n"
                                 "Builds GIB GiB of archives and times the member's import.\n");
  double gib = bench::number_arg(argc, argv, 1, 1.0, "GIB");
  auto payload = bench::count_arg(argc, argv, 2, 1000, "PAYLOAD");
  const auto target = static_cast<std::uint64_t>(gib * (1ull << 30));
  const auto per_message = payload + 65 + 40;  // payload, sig, framing and hash
  const std::size_t count = target / per_message + 1;
  const std::uint64_t hour = 3600;
  const std::size_t windows = std::max<std::size_t>(1, count / 25'000);  // ~25 MB archives

  char pattern[] = "/tmp/annals-import-bench-XXXXXX";
  if (!::mkdtemp(pattern)) {
    std::perror("mkdtemp");
    return 1;
  }
  std::filesystem::path root = pattern;
  auto community = synthetic_community::make(4, 99);
  auto pub = community.key.public_key();
  archive_layout layout{root, community.id()};

  // Messages are made per window on demand: the bench's own memory stays
  // at one window, so the peak RSS below is the importer's.
  const std::uint64_t from = 1'700'000'000;
  const std::uint64_t to = from + windows * hour;
  message_source source = [&](std::uint64_t a, std::uint64_t b, const std::vector<topic4>&,
                              const message_visitor& visit) -> result<void> {
    synthetic_traffic traffic;
    traffic.count = count / windows;
    traffic.from = a;
    traffic.to = b;
    traffic.min_payload = payload;
    traffic.max_payload = payload;
    traffic.seed = a;
    for (const auto& m : make_synthetic_messages(community, traffic))
      visit_encoded(visit, m);
    return {};
  };
  auto t = clock_type::now();
  auto report = build_archives(layout, {from, to, hour, community.channel_topics}, source);
  if (!report) {
    std::fprintf(stderr, "build failed: %s\n", report.error().to_string().c_str());
    return 1;
  }
  auto build_s = since(t);
  auto data_bytes = std::filesystem::file_size(layout.data_file());
  auto rss_after_build = peak_rss_mb();

  auto db_result = store::open(root / "db");
  if (!db_result) {
    std::fprintf(stderr, "%s\n", db_result.error().to_string().c_str());
    return 1;
  }
  std::shared_ptr<store> db(std::move(*db_result));
  record::Community member;
  member.set_public_key(std::string(as_view(pub.compressed())));
  member.set_role(record::Community::MEMBER);
  member.set_joined(true);
  (void)db->put_community(member);
  (void)db->mark_archives_downloaded(pub, report->archives);

  std::uint64_t imported = 0;
  double import_s = 0;
  {
    node_system_config cfg;
    caf::actor_system sys{cfg};
    auto bus = sys.spawn(signal_bus);
    auto worker = sys.spawn<caf::detached>(importer, root, db, bus, std::uint64_t{0},
                                           import_observer{});
    caf::scoped_actor self{sys};
    t = clock_type::now();
    self->request(worker, caf::infinite, import_atom::value, community.id())
      .receive([&](std::uint64_t n) { imported = n; },
               [&](const caf::error& err) {
                 std::fprintf(stderr, "import failed: %s\n", sys.render(err).c_str());
               });
    import_s = since(t);
    self->send_exit(worker, caf::exit_reason::user_shutdown);
    self->send_exit(bus, caf::exit_reason::user_shutdown);
  }
  auto stored = db->count_messages(pub);
  std::printf("archive set        %.2f GiB in %zu archives, %zu messages of %zu B payload\n",
              static_cast<double>(data_bytes) / (1ull << 30), report->archives.size(),
              report->messages, payload);
  std::printf("build              %.1f s (peak RSS so far %.0f MB)\n", build_s, rss_after_build);
  std::printf("import             %.1f s  %.0f msg/s  %.1f MB/s of archive data\n", import_s,
              static_cast<double>(imported) / import_s,
              static_cast<double>(data_bytes) / 1e6 / import_s);
  std::printf("stored             %llu messages (expected %zu)\n",
              static_cast<unsigned long long>(stored ? *stored : 0), report->messages);
  std::printf("peak RSS           %.0f MB for the whole process\n", peak_rss_mb());
  db.reset();
  std::filesystem::remove_all(root);
  return imported == report->messages ? 0 : 1;
}
