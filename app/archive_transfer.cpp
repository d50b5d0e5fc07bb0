// `annals archive seed|fetch`: the owner seeding a built archive directory,
// and a member fetching a community's archives the way status-go's
// DownloadHistoryArchivesByMagnetlink does (metadata, index first, then the
// archives oldest first), with the checks and time limits status-go lacks.
#include "app/commands.hpp"
#include "core/archive_reader.hpp"
#include "core/fetch_plan.hpp"
#include "core/file_io.hpp"
#include "core/identity.hpp"
#include "net/torrent_file.hpp"
#include "net/torrent_session.hpp"

#include <nlohmann/json.hpp>

#include <csignal>
#include <ctime>
#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <functional>

namespace annals::app {

namespace {

using json = nlohmann::ordered_json;
using steady = std::chrono::steady_clock;

/// How long one session poll may block: the latency of noticing a signal,
/// a deadline or a finished phase.
constexpr auto poll_interval = std::chrono::milliseconds(200);
/// How often `seed` prints its status line.
constexpr auto seed_status_interval = std::chrono::seconds(5);
/// The most often `fetch` prints a progress line.
constexpr auto fetch_progress_interval = std::chrono::seconds(1);

/// The host of "ADDR:PORT" (IPv6 keeps its brackets).
std::string host_of(const std::string& endpoint) {
  return endpoint.substr(0, endpoint.rfind(':'));
}

bool is_loopback_host(const std::string& host) {
  return host.rfind("127.", 0) == 0 || host == "[::1]";
}

/// An address that means "every interface": listenable, but no peer can
/// dial it.
bool is_unspecified_host(const std::string& host) {
  return host == "0.0.0.0" || host == "[::]";
}

/// Whether pieces [first, end) are all set in `have`.
bool have_all(const std::vector<bool>& have, int first, int end) {
  return std::all_of(have.begin() + first, have.begin() + end, [](bool piece) { return piece; });
}

double seconds_since(steady::time_point start) {
  return std::chrono::duration<double>(steady::now() - start).count();
}

// --- seed ------------------------------------------------------------------

struct seed_options {
  std::string dir;
  std::string listen = "0.0.0.0:0";
  std::string community;
};

/// Blocks SIGINT and SIGTERM in the calling thread and in every thread
/// started afterwards (libtorrent's inherit the mask, so construct this
/// before the session), leaving them pending until take() collects one. No
/// handler runs asynchronously, so the seed loop ends like any other return.
class stop_signals {
public:
  stop_signals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &previous_);
  }
  ~stop_signals() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  stop_signals(const stop_signals&) = delete;
  stop_signals& operator=(const stop_signals&) = delete;

  /// The name of a pending stop signal, consuming it; nullptr when none is.
  const char* take() {
    timespec no_wait{0, 0};
    switch (sigtimedwait(&set_, nullptr, &no_wait)) {
      case SIGINT: return "SIGINT";
      case SIGTERM: return "SIGTERM";
      default: return nullptr;
    }
  }

private:
  sigset_t set_{};
  sigset_t previous_{};
};

void run_seed(const seed_options& options) {
  auto layout = take(resolve_layout(options.dir, options.community));
  // A member rejects every piece that does not match its hash, so seeding
  // files that changed since the torrent was written would serve nothing.
  auto torrent = take(verify_archive_torrent_files(layout), "cannot seed " + options.dir);

  auto host = host_of(options.listen);
  auto session_options =
    is_loopback_host(host) ? loopback_session_options() : torrent_session_options{};
  session_options.listen = options.listen;
  stop_signals signals;
  auto session = take(torrent_session::start(session_options));
  auto hash = take(session->seed(layout.torrent_file(), layout.archive_dir().parent_path()));

  auto self = host + ":" + std::to_string(session->listen_port());
  std::vector<std::string> peers;
  if (!is_unspecified_host(host))
    peers.push_back(self);
  // Flushed at once: whoever started the seed may be waiting on this line.
  std::cout << magnet_link(torrent.info_hash, torrent.name, torrent.trackers, peers) << std::endl;
  std::cerr << "seeding " << torrent.name << " (" << torrent.data_size << " bytes of archives, "
            << torrent.index_size << " bytes of index, info hash " << hash << ") on " << self
            << "; stop with SIGINT or SIGTERM\n";
  if (peers.empty())
    std::cerr << "listening on every interface, so the magnet link names no peer; members find "
                 "this seed through the DHT and trackers\n";

  auto next_status = steady::now() + seed_status_interval;
  for (;;) {
    for (const auto& event : session->poll(poll_interval))
      if (event.what == torrent_event::kind::error)
        std::cerr << "annals: " << event.message << "\n";
    if (auto signal = signals.take()) {
      std::cerr << "stopping on " << signal << "\n";
      return;
    }
    if (steady::now() < next_status)
      continue;
    next_status += seed_status_interval;
    auto progress = take(session->progress(hash));
    if (!progress.error.empty())
      fail(make_error(errc::io, "seeding stopped: " + progress.error));
    std::cerr << "peers " << progress.num_peers << ", uploaded " << progress.total_upload
              << " bytes\n";
  }
}

// --- fetch -----------------------------------------------------------------

struct fetch_options {
  std::string source;  // a magnet link or a .torrent file
  std::string out;
  std::vector<std::string> peers;
  unsigned timeout = 120;
  unsigned metadata_timeout = 20;
};

/// Everything fetched comes from peers, so any fault in it is a failed
/// verification (exit 1), never bad input (exit 2) as take() would call a
/// malformed file.
template <class T>
T take_fetched(result<T> r, const std::string& context) {
  if (!r)
    fail(make_error(r.error().code, context + ": " + r.error().message));
  return std::move(*r);
}
void take_fetched(result<void> r, const std::string& context) {
  if (!r)
    fail(make_error(r.error().code, context + ": " + r.error().message));
}

/// The community the member means to fetch, known before any peer speaks:
/// the magnet link's dn (status-go's links always carry it) or the
/// .torrent's name. It must be a community ID as status-go spells it.
std::string expected_community(const std::string& source, bool from_magnet) {
  std::string name;
  if (from_magnet) {
    auto dn = magnet_name(source);
    if (!dn)
      fail(make_error(errc::invalid_argument,
                      "magnet link has no dn=<communityID> naming the community to fetch"),
           exit_bad_input);
    name = *dn;
  } else {
    name = take(read_archive_torrent(source)).name;
  }
  auto key = public_key::from_community_id(name);
  if (!key || key->community_id() != name)
    fail(make_error(errc::invalid_argument,
                    (from_magnet ? "magnet link's dn \"" : source + ": name \"") + name +
                      "\" is not a community ID (0x + 66 lowercase hex of a public key)"),
         exit_bad_input);
  return name;
}

/// One member fetch of one torrent: the session, the deadline of the whole
/// command and what the peers last said, for the error when time runs out.
class fetch_run {
public:
  /// Whether a phase is complete, given the torrent's progress and the
  /// events of the last poll.
  using done_test =
    std::function<bool(const torrent_progress&, const std::vector<torrent_event>&)>;

  fetch_run(torrent_session& session, std::string hash, steady::time_point started,
            std::chrono::seconds timeout)
    : session_(session), hash_(std::move(hash)), timeout_(timeout), deadline_(started + timeout) {}

  /// Polls the session until `done` holds, or until `until` or the command's
  /// deadline passes (false). Fails the command when the torrent itself
  /// stops with an error; errors that peers cause (a piece failing its hash)
  /// are only reported, as libtorrent asks another peer.
  bool wait(steady::time_point until, const done_test& done) {
    until = std::min(until, deadline_);
    for (;;) {
      auto events = session_.poll(poll_interval);
      for (const auto& event : events) {
        if (event.what == torrent_event::kind::error)
          std::cerr << "annals: warning: " << event.message << "\n";
        else if (event.what == torrent_event::kind::peer_disconnected)
          last_peer_error_ = event.message;
      }
      auto progress = take_fetched(session_.progress(hash_), hash_);
      if (!progress.error.empty())
        fail(make_error(errc::io, hash_ + ": fetch stopped: " + progress.error));
      if (done(progress, events))
        return true;
      if (steady::now() >= until)
        return false;
    }
  }
  bool wait(const done_test& done) { return wait(deadline_, done); }

  /// Whether the command's --timeout has passed.
  bool expired() const { return steady::now() >= deadline_; }

  /// Ends the command after a wait returned false while doing `what`.
  [[noreturn]] void fail_waiting(const std::string& what) const {
    auto message = "timed out " + what;
    if (expired())
      message += " (--timeout " + std::to_string(timeout_.count()) + " s)";
    if (!last_peer_error_.empty())
      message += "; last peer error: " + last_peer_error_;
    fail(make_error(errc::io, message));
  }

  /// Waits for the torrent's metadata (there at once for a .torrent; from
  /// peers for a magnet link), retrying once as status-go does after its
  /// 20 s: the `peers` are dialled again and the wait repeats.
  void wait_for_metadata(std::chrono::seconds attempt, const std::vector<std::string>& peers) {
    auto has_metadata = [](const torrent_progress& progress, const auto&) {
      return progress.has_metadata;
    };
    if (wait(steady::now() + attempt, has_metadata))
      return;
    if (!expired()) {
      std::cerr << "no metadata after " << attempt.count() << " s; dialling " << peers.size()
                << " --peer address(es) again\n";
      for (const auto& peer : peers)
        take(session_.connect_peer(hash_, peer));
      if (wait(steady::now() + attempt, has_metadata))
        return;
    }
    fail_waiting("waiting for the torrent's metadata from peers" +
                 (expired() ? "" : ", " + std::to_string(attempt.count()) + " s twice"));
  }

  /// Which pieces are complete and hash-checked.
  std::vector<bool> pieces() const { return take_fetched(session_.have_pieces(hash_), hash_); }

  /// Waits until every block received so far is in the files, which a piece
  /// being hash-checked does not imply.
  bool flush() {
    take_fetched(session_.flush(hash_), hash_);
    return wait([](const torrent_progress&, const std::vector<torrent_event>& events) {
      return std::any_of(events.begin(), events.end(), [](const torrent_event& e) {
        return e.what == torrent_event::kind::flushed;
      });
    });
  }

private:
  torrent_session& session_;
  std::string hash_;
  std::chrono::seconds timeout_;
  steady::time_point deadline_;
  std::string last_peer_error_;
};

void run_fetch(const fetch_options& options) {
  auto started = steady::now();
  bool from_magnet = options.source.rfind("magnet:", 0) == 0;
  auto expected = expected_community(options.source, from_magnet);
  archive_layout layout{options.out, expected};

  bool loopback = !options.peers.empty() &&
                  std::all_of(options.peers.begin(), options.peers.end(),
                              [](const auto& peer) { return is_loopback_host(host_of(peer)); });
  auto session = take(torrent_session::start(loopback ? loopback_session_options()
                                                      : torrent_session_options{}));
  // Nothing is wanted until the checks below pass (download_all = false).
  auto save_path = layout.archive_dir().parent_path();
  auto hash =
    from_magnet ? take(session->fetch(options.source, save_path, options.peers, false))
                : take(session->fetch_torrent_file(options.source, save_path, options.peers, false));
  fetch_run run(*session, hash, started, std::chrono::seconds(options.timeout));

  std::cerr << "fetching " << expected << " (info hash " << hash << ") into " << options.out
            << "\n";
  run.wait_for_metadata(std::chrono::seconds(options.metadata_timeout), options.peers);
  const std::string refused = "refused before fetching any piece";
  auto torrent = take_fetched(session->metadata_summary(hash), refused);
  take_fetched(check_torrent_for_fetch(torrent, expected, fetch_limits{}), refused);
  take(create_private_dirs(layout.archive_dir()));

  // The index first, as status-go does: it says which pieces hold archives.
  std::cerr << "fetching the index (" << torrent.index_size << " bytes)\n";
  take(session->want_file(hash, 1));
  auto index_first = static_cast<int>(torrent.data_size / archive_piece_length);
  auto piece_count = static_cast<int>(torrent.piece_count);
  auto index_fetched = [&](const auto&, const auto&) {
    return have_all(run.pieces(), index_first, piece_count);
  };
  if (!run.wait(index_fetched))
    run.fail_waiting("fetching the index");
  if (!run.flush())
    run.fail_waiting("writing the index");
  auto index = take_fetched(read_index(layout.index_file()), "fetched index");
  take_fetched(check_index_for_torrent(index, torrent.data_size), "fetched index");

  // A fresh directory holds no archive yet. All are wanted at once, which
  // keeps every connection busy; status-go waits for each archive before it
  // asks for the next. libtorrent's piece picker decides the actual order.
  auto archives = missing_archives(index, {});
  for (const auto& archive : archives)
    take(session->want_pieces(hash, archive.first_piece, archive.end_piece));
  std::cerr << "fetching " << archives.size() << " archives (" << torrent.data_size
            << " bytes)\n";
  // Progress counted from the pieces had, in the same step as the archives:
  // libtorrent's byte counters lag behind its piece bitfield. Archive
  // pieces are whole pieces, as `data` is piece-aligned.
  std::uint64_t wanted_bytes = torrent.index_size;
  for (const auto& archive : archives)
    wanted_bytes += archive.entry.size();
  std::size_t archives_done = 0;
  std::uint64_t reported_bytes = 0;
  auto next_report = steady::now();
  auto all_fetched = [&](const auto&, const auto&) {
    auto have = run.pieces();
    std::uint64_t fetched_bytes = torrent.index_size;
    archives_done = 0;
    for (const auto& archive : archives) {
      auto had = std::count(have.begin() + archive.first_piece, have.begin() + archive.end_piece,
                            true);
      fetched_bytes += static_cast<std::uint64_t>(had) * archive_piece_length;
      archives_done += had == archive.end_piece - archive.first_piece ? 1 : 0;
    }
    bool done = archives_done == archives.size();
    if (fetched_bytes != reported_bytes && (done || steady::now() >= next_report)) {
      std::cerr << "fetched " << fetched_bytes * 100 / wanted_bytes << "% (" << fetched_bytes
                << " of " << wanted_bytes << " bytes), " << archives_done << " of "
                << archives.size() << " archives\n";
      reported_bytes = fetched_bytes;
      next_report = steady::now() + fetch_progress_interval;
    }
    return done;
  };
  if (!run.wait(all_fetched))
    run.fail_waiting("with " + std::to_string(archives_done) + " of " +
                     std::to_string(archives.size()) + " archives fetched");
  if (!run.flush())
    run.fail_waiting("writing the archives");

  // The fetched directory is a complete archive set, so it can be inspected
  // and seeded like a built one.
  take(session->save_torrent_file(hash, layout.torrent_file()));
  auto report = take_fetched(verify_archive_dir(layout.archive_dir()), "fetched archives");
  for (const auto& problem : report.problems)
    std::cerr << "annals: verification failed: " << problem << "\n";
  if (!report.ok())
    fail(make_error(errc::verification_failed, std::to_string(report.problems.size()) +
                                                 " problem(s) in the fetched archives"));
  take_fetched(verify_archive_torrent_files(layout), "fetched files");

  std::size_t messages = 0;
  for (const auto& archive : report.archives)
    messages += archive.message_count;
  auto fetched = take_fetched(session->progress(hash), hash);
  std::cout << json{{"community_id", expected},
                    {"info_hash", hash},
                    {"archive_dir", layout.archive_dir().string()},
                    {"archives", report.archives.size()},
                    {"messages", messages},
                    {"bytes_downloaded", fetched.total_download},
                    {"seconds", seconds_since(started)}}
                 .dump(2)
            << "\n";
}

} // namespace

void add_archive_transfer_commands(CLI::App& archive) {
  auto s = std::make_shared<seed_options>();
  auto* seed = archive.add_subcommand(
    "seed", "Seed an archive directory until SIGINT or SIGTERM; print its magnet link");
  seed->add_option("DIR", s->dir, "Root with archivedata/<id>/ and torrents/<id>.torrent, or "
                                  "the archive directory itself")
    ->required();
  seed->add_option("--listen", s->listen,
                   "ADDR:PORT to listen on; a 127.x address uses the loopback profile (no "
                   "DHT, LSD or trackers, TCP only)")
    ->capture_default_str();
  seed->add_option("--community", s->community, "Community ID when DIR holds several");
  seed->callback([s] { run_seed(*s); });

  auto f = std::make_shared<fetch_options>();
  auto* fetch = archive.add_subcommand(
    "fetch", "Fetch a community's archives by magnet link or .torrent, as a member does; "
             "print a JSON summary");
  fetch->add_option("SOURCE", f->source, "magnet:?xt=urn:btih:...&dn=<communityID>, or a .torrent")
    ->required();
  fetch->add_option("--out", f->out, "Output root: archivedata/<id>/ and torrents/")->required();
  fetch->add_option("--peer", f->peers,
                    "ADDR:PORT of a peer to dial (repeat); when every peer is on 127.x, the "
                    "loopback profile is used");
  fetch->add_option("--timeout", f->timeout, "Seconds for the whole fetch")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  fetch->add_option("--metadata-timeout", f->metadata_timeout,
                    "Seconds to wait for a magnet link's metadata, tried twice (status-go: 20)")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  fetch->callback([f] { run_fetch(*f); });
}

} // namespace annals::app
