#include "storage/owner_build.hpp"

#include "core/archive_reader.hpp"
#include "storage/store.hpp"

#include <algorithm>
#include <unordered_set>

namespace annals {

namespace {

/// The committed IDs must all be in `index_file`; anything else means the
/// archive files were changed behind the store's back.
result<void> require_archives(const std::filesystem::path& index_file,
                              const std::vector<std::string>& ids, const hr_keyring* keys) {
  auto index = read_index(index_file, keys);
  if (!index)
    return index.error();
  for (const auto& id : ids)
    if (!index->archives().count(id))
      return make_error(errc::verification_failed,
                        index_file.string() + " lacks archive " + id
                          + " that the store recorded as committed");
  return {};
}

} // namespace

const char* to_string(owner_build_result::read_path read) {
  switch (read) {
    case owner_build_result::read_path::queue:
      return "queue";
    case owner_build_result::read_path::stored:
      return "stored";
    case owner_build_result::read_path::stored_then_queue:
      return "stored then queue";
  }
  return "?";
}

result<std::uint64_t> queue_messages_missing_from_archives(const archive_layout& layout,
                                                           store& db,
                                                           const public_key& community,
                                                           const hr_keyring* keys) {
  std::unordered_set<std::string> archived;
  std::error_code ec;
  if (std::filesystem::exists(layout.index_file(), ec)) {
    auto index = read_index(layout.index_file(), keys);
    if (!index)
      return index.error();
    for (const auto& [id, entry] : sorted_entries(*index)) {
      auto archive = read_archive(layout.data_file(), entry, keys);
      if (!archive)
        return make_error(archive.error().code, "archive " + id + ": " + archive.error().message);
      for (const auto& message : archive->messages())
        archived.insert(message.hash());
    }
  }
  return db.queue_unarchived_except(community, [&](std::string_view hash) {
    return archived.count(std::string(hash)) > 0;
  });
}

result<bool> recover_owner_build(const archive_layout& layout, store& db,
                                 const public_key& community,
                                 const std::function<result<void>(const data_piece_hashes*)>& write_torrent,
                                 const hr_keyring* keys) {
  auto marker = db.pending_build_commit(community);
  if (!marker)
    return marker.error();
  std::error_code ec;
  bool staged = std::filesystem::exists(layout.staged_index_file(), ec);
  if (!*marker) {
    if (staged)
      if (auto r = discard_staged_index(layout); !r)
        return r.error();
    return false;
  }
  if (staged) {
    if (auto r = require_archives(layout.staged_index_file(), **marker, keys); !r)
      return r.error();
    if (auto r = promote_staged_index(layout); !r)
      return r.error();
  }
  if (auto r = require_archives(layout.index_file(), **marker, keys); !r)
    return r.error();
  if (write_torrent)
    if (auto r = write_torrent(nullptr); !r)
      return r.error();
  if (auto r = db.clear_build_commit(community); !r)
    return r.error();
  return true;
}

result<owner_build_result> build_owner_archives(const archive_layout& layout, store& db,
                                                const public_key& community,
                                                const owner_build_request& request,
                                                const owner_build_hooks& hooks) {
  owner_build_result out;
  const hr_keyring* keys = request.cipher ? &request.cipher->keys : nullptr;
  if (auto recovered = recover_owner_build(layout, db, community, hooks.write_torrent, keys);
      !recovered)
    return recovered.error();
  // Once per community: stores from before the archive queue may hold
  // messages that no archive has.
  auto reconciled_key = "archive_queue.reconciled." + community.community_id();
  auto reconciled = db.get_setting(reconciled_key);
  if (!reconciled)
    return reconciled.error();
  if (!*reconciled) {
    auto requeued = queue_messages_missing_from_archives(layout, db, community, keys);
    if (!requeued)
      return requeued.error();
    out.requeued = *requeued;
    if (auto r = db.put_setting(reconciled_key, "1"); !r)
      return r.error();
  }
  auto step = [&](owner_build_step s) {
    if (hooks.after_step)
      hooks.after_step(s);
  };

  auto info = db.get_archive_info(community);
  if (!info)
    return info.error();
  auto view = db.unarchived(community);
  if (!view)
    return view.error();
  auto& queue = **view;

  // Where the partitioned windows start: the last end date, else the
  // oldest queued message (a first build), else nothing before `to`.
  auto start = info->last_archive_end;
  if (start == 0) {
    auto oldest = queue.oldest();
    if (!oldest)
      return oldest.error();
    start = *oldest ? std::min(**oldest, request.to) : request.to;
  }
  build_request build{start, request.to, request.partition, request.topics};
  build.stage_index = true;
  build.cipher = request.cipher;
  auto late = queue.span(start);
  if (!late)
    return late.error();
  if (*late) {
    // One window for every late message of this build, its bounds those of
    // its messages (`to` exclusive), so metadata still brackets every
    // timestamp; it overlaps earlier archives' windows.
    build.late.push_back({(*late)->oldest, (*late)->newest + 1});
    out.late_messages = (*late)->count;
  }

  // From the last end date on, a weekly build's messages are the traffic
  // stored since, every one queued: reading the bodies alone, without the
  // queue's keys beside them, saves a third of the build's work. Whether
  // the range was whole is known after the walk: its message count must
  // equal the queue's keys in it (the view's running count less those
  // below and above it), as every queued key names a stored message. A
  // stored message that is not queued (imported from another owner's
  // archives, say) makes them differ, and the build starts again from the
  // queue; its appended bytes are cut off and its staged index replaced.
  std::optional<std::uint64_t> whole_range_count;
  if (auto queued = queue.queued(); queued && start < request.to) {
    auto above = queue.count(request.to, UINT64_MAX);
    if (!above)
      return above.error();
    auto below = *late ? (*late)->count : 0;
    if (*queued >= below + *above)
      whole_range_count = *queued - below - *above;
  }
  bool read_stored = whole_range_count.has_value();
  std::uint64_t stored_read = 0;
  auto queued_source = queue.source();
  auto stored_source = queue.stored_source();
  message_source source = [&](std::uint64_t from, std::uint64_t to,
                              const std::vector<topic4>& topics,
                              const message_visitor& visit) -> result<void> {
    if (!read_stored || from < start)
      return queued_source(from, to, topics, visit);
    return stored_source(from, to, topics, [&](const message_wire& message) {
      ++stored_read;
      visit(message);
    });
  };
  if (hooks.collect_hashes) {
    source = [inner = std::move(source), &out](
               std::uint64_t from, std::uint64_t to, const std::vector<topic4>& topics,
               const message_visitor& visit) {
      return inner(from, to, topics, [&](const message_wire& message) {
        out.hashes.emplace_back(message.hash);
        visit(message);
      });
    };
  }
  auto report = build_archives(layout, build, source);
  if (report && read_stored) {
    out.read = owner_build_result::read_path::stored;
    if (stored_read != *whole_range_count) {
      read_stored = false;
      out.read = owner_build_result::read_path::stored_then_queue;
      out.hashes.clear();
      auto torn_tail = report->recovered_tail;
      report = build_archives(layout, build, source);
      if (report)
        report->recovered_tail = torn_tail;  // not the first pass's bytes
    }
  }
  if (!report)
    return report.error();
  out.report = std::move(*report);
  out.from = build.late.empty() ? start : std::min(start, build.late.front().from);
  out.to = std::max(start, request.to);
  step(owner_build_step::staged);

  build_commit commit{out.to, out.to, out.report.archives};
  if (auto r = db.commit_build(community, queue, commit); !r) {
    // Nothing was recorded (a full disk refuses the store's write too): the
    // build is undone on disk at once rather than at the next start, so its
    // bytes do not keep the disk full.
    (void)discard_staged_index(layout);
    if (!out.report.archives.empty())
      (void)cut_data_back(layout, out.report.appended_pieces.first * archive_piece_length);
    return r.error();
  }
  step(owner_build_step::committed);
  if (!out.report.archives.empty()) {
    if (auto r = promote_staged_index(layout); !r)
      return r.error();
    step(owner_build_step::promoted);
    if (hooks.write_torrent)
      if (auto r = hooks.write_torrent(&out.report.appended_pieces); !r)
        return r.error();
    step(owner_build_step::torrent_written);
    if (auto r = db.clear_build_commit(community); !r)
      return r.error();
  }
  view->reset();
  auto left = db.count_unarchived(community);
  if (!left)
    return left.error();
  out.left_queued = *left;
  return out;
}

} // namespace annals
