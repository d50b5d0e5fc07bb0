// The relay messages the node records for the Waku store it serves.
#include "storage/store_impl.hpp"

namespace annals {

// -- relay messages: the Waku store this node serves -----------------------------

namespace {

constexpr std::size_t relay_hash_size = 32;
constexpr std::size_t relay_suffix_size = 8 + relay_hash_size;

/// Signed nanoseconds as 8 bytes that sort like the numbers.
std::string time_key(std::int64_t ns) {
  return be64(static_cast<std::uint64_t>(ns) ^ (std::uint64_t{1} << 63));
}

std::int64_t read_time_key(std::string_view bytes) {
  return static_cast<std::int64_t>(read_be64(bytes) ^ (std::uint64_t{1} << 63));
}

/// A length-prefixed topic, so one topic's keys never run into another's.
std::string topic_part(std::string_view topic) {
  std::string out;
  out.push_back(static_cast<char>(topic.size() >> 8));
  out.push_back(static_cast<char>(topic.size() & 0xff));
  out.append(topic);
  return out;
}

std::string relay_value(const stored_relay_message& m) {
  return topic_part(m.pubsub_topic) + topic_part(m.content_topic) + m.message;
}

std::optional<stored_relay_message> parse_relay_value(std::string_view key,
                                                      std::string_view value) {
  auto take = [&](std::string& out) {
    if (value.size() < 2)
      return false;
    auto n = std::size_t(std::uint8_t(value[0])) << 8 | std::uint8_t(value[1]);
    if (value.size() < 2 + n)
      return false;
    out.assign(value.substr(2, n));
    value.remove_prefix(2 + n);
    return true;
  };
  stored_relay_message m;
  if (key.size() != relay_suffix_size || !take(m.pubsub_topic) || !take(m.content_topic))
    return std::nullopt;
  m.timestamp = read_time_key(key);
  m.hash.assign(key.substr(8));
  m.message.assign(value);
  return m;
}

/// One index range of a query: keys `prefix` + (time key, hash) in [lo, hi].
struct relay_range {
  std::string prefix;
  std::unique_ptr<rocksdb::Iterator> it;
  std::string_view suffix() const {
    return view(it->key()).substr(prefix.size());
  }
};

} // namespace

result<std::size_t> store::impl::stage_relay(rocksdb::WriteBatch& batch,
                                             const std::vector<stored_relay_message>& messages,
                                             std::string_view operation) const {
  std::unordered_set<std::string_view> staged;
  std::size_t added = 0;
  for (const auto& m : messages) {
    if (m.hash.size() != relay_hash_size)
      return make_error(errc::invalid_argument, std::string(operation) + ": a hash of "
                                                  + std::to_string(m.hash.size()) + " bytes");
    if (m.pubsub_topic.size() > 0xffff || m.content_topic.size() > 0xffff)
      return make_error(errc::invalid_argument,
                        std::string(operation) + ": a topic over 65535 bytes");
    if (!staged.insert(m.hash).second)
      continue;
    auto known = get(cf_relay_hashes, m.hash, operation);
    if (!known)
      return known.error();
    if (*known)
      continue;
    auto suffix = time_key(m.timestamp) + m.hash;
    auto pubsub = topic_part(m.pubsub_topic);
    for (auto [cf, key, value] :
         {std::tuple{cf_relay_messages, suffix, relay_value(m)},
          std::tuple{cf_relay_hashes, m.hash, time_key(m.timestamp)},
          std::tuple{cf_relay_by_topic, pubsub + suffix, std::string()},
          std::tuple{cf_relay_by_content, pubsub + topic_part(m.content_topic) + suffix,
                     std::string()}})
      if (auto r = put(batch, cf, key, value, operation); !r)
        return r.error();
    ++added;
  }
  return added;
}

result<std::size_t> relay_message_store::record(const std::vector<stored_relay_message>& messages) {
  auto& d = *db_->impl_;
  std::lock_guard lock(d.write_mutex);
  rocksdb::WriteBatch batch;
  auto added = d.stage_relay(batch, messages, "record_relay_messages");
  if (!added)
    return added;
  if (auto written = d.write(batch, "record_relay_messages"); !written)
    return written.error();
  d.add_relay_count(*added);
  return added;
}

result<std::uint64_t> relay_message_store::count() const {
  auto& d = *db_->impl_;
  {
    std::lock_guard counts(d.counts_mutex);
    if (d.relay_count)
      return *d.relay_count;
  }
  std::lock_guard writers(d.write_mutex);
  std::uint64_t n = 0;
  auto scanned = d.scan(cf_relay_hashes, std::string(), std::string(), "count_relay_messages",
                        [&](std::string_view, std::string_view) -> result<bool> {
                          ++n;
                          return true;
                        });
  if (!scanned)
    return scanned.error();
  std::lock_guard counts(d.counts_mutex);
  d.relay_count = n;
  return n;
}

result<store_page> relay_message_store::query(const store_query& query,
                                              std::size_t max_bytes) const {
  auto& d = *db_->impl_;
  const rocksdb::Snapshot* snapshot = d.db->GetSnapshot();
  struct release {
    const store::impl& d;
    const rocksdb::Snapshot* s;
    ~release() { d.db->ReleaseSnapshot(s); }
  } released{d, snapshot};
  rocksdb::ReadOptions read;
  read.snapshot = snapshot;
  auto fetch = [&](const std::string& suffix) -> result<std::optional<stored_relay_message>> {
    auto value = d.get(cf_relay_messages, suffix, "query_relay_messages", snapshot);
    if (!value)
      return value.error();
    if (!*value)
      return std::optional<stored_relay_message>{};
    auto m = parse_relay_value(suffix, **value);
    if (!m)
      return d.malformed(cf_relay_messages, suffix, "value does not hold two topics");
    return m;
  };
  // A hash's place in the order: its time key, then itself.
  auto time_of = [&](const std::string& hash) -> result<std::optional<std::string>> {
    auto value = d.get(cf_relay_hashes, hash, "query_relay_messages", snapshot);
    if (!value || !*value)
      return value;
    return std::optional<std::string>(**value + hash);
  };

  // Where the cursor stands, exclusive.
  std::optional<std::string> at;
  if (query.cursor) {
    auto found = time_of(*query.cursor);
    if (!found)
      return found.error();
    if (!*found)
      return make_error(errc::not_found, "the pagination cursor names no stored message");
    at = **found;
  }

  // The candidates, in query order (forward: ascending), at most limit + 1.
  if (!query.content_topics.empty() && !query.pubsub_topic)
    return make_error(errc::invalid_argument, "content topics need a pubsub topic");
  // parse_store_query clamps the page; a direct caller gets the same sense.
  auto limit = std::clamp<std::uint64_t>(query.limit, 1, 100'000);
  std::vector<std::string> picked;
  auto wanted = static_cast<std::size_t>(limit) + 1;
  if (!query.message_hashes.empty()) {
    for (const auto& hash : query.message_hashes) {
      auto found = time_of(hash);
      if (!found)
        return found.error();
      if (*found)
        picked.push_back(**found);
    }
    std::sort(picked.begin(), picked.end());
    picked.erase(std::unique(picked.begin(), picked.end()), picked.end());
    if (at)
      picked.erase(std::remove_if(picked.begin(), picked.end(),
                                  [&](const std::string& s) {
                                    return query.forward ? s <= *at : s >= *at;
                                  }),
                   picked.end());
    if (!query.forward)
      std::reverse(picked.begin(), picked.end());
    if (picked.size() > wanted)
      picked.resize(wanted);
  } else {
    auto lo = time_key(query.time_start.value_or(std::numeric_limits<std::int64_t>::min()))
              + std::string(relay_hash_size, '\0');
    auto hi = time_key(query.time_end.value_or(std::numeric_limits<std::int64_t>::max()))
              + std::string(relay_hash_size, '\xff');
    if (at && query.forward)
      lo = std::max(lo, *at);
    if (at && !query.forward)
      hi = std::min(hi, *at);
    column_family cf = cf_relay_messages;
    std::vector<std::string> prefixes{std::string()};
    if (query.pubsub_topic && query.content_topics.empty()) {
      cf = cf_relay_by_topic;
      prefixes = {topic_part(*query.pubsub_topic)};
    } else if (query.pubsub_topic) {
      cf = cf_relay_by_content;
      prefixes.clear();
      auto sorted = query.content_topics;
      std::sort(sorted.begin(), sorted.end());
      sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
      for (const auto& ct : sorted)
        prefixes.push_back(topic_part(*query.pubsub_topic) + topic_part(ct));
    }
    std::vector<relay_range> ranges;
    for (auto& prefix : prefixes) {
      relay_range r{std::move(prefix), std::unique_ptr<rocksdb::Iterator>(
                                         d.db->NewIterator(read, d.handles[cf]))};
      if (query.forward)
        r.it->Seek(slice(r.prefix + lo));
      else
        r.it->SeekForPrev(slice(r.prefix + hi));
      ranges.push_back(std::move(r));
    }
    // Skips what lies outside the range or is the cursor itself.
    auto settle = [&](relay_range& r) {
      while (r.it->Valid()) {
        auto key = view(r.it->key());
        if (key.size() != r.prefix.size() + relay_suffix_size
            || key.substr(0, r.prefix.size()) != r.prefix)
          return false;
        auto suffix = key.substr(r.prefix.size());
        if (suffix < std::string_view(lo) || suffix > std::string_view(hi))
          return false;
        if (at && suffix == std::string_view(*at)) {
          query.forward ? r.it->Next() : r.it->Prev();
          continue;
        }
        return true;
      }
      return false;
    };
    std::vector<relay_range*> live;
    for (auto& r : ranges)
      if (settle(r))
        live.push_back(&r);
    while (picked.size() < wanted && !live.empty()) {
      auto best = live.begin();
      for (auto it = live.begin(); it != live.end(); ++it) {
        bool better = query.forward ? (*it)->suffix() < (*best)->suffix()
                                    : (*it)->suffix() > (*best)->suffix();
        if (better)
          best = it;
      }
      picked.emplace_back((*best)->suffix());
      query.forward ? (*best)->it->Next() : (*best)->it->Prev();
      if (!settle(**best))
        live.erase(best);
    }
    for (auto& r : ranges)
      if (!r.it->status().ok())
        return d.db_error("query_relay_messages", r.it->status());
  }

  store_page page;
  std::size_t bytes = 0;
  bool more = picked.size() > limit;
  if (more)
    picked.pop_back();
  for (const auto& suffix : picked) {
    auto m = fetch(suffix);
    if (!m)
      return m.error();
    if (!*m)
      continue;  // dropped by retention since the index was read
    // Bounded answers: stop before the budget, but always carry one message.
    if (!page.messages.empty() && bytes + (*m)->message.size() > max_bytes) {
      more = true;
      break;
    }
    bytes += (*m)->message.size();
    page.messages.push_back(std::move(**m));
  }
  if (!query.forward)
    std::reverse(page.messages.begin(), page.messages.end());
  if (more && !page.messages.empty())
    page.cursor = query.forward ? page.messages.back().hash : page.messages.front().hash;
  return page;
}

result<std::uint64_t> relay_message_store::prune(std::int64_t before,
                                                 std::uint64_t keep_at_most,
                                                 std::uint64_t max_drop) {
  auto total = count();
  if (!total)
    return total.error();
  auto& d = *db_->impl_;
  std::lock_guard lock(d.write_mutex);
  auto over = *total > keep_at_most ? *total - keep_at_most : 0;
  auto limit = time_key(before);
  rocksdb::WriteBatch batch;
  std::uint64_t dropped = 0;
  std::unique_ptr<rocksdb::Iterator> it(
    d.db->NewIterator(rocksdb::ReadOptions{}, d.handles[cf_relay_messages]));
  for (it->SeekToFirst(); it->Valid() && dropped < max_drop; it->Next()) {
    auto key = view(it->key());
    if (dropped >= over && key.substr(0, 8) >= std::string_view(limit))
      break;
    auto m = parse_relay_value(key, view(it->value()));
    if (!m)
      return d.malformed(cf_relay_messages, key, "value does not hold two topics");
    auto pubsub = topic_part(m->pubsub_topic);
    batch.Delete(d.handles[cf_relay_messages], slice(key));
    batch.Delete(d.handles[cf_relay_hashes], slice(m->hash));
    batch.Delete(d.handles[cf_relay_by_topic], slice(pubsub + std::string(key)));
    batch.Delete(d.handles[cf_relay_by_content],
                 slice(pubsub + topic_part(m->content_topic) + std::string(key)));
    ++dropped;
  }
  if (!it->status().ok())
    return d.db_error("prune_relay_messages", it->status());
  // Deletes free space; they are never refused for want of it.
  if (dropped > 0) {
    auto status = d.db->Write(d.write_options, &batch);
    if (!status.ok())
      return d.db_error("prune_relay_messages", status);
  }
  std::lock_guard counts(d.counts_mutex);
  if (d.relay_count)
    *d.relay_count -= std::min(*d.relay_count, dropped);
  return dropped;
}


} // namespace annals
