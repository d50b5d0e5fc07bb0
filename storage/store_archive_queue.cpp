// The owner's archive queue: what is stored and not archived yet, the
// views a build reads and the commit that empties them.
#include "storage/store_impl.hpp"

namespace annals {

// -- the owner's archive queue -------------------------------------------------

struct unarchived_view::impl {
  const store::impl* db = nullptr;
  const rocksdb::Snapshot* snapshot = nullptr;
  std::string prefix;  // the community key
  std::uint64_t queue_writes = 0;  // the store's count when the snapshot was taken
  std::optional<std::uint64_t> queued;  // the running count of keys at the snapshot

  ~impl() {
    if (snapshot)
      db->db->ReleaseSnapshot(snapshot);
  }

  /// Visits the view's queued keys with timestamp in [from, to).
  template <class Visit>
  result<void> keys(std::uint64_t from, std::uint64_t to, std::string_view operation,
                    Visit&& visit) const {
    auto upper = to == UINT64_MAX ? prefix_successor(prefix) : prefix + be64(to);
    return db->scan(
      cf_unarchived, prefix + be64(from), upper, operation,
      [&](std::string_view key, std::string_view) -> result<bool> {
        if (key.size() < message_hash_offset)
          return db->malformed(cf_unarchived, key, "key is shorter than its fixed part");
        return visit(key);
      },
      snapshot);
  }
};

unarchived_view::unarchived_view(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
unarchived_view::~unarchived_view() = default;

result<std::optional<std::uint64_t>> unarchived_view::oldest() const {
  std::optional<std::uint64_t> out;
  auto scanned = impl_->keys(0, UINT64_MAX, "unarchived oldest",
                             [&](std::string_view key) -> result<bool> {
                               out = read_be64(key.substr(message_timestamp_offset, 8));
                               return false;
                             });
  if (!scanned)
    return scanned.error();
  return out;
}

result<std::optional<queued_span>> unarchived_view::span(std::uint64_t below) const {
  std::optional<queued_span> out;
  auto scanned = impl_->keys(0, below, "unarchived span", [&](std::string_view key) -> result<bool> {
    auto ts = read_be64(key.substr(message_timestamp_offset, 8));
    if (!out)
      out.emplace(queued_span{ts, ts, 0});
    out->newest = ts;
    ++out->count;
    return true;
  });
  if (!scanned)
    return scanned.error();
  return out;
}

namespace {

/// Queued keys in order, packed: key i is bytes[ends[i-1], ends[i]).
struct key_batch {
  std::string bytes;
  std::vector<std::uint32_t> ends;

  std::size_t size() const { return ends.size(); }
  std::string_view key(std::size_t i) const {
    auto begin = i == 0 ? 0 : ends[i - 1];
    return std::string_view(bytes).substr(begin, ends[i] - begin);
  }
  void clear() {
    bytes.clear();
    ends.clear();
  }
};

/// Walks the queue's keys of one range on a thread of its own and hands
/// them over in batches. A build iterates the queue and the messages side
/// by side, each a RocksDB iterator of a few hundred nanoseconds a step;
/// on one thread they were most of the build, on two they overlap.
class queue_reader {
public:
  template <class Walk>
  explicit queue_reader(Walk walk) {
    thread_ = std::thread([this, walk = std::move(walk)] {
      key_batch batch = take_spare();
      auto walked = walk([&](std::string_view key) -> result<bool> {
        batch.bytes.append(key);
        batch.ends.push_back(static_cast<std::uint32_t>(batch.bytes.size()));
        if (batch.size() < batch_keys)
          return true;
        return hand_over(batch);
      });
      if (walked && !batch.ends.empty())
        (void)hand_over(batch);  // false only when stopped: nobody reads it
      std::lock_guard lock(mutex_);
      status_ = std::move(walked);
      done_ = true;
      changed_.notify_all();
    });
  }

  ~queue_reader() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      changed_.notify_all();
    }
    thread_.join();
  }

  queue_reader(const queue_reader&) = delete;
  queue_reader& operator=(const queue_reader&) = delete;

  /// The next batch into `out` (whose buffers are reused); false once the
  /// walk is over, when status() says whether it failed.
  bool next(key_batch& out) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !ready_.empty() || done_; });
    if (ready_.empty())
      return false;
    spares_.push_back(std::move(out));
    out = std::move(ready_.front());
    ready_.pop_front();
    changed_.notify_all();
    return true;
  }

  result<void> status() {
    std::lock_guard lock(mutex_);
    return status_;
  }

private:
  static constexpr std::size_t batch_keys = 4096;
  static constexpr std::size_t max_ready = 4;

  key_batch take_spare() {
    std::lock_guard lock(mutex_);
    return pop_spare();
  }

  /// A batch that held keys before, empty (or a new one); mutex_ held.
  key_batch pop_spare() {
    if (spares_.empty())
      return {};
    auto batch = std::move(spares_.back());
    spares_.pop_back();
    batch.clear();
    return batch;
  }

  /// Queues `batch` (then a spare in its place); false when the reader
  /// is being stopped.
  result<bool> hand_over(key_batch& batch) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return ready_.size() < max_ready || stopping_; });
    if (stopping_)
      return false;
    ready_.push_back(std::move(batch));
    changed_.notify_all();
    batch = pop_spare();
    return true;
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<key_batch> ready_;
  std::vector<key_batch> spares_;
  bool done_ = false;
  bool stopping_ = false;
  result<void> status_;
  std::thread thread_;  // last: it uses everything above
};

} // namespace

namespace {

/// Hands on one stored message's bytes: as they are when canonical, else
/// (written by another version, say) parsed and encoded again, as an
/// archive must hold canonical bytes.
template <class Store>
result<void> visit_stored(const Store& d, std::string_view key, std::string_view value,
                          pb::WakuMessage& proto, const message_visitor& visit) {
  if (auto wire = read_wire(value)) {
    visit(*wire);
    return {};
  }
  if (!proto.ParseFromArray(value.data(), static_cast<int>(value.size())))
    return d.malformed(cf_messages, key, "value is not a WakuMessage");
  visit_encoded(visit, from_proto(proto));
  return {};
}

/// The community's message bodies of [from, to) under a view's snapshot,
/// positioned at `from`: one pass, not kept in the block cache.
struct body_walk {
  std::string upper;
  rocksdb::Slice upper_bound;
  std::unique_ptr<rocksdb::Iterator> it;

  template <class View>  // unarchived_view::impl, private to the view
  body_walk(const View& v, std::uint64_t from, std::uint64_t to)
    : upper(to == UINT64_MAX ? prefix_successor(v.prefix) : v.prefix + be64(to)),
      upper_bound(slice(upper)) {
    rocksdb::ReadOptions read_options;
    read_options.snapshot = v.snapshot;
    read_options.iterate_upper_bound = &upper_bound;
    read_options.fill_cache = false;  // one pass; keep the cache for live reads
    read_options.readahead_size = 2u << 20;
    it.reset(v.db->db->NewIterator(read_options, v.db->handles[cf_messages]));
    it->Seek(slice(v.prefix + be64(from)));
  }
  body_walk(const body_walk&) = delete;
  body_walk& operator=(const body_walk&) = delete;
};

} // namespace

std::optional<std::uint64_t> unarchived_view::queued() const { return impl_->queued; }

result<std::uint64_t> unarchived_view::count(std::uint64_t from, std::uint64_t to) const {
  std::uint64_t n = 0;
  if (from >= to)
    return n;
  auto walked = impl_->keys(from, to, "unarchived count", [&](std::string_view) -> result<bool> {
    ++n;
    return true;
  });
  if (!walked)
    return walked.error();
  return n;
}

message_source unarchived_view::stored_source() const {
  return [this](std::uint64_t from, std::uint64_t to, const std::vector<topic4>&,
                const message_visitor& visit) -> result<void> {
    if (from >= to)
      return {};
    const auto& d = *impl_->db;
    body_walk walk(*impl_, from, to);
    auto& messages = walk.it;
    pb::WakuMessage proto;
    for (; messages->Valid(); messages->Next())
      if (auto r = visit_stored(d, view(messages->key()), view(messages->value()), proto, visit);
          !r)
        return r;
    if (!messages->status().ok())
      return d.db_error("stored source", messages->status());
    return {};
  };
}

message_source unarchived_view::source() const {
  return [this](std::uint64_t from, std::uint64_t to, const std::vector<topic4>&,
                const message_visitor& visit) -> result<void> {
    if (from >= to)
      return {};
    const auto& d = *impl_->db;
    // The queue and the messages share their keys and their order, so one
    // iterator walks the messages beside the queue's (read on a second
    // thread): mostly Next(), a Seek only past messages archived already.
    // A point Get per message cost more than the rest of the build
    // together. Values are the messages' canonical bytes and go into the
    // archive as they are.
    body_walk walk(*impl_, from, to);
    auto& messages = walk.it;
    queue_reader queue([view = impl_.get(), from, to](auto&& visit_key) {
      return view->keys(from, to, "unarchived source", visit_key);
    });
    pb::WakuMessage proto;
    key_batch batch;
    while (queue.next(batch)) {
      for (std::size_t i = 0; i < batch.size(); ++i) {
        auto key = batch.key(i);
        if (messages->Valid() && view(messages->key()) < key) {
          messages->Next();
          if (messages->Valid() && view(messages->key()) < key)
            messages->Seek(slice(key));
        }
        if (!messages->Valid() || view(messages->key()) != key) {
          if (!messages->status().ok())
            return d.db_error("unarchived source", messages->status());
          return d.malformed(cf_unarchived, key, "queued for archiving but not stored");
        }
        if (auto r = visit_stored(d, key, view(messages->value()), proto, visit); !r)
          return r;
      }
    }
    if (auto walked = queue.status(); !walked)
      return walked;
    if (!messages->status().ok())
      return d.db_error("unarchived source", messages->status());
    return {};
  };
}

result<std::unique_ptr<unarchived_view>> store::unarchived(const public_key& community) const {
  auto view_impl = std::make_unique<unarchived_view::impl>();
  view_impl->db = impl_.get();
  {
    std::lock_guard lock(impl_->write_mutex);
    view_impl->snapshot = impl_->db->GetSnapshot();
    view_impl->queue_writes = impl_->queue_writes;
    view_impl->queued =
      impl_->known_count(community_key(community), &impl::running_counts::unarchived);
  }
  view_impl->prefix = community_key(community);
  return std::unique_ptr<unarchived_view>(new unarchived_view(std::move(view_impl)));
}

result<std::uint64_t> store::count_unarchived(const public_key& community) const {
  return impl_->cached_count(community_key(community), &impl::running_counts::unarchived,
                             cf_unarchived, "count_unarchived");
}

result<std::uint64_t>
store::queue_unarchived_except(const public_key& community,
                               const std::function<bool(std::string_view)>& archived) {
  auto& d = *impl_;
  auto prefix = community_key(community);
  std::lock_guard lock(d.write_mutex);
  rocksdb::WriteBatch batch;
  std::uint64_t queued = 0;
  std::string existing;
  auto scanned = d.scan(cf_messages, prefix, prefix_successor(prefix), "queue_unarchived_except",
                        [&](std::string_view key, std::string_view) -> result<bool> {
                          if (key.size() < message_hash_offset)
                            return d.malformed(cf_messages, key,
                                               "key is shorter than its fixed part");
                          if (archived(key.substr(message_hash_offset)))
                            return true;
                          auto status = d.db->Get(rocksdb::ReadOptions{}, d.handles[cf_unarchived],
                                                  slice(key), &existing);
                          if (status.ok())
                            return true;  // queued already
                          if (!status.IsNotFound())
                            return d.db_error("queue_unarchived_except", status);
                          if (auto r = d.put(batch, cf_unarchived, key, {}, "queue_unarchived_except");
                              !r)
                            return r.error();
                          ++queued;
                          return true;
                        });
  if (!scanned)
    return scanned.error();
  if (auto r = d.write(batch, "queue_unarchived_except"); !r)
    return r.error();
  d.add_counts(prefix, 0, static_cast<std::int64_t>(queued));
  if (queued > 0)
    ++d.queue_writes;
  return queued;
}

result<void> store::commit_build(const public_key& community, const unarchived_view& view,
                                 const build_commit& commit) {
  auto& d = *impl_;
  auto prefix = community_key(community);
  if (view.impl_->prefix != prefix)
    return make_error(errc::invalid_argument, d.path.string() +
                                                ": commit_build: the view is of another community");
  std::lock_guard lock(d.write_mutex);
  rocksdb::WriteBatch batch;
  std::int64_t removed = 0;
  // Nothing queued since the view: every queued key below archived_below
  // is the view's, so one range deletion drops exactly them. Otherwise a
  // late message may sit in that range unarchived; delete key by key.
  const bool whole_range = d.queue_writes == view.impl_->queue_writes;
  // With one range deletion the keys are not walked again (a second pass
  // over a week's queue cost a fifth of the build): the running count, if
  // it is known, drops by what lies below the range's end, which is the
  // count less the few keys of the window still open above it.
  std::optional<std::int64_t> known_removed;
  bool any_below = false;
  auto staged = view.impl_->keys(0, commit.archived_below, "commit_build",
                                 [&](std::string_view key) -> result<bool> {
                                   any_below = true;
                                   if (whole_range)
                                     return false;
                                   ++removed;
                                   auto status = batch.Delete(d.handles[cf_unarchived], slice(key));
                                   if (!status.ok())
                                     return d.db_error("commit_build", status);
                                   return true;
                                 });
  if (!staged)
    return staged;
  if (!whole_range)
    known_removed = removed;
  else if (auto held = d.known_count(prefix, &impl::running_counts::unarchived)) {
    std::int64_t above = 0;
    if (commit.archived_below != UINT64_MAX) {
      auto counted = view.impl_->keys(commit.archived_below, UINT64_MAX, "commit_build",
                                      [&](std::string_view) -> result<bool> {
                                        ++above;
                                        return true;
                                      });
      if (!counted)
        return counted;
    }
    known_removed = static_cast<std::int64_t>(*held) - above;
  }
  if (whole_range && any_below) {
    auto end = commit.archived_below == UINT64_MAX ? prefix_successor(prefix)
                                                   : prefix + be64(commit.archived_below);
    auto status = batch.DeleteRange(d.handles[cf_unarchived], slice(prefix + be64(0)), slice(end));
    if (!status.ok())
      return d.db_error("commit_build", status);
  }
  if (auto r = d.put(batch, cf_archive_info, info_key(community, info_field::last_archive_end),
                     be64(commit.archive_end), "commit_build");
      !r)
    return r;
  // The owner's own archives hold messages it stored already: imported.
  auto added = d.stage_archive_records(batch, prefix, commit.archives, true, "commit_build");
  if (!added)
    return added.error();
  record::BuildCommit marker;
  for (const auto& archive : commit.archives)
    marker.add_archive_ids(archive.id);
  if (!commit.archives.empty())
    if (auto r = d.put(batch, cf_archive_info, info_key(community, info_field::build_commit),
                       marker.SerializeAsString(), "commit_build");
        !r)
      return r;
  if (auto r = d.write(batch, "commit_build"); !r)
    return r;
  if (known_removed)
    d.add_counts(prefix, 0, -*known_removed);
  else
    d.forget_count(prefix, &impl::running_counts::unarchived);
  d.add_archive_counts(prefix, *added);
  return {};
}

result<std::optional<std::vector<std::string>>>
store::pending_build_commit(const public_key& community) const {
  auto& d = *impl_;
  auto key = info_key(community, info_field::build_commit);
  auto stored = d.get(cf_archive_info, key, "pending_build_commit");
  if (!stored)
    return stored.error();
  if (!*stored)
    return std::optional<std::vector<std::string>>{};
  record::BuildCommit marker;
  if (!marker.ParseFromString(**stored))
    return d.malformed(cf_archive_info, key, "value is not a BuildCommit record");
  return std::optional<std::vector<std::string>>{
    std::vector<std::string>(marker.archive_ids().begin(), marker.archive_ids().end())};
}

result<void> store::clear_build_commit(const public_key& community) {
  auto& d = *impl_;
  auto status = d.db->Delete(d.write_options, d.handles[cf_archive_info],
                             slice(info_key(community, info_field::build_commit)));
  if (!status.ok())
    return d.db_error("clear_build_commit", status);
  return {};
}

result<bool> store::has_message(const public_key& community, std::string_view hash) const {
  auto stored = impl_->get(cf_message_hashes, community_key(community) + std::string(hash),
                           "has_message");
  if (!stored)
    return stored.error();
  return stored->has_value();
}

result<std::uint64_t> store::count_messages(const public_key& community) const {
  // message_hashes holds one small entry per message, cheaper to walk than
  // the messages themselves; the walk happens once per community.
  return impl_->cached_count(community_key(community), &impl::running_counts::messages,
                             cf_message_hashes, "count_messages");
}


} // namespace annals
