#include "storage/archive_import.hpp"

#include "storage/store.hpp"

namespace annals {

result<archive_import_stats>
import_archive(store& db, const public_key& community, const std::string& id,
               const pb::WakuMessageArchive& archive, std::size_t batch,
               const std::function<void(const std::vector<archive_message>&)>& on_batch) {
  archive_import_stats stats;
  const auto total = archive.messages_size();
  stats.messages = static_cast<std::uint64_t>(total);
  if (total == 0) {
    if (auto marked = db.import_archive_messages(community, id, {}, true); !marked)
      return marked.error();
    return stats;
  }
  std::vector<archive_message> pending;
  pending.reserve(std::min<std::size_t>(batch, static_cast<std::size_t>(total)));
  for (int i = 0; i < total; ++i) {
    pending.push_back(from_proto(archive.messages(i)));
    bool last = i + 1 == total;
    if (pending.size() < batch && !last)
      continue;
    auto inserted = db.import_archive_messages(community, id, pending, last);
    if (!inserted)
      return inserted.error();
    stats.inserted += inserted->inserted;
    stats.duplicates += inserted->duplicates;
    if (on_batch)
      on_batch(pending);
    pending.clear();
  }
  return stats;
}

} // namespace annals
