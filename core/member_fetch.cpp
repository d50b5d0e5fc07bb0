#include "core/member_fetch.hpp"

#include "core/archive_reader.hpp"
#include "core/file_io.hpp"

#include <unordered_set>

namespace annals {

namespace {

std::string seconds_text(std::chrono::seconds s) { return std::to_string(s.count()) + " s"; }

member_step step(member_step::kind_type kind) {
  member_step s;
  s.kind = kind;
  return s;
}

} // namespace

member_fetch::member_fetch(std::string community_id, std::filesystem::path archive_root,
                           std::set<std::string> held, member_fetch_options options,
                           clock::time_point now)
  : community_id_(std::move(community_id)),
    archive_root_(std::move(archive_root)),
    held_(std::move(held)),
    options_(std::move(options)),
    since_(now) {}

member_step member_fetch::end(member_step::kind_type kind, std::string reason) {
  at_ = phase::done;
  auto s = step(kind);
  s.reason = std::move(reason);
  return s;
}

member_step member_fetch::advance(const fetch_progress& progress, clock::time_point now) {
  if (at_ == phase::done)
    return step(member_step::wait);
  if (!progress.failure.empty())
    return end(member_step::fail, "the fetch stopped: " + progress.failure);
  if (progress.received > received_) {
    received_ = progress.received;
    if (at_ != phase::locate)
      since_ = now;
  }
  if (at_ == phase::locate) {
    if (!progress.refusal.empty())
      return end(member_step::refuse, progress.refusal);
    if (!progress.located) {
      if (now - since_ <= options_.locate_timeout)
        return step(member_step::wait);
      if (attempts_ >= options_.locate_attempts) {
        auto reason = "timed out waiting for the archive set's metadata from peers, "
                      + seconds_text(options_.locate_timeout) + " " + std::to_string(attempts_)
                      + " times";
        if (!progress.peer_error.empty())
          reason += "; last peer error: " + progress.peer_error;
        return end(member_step::fail, reason);
      }
      ++attempts_;
      since_ = now;
      return step(member_step::relocate);
    }
    if (auto ok = check_archive_set_for_fetch(progress.summary, community_id_, options_.limits);
        !ok)
      return end(member_step::refuse, ok.error().message);
    // What an earlier fetch of the set already wrote counts as room: those
    // bytes are overwritten in place, not added.
    archive_layout layout{archive_root_, community_id_};
    std::uint64_t held = 0;
    std::error_code ec;
    for (const auto& file : {layout.data_file(), layout.fetching_index_file()})
      if (auto size = std::filesystem::file_size(file, ec); !ec)
        held += size;
    auto needed = progress.summary.data_size + progress.summary.index_size
                  + options_.disk_headroom;
    needed = needed > held ? needed - held : 0;
    if (auto free = free_disk_bytes(archive_root_); free && *free < needed)
      return end(member_step::refuse,
                 "not enough disk space in " + archive_root_.string() + ": the archives need "
                   + std::to_string(needed) + " bytes with the headroom, "
                   + std::to_string(*free) + " are free");
    summary_ = progress.summary;
    at_ = phase::index;
    since_ = now;
    auto s = step(member_step::want_index);
    s.with_data = held_.empty();
    return s;
  }
  if (now - since_ > options_.stall_timeout)
    return end(member_step::fail, "no data from any peer for " + seconds_text(options_.stall_timeout));
  if (at_ == phase::index) {
    if (!progress.index_ready)
      return step(member_step::wait);
    // Staged beside the held set's own index (archive_layout::fetching_index_file).
    auto index = read_index(archive_layout{archive_root_, community_id_}.fetching_index_file(),
                            options_.keys.get());
    if (!index) {
      auto failed = end(member_step::fail, "fetched index: " + index.error().to_string());
      failed.code = index.error().code;
      return failed;
    }
    if (auto checked = check_index_for_torrent(*index, summary_.data_size); !checked)
      return end(member_step::fail, "fetched index: " + checked.error().message);
    missing_ = missing_archives(*index, held_);
    if (missing_.empty())
      return end(member_step::complete, {});
    at_ = phase::archives;
    since_ = now;
    auto s = step(member_step::want_archives);
    for (const auto& archive : missing_)
      s.slots.push_back({archive.id, archive.entry.offset(), archive.entry.size()});
    return s;
  }
  // Recorded oldest first: an archive that arrived before an older one
  // waits for it, so a crash never leaves a hole below a recorded archive.
  std::unordered_set<std::string> ready(progress.ready.begin(), progress.ready.end());
  auto s = step(member_step::record);
  for (; next_ < missing_.size() && ready.count(missing_[next_].id) != 0; ++next_)
    s.archives.push_back(missing_[next_]);
  if (s.archives.empty())
    return step(member_step::wait);
  if (next_ == missing_.size()) {
    at_ = phase::done;
    s.last = true;
  }
  return s;
}

} // namespace annals
