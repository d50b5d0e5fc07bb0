// One RocksDB per node. Thread-safe: actors share one store object. Anything
// that must change together is written in one WriteBatch. RocksDB types stay
// out of this header.
#pragma once

#include "core/store_query.hpp"
#include "storage/relay_message_store.hpp"
#include "core/archive_builder.hpp"
#include <annals/store_options.hpp>
#include "core/identity.hpp"
#include "proto/store.pb.h"

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

namespace annals {


/// Queued messages below some timestamp: how many, and their oldest and
/// newest timestamps.
struct queued_span {
  std::uint64_t oldest = 0;
  std::uint64_t newest = 0;
  std::uint64_t count = 0;
};

/// A build's consistent view (a RocksDB snapshot) of a community's messages
/// that are in no archive yet. Messages stored after it was taken are left
/// for the next build. Destroy it before the store.
class unarchived_view {
public:
  ~unarchived_view();
  unarchived_view(const unarchived_view&) = delete;
  unarchived_view& operator=(const unarchived_view&) = delete;
  /// The timestamp of the view's oldest message (reads one key).
  result<std::optional<std::uint64_t>> oldest() const;
  /// The view's messages with timestamp < `below`, in one pass.
  result<std::optional<queued_span>> span(std::uint64_t below) const;
  /// A message_source over the view: every message of [from, to) whatever
  /// its topic (the topics only name the archive's content topics), in
  /// (timestamp, topic, hash) order.
  message_source source() const;
  /// How many keys the view holds, when the store kept a running count at
  /// the view's snapshot; nullopt when it had not counted them.
  std::optional<std::uint64_t> queued() const;
  /// The view's keys with timestamp in [from, to), counted by a walk.
  result<std::uint64_t> count(std::uint64_t from, std::uint64_t to) const;
  /// A message_source over every message the community stored in [from,
  /// to) at the view's snapshot, queued or not, in source()'s order: one
  /// iterator instead of two. For a range whose messages the caller shows
  /// to be all queued (see build_owner_archives).
  message_source stored_source() const;

private:
  friend class store;
  struct impl;
  explicit unarchived_view(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// What a finished owner build records, in one synced batch.
struct build_commit {
  /// Every message of the view with timestamp below this is now archived.
  std::uint64_t archived_below = 0;
  /// The new last_archive_end (where the next regular window starts).
  std::uint64_t archive_end = 0;
  /// The archives made, recorded as held and imported.
  std::vector<built_archive> archives;
};

/// Per-community archive bookkeeping. The fields are stored under separate
/// keys so writing one never resets another (status-go's ON CONFLICT REPLACE
/// row wipes the magnetlink clock when it saves the end date).
struct archive_info {
  std::uint64_t magnetlink_clock = 0;      // ms; highest clock accepted or sent
  std::uint64_t last_archive_end = 0;      // unix s; end of the last build
  std::string last_magnet_uri;             // last link published or processed
  /// Member: the clock of the link whose download completed (the one in
  /// last_magnet_uri). Below magnetlink_clock, a newer accepted link has not
  /// been fetched whole yet. A store from before this field reads as
  /// magnetlink_clock when it has a last_magnet_uri.
  std::uint64_t completed_clock = 0;
};

/// A community's archive records: how many are held (downloaded or built)
/// and how many of those are imported.
struct archive_counts {
  std::uint64_t archives = 0;
  std::uint64_t imported = 0;
  friend bool operator==(const archive_counts& a, const archive_counts& b) {
    return a.archives == b.archives && a.imported == b.imported;
  }
};

struct insert_stats {
  std::size_t inserted = 0;
  std::size_t duplicates = 0;  // same community and hash already stored
};

/// A joined community's record with archives enabled, status-go's default
/// shard and each channel's topic (chat ID = community ID + channel ID);
/// an owner's caller adds the private key.
::annals::record::Community community_record(const public_key& community,
                                             const std::vector<std::string>& channel_ids,
                                             ::annals::record::Community::Role role);

/// The setting under which a member keeps a link it is fetching ("<clock>
/// <magnet>") until the fetch completes, so a node killed mid-fetch resumes
/// it at start-up instead of waiting for a re-announcement.
inline std::string pending_link_setting(const std::string& community_id) {
  return "member.pending_link." + community_id;
}
struct pending_link {
  std::uint64_t clock = 0;
  std::string magnet;
};
inline std::string encode_pending_link(std::uint64_t clock, const std::string& magnet) {
  return std::to_string(clock) + " " + magnet;
}
/// nullopt for an empty or unreadable setting.
inline std::optional<pending_link> decode_pending_link(std::string_view text) {
  auto space = text.find(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 == text.size())
    return std::nullopt;
  pending_link out;
  for (auto c : text.substr(0, space)) {
    if (c < '0' || c > '9')
      return std::nullopt;
    out.clock = out.clock * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out.magnet = std::string(text.substr(space + 1));
  return out;
}

/// The 4-byte topics of a community record's channels (malformed ones skipped).
std::vector<topic4> channel_topics(const ::annals::record::Community& community);

/// The community's pubsub topic; an unset shard means status-go's default
/// shard /waku/2/rs/16/32.
std::string community_pubsub_topic(const ::annals::record::Community& community);

class store {
public:
  /// Opens or creates the database in `dir`. Errors name the path and cause
  /// (permissions, lock held by another process, corruption).
  static result<std::unique_ptr<store>> open(const std::filesystem::path& dir,
                                             store_options options = {});
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // -- messages ---------------------------------------------------------------
  /// Stores messages of `community`; a message whose hash is already stored
  /// for that community is skipped. One batch, one sync, which also records
  /// `relayed` (the same messages as they travelled, for the Waku store), so
  /// a crash never leaves one without the other.
  result<insert_stats> insert_messages(const public_key& community,
                                       const std::vector<archive_message>& messages,
                                       const std::vector<stored_relay_message>& relayed = {});
  /// As insert_messages, but nothing is queued for archiving (a member's
  /// history: it archives nothing).
  result<insert_stats>
  insert_member_messages(const public_key& community, const std::vector<archive_message>& messages,
                         const std::vector<stored_relay_message>& relayed = {});
  /// Visits messages with from <= timestamp < to and topic in `topics`
  /// (all topics when empty) in (timestamp, topic, hash) order.
  result<void> scan_messages(const public_key& community, std::uint64_t from,
                             std::uint64_t to, const std::vector<topic4>& topics,
                             const std::function<void(archive_message&&)>& visit) const;
  result<bool> has_message(const public_key& community, std::string_view hash) const;

  // -- the owner's archive queue (exactly-once archiving) -------------------------
  /// insert_messages queues every new message; the builder takes a view,
  /// archives it, and commit_build removes exactly what it archived.
  result<std::unique_ptr<unarchived_view>> unarchived(const public_key& community) const;
  /// Messages stored but in no committed archive (live count).
  result<std::uint64_t> count_unarchived(const public_key& community) const;
  /// Queues every stored message of the community that `archived(hash)`
  /// says is in no archive and that is not queued yet; returns how many.
  /// Repairs stores written before the queue existed, whose late messages
  /// were never archived.
  result<std::uint64_t>
  queue_unarchived_except(const public_key& community,
                          const std::function<bool(std::string_view)>& archived);
  /// Removes the view's messages below commit.archived_below from the queue,
  /// records the end date and the archives, and keeps a commit marker (their
  /// IDs) until clear_build_commit: one synced write, the build's commit point.
  result<void> commit_build(const public_key& community, const unarchived_view& view,
                            const build_commit& commit);
  /// The archive IDs of a committed build whose files are not finished yet.
  result<std::optional<std::vector<std::string>>>
  pending_build_commit(const public_key& community) const;
  result<void> clear_build_commit(const public_key& community);
  result<std::uint64_t> count_messages(const public_key& community) const;

  // -- communities ------------------------------------------------------------
  result<void> put_community(const ::annals::record::Community& community);
  result<std::optional<::annals::record::Community>> get_community(const public_key& id) const;
  result<std::vector<::annals::record::Community>> list_communities() const;
  /// Removes the community record (messages and archives stay).
  result<void> delete_community(const public_key& id);

  // -- archive info (each field its own key) ------------------------------------
  result<archive_info> get_archive_info(const public_key& community) const;
  result<void> set_magnetlink_clock(const public_key& community, std::uint64_t clock);
  result<void> set_last_archive_end(const public_key& community, std::uint64_t end);
  /// Member: the link whose download completed, and its clock, together.
  result<void> set_completed_link(const public_key& community, std::string_view uri,
                                  std::uint64_t clock);
  /// Clock and URI together (a link was published or accepted).
  result<void> set_magnetlink(const public_key& community, std::uint64_t clock,
                              std::string_view uri);

  // -- archive IDs -------------------------------------------------------------
  /// Records archives as held locally (downloaded or built). Existing records
  /// keep their imported flag; `imported` sets it (an owner's own archives
  /// hold messages that are already stored).
  result<void> mark_archives_downloaded(const public_key& community,
                                        const std::vector<built_archive>& archives,
                                        bool imported = false);
  /// Imports a batch of an archive's messages; with `archive_done` the archive
  /// is marked imported in the same batch as these last messages.
  result<insert_stats> import_archive_messages(const public_key& community,
                                               std::string_view archive_id,
                                               const std::vector<archive_message>& messages,
                                               bool archive_done);
  /// As import_archive_messages, for messages already in the canonical bytes
  /// the store keeps (read_wire's, or an archive_wire's): stored as they
  /// are, without a parse or a copy before the write batch.
  result<insert_stats> import_archive_wires(const public_key& community,
                                            std::string_view archive_id,
                                            const message_wire* messages, std::size_t count,
                                            bool archive_done);
  /// Archive IDs recorded for the community, with their state.
  result<std::vector<std::pair<std::string, ::annals::record::Archive>>>
  list_archives(const public_key& community) const;
  /// What list_archives would count, without reading a key: counted once
  /// when the store opens and kept up to date by every write of a record.
  archive_counts count_archives(const public_key& community) const;
  /// IDs recorded but not yet imported, oldest `from` first.
  result<std::vector<std::string>> unimported_archives(const public_key& community) const;

  // -- node key/value (identity key, settings) ----------------------------------
  result<std::optional<std::string>> get_setting(std::string_view key) const;
  result<void> put_setting(std::string_view key, std::string_view value);

  // -- keyspaces of their own ---------------------------------------------------
  /// The relay messages this node serves as a Waku store.
  relay_message_store& relay_messages() { return relay_messages_; }
  const relay_message_store& relay_messages() const { return relay_messages_; }

  const std::filesystem::path& path() const;
  /// Writes refused since open: the disk below its reserve, or a RocksDB
  /// write error. Every writer's refusal counts, whoever logs it.
  std::uint64_t refused_writes() const;
  /// Writes every memtable to its table files and waits until no flush or
  /// compaction is pending or running: a store at rest, as benches time it.
  /// Refused when RocksDB stopped on a background error (a full disk, say)
  /// or is still compacting after `limit`.
  result<void> settle(std::chrono::milliseconds limit = std::chrono::minutes(5));

private:
  friend class unarchived_view;
  friend class relay_message_store;
  struct impl;
  explicit store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
  relay_message_store relay_messages_{*this};
};

} // namespace annals
