// `annals archive seed|fetch`: the owner seeding a built archive directory,
// and a member fetching a community's archives with the node's own member
// sequence (metadata, index first, then the archives oldest first), with the
// checks and time limits status-go lacks.
#include "actors/node.hpp"
#include "actors/signal_bus.hpp"
#include "actors/torrent_distribution.hpp"
#include "app/actor_errors.hpp"
#include "app/commands.hpp"
#include "app/progress.hpp"
#include "app/json_text.hpp"
#include "core/archive_reader.hpp"
#include "core/file_io.hpp"
#include "core/identity.hpp"
#include "core/member_fetch.hpp"
#include "net/interfaces.hpp"
#include "net/torrent_file.hpp"
#include "net/torrent_session.hpp"

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

#include <csignal>
#include <ctime>
#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <deque>
#include <thread>

namespace annals::app {

namespace {

using json = nlohmann::ordered_json;
using steady = std::chrono::steady_clock;

/// How long one session poll may block: the latency of noticing a signal,
/// a deadline or a finished phase.
constexpr auto poll_interval = std::chrono::milliseconds(50);
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

double seconds_since(steady::time_point start) {
  return std::chrono::duration<double>(steady::now() - start).count();
}

// --- seed ------------------------------------------------------------------

struct seed_options {
  std::string dir;
  std::string listen = "0.0.0.0:0";
  std::string community;
  bool no_trackers = false;
  std::string external_address;
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
  // libtorrent serves `index`: a fetched set's index still staged there
  // moves into place first, as a node's start does.
  take(promote_fetched_index(layout), "cannot seed " + options.dir);
  auto torrent = take(verify_archive_torrent_files(layout), "cannot seed " + options.dir);

  auto host = host_of(options.listen);
  auto session_options =
    is_loopback_host(host) ? loopback_session_options() : torrent_session_options{};
  session_options.listen = options.listen;
  // The torrent's own trackers are announced to on loopback too (a client
  // that finds peers only through a tracker on 127.0.0.1 would otherwise
  // never find this seed); DHT and LSD stay off there.
  session_options.trackers = !options.no_trackers;
  session_options.external_address = options.external_address;
  if (std::string ip; !options.external_address.empty()) {
    unsigned port = 0;
    if (!split_host_port(options.external_address, ip, port) || is_wildcard_ip(ip) || port == 0)
      fail("--external-address " + options.external_address + " is not IP:PORT a peer can dial",
           exit_bad_input);
  }
  stop_signals signals;
  auto session = take(torrent_session::start(session_options));
  auto hash = take(session->seed(layout.torrent_file(), layout.archive_dir().parent_path()));

  auto self = host + ":" + std::to_string(session->listen_port());
  auto listen_ip = host.size() > 2 && host.front() == '[' ? host.substr(1, host.size() - 2) : host;
  // On a wildcard: the interfaces' addresses, never 0.0.0.0 (and 127.x
  // only on a host that has nothing else).
  auto peers = advertised_endpoints(listen_ip, session->listen_port(), options.external_address,
                                    local_interface_addresses());
  // Flushed at once: whoever started the seed may be waiting on this line.
  std::cout << magnet_link(torrent.info_hash, torrent.name, torrent.trackers, peers) << std::endl;
  std::cerr << "seeding " << torrent.name << " (" << torrent.data_size << " bytes of archives, "
            << torrent.index_size << " bytes of index, info hash " << hash << ") on " << self
            << "; stop with SIGINT or SIGTERM\n";
  if (peers.empty())
    std::cerr << "no interface address to advertise, so the magnet link names no peer; members "
                 "find this seed through the DHT and trackers\n";

  auto next_status = steady::now() + seed_status_interval;
  transfer_printer printer;
  for (;;) {
    for (const auto& event : session->poll(poll_interval))
      if (event.what == torrent_event::kind::error)
        std::cerr << "annals: " << event.message << "\n";
    if (auto signal = signals.take()) {
      printer.finish();
      std::cerr << "stopping on " << signal << "\n";
      return;
    }
    if (steady::now() < next_status)
      continue;
    next_status += seed_status_interval;
    auto progress = take(session->progress(hash));
    if (!progress.error.empty())
      fail(make_error(errc::io, "seeding stopped: " + progress.error));
    char line[160];
    std::snprintf(line, sizeof line, "seeding: %d peer%s, uploaded %.1f MB at %.1f MB/s",
                  progress.num_peers, progress.num_peers == 1 ? "" : "s",
                  double(progress.total_upload) / 1e6, double(progress.upload_rate) / 1e6);
    printer.update(line);
  }
}

// --- fetch -----------------------------------------------------------------

struct fetch_options {
  std::string source;  // a magnet link or a .torrent file
  std::string out;
  std::vector<std::string> peers;
  unsigned timeout = 120;
  unsigned metadata_timeout = 20;
  std::string keys_file;
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

/// The community the member means to fetch, known before any peer speaks:
/// the magnet link's dn (status-go's links always carry it) or the
/// .torrent's name. It must be a community ID as status-go spells it.
std::string expected_community(const std::string& source, bool from_magnet) {
  std::string name;
  if (from_magnet) {
    // The info hash first: libtorrent refuses a link with a bad xt whole,
    // and "no dn" would then name the wrong part.
    if (!magnet_info_hash(source))
      fail(make_error(errc::invalid_argument,
                      "magnet link has no xt=urn:btih:<40 hex digits> (a v1 info hash)"),
           exit_bad_input);
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

/// Stops the actors of a command when it ends, however it ends, so the
/// actor system's destructor does not wait on them.
struct stop_actors {
  std::vector<caf::actor> actors;
  ~stop_actors() {
    for (auto& actor : actors)
      caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  }
};

/// Asks the distribution backend; a failed reply ends the command.
template <class Reply, class... Ts>
Reply ask_backend(caf::actor_system& sys, caf::scoped_actor& self,
                  const archive_distribution_actor& backend, const std::string& context,
                  Ts&&... xs) {
  std::optional<Reply> out;
  caf::error failed;
  self->request(backend, std::chrono::seconds(30), std::forward<Ts>(xs)...)
    .receive([&](Reply& reply) { out = std::move(reply); },
             [&](caf::error& err) { failed = std::move(err); });
  if (!out)
    fail(sys, failed, context);
  return std::move(*out);
}

/// A member's fetch into a fresh directory: the same member sequence
/// (core/member_fetch) and BitTorrent backend (actors/torrent_distribution)
/// as a node's downloader, with nothing recorded in a store.
void run_fetch(const fetch_options& options) {
  auto started = steady::now();
  auto deadline = started + std::chrono::seconds(options.timeout);
  bool from_magnet = is_magnet_link(options.source);
  auto expected = expected_community(options.source, from_magnet);
  archive_layout layout{options.out, expected};

  bool loopback = !options.peers.empty() &&
                  std::all_of(options.peers.begin(), options.peers.end(),
                              [](const auto& peer) { return is_loopback_host(host_of(peer)); });
  auto session_options = loopback ? loopback_session_options() : torrent_session_options{};
  // Archives then land one after another and are checked as they do, so
  // the check is done when the last one arrives.
  session_options.sequential_fetch = true;
  auto session = take(torrent_session::start(session_options));
  node_system_config config;
  caf::actor_system sys{config};
  auto bus = sys.spawn(signal_bus);
  torrent_distribution_config backend_config;
  backend_config.archive_root = options.out;
  auto backend = sys.spawn(torrent_distribution, backend_config,
                           std::shared_ptr<torrent_session>(std::move(session)), bus);
  stop_actors stop{{caf::actor_cast<caf::actor>(backend), caf::actor_cast<caf::actor>(bus)}};
  caf::scoped_actor self{sys};
  auto source = from_magnet ? options.source : std::filesystem::absolute(options.source).string();
  auto start = [&] {
    return ask_backend<std::string>(sys, self, backend, "cannot fetch " + options.source,
                                    fetch_atom::value, expected, source, options.peers);
  };
  auto hash = start();
  std::cerr << "fetching " << expected << " (info hash " << hash << ") into " << options.out
            << "\n";

  member_fetch_options limits;
  limits.locate_timeout = std::chrono::seconds(options.metadata_timeout);
  if (!options.keys_file.empty())
    limits.keys = std::make_shared<const hr_keyring>(take(load_hr_keys(options.keys_file), "--keys"));
  member_fetch fetch(expected, options.out, {}, limits, steady::now());
  fetch_progress progress;
  std::uint64_t wanted_bytes = 0;
  std::size_t fetched_messages = 0;
  std::vector<std::string> content_problems;  // each archive's, checked as it arrived
  auto next_report = steady::now();
  transfer_printer printer;
  // The rate over the last few seconds, from the bytes in place: what
  // libtorrent's own figure says can lag or read 0 while pieces land.
  std::deque<std::pair<steady::time_point, std::uint64_t>> samples;
  std::optional<steady::time_point> archives_started;
  auto recent_rate = [&](std::uint64_t bytes) -> std::uint64_t {
    auto now = steady::now();
    samples.emplace_back(now, bytes);
    while (samples.size() > 2 && now - samples.front().first > std::chrono::seconds(5))
      samples.pop_front();
    auto span = std::chrono::duration<double>(now - samples.front().first).count();
    if (span < 0.5 || bytes < samples.front().second)
      return progress.rate;
    return std::max<std::uint64_t>(
      progress.rate, static_cast<std::uint64_t>(double(bytes - samples.front().second) / span));
  };
  auto report = [&](bool done) {
    if (!done && steady::now() < next_report)
      return;
    next_report = steady::now() + fetch_progress_interval;
    if (wanted_bytes == 0) {
      // Before the index: which phase, and who is there.
      if (fetch.at() == member_fetch::phase::locate)
        printer.update("waiting for metadata: " + counted(progress.peers, "peer") + " connected, "
                       + format_seconds(seconds_since(started)) + " so far");
      return;
    }
    auto bytes = done ? wanted_bytes : std::min(progress.wanted_done, wanted_bytes);
    auto missing = fetch.missing().size();
    printer.update("fetched " + std::to_string(bytes * 100 / wanted_bytes) + "%: "
                   + transfer_figures(bytes, wanted_bytes, done ? 0 : recent_rate(bytes),
                                      progress.peers)
                   + ", " + std::to_string(fetch.recorded()) + " of "
                   + counted(missing, "archive"));
    if (done) {
      printer.finish();
      auto total = seconds_since(started);
      auto transfer = archives_started ? seconds_since(*archives_started) : total;
      char line[200];
      std::snprintf(line, sizeof line,
                    "fetched %.1f MB in %s (archives in %s, average %.1f MB/s)",
                    double(progress.received) / 1e6, format_seconds(total).c_str(),
                    format_seconds(transfer).c_str(),
                    transfer > 0 ? double(wanted_bytes) / 1e6 / transfer : 0.0);
      std::cerr << line << "\n";
    }
  };
  for (bool complete = false; !complete;) {
    if (steady::now() >= deadline) {
      auto message = "timed out " + std::string(fetch.at() == member_fetch::phase::locate
                                                  ? "waiting for the archive set's metadata"
                                                  : "with " + std::to_string(fetch.recorded())
                                                      + " of "
                                                      + std::to_string(fetch.missing().size())
                                                      + " archives fetched")
                     + " (--timeout " + std::to_string(options.timeout) + " s)";
      if (!progress.peer_error.empty())
        message += "; last peer error: " + progress.peer_error;
      fail(make_error(errc::io, message));
    }
    std::this_thread::sleep_for(poll_interval);
    progress = ask_backend<fetch_progress>(sys, self, backend, hash, progress_atom::value,
                                           expected);
    auto step = fetch.advance(progress, steady::now());
    switch (step.kind) {
      case member_step::wait:
        report(false);
        break;
      case member_step::relocate:
        printer.finish();
        std::cerr << "no metadata after " << options.metadata_timeout << " s; "
                  << (options.peers.empty()
                        ? std::string("asking the magnet link's peers, the DHT and trackers again")
                        : "dialling " + counted(options.peers.size(), "--peer address")
                            + " again")
                  << "\n";
        start();
        break;
      case member_step::want_index:
        take(create_private_dirs(layout.archive_dir()));
        printer.finish();
        std::cerr << "metadata after " << format_seconds(seconds_since(started)) << " from "
                  << counted(progress.peers, "peer")
                  << "; fetching the index (" << fetch.summary().index_size << " bytes)\n";
        self->send(backend, index_atom::value, expected, step.with_data);
        break;
      case member_step::want_archives:
        wanted_bytes = fetch.summary().index_size;
        for (const auto& archive : fetch.missing())
          wanted_bytes += archive.entry.size();
        // All at once, which keeps every connection busy; status-go waits
        // for each archive before it asks for the next.
        std::cerr << "fetching " << counted(step.slots.size(), "archive") << " ("
                  << fetch.summary().data_size << " bytes)\n";
        archives_started = steady::now();
        self->send(backend, want_atom::value, expected, std::move(step.slots));
        break;
      case member_step::record:
        for (const auto& archive : step.archives) {
          auto checked = verify_archive_contents(layout.data_file(), archive.entry, limits.keys.get());
          if (checked)
            fetched_messages += *checked;
          else
            content_problems.push_back(archive.id + ": " + checked.error().message);
        }
        report(step.last);
        complete = step.last;
        break;
      case member_step::complete:
        complete = true;
        break;
      case member_step::refuse:
        fail(make_error(errc::verification_failed, "refused before fetching any piece: "
                                                     + step.reason));
      case member_step::fail:
        fail(make_error(step.code, step.reason), exit_failure);
    }
  }

  // The fetched directory is a complete archive set, so it can be inspected
  // and seeded like a built one.
  ask_backend<bool>(sys, self, backend, "saving the torrent", save_atom::value, expected);
  // The structure of the whole directory; each archive's contents were
  // checked as it arrived. No second SHA-1 pass over the files: libtorrent
  // checked every piece against the torrent as it arrived (and any it found
  // in --out on start).
  auto verified = take_fetched(verify_archive_dir(layout.archive_dir(), false, limits.keys.get()),
                               "fetched archives");
  auto problems = content_problems;
  problems.insert(problems.end(), verified.problems.begin(), verified.problems.end());
  for (const auto& problem : problems)
    std::cerr << "annals: verification failed: " << problem << "\n";
  if (!problems.empty())
    fail(make_error(errc::verification_failed, std::to_string(problems.size()) +
                                                 " problem(s) in the fetched archives"));
  auto messages = fetched_messages;
  std::cout << json_text(json{{"community_id", expected},
                    {"info_hash", hash},
                    {"archive_dir", layout.archive_dir().string()},
                    {"archives", verified.archives.size()},
                    {"messages", messages},
                    {"bytes_downloaded", progress.received},
                    {"seconds", seconds_since(started)}},
                       2)
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
  seed->add_option("--external-address", s->external_address,
                   "IP:PORT peers reach this seed at when it cannot see that address itself "
                   "(NAT, a port forward): the magnet link's x.pe and the IP told to trackers");
  seed->add_flag("--no-trackers", s->no_trackers,
                 "Do not announce to the torrent's trackers (peers find the seed through its "
                 "magnet link's x.pe, or the DHT)");
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
  fetch->add_option("--keys", f->keys_file,
                    "Keys file to open a token-gated community's index and archives");
  fetch->callback([f] { run_fetch(*f); });
}

} // namespace annals::app
