// The BitTorrent backend of the distribution seam (archive_distribution_actor
// in messages/actors.hpp): the only actor that touches the libtorrent session,
// for seeding and fetching alike. Pieces, info hashes, write-cache flushes
// and metadata stay in here; members see archive IDs and readiness.
#pragma once

#include "actors/storage_io.hpp"
#include "messages/actors.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace annals {

class torrent_session;

/// The distribution interface plus libtorrent's alert drain.
using torrent_distribution_actor = archive_distribution_actor::extend<
  // Internal: libtorrent has alerts (its notify callback sent this); drain them.
  caf::reacts_to<poll_atom>,
  // Internal: while fetches run, read their connections' bytes into the
  // source ledgers (a connection's counters die with it; no alert carries them).
  caf::reacts_to<tick_atom>>;

struct torrent_distribution_config {
  std::filesystem::path archive_root;  // archivedata/ and torrents/
  /// Put this session's own address in published magnet links (x.pe), so
  /// peers find it without DHT or trackers (loopback, private networks).
  bool advertise_address = false;
  /// The IP the session listens on: a wildcard (0.0.0.0, ::) is advertised
  /// as the interfaces' addresses, a loopback one only when nothing else is.
  std::string listen_ip = "127.0.0.1";
  /// "IP:PORT" advertised instead (a public address in front of NAT).
  std::string external_address = {};
  /// Where .torrent files are read and written and archive files checked
  /// (none: in line, for tests).
  storage_io_actor io = {};
};


struct torrent_distribution_state {
  static inline const char* name = "torrent-distribution";

  /// A member's fetch of one community's torrent.
  struct fetch_entry {
    std::string info_hash;
    /// Who started the fetch: told `progressed` when it moves.
    caf::actor_addr watcher;
    std::optional<archive_set_summary> summary;  // once the metadata passed its checks
    std::uint64_t piece_count = 0;
    std::string refusal;
    std::string peer_error;
    std::vector<std::string> peers;  // dialled again once pieces are wanted
    bool index_wanted = false;
    bool index_ready = false;                       // had and flushed
    std::map<std::string, std::pair<int, int>> wanted;  // archive ID -> pieces [first, end)
    std::set<std::string> ready;                    // had and flushed
    /// What the flush in flight covers: libtorrent reports a piece as had
    /// once it is hash-checked, which can be before its blocks are in the
    /// file; they are readable after the flush that follows.
    bool flushing = false;
    bool flushing_index = false;
    std::set<std::string> flushing_archives;
  };

  /// A saved fetch whose staged index is being renamed to `index`: the
  /// save is answered after the flush that follows the rename.
  struct index_rename {
    std::string community;
    int earlier_flushes = 0;  // flushes issued before the rename, answered first
    caf::typed_response_promise<bool> promise;
  };
  std::map<std::string, index_rename> renaming;  // by info hash

  /// What each source sent for one community: connections come and go, so
  /// ended ones are banked by IP and live ones read again on each look.
  struct source_ledger {
    std::map<std::string, std::uint64_t> banked;  // IP (or URL) -> bytes
    struct live_connection {
      std::string address;
      std::uint64_t bytes = 0;
    };
    std::map<std::string, live_connection> live;  // endpoint -> at the last look
  };

  torrent_distribution_config config;
  std::shared_ptr<torrent_session> session;
  std::map<std::string, source_ledger> sources;  // community ID -> ledger
  signal_bus_actor bus;
  std::map<std::string, std::string> torrents;  // community ID -> info hash (seeded or fetched)
  std::map<std::string, fetch_entry> fetches;   // community ID -> member fetch
  std::uint64_t torrent_errors = 0;
  std::uint64_t pieces_failed = 0;  // hash check failures: a peer sent bad data
  std::uint64_t peers_banned = 0;   // by libtorrent, for corrupt pieces
  /// Payload bytes of torrents this run dropped (replaced by a newer build,
  /// unseeded), by community: the session forgets them with the torrent.
  std::map<std::string, std::uint64_t> retired_upload, retired_download;
  bool sources_tick_pending = false;  // one ledger timer at a time
  std::uint64_t alert_wakeups = 0;    // alert drains libtorrent asked for
  ~torrent_distribution_state();
};

/// `session` is started by the caller, so a port that is taken fails the
/// node's start with the port's name instead of killing an actor later.
torrent_distribution_actor::behavior_type
torrent_distribution(torrent_distribution_actor::stateful_pointer<torrent_distribution_state> self,
                     torrent_distribution_config config, std::shared_ptr<torrent_session> session,
                     signal_bus_actor bus);

} // namespace annals
