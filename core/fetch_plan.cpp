#include "core/fetch_plan.hpp"

#include "core/archive_reader.hpp"

#include <algorithm>
#include <functional>
#include <tuple>

namespace annals {

namespace {

constexpr auto L = archive_piece_length;

std::string bytes_text(std::uint64_t bytes) { return std::to_string(bytes) + " bytes"; }

} // namespace

result<void> check_archive_set_for_fetch(const archive_set_summary& set,
                                         std::string_view expected_community_id,
                                         const fetch_limits& limits) {
  if (set.name != expected_community_id)
    return make_error(errc::verification_failed,
                      "archive set is named \"" + set.name + "\", not the expected community " +
                        std::string(expected_community_id));
  if (set.index_size == 0)
    return make_error(errc::verification_failed, "archive set's index is empty");
  if (set.data_size > limits.max_data_size)
    return make_error(errc::verification_failed,
                      "archive set's data is " + bytes_text(set.data_size) +
                        ", above the limit of " + bytes_text(limits.max_data_size));
  if (set.index_size > limits.max_index_size)
    return make_error(errc::verification_failed,
                      "archive set's index is " + bytes_text(set.index_size) +
                        ", above the limit of " + bytes_text(limits.max_index_size));
  if (set.data_size % L != 0)
    return make_error(errc::verification_failed,
                      "archive set's data is " + bytes_text(set.data_size) +
                        ", not a multiple of the piece length " + std::to_string(L));
  return ok_result();
}

result<void> check_index_for_torrent(const pb::WakuMessageArchiveIndex& index,
                                     std::uint64_t data_size) {
  const std::string* previous_id = nullptr;
  std::uint64_t previous_end = 0;
  for (const auto& [id, entry] : sorted_entries(index)) {
    auto fault = [&id = id](const std::string& what) {
      return make_error(errc::verification_failed, "archive " + id + ": " + what);
    };
    if (auto computed = archive_id(entry); computed != id)
      return fault("ID does not match its entry (the entry hashes to " + computed + ")");
    if (entry.size() == 0 || entry.offset() % L != 0 || entry.size() % L != 0)
      return fault("offset " + std::to_string(entry.offset()) + " / size " +
                   std::to_string(entry.size()) + " are not whole " + std::to_string(L) +
                   "-byte pieces");
    if (entry.offset() > data_size || entry.size() > data_size - entry.offset())
      return fault("offset " + std::to_string(entry.offset()) + " + size " +
                   std::to_string(entry.size()) + " lies outside data (" + bytes_text(data_size) +
                   ")");
    // In offset order, the first overlap is always with the previous entry.
    if (previous_id && entry.offset() < previous_end)
      return fault("overlaps archive " + *previous_id + ", which ends at " +
                   std::to_string(previous_end));
    previous_id = &id;
    previous_end = entry.offset() + entry.size();
  }
  return ok_result();
}

std::vector<archive_pieces> missing_archives(const pb::WakuMessageArchiveIndex& index,
                                             const std::set<std::string>& held_ids) {
  std::vector<archive_pieces> missing;
  for (const auto& [id, entry] : index.archives()) {
    if (held_ids.count(id) != 0)
      continue;
    missing.push_back({id, entry, static_cast<int>(entry.offset() / L),
                       static_cast<int>((entry.offset() + entry.size()) / L)});
  }
  std::sort(missing.begin(), missing.end(), [](const auto& a, const auto& b) {
    return std::make_tuple(a.entry.metadata().from(), a.entry.offset(), std::cref(a.id)) <
           std::make_tuple(b.entry.metadata().from(), b.entry.offset(), std::cref(b.id));
  });
  return missing;
}

} // namespace annals
