// The one libtorrent session of a node, wrapped behind a small interface.
// The session owns all torrent state; everything asynchronous arrives as
// alerts, which poll() turns into plain events. No libtorrent types here.
#pragma once

#include "core/result.hpp"
#include "net/torrent_file.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace annals {

/// How soon a wanted piece is picked: every `top` piece before any `normal`.
enum class piece_priority { normal, top };

struct torrent_session_options {
  /// "ADDR:PORT"; port 0 picks a free one (read listen_port()).
  std::string listen = "0.0.0.0:0";
  bool dht = true;
  bool lsd = true;
  bool upnp = false;
  bool trackers = true;
  /// DHT routers to bootstrap from ("HOST:PORT"); empty = libtorrent's
  /// defaults (public routers, which a private network cannot reach).
  std::vector<std::string> dht_bootstrap;
  /// "IP:PORT" this session is reachable at from outside (NAT): its IP is
  /// what trackers are told (announce_ip).
  std::string external_address;
  /// A DHT among hosts of one private network: no one-node-per-/24 limit on
  /// routing tables and searches.
  bool private_network = false;
  /// Loopback profile: TCP only, many connections per IP, re-dial after 1 s.
  bool loopback = false;
  /// Fetches ask for pieces in order, so archives complete one after the
  /// other and can be checked while the rest arrive (a lone fetcher such
  /// as `archive fetch`). Off, libtorrent picks the rarest first, which
  /// lets the members of a swarm trade pieces with each other sooner.
  bool sequential_fetch = false;
};

/// A .torrent read from disk and parsed (libtorrent's torrent_info, opaque
/// here so this header stays free of libtorrent), ready for add().
struct prepared_torrent {
  std::shared_ptr<void> info;
  std::filesystem::path save_path;
  bool seed = false;  // complete: seed it, trusting the checked files
  /// Fetching: file 1 (the index) is written here, relative to save_path,
  /// until rename_file() moves it (see archive_layout::fetching_index_file).
  std::string staged_index;
};

/// A loopback profile: 127.0.0.1, no DHT/LSD/UPnP/trackers, TCP only.
torrent_session_options loopback_session_options();

struct torrent_event {
  enum class kind {
    added,             // torrent added (seeding or fetching)
    metadata_received, // magnet: info dict arrived
    file_completed,    // file `file_index` complete
    piece_finished,    // piece `piece` hashed and written
    finished,          // all wanted pieces done
    seeding,           // complete and uploading
    removed,
    error,             // `message` names the cause
    peer_connected,
    peer_disconnected,
    flushed,           // every block received before flush() is in the files
    piece_failed,      // `piece` failed its hash check (a peer sent bad data); retried
    peer_banned,       // libtorrent banned the peer at `message` for corrupt pieces
  };
  kind what;
  std::string info_hash;  // 40 hex
  int file_index = -1;
  int piece = -1;
  std::string message;
};

struct torrent_progress {
  std::string info_hash;
  std::string name;
  bool has_metadata = false;
  bool seeding = false;
  bool finished = false;
  std::uint64_t total_wanted = 0;
  std::uint64_t total_wanted_done = 0;
  std::uint64_t total_download = 0;  // payload bytes received
  std::uint64_t total_upload = 0;
  std::uint64_t download_rate = 0;  // payload bytes/s
  std::uint64_t upload_rate = 0;
  int num_peers = 0;
  std::string error;
};

/// What one connected peer has sent and taken on its current connection.
struct torrent_peer_transfer {
  std::string endpoint;  // "IP:PORT" (brackets for IPv6)
  std::string ip;
  std::uint64_t downloaded = 0;  // payload bytes from it
  std::uint64_t uploaded = 0;    // payload bytes to it
  bool web_seed = false;         // an HTTP seed (BEP 19), endpoint = its URL
};

/// Not thread-safe: one thread at a time (the actor that owns it) calls it,
/// and poll() must run regularly, or libtorrent drops alerts once its queue
/// is full.
class torrent_session {
public:
  /// Starts a session listening on options.listen. When the port is taken the
  /// error names it ("127.0.0.1:9025: address already in use").
  static result<std::unique_ptr<torrent_session>> start(const torrent_session_options& options);
  ~torrent_session();

  std::uint16_t listen_port() const;

  /// Reads and parses a .torrent and, for seeding, checks that its files
  /// under save_path have the sizes it says: all the disk work of seed() and
  /// fetch_torrent_file(), so an actor runs it on an I/O thread and adds the
  /// result with add() without touching the disk on its own thread.
  static result<prepared_torrent> prepare_seed(const std::filesystem::path& torrent_file,
                                               const std::filesystem::path& save_path);
  static result<prepared_torrent> prepare_fetch(const std::filesystem::path& torrent_file,
                                                const std::filesystem::path& save_path);
  /// Adds a prepared torrent: seeds it, or fetches it with the same `peers`
  /// and `download_all` as fetch(). Returns the info hash.
  result<std::string> add(prepared_torrent torrent, const std::vector<std::string>& peers = {},
                          bool download_all = true);

  /// Seeds a complete torrent whose files live under save_path (the parent of
  /// the directory named like the torrent). Returns the info hash.
  result<std::string> seed(const std::filesystem::path& torrent_file,
                           const std::filesystem::path& save_path);
  /// Fetches by magnet link into save_path; `peers` ("ADDR:PORT") are dialled
  /// directly. With download_all false nothing is wanted until priorities
  /// are set (the member's index-first flow).
  /// `staged_index` as in prepared_torrent (applied once the metadata
  /// arrives; the file at the index's own path is never touched).
  result<std::string> fetch(const std::string& magnet,
                            const std::filesystem::path& save_path,
                            const std::vector<std::string>& peers = {},
                            bool download_all = true, const std::string& staged_index = {});
  /// Fetches the torrent described by a .torrent file into save_path, with
  /// the same `peers` and `download_all` as fetch(); no metadata round trip.
  result<std::string> fetch_torrent_file(const std::filesystem::path& torrent_file,
                                         const std::filesystem::path& save_path,
                                         const std::vector<std::string>& peers = {},
                                         bool download_all = true);
  result<void> remove(const std::string& info_hash);
  /// Moves file `file_index` to `relative_path` under the save path, on
  /// libtorrent's disk thread after every write queued before it.
  result<void> rename_file(const std::string& info_hash, int file_index,
                           const std::string& relative_path);
  /// Wants exactly the pieces [first, last) in addition to earlier wants;
  /// `top` ones are picked before any `normal` one.
  result<void> want_pieces(const std::string& info_hash, int first, int last,
                           piece_priority priority = piece_priority::normal);
  /// Wants file `file_index` (0 = data, 1 = index).
  result<void> want_file(const std::string& info_hash, int file_index);
  result<torrent_progress> progress(const std::string& info_hash) const;
  /// The torrent's connected peers and what each connection carried.
  result<std::vector<torrent_peer_transfer>> peer_transfers(const std::string& info_hash) const;
  /// Whether piece `piece` is complete and hash-checked.
  result<bool> have_piece(const std::string& info_hash, int piece) const;
  /// Which pieces are complete and hash-checked, in one call rather than one
  /// have_piece() round trip to libtorrent's thread per piece.
  result<std::vector<bool>> have_pieces(const std::string& info_hash) const;
  /// The torrent's info dict once it is known (from the .torrent, or from
  /// peers for a magnet link), checked by check_archive_info_dict, so the
  /// error names the status-go shape rule it breaks. The trackers and magnet
  /// link are the ones this session holds for the torrent.
  result<torrent_summary> metadata_summary(const std::string& info_hash) const;
  /// Writes the torrent as a .torrent file (its info dict byte for byte, so
  /// the info hash is unchanged, and its trackers one tier each), replacing
  /// `file` atomically.
  result<void> save_torrent_file(const std::string& info_hash,
                                 const std::filesystem::path& file) const;
  /// The bytes save_torrent_file() writes, from memory (the writing is the
  /// caller's, on an I/O thread).
  result<std::string> torrent_file_bytes(const std::string& info_hash) const;
  /// Asks libtorrent to write out every block it has received so far; a
  /// `flushed` event follows. A piece counts as had once it is hash-checked,
  /// which can be before its blocks reach the file, so read the files only
  /// after `flushed`. Only flush() causes `flushed` events, one per call, in
  /// call order; one seen before the call says nothing about later blocks.
  result<void> flush(const std::string& info_hash);
  /// Dials a peer for a torrent ("ADDR:PORT").
  result<void> connect_peer(const std::string& info_hash, const std::string& peer);

  /// Waits up to `max_wait` for alerts and returns them as events.
  std::vector<torrent_event> poll(std::chrono::milliseconds max_wait);
  /// Calls `notify` from libtorrent's thread whenever alerts arrive in an
  /// empty queue (at once if some wait already), so the owner drains them
  /// with poll(0) when there is something to drain, instead of on a timer.
  /// `notify` must return quickly and must not call this session. An empty
  /// function stops the calls.
  void set_alert_notify(std::function<void()> notify);

private:
  struct impl;
  explicit torrent_session(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace annals
