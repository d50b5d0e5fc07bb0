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

/// A signal that names only its community, as status-go's events of that
/// type do. `Type` is status-go's signal type, `Name` the CAF type name.
template <const char* Type, const char* Name>
struct community_signal {
  static constexpr const char* type = Type;
  std::string community_id;
};
template <class Inspector, const char* Type, const char* Name>
typename Inspector::result_type inspect(Inspector& f, community_signal<Type, Name>& x) {
  return f(caf::meta::type_name(Name), x.community_id);
}

/// A signal about the archive window [from, to) (unix s) of a community.
template <const char* Type, const char* Name>
struct window_signal {
  static constexpr const char* type = Type;
  std::string community_id;
  std::uint64_t from = 0;
  std::uint64_t to = 0;
};
template <class Inspector, const char* Type, const char* Name>
typename Inspector::result_type inspect(Inspector& f, window_signal<Type, Name>& x) {
  return f(caf::meta::type_name(Name), x.community_id, x.from, x.to);
}

namespace signal_names {
inline constexpr char creating[] = "community.creatingHistoryArchives";
inline constexpr char creating_caf[] = "annals::creating_history_archives";
inline constexpr char created[] = "community.historyArchivesCreated";
inline constexpr char created_caf[] = "annals::history_archives_created";
inline constexpr char none_created[] = "community.noHistoryArchivesCreated";
inline constexpr char none_created_caf[] = "annals::no_history_archives_created";
inline constexpr char unseeded[] = "community.historyArchivesUnseeded";
inline constexpr char unseeded_caf[] = "annals::history_archives_unseeded";
inline constexpr char started[] = "community.downloadingHistoryArchivesStarted";
inline constexpr char started_caf[] = "annals::downloading_history_archives_started";
inline constexpr char downloaded[] = "community.historyArchiveDownloaded";
inline constexpr char downloaded_caf[] = "annals::history_archive_downloaded";
inline constexpr char importing[] = "community.importingHistoryArchiveMessages";
inline constexpr char importing_caf[] = "annals::importing_history_archive_messages";
inline constexpr char finished[] = "community.downloadingHistoryArchivesFinished";
inline constexpr char finished_caf[] = "annals::downloading_history_archives_finished";
} // namespace signal_names

/// Archive creation for the community started.
using creating_history_archives =
  community_signal<signal_names::creating, signal_names::creating_caf>;
/// At least one archive was written for [from, to).
using history_archives_created = window_signal<signal_names::created, signal_names::created_caf>;
/// [from, to) held nothing to archive.
using no_history_archives_created =
  window_signal<signal_names::none_created, signal_names::none_created_caf>;
/// The community's torrent was dropped.
using history_archives_unseeded =
  community_signal<signal_names::unseeded, signal_names::unseeded_caf>;
/// The index arrived and names archives this node lacks.
using downloading_history_archives_started =
  community_signal<signal_names::started, signal_names::started_caf>;
/// One archive, covering [from, to), is complete on disk.
using history_archive_downloaded =
  window_signal<signal_names::downloaded, signal_names::downloaded_caf>;
/// An archive's messages are being imported.
using importing_history_archive_messages =
  community_signal<signal_names::importing, signal_names::importing_caf>;
/// The download task ended (also on error).
using downloading_history_archives_finished =
  community_signal<signal_names::finished, signal_names::finished_caf>;

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

/// annals.archiveKeyMissing: a token-gated community's index or archive is
/// encrypted under a key this node does not hold. Nothing is retried until
/// the community's keys file changes (status-go retries every 100 ms or
/// hourly, status-app#12005, #13105).
struct archive_key_missing {
  static constexpr const char* type = "annals.archiveKeyMissing";
  std::string community_id;
  std::string key_id;  // hex; for an old-format header "group:timestamp"
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, archive_key_missing& x) {
  return f(caf::meta::type_name("annals::archive_key_missing"), x.community_id, x.key_id);
}

/// annals.downloadFailed: a download ended without everything wanted
/// (no metadata, a stall, a refused set, a file error). status-go sends
/// downloadingHistoryArchivesFinished on errors too, so a failure read
/// like success; annals sends this instead.
struct download_failed {
  static constexpr const char* type = "annals.downloadFailed";
  std::string community_id;
  std::string reason;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, download_failed& x) {
  return f(caf::meta::type_name("annals::download_failed"), x.community_id, x.reason);
}

using signal = caf::variant<creating_history_archives, history_archives_created,
                            no_history_archives_created, history_archives_seeding,
                            history_archives_unseeded, downloading_history_archives_started,
                            history_archive_downloaded, importing_history_archive_messages,
                            downloading_history_archives_finished, history_archives_protocol,
                            magnetlink_published, magnetlink_rejected, archive_key_missing,
                            download_failed>;

/// One line of status-go's signal JSON:
/// {"type":"community.historyArchivesCreated","event":{"communityId":"0x…","from":…,"to":…}}
std::string to_json_line(const signal& s);
/// The "type" field alone, for logs and tests.
std::string signal_type(const signal& s);

} // namespace annals
