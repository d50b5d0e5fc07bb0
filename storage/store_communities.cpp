// Community records, archive records and settings.
#include "storage/store_impl.hpp"

namespace annals {

// -- communities --------------------------------------------------------------

result<void> store::put_community(const record::Community& community) {
  const auto& key = community.public_key();
  if (key.size() != community_key_size)
    return make_error(errc::invalid_argument,
                      impl_->path.string() + ": put_community: public_key has " +
                        std::to_string(key.size()) + " bytes, expected a 33-byte compressed key");
  return impl_->put(cf_communities, key, community.SerializeAsString(), "put_community");
}

result<std::optional<record::Community>> store::get_community(const public_key& id) const {
  auto& d = *impl_;
  auto key = community_key(id);
  auto stored = d.get(cf_communities, key, "get_community");
  if (!stored)
    return stored.error();
  if (!*stored)
    return std::optional<record::Community>{};
  record::Community community;
  if (!community.ParseFromString(**stored))
    return d.malformed(cf_communities, key, "value is not a Community record");
  return std::optional<record::Community>{std::move(community)};
}

result<std::vector<record::Community>> store::list_communities() const {
  auto& d = *impl_;
  std::vector<record::Community> communities;
  auto scanned = d.scan(cf_communities, {}, {}, "list_communities",
                        [&](std::string_view key, std::string_view value) -> result<bool> {
                          record::Community community;
                          if (!community.ParseFromArray(value.data(),
                                                        static_cast<int>(value.size())))
                            return d.malformed(cf_communities, key,
                                               "value is not a Community record");
                          communities.push_back(std::move(community));
                          return true;
                        });
  if (!scanned)
    return scanned.error();
  return communities;
}

result<void> store::delete_community(const public_key& id) {
  auto& d = *impl_;
  auto status = d.db->Delete(d.write_options, d.handles[cf_communities],
                             slice(community_key(id)));
  if (!status.ok())
    return d.db_error("delete_community", status);
  return {};
}

// -- archive info ---------------------------------------------------------------

result<archive_info> store::get_archive_info(const public_key& community) const {
  auto& d = *impl_;
  auto prefix = community_key(community);
  archive_info info;
  bool has_completed_clock = false;
  auto scanned = d.scan(
    cf_archive_info, prefix, prefix_successor(prefix), "get_archive_info",
    [&](std::string_view key, std::string_view value) -> result<bool> {
      if (key.size() != community_key_size + 1)
        return d.malformed(cf_archive_info, key, "expected the community key and one tag byte");
      auto read_u64 = [&](std::uint64_t& field) -> result<bool> {
        if (value.size() != 8)
          return d.malformed(cf_archive_info, key,
                             "expected an 8-byte integer, got " +
                               std::to_string(value.size()) + " bytes");
        field = read_be64(value);
        return true;
      };
      switch (static_cast<info_field>(key.back())) {
      case info_field::magnetlink_clock:
        return read_u64(info.magnetlink_clock);
      case info_field::last_archive_end:
        return read_u64(info.last_archive_end);
      case info_field::last_magnet_uri:
        info.last_magnet_uri = std::string(value);
        return true;
      case info_field::build_commit:
        return true;  // pending_build_commit reads it
      case info_field::completed_clock:
        has_completed_clock = true;
        return read_u64(info.completed_clock);
      }
      return d.malformed(cf_archive_info, key, "unknown field tag");
    });
  if (!scanned)
    return scanned.error();
  if (!has_completed_clock && !info.last_magnet_uri.empty())
    info.completed_clock = info.magnetlink_clock;
  return info;
}

result<void> store::set_completed_link(const public_key& community, std::string_view uri,
                                       std::uint64_t clock) {
  auto& d = *impl_;
  rocksdb::WriteBatch batch;
  if (auto r = d.put(batch, cf_archive_info, info_key(community, info_field::last_magnet_uri),
                     uri, "set_completed_link");
      !r)
    return r;
  if (auto r = d.put(batch, cf_archive_info, info_key(community, info_field::completed_clock),
                     be64(clock), "set_completed_link");
      !r)
    return r;
  return d.write(batch, "set_completed_link");
}

result<void> store::set_magnetlink_clock(const public_key& community, std::uint64_t clock) {
  return impl_->put(cf_archive_info, info_key(community, info_field::magnetlink_clock),
                    be64(clock), "set_magnetlink_clock");
}

result<void> store::set_last_archive_end(const public_key& community, std::uint64_t end) {
  return impl_->put(cf_archive_info, info_key(community, info_field::last_archive_end),
                    be64(end), "set_last_archive_end");
}

result<void> store::set_magnetlink(const public_key& community, std::uint64_t clock,
                                   std::string_view uri) {
  auto& d = *impl_;
  rocksdb::WriteBatch batch;
  if (auto r = d.put(batch, cf_archive_info, info_key(community, info_field::magnetlink_clock),
                     be64(clock), "set_magnetlink");
      !r)
    return r;
  if (auto r = d.put(batch, cf_archive_info, info_key(community, info_field::last_magnet_uri),
                     uri, "set_magnetlink");
      !r)
    return r;
  return d.write(batch, "set_magnetlink");
}

// -- archive IDs ------------------------------------------------------------------

result<void> store::mark_archives_downloaded(const public_key& community,
                                             const std::vector<built_archive>& archives,
                                             bool imported) {
  auto& d = *impl_;
  auto prefix = community_key(community);
  std::lock_guard lock(d.write_mutex);
  rocksdb::WriteBatch batch;
  auto added = d.stage_archive_records(batch, prefix, archives, imported,
                                       "mark_archives_downloaded");
  if (!added)
    return added.error();
  if (auto r = d.write(batch, "mark_archives_downloaded"); !r)
    return r;
  d.add_archive_counts(prefix, *added);
  return {};
}

result<insert_stats> store::import_archive_messages(const public_key& community,
                                                    std::string_view archive_id,
                                                    const std::vector<archive_message>& messages,
                                                    bool archive_done) {
  auto encoded = encode_messages(messages);
  return import_archive_wires(community, archive_id, encoded.wires.data(), encoded.wires.size(),
                              archive_done);
}

result<insert_stats> store::import_archive_wires(const public_key& community,
                                                 std::string_view archive_id,
                                                 const message_wire* messages, std::size_t count,
                                                 bool archive_done) {
  auto& d = *impl_;
  auto prefix = community_key(community);
  auto archive_key = prefix + std::string(archive_id);
  std::lock_guard lock(d.write_mutex);
  auto archive = d.get_archive(archive_key, "import_archive_messages");
  if (!archive)
    return archive.error();
  if (!*archive)
    return make_error(errc::not_found,
                      d.path.string() + ": import_archive_messages: archive " +
                        std::string(archive_id) + " of community " + community.community_id() +
                        " is not recorded; mark it downloaded first");
  rocksdb::WriteBatch batch;
  auto stats = d.stage_wires(prefix, messages, count, batch, "import_archive_messages", false);
  if (!stats)
    return stats;
  archive_counts added;
  if (archive_done && !(*archive)->imported()) {
    (*archive)->set_imported(true);
    added.imported = 1;
    if (auto r = d.put(batch, cf_archives, archive_key, (*archive)->SerializeAsString(),
                       "import_archive_messages");
        !r)
      return r.error();
  }
  if (auto written = d.write(batch, "import_archive_messages"); !written)
    return written.error();
  d.add_counts(prefix, static_cast<std::int64_t>(stats->inserted), 0);
  d.add_archive_counts(prefix, added);
  return stats;
}

result<std::vector<std::pair<std::string, record::Archive>>>
store::list_archives(const public_key& community) const {
  auto& d = *impl_;
  auto prefix = community_key(community);
  std::vector<std::pair<std::string, record::Archive>> archives;
  auto scanned = d.scan(cf_archives, prefix, prefix_successor(prefix), "list_archives",
                        [&](std::string_view key, std::string_view value) -> result<bool> {
                          record::Archive archive;
                          if (!archive.ParseFromArray(value.data(),
                                                      static_cast<int>(value.size())))
                            return d.malformed(cf_archives, key,
                                               "value is not an Archive record");
                          archives.emplace_back(std::string(key.substr(community_key_size)),
                                                std::move(archive));
                          return true;
                        });
  if (!scanned)
    return scanned.error();
  return archives;
}

archive_counts store::count_archives(const public_key& community) const {
  std::lock_guard lock(impl_->counts_mutex);
  auto it = impl_->archive_tally.find(community_key(community));
  return it == impl_->archive_tally.end() ? archive_counts{} : it->second;
}

result<std::vector<std::string>> store::unimported_archives(const public_key& community) const {
  auto archives = list_archives(community);
  if (!archives)
    return archives.error();
  auto& all = *archives;
  all.erase(std::remove_if(all.begin(), all.end(),
                           [](const auto& archive) { return archive.second.imported(); }),
            all.end());
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.second.from(), std::string_view(a.first)) <
           std::make_pair(b.second.from(), std::string_view(b.first));
  });
  std::vector<std::string> ids;
  ids.reserve(all.size());
  for (auto& archive : all)
    ids.push_back(std::move(archive.first));
  return ids;
}

// -- settings -------------------------------------------------------------------

result<std::optional<std::string>> store::get_setting(std::string_view key) const {
  return impl_->get(cf_settings, key, "get_setting");
}

result<void> store::put_setting(std::string_view key, std::string_view value) {
  return impl_->put(cf_settings, key, value, "put_setting");
}

record::Community community_record(const public_key& community,
                                   const std::vector<std::string>& channel_ids,
                                   record::Community::Role role) {
  record::Community out;
  out.set_public_key(std::string(as_view(community.compressed())));
  for (const auto& id : channel_ids) {
    auto* channel = out.add_channels();
    channel->set_id(id);
    channel->set_topic(
      std::string(as_view(chat_topic(channel_chat_id(community.community_id(), id)))));
  }
  out.set_shard_cluster(default_shard_cluster);
  out.set_shard_index(default_shard_index);
  out.set_joined(true);
  out.set_role(role);
  out.set_archives_enabled(true);
  return out;
}

std::vector<topic4> channel_topics(const record::Community& community) {
  std::vector<topic4> topics;
  for (const auto& channel : community.channels()) {
    const auto& bytes = channel.topic();
    if (bytes.size() != 4)
      continue;
    topic4 topic;
    std::memcpy(topic.data(), bytes.data(), topic.size());
    topics.push_back(topic);
  }
  return topics;
}

std::string community_pubsub_topic(const record::Community& community) {
  if (community.shard_cluster() == 0 && community.shard_index() == 0)
    return pubsub_topic();
  return pubsub_topic(community.shard_cluster(), community.shard_index());
}



} // namespace annals
