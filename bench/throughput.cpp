#include "bench/throughput.hpp"

#include "bench/load.hpp"

#include "core/archive_builder.hpp"
#include "core/archive_reader.hpp"
#include "core/piece_hasher.hpp"
#include "core/synthetic.hpp"
#include "net/torrent_file.hpp"
#include "storage/archive_import.hpp"
#include "storage/owner_build.hpp"
#include "storage/store.hpp"

#include <nlohmann/json.hpp>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <thread>

#include <malloc.h>
#include <unistd.h>

namespace annals::bench {
namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

double since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

std::string read_all(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Before each timed part: the previous part's dirty pages written back,
/// so one part's writeback is not charged to the next.
void settle() {
  ::sync();
}

} // namespace

double throughput_result::build_ratio() const {
  return build_s + torrent_s > 0 ? sha1_s / (build_s + torrent_s) : 0;
}
double throughput_result::import_ratio() const {
  return import_s > 0 ? rocksdb_s / import_s : 0;
}

throughput_result run_throughput(const throughput_options& options,
                                 const std::function<void(const std::string&)>& line) {
  throughput_result r;
  char pattern[] = "/tmp/annals-throughput-XXXXXX";
  if (!::mkdtemp(pattern))
    throw std::runtime_error("cannot create a temporary directory under /tmp");
  fs::path root = pattern;
  struct cleanup {
    fs::path dir;
    ~cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } guard{root};

  auto community = synthetic_community::make(4, 101);
  auto pub = community.key.public_key();
  archive_layout layout{root / "owner", community.id()};
  const auto target = static_cast<std::uint64_t>(options.size_mib * (1 << 20));
  const auto per_message = options.payload + 65 + 40;
  const std::uint64_t hour = 3600;
  const std::uint64_t count = target / per_message + 1;
  const std::uint64_t windows = std::max<std::uint64_t>(2, count / 25'000);
  const std::uint64_t from = 1'700'000'000;
  const std::uint64_t to = from + windows * hour;

  // The owner's store, filled as its relay would have: made and stored a
  // window at a time (not timed), so the bench holds one window in memory.
  // The first window is built at once, untimed, as a node's first build
  // long ago: a first build also reconciles the store with the archives
  // once, which a weekly build does not.
  r.stored = count;
  line("storing " + std::to_string(count) + " signed messages of "
       + std::to_string(options.payload) + " B in the owner's store (not timed)");
  owner_build_hooks hooks;
  clock_type::time_point torrent_started;
  hooks.write_torrent = [&](const data_piece_hashes* appended) -> result<void> {
    torrent_started = clock_type::now();
    auto torrent = write_archive_torrent(layout, {}, appended);
    if (!torrent)
      return torrent.error();
    return {};
  };
  {
    auto owner_db = store::open(root / "owner-db");
    if (!owner_db)
      throw std::runtime_error(owner_db.error().to_string());
    auto& db = **owner_db;
    for (std::uint64_t w = 0; w < windows; ++w) {
      if (w == 1)
        if (auto first = build_owner_archives(layout, db, pub,
                                              {from + hour, hour, community.channel_topics, nullptr}, hooks);
            !first)
          throw std::runtime_error("first build: " + first.error().to_string());
      synthetic_traffic traffic;
      traffic.count = count / windows + (w < count % windows);
      traffic.from = from + w * hour;
      traffic.to = traffic.from + hour;
      traffic.min_payload = options.payload;
      traffic.max_payload = options.payload;
      traffic.seed = w + 1;
      if (auto stored = db.insert_messages(pub, make_synthetic_messages(community, traffic));
          !stored)
        throw std::runtime_error(stored.error().to_string());
    }
    // Reopened below, as an owner node finds its store at a weekly build:
    // flushed, its files in the page cache, its block cache cold.
  }

  // -- build: the owner's path, store -> archives -> torrent ---------------------------
  settle();
  line("build: the owner's store into archives and their torrent");
  build_report report;
  {
    auto owner_db = store::open(root / "owner-db");
    if (!owner_db)
      throw std::runtime_error(owner_db.error().to_string());
    // A node that has run since its last build knows its queue's count:
    // that build counted what it left queued, and each store since added
    // to it. The reopen above forgot it; count it again, untimed.
    if (auto queued = (*owner_db)->count_unarchived(pub); !queued)
      throw std::runtime_error(queued.error().to_string());
    // The reopen flushed what the log held and started compacting it: a
    // week's background work, finished before the build as it would be.
    if (auto settled = (*owner_db)->settle(); !settled)
      throw std::runtime_error(settled.error().to_string());
    settle();  // and the files that compaction wrote
    auto t = clock_type::now();
    auto built = build_owner_archives(layout, **owner_db, pub,
                                      {to, hour, community.channel_topics, nullptr}, hooks);
    if (!built)
      throw std::runtime_error("build: " + built.error().to_string());
    auto done = clock_type::now();
    r.build_s = std::chrono::duration<double>(torrent_started - t).count();
    r.torrent_s = std::chrono::duration<double>(done - torrent_started).count();
    report = std::move(built->report);
    r.build_read = to_string(built->read);
  }
  r.messages = report.messages;
  r.archives = report.archives.size();
  r.data_bytes = report.bytes_appended;

  // The limit beside it: single-core SHA-1 of the same bytes, piece by
  // piece, from memory. The digests must be the ones the build made.
  auto data = read_all(layout.data_file());
  std::string_view appended(data);
  appended.remove_prefix(report.appended_pieces.first * archive_piece_length);
  std::string digests;
  digests.reserve(report.appended_pieces.digests.size());
  auto t = clock_type::now();
  sha1_pieces(appended, digests);
  r.sha1_s = since(t);
  if (digests != report.appended_pieces.digests)
    throw std::runtime_error("build: its piece hashes differ from SHA-1 of what it wrote");
  data.clear();
  data.shrink_to_fit();

  // -- import: the member's path, archive by archive, into a fresh store ---------------
  settle();
  line("import: " + std::to_string(r.archives) + " archives into a fresh store");
  {
    auto opened = store::open(root / "member-db");
    if (!opened)
      throw std::runtime_error(opened.error().to_string());
    auto& db = **opened;
    if (auto marked = db.mark_archives_downloaded(pub, report.archives); !marked)
      throw std::runtime_error(marked.error().to_string());
    auto index = read_index(layout.index_file());
    if (!index)
      throw std::runtime_error(index.error().to_string());
    // Anonymous RSS sampled through the import: libtorrent's and RocksDB's
    // file pages are not in it, only what the import itself allocates.
    ::malloc_trim(0);
    r.import_base_rss_mb = read_rss().anon_mb;
    std::atomic<bool> importing{true};
    std::atomic<double> peak{r.import_base_rss_mb};
    std::thread sampler([&] {
      while (importing) {
        auto now = read_rss().anon_mb;
        if (now > peak)
          peak = now;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
    struct stop_sampler {
      std::atomic<bool>& flag;
      std::thread& thread;
      ~stop_sampler() {
        flag = false;
        thread.join();
      }
    } stop{importing, sampler};
    t = clock_type::now();
    for (const auto& archive : report.archives) {
      auto entry = index->archives().find(archive.id);
      if (entry == index->archives().end())
        throw std::runtime_error("archive " + archive.id + " is not in the index");
      auto imported = import_archive_file(db, pub, archive.id, layout.data_file(),
                                          entry->second, nullptr, 5000);
      if (!imported)
        throw std::runtime_error(imported.error().to_string());
      r.imported += imported->inserted;
    }
    r.import_s = since(t);
    importing = false;
    r.import_peak_rss_mb = std::max(peak.load(), read_rss().anon_mb);
  }

  // The limit beside it: RocksDB's own write of as many values of the same
  // mean size, batches of 1,000, WAL on and synced per batch as the store does.
  settle();
  line("limit: plain RocksDB writes of the same values");
  {
    rocksdb::Options db_options;
    db_options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    auto status = rocksdb::DB::Open(db_options, (root / "plain-db").string(), &raw);
    if (!status.ok())
      throw std::runtime_error("rocksdb: " + status.ToString());
    std::unique_ptr<rocksdb::DB> plain(raw);
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    std::string value(r.messages ? r.data_bytes / r.messages : options.payload, 'v');
    std::uint64_t state = 0x9e3779b97f4a7c15ull;
    t = clock_type::now();
    rocksdb::WriteBatch batch;
    for (std::uint64_t i = 0; i < r.messages; ++i) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      std::string key(reinterpret_cast<const char*>(&state), sizeof state);
      key.append(24, char(i));
      batch.Put(key, value);
      if (batch.Count() == 1000 || i + 1 == r.messages) {
        if (auto s = plain->Write(write_options, &batch); !s.ok())
          throw std::runtime_error("rocksdb: " + s.ToString());
        batch.Clear();
      }
    }
    r.rocksdb_s = since(t);
  }

  if (options.fetch)
    r.fetch = run_fetch(layout, root / "fetch", options.annals_binary, line);
  else
    r.fetch.why = "--no-fetch";
  return r;
}

std::string throughput_json(const throughput_options& options, const throughput_result& r) {
  auto mb = [](double bytes, double s) { return s > 0 ? bytes / 1e6 / s : 0.0; };
  nlohmann::json j;
  j["size_mib"] = options.size_mib;
  j["payload"] = options.payload;
  j["stored_messages"] = r.stored;
  j["messages"] = r.messages;
  j["archives"] = r.archives;
  j["data_bytes"] = r.data_bytes;
  j["build"] = {{"seconds", r.build_s + r.torrent_s},
                {"archives_seconds", r.build_s},
                {"torrent_seconds", r.torrent_s},
                {"mb_per_s", mb(double(r.data_bytes), r.build_s + r.torrent_s)},
                {"limit", "OpenSSL SHA-1 of the same bytes, one core"},
                {"limit_mb_per_s", mb(double(r.data_bytes), r.sha1_s)},
                {"ratio", r.build_ratio()},
                {"target", options.build_target},
                {"read", r.build_read}};
  j["import"] = {{"seconds", r.import_s},
                 {"messages", r.imported},
                 {"msg_per_s", r.import_s > 0 ? double(r.imported) / r.import_s : 0.0},
                 {"limit", "RocksDB writes of as many values of the same size, batches of 1000, "
                           "synced"},
                 {"limit_msg_per_s", r.rocksdb_s > 0 ? double(r.messages) / r.rocksdb_s : 0.0},
                 {"ratio", r.import_ratio()},
                 {"target", options.import_target},
                 {"rss_anon_mb_before", r.import_base_rss_mb},
                 {"rss_anon_mb_peak", r.import_peak_rss_mb},
                 {"rss_target_mb", options.rss_target_mb}};
  if (r.fetch.measured) {
    j["fetch"] = {{"measured", true},
                  {"bytes", r.fetch.bytes},
                  {"seconds", r.fetch.annals_s},
                  {"mb_per_s", mb(double(r.fetch.bytes), r.fetch.annals_s)},
                  {"limit", "aria2 from the same aria2 seeder on 127.0.0.1"},
                  {"limit_seconds", r.fetch.aria2_s},
                  {"limit_mb_per_s", mb(double(r.fetch.bytes), r.fetch.aria2_s)},
                  {"ratio", r.fetch.ratio()},
                  {"target", options.fetch_target},
                  {"annals_from_annals_seconds", r.fetch.annals_from_annals_s},
                  {"annals_from_annals_mb_per_s",
                   mb(double(r.fetch.bytes), r.fetch.annals_from_annals_s)}};
  } else {
    j["fetch"] = {{"measured", false}, {"why", r.fetch.why}};
  }
  return j.dump();
}

std::vector<std::string> missed_targets(const throughput_options& options,
                                        const throughput_result& result) {
  std::vector<std::string> missed;
  auto figure = [](double value, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return std::string(text);
  };
  if (result.build_ratio() < options.build_target)
    missed.push_back("build " + figure(result.build_ratio(), 2) + "x SHA-1 is below its target "
                     + figure(options.build_target, 2));
  if (result.import_ratio() < options.import_target)
    missed.push_back("import " + figure(result.import_ratio(), 2)
                     + "x RocksDB writes is below its target " + figure(options.import_target, 2));
  if (result.import_peak_rss_mb > options.rss_target_mb)
    missed.push_back("import peak anonymous RSS " + figure(result.import_peak_rss_mb, 0)
                     + " MiB is above its target " + figure(options.rss_target_mb, 0) + " MiB");
  if (options.fetch) {
    if (!result.fetch.measured)
      missed.push_back("fetch was not measured: " + result.fetch.why);
    else if (result.fetch.ratio() < options.fetch_target)
      missed.push_back("fetch " + figure(result.fetch.ratio(), 2) + "x aria2 is below its target "
                       + figure(options.fetch_target, 2));
  }
  return missed;
}

} // namespace annals::bench
