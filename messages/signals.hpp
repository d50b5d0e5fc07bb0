// status-go's client signals (signal/events_community_archives.go) as typed
// messages, plus annals' own. Everything a user or a host app sees comes out
// of the signal bus as one of these; each converts to status-go's JSON
// envelope {"type": ..., "event": ...}.
#pragma once

#include <caf/meta/type_name.hpp>
#include <caf/variant.hpp>

#include <cstdint>
#include <string>

namespace annals {

/// Archive creation for the community started.
struct creating_history_archives {
  static constexpr const char* type = "community.creatingHistoryArchives";
  std::string community_id;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, creating_history_archives& x) {
  return f(caf::meta::type_name("annals::creating_history_archives"), x.community_id);
}

/// At least one archive was written for [from, to).
struct history_archives_created {
  static constexpr const char* type = "community.historyArchivesCreated";
  std::string community_id;
  std::uint64_t from = 0;  // unix s
  std::uint64_t to = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, history_archives_created& x) {
  return f(caf::meta::type_name("annals::history_archives_created"), x.community_id, x.from, x.to);
}

/// [from, to) held nothing to archive.
struct no_history_archives_created {
  static constexpr const char* type = "community.noHistoryArchivesCreated";
  std::string community_id;
  std::uint64_t from = 0;  // unix s
  std::uint64_t to = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, no_history_archives_created& x) {
  return f(caf::meta::type_name("annals::no_history_archives_created"), x.community_id, x.from, x.to);
}

/// The community's torrent was dropped.
struct history_archives_unseeded {
  static constexpr const char* type = "community.historyArchivesUnseeded";
  std::string community_id;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, history_archives_unseeded& x) {
  return f(caf::meta::type_name("annals::history_archives_unseeded"), x.community_id);
}

/// The index arrived and names archives this node lacks.
struct downloading_history_archives_started {
  static constexpr const char* type = "community.downloadingHistoryArchivesStarted";
  std::string community_id;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, downloading_history_archives_started& x) {
  return f(caf::meta::type_name("annals::downloading_history_archives_started"), x.community_id);
}

/// One archive, covering [from, to), is complete on disk.
struct history_archive_downloaded {
  static constexpr const char* type = "community.historyArchiveDownloaded";
  std::string community_id;
  std::uint64_t from = 0;  // unix s
  std::uint64_t to = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, history_archive_downloaded& x) {
  return f(caf::meta::type_name("annals::history_archive_downloaded"), x.community_id, x.from, x.to);
}

/// An archive's messages are being imported.
struct importing_history_archive_messages {
  static constexpr const char* type = "community.importingHistoryArchiveMessages";
  std::string community_id;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, importing_history_archive_messages& x) {
  return f(caf::meta::type_name("annals::importing_history_archive_messages"), x.community_id);
}

/// The download task ended (also on error).
struct downloading_history_archives_finished {
  static constexpr const char* type = "community.downloadingHistoryArchivesFinished";
  std::string community_id;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, downloading_history_archives_finished& x) {
  return f(caf::meta::type_name("annals::downloading_history_archives_finished"), x.community_id);
}

/// A torrent of the community is being seeded. status-go's event carries only
/// the community ID; the magnet link rides along for the control-node gate.
struct history_archives_seeding {
  static constexpr const char* type = "community.historyArchivesSeeding";
  std::string community_id;
  std::string magnet_uri;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, history_archives_seeding& x) {
  return f(caf::meta::type_name("annals::history_archives_seeding"), x.community_id,
           x.magnet_uri);
}

/// The history archive protocol was switched on or off for the node.
struct history_archives_protocol {
  bool enabled = false;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, history_archives_protocol& x) {
  return f(caf::meta::type_name("annals::history_archives_protocol"), x.enabled);
}

/// annals.magnetlinkPublished: the owner put a signed magnet link on the relay.
struct magnetlink_published {
  static constexpr const char* type = "annals.magnetlinkPublished";
  std::string community_id;
  std::uint64_t clock = 0;  // ms
  std::string magnet_uri;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, magnetlink_published& x) {
  return f(caf::meta::type_name("annals::magnetlink_published"), x.community_id, x.clock,
           x.magnet_uri);
}

/// annals.magnetlinkRejected: a magnet-link message was not acted on.
struct magnetlink_rejected {
  static constexpr const char* type = "annals.magnetlinkRejected";
  std::string community_id;  // empty when the message did not say
  std::string reason;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, magnetlink_rejected& x) {
  return f(caf::meta::type_name("annals::magnetlink_rejected"), x.community_id, x.reason);
}

using signal = caf::variant<creating_history_archives, history_archives_created,
                            no_history_archives_created, history_archives_seeding,
                            history_archives_unseeded, downloading_history_archives_started,
                            history_archive_downloaded, importing_history_archive_messages,
                            downloading_history_archives_finished, history_archives_protocol,
                            magnetlink_published, magnetlink_rejected>;

/// One line of status-go's signal JSON:
/// {"type":"community.historyArchivesCreated","event":{"communityId":"0x…","from":…,"to":…}}
std::string to_json_line(const signal& s);
/// The "type" field alone, for logs and tests.
std::string signal_type(const signal& s);

} // namespace annals
