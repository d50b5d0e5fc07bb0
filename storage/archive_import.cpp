#include "storage/archive_import.hpp"

#include "core/archive_reader.hpp"
#include "storage/store.hpp"

#include <algorithm>

namespace annals {

result<archive_import_stats> import_archive(store& db, const public_key& community,
                                            const std::string& id, const archive_wire& archive,
                                            std::size_t batch,
                                            const import_batch_observer& on_batch) {
  archive_import_stats stats;
  const auto total = archive.messages.size();
  stats.messages = total;
  if (total == 0) {
    if (auto marked = db.import_archive_wires(community, id, nullptr, 0, true); !marked)
      return marked.error();
    return stats;
  }
  batch = std::max<std::size_t>(batch, 1);
  std::vector<std::string_view> hashes;
  for (std::size_t at = 0; at < total; at += batch) {
    auto n = std::min(batch, total - at);
    bool last = at + n == total;
    auto inserted = db.import_archive_wires(community, id, archive.messages.data() + at, n, last);
    if (!inserted)
      return inserted.error();
    stats.inserted += inserted->inserted;
    stats.duplicates += inserted->duplicates;
    if (on_batch) {
      hashes.clear();
      for (std::size_t i = at; i < at + n; ++i)
        hashes.push_back(archive.messages[i].hash);
      on_batch(hashes);
    }
  }
  return stats;
}

result<archive_import_stats>
import_archive_file(store& db, const public_key& community, const std::string& id,
                    const std::filesystem::path& data_file,
                    const pb::WakuMessageArchiveIndexMetadata& entry, const hr_keyring* keys,
                    std::size_t batch, const import_batch_observer& on_batch) {
  auto bytes = read_archive_bytes(data_file, entry, keys);
  if (!bytes)
    return bytes.error();
  auto archive = wire_archive(*bytes);
  if (!archive)
    return make_error(archive.error().code, "bytes at offset " + std::to_string(entry.offset())
                                              + ": " + archive.error().message);
  return import_archive(db, community, id, *archive, batch, on_batch);
}

} // namespace annals
