#include "bench/throughput.hpp"

#include "core/archive_builder.hpp"
#include "core/archive_reader.hpp"
#include "core/synthetic.hpp"
#include "net/torrent_file.hpp"
#include "storage/archive_import.hpp"
#include "storage/store.hpp"

#include <nlohmann/json.hpp>
#include <openssl/sha.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>

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
  synthetic_traffic traffic;
  traffic.count = target / per_message + 1;
  const std::uint64_t hour = 3600;
  const std::uint64_t windows = std::max<std::uint64_t>(1, traffic.count / 25'000);
  traffic.from = 1'700'000'000;
  traffic.to = traffic.from + windows * hour;
  traffic.min_payload = options.payload;
  traffic.max_payload = options.payload;
  line("making " + std::to_string(traffic.count) + " signed messages of "
       + std::to_string(options.payload) + " B (not timed)");
  auto messages = make_synthetic_messages(community, traffic);

  // -- build: encode, append, fsync, replace the index; then the torrent ---------------
  line("build: archives and torrent from messages in memory");
  auto t = clock_type::now();
  auto report = build_archives(layout, {traffic.from, traffic.to, hour, community.channel_topics},
                               memory_source(std::move(messages)));
  if (!report)
    throw std::runtime_error("build: " + report.error().to_string());
  r.build_s = since(t);
  t = clock_type::now();
  auto torrent = write_archive_torrent(layout, {});
  if (!torrent)
    throw std::runtime_error("torrent: " + torrent.error().to_string());
  r.torrent_s = since(t);
  r.messages = report->messages;
  r.archives = report->archives.size();
  r.data_bytes = fs::file_size(layout.data_file());

  // The limit beside it: single-core SHA-1 of the same bytes, piece by piece.
  auto data = read_all(layout.data_file());
  t = clock_type::now();
  unsigned char digest[SHA_DIGEST_LENGTH];
  unsigned char fold = 0;
  for (std::size_t at = 0; at < data.size(); at += archive_piece_length) {
    auto n = std::min<std::size_t>(archive_piece_length, data.size() - at);
    SHA1(reinterpret_cast<const unsigned char*>(data.data() + at), n, digest);
    fold ^= digest[0];
  }
  r.sha1_s = since(t);
  r.sha1_fold = fold;
  data.clear();
  data.shrink_to_fit();

  // -- import: the member's path, archive by archive, into a fresh store ---------------
  line("import: " + std::to_string(r.archives) + " archives into a fresh store");
  {
    auto opened = store::open(root / "member-db");
    if (!opened)
      throw std::runtime_error(opened.error().to_string());
    auto& db = **opened;
    if (auto marked = db.mark_archives_downloaded(pub, report->archives); !marked)
      throw std::runtime_error(marked.error().to_string());
    auto index = read_index(layout.index_file());
    if (!index)
      throw std::runtime_error(index.error().to_string());
    t = clock_type::now();
    for (const auto& archive : report->archives) {
      auto entry = index->archives().find(archive.id);
      if (entry == index->archives().end())
        throw std::runtime_error("archive " + archive.id + " is not in the index");
      auto decoded = read_archive(layout.data_file(), entry->second);
      if (!decoded)
        throw std::runtime_error(decoded.error().to_string());
      auto imported = import_archive(db, pub, archive.id, *decoded, 5000);
      if (!imported)
        throw std::runtime_error(imported.error().to_string());
      r.imported += imported->inserted;
    }
    r.import_s = since(t);
  }

  // The limit beside it: RocksDB's own write of as many values of the same
  // mean size, batches of 1,000, WAL on and synced per batch as the store does.
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
  return r;
}

std::string throughput_json(const throughput_options& options, const throughput_result& r) {
  auto mb = [](double bytes, double s) { return s > 0 ? bytes / 1e6 / s : 0.0; };
  nlohmann::json j;
  j["size_mib"] = options.size_mib;
  j["payload"] = options.payload;
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
                {"target", 0.6}};
  j["import"] = {{"seconds", r.import_s},
                 {"messages", r.imported},
                 {"msg_per_s", r.import_s > 0 ? double(r.imported) / r.import_s : 0.0},
                 {"limit", "RocksDB writes of as many values of the same size, batches of 1000, "
                           "synced"},
                 {"limit_msg_per_s", r.rocksdb_s > 0 ? double(r.messages) / r.rocksdb_s : 0.0},
                 {"ratio", r.import_ratio()},
                 {"target", 0.6}};
  j["fetch"] = {{"measured", false}, {"why", "not part of this command yet (issue 10)"}};
  return j.dump();
}

} // namespace annals::bench
