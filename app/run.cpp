// `annals run --config FILE`: a standalone node. It owns and/or joins
// communities, keeps their archives, seeds them over BitTorrent and speaks
// Waku relay on the network through the libp2p host, until SIGINT/SIGTERM.
#include "actors/libp2p_relay.hpp"
#include "storage/store_server.hpp"
#include "actors/inprocess_relay.hpp"
#include "actors/node.hpp"
#include "actors/signal_bus.hpp"
#include "app/actor_errors.hpp"
#include "app/commands.hpp"
#include "app/own_enr.hpp"
#include "app/progress.hpp"
#include "actors/traffic_generator.hpp"
#include "app/rest.hpp"
#include "app/run_config.hpp"
#include "app/status_page.hpp"
#include "core/file_io.hpp"
#include "core/hex.hpp"
#include <annals/log.hpp>
#include "net/http_server.hpp"
#include "net/p2p/host.hpp"

#include <caf/all.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>
#include <iostream>
#include <mutex>
#include <optional>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace annals::app {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;


/// ", 12.0/40.0 MB at 3.1 MB/s, ETA 9 s, 2 peers" for a running download.
std::string download_figures(const community_status& s) {
  if (s.download_bytes_total == 0)
    return ", " + std::to_string(s.download_peers) + " peers";
  return ", " + transfer_figures(s.download_bytes_done, s.download_bytes_total, s.download_rate,
                                 s.download_peers);
}

std::atomic<bool> stop_requested{false};
/// The signal handler writes a byte here, so the main thread sleeps in
/// poll() until a signal or its next duty instead of waking to look.
int stop_pipe[2] = {-1, -1};

std::atomic<bool> reload_requested{false};

extern "C" void on_reload_signal(int) {
  reload_requested = true;
  if (stop_pipe[1] >= 0) {
    auto wrote = ::write(stop_pipe[1], "h", 1);
    (void)wrote;
  }
}

extern "C" void on_stop_signal(int) {
  stop_requested = true;
  if (stop_pipe[1] >= 0) {
    auto wrote = ::write(stop_pipe[1], "x", 1);
    (void)wrote;
  }
}

/// Sleeps until `until` (none: for good) or a stop signal.
void wait_for_stop(std::optional<std::chrono::steady_clock::time_point> until) {
  int timeout = -1;
  if (until) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      *until - std::chrono::steady_clock::now());
    timeout = static_cast<int>(std::clamp<std::int64_t>(left.count() + 1, 0, 3'600'000));
  }
  pollfd fd{stop_pipe[0], POLLIN, 0};
  if (::poll(&fd, 1, timeout) > 0) {
    char drained[16];
    auto got = ::read(stop_pipe[0], drained, sizeof drained);
    (void)got;
  }
}


/// Where the node's signals go for the status page's /events: the REST
/// server once it listens (set and cleared by run_node).
struct event_fanout {
  std::mutex mutex;
  http_server* server = nullptr;
};

signal_sink_actor::behavior_type event_forwarder(signal_sink_actor::pointer,
                                                 std::shared_ptr<event_fanout> fanout) {
  return {
    [fanout](const signal& s) {
      std::lock_guard lock(fanout->mutex);
      if (fanout->server)
        fanout->server->publish_event(to_json_line(s));
    },
  };
}

struct run_flags {
  std::string config_file;
  double seconds = 0;
  bool until_synced = false;
  unsigned status_interval = 60;
  std::string log_level;   // empty: [log] level, else info
  std::string log_format;  // empty: [log] format, else text
  std::string log_file;    // empty: [log] file, else the terminal
  bool probe_scheduler = false;
  bool check = false;
};

/// Reopens `f` (which others write through) on `path` in place. A path
/// that cannot be appended to is refused first, as std::freopen would
/// leave `f` closed.
result<void> reopen_append(std::FILE* f, const std::string& path) {
  std::FILE* probe = std::fopen(path.c_str(), "a");
  if (!probe)
    return make_error(errc::io, path + ": cannot open for appending: " + std::strerror(errno));
  std::fclose(probe);
  std::fflush(f);
  if (!std::freopen(path.c_str(), "a", f))
    return make_error(errc::io, path + ": cannot reopen: " + std::strerror(errno));
  return ok_result();
}

/// Which log settings apply: the command line's, else the config's, else
/// the defaults.
log_options effective_logging(const run_flags& flags, const run_config& c, std::FILE* out) {
  log_options logging;
  auto level = !flags.log_level.empty() ? flags.log_level
               : !c.log_level.empty()   ? c.log_level
                                        : std::string("info");
  auto format = !flags.log_format.empty() ? flags.log_format
                : !c.log_format.empty()   ? c.log_format
                                          : std::string("text");
  logging.level = parse_log_level(level).value_or(log_level::info);
  logging.format = parse_log_format(format).value_or(log_format::text);
  logging.out = out;
  return logging;
}

void run_node(const run_flags& flags) {
  const auto& config_file = flags.config_file;
  auto seconds = flags.seconds;
  auto until_synced = flags.until_synced;
  auto status_interval = flags.status_interval;
  // Errors from here on follow --log-format (a JSON log shipper reads them).
  {
    log_options early;
    early.format = parse_log_format(flags.log_format).value_or(log_format::text);
    configure_log(early);
  }
  auto c = take(load_run_config(config_file), "config");
  if (flags.check) {
    // Every check run makes before it binds or writes anything.
    std::cout << "config ok: " << config_file << " (data_dir " << c.data_dir.string() << ", "
              << c.owned.size() << " owned and " << c.joined.size() << " joined communities)\n";
    return;
  }
  // From here on SIGINT/SIGTERM stop the node cleanly, however early:
  // a service manager may stop it while it is still starting.
  if (stop_pipe[0] < 0 && ::pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    fail(std::string("cannot create a pipe: ") + std::strerror(errno));
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  // SIGHUP reloads the config (see reload below); until the loop runs it is
  // remembered, never fatal.
  std::signal(SIGHUP, on_reload_signal);
  std::error_code ec;
  fs::create_directories(c.data_dir, ec);
  if (ec)
    fail("data_dir " + c.data_dir.string() + ": " + ec.message());
  // One node per data_dir: a second one is told which process holds it.
  auto held = take(dir_lock::acquire(c.data_dir));
  // A taken port is named with its config key before anything listens.
  take(check_listen_ports(c));
  auto p = std::make_shared<progress>();
  if (c.events == "-")
    p->out = stderr;  // stdout carries the JSON events alone
  // --log-file (relative to the working directory) or [log] file (relative
  // to the config's): progress lines and log lines both go there, and a
  // reload reopens it (logrotate's postrotate sends SIGHUP).
  std::string log_path = !flags.log_file.empty() ? flags.log_file : c.log_file;
  std::FILE* log_file = nullptr;
  if (!log_path.empty()) {
    log_file = std::fopen(log_path.c_str(), "a");
    if (!log_file)
      fail(log_path + ": cannot open the log file for appending: " + std::strerror(errno));
    std::setvbuf(log_file, nullptr, _IOLBF, 0);
    p->out = log_file;
  }
  configure_log(effective_logging(flags, c, p->out));
  node_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};

  relay_actor relay;
  std::optional<libp2p_relay_actor> network_relay;  // for live static peers
  std::shared_ptr<store_query_server> store_server;
  if (c.libp2p) {
    std::error_code exists_ec;
    if (!fs::exists(c.relay_key_file, exists_ec)) {
      take(private_key::generate().save(c.relay_key_file), "relay key");
      p->line("relay", "created node key " + c.relay_key_file.string());
    }
    c.relay.identity = take(private_key::load(c.relay_key_file), "relay key");
    c.relay.agent_version = std::string("annals/") + ANNALS_VERSION;
    if (c.waku_store.serve) {
      store_server = std::make_shared<store_query_server>();
      c.relay.store_query = [store_server](const std::string& peer, std::string_view request) {
        return store_server->answer(peer, request);
      };
    }
    // With discv5 the host needs the record it hands out as soon as it
    // listens (the UDP port may be picked then); it is the one printed below.
    auto discv5_record = std::make_shared<std::optional<enr_record>>();
    if (c.relay.discv5.enabled)
      c.relay.local_record = [cp = &c, discv5_record](const std::vector<std::string>& advertised,
                                                      std::uint16_t udp) -> result<enr_record> {
        auto r = own_enr(cp->relay.identity, node_enr_fields(*cp, advertised, udp),
                         own_enr_file(*cp));
        if (r)
          *discv5_record = *r;
        return r;
      };
    // The host's lines go to the process logger at their own level.
    auto spawned = spawn_libp2p_relay(sys, c.relay);
    if (!spawned)
      fail(sys, spawned.error());
    std::string id;
    std::vector<std::string> addrs;
    self->request(*spawned, 10s, listen_atom::value)
      .receive([&](const std::string& peer, const std::vector<std::string>& listening) {
                 id = peer;
                 addrs = listening;
               },
               [&](const caf::error& err) { fail(sys, err); });
    p->line("relay", "peer ID " + id);
    for (const auto& a : addrs)
      p->line("relay", "listening " + a);
    // The record discovery hands out: its sequence number goes up only when
    // the addresses, capabilities or shards change.
    if (*discv5_record)
      p->line("relay", "enr " + discv5_record->value().text() + " (discv5 on udp "
                         + std::to_string(*discv5_record->value().fields.udp) + ")");
    else if (auto record = own_enr(c.relay.identity, node_enr_fields(c, addrs), own_enr_file(c)))
      p->line("relay", "enr " + record->text());
    else
      p->line("relay", "no node record: " + record.error().message);
    relay = *spawned;
    network_relay = *spawned;
  } else {
    relay = sys.spawn(inprocess_relay);
    p->line("relay", "in-process relay (no network)");
  }

  node_config config;
  config.data_dir = c.data_dir;
  config.torrent = c.torrent;
  config.archives = c.archives;
  config.store = c.store;
  config.waku_store = c.waku_store;
  config.waku_store.sync = c.waku_store.sync && c.libp2p;
  config.probe_scheduler = flags.probe_scheduler;
  config.relay = relay;
  config.subscribers.push_back(
    c.owned.empty() ? caf::actor_cast<signal_sink_actor>(sys.spawn(member_progress, p, std::string("node")))
                    : caf::actor_cast<signal_sink_actor>(sys.spawn(owner_progress, p, std::string("node"))));
  std::FILE* events_file = add_event_writer(sys, config, c.events);
  auto fanout = std::make_shared<event_fanout>();
  auto history = std::make_shared<status_history>();
  if (!c.rest_listen.empty())
    config.subscribers.push_back(sys.spawn(event_forwarder, fanout));
  node_hooks hooks;
  hooks.store_server = store_server;
  auto node = spawn_node(sys, config, hooks);
  if (!node)
    fail(sys, node.error());
  // The REST API reads the node from its own thread: it stops first.
  std::unique_ptr<http_server> rest;
  if (!c.rest_listen.empty()) {
    http_server_options options;
    options.listen = c.rest_listen;
    std::shared_ptr<rest_source> source = make_node_rest_source(sys, *node, relay);
    rest_identity identity{ANNALS_VERSION, ANNALS_REVISION, unix_ms_now(), history};
    auto started_rest = http_server::start(options, [source, identity](const http_request& r) {
      return route_rest(r, *source, identity);
    });
    if (!started_rest) {
      self->send_exit(*node, caf::exit_reason::user_shutdown);
      self->send_exit(relay, caf::exit_reason::user_shutdown);
      fail(started_rest.error());
    }
    rest = std::move(*started_rest);
    {
      std::lock_guard lock(fanout->mutex);
      fanout->server = rest.get();
    }
    p->line("rest", "serving http://" + rest->listen_address()
                      + " (status page at /; /health, /metrics, /archive/v1/communities)");
  }
  std::vector<caf::actor> helpers;
  auto shutdown = [&] {
    {
      std::lock_guard lock(fanout->mutex);
      fanout->server = nullptr;
    }
    rest.reset();
    for (auto& h : helpers)
      self->send_exit(h, caf::exit_reason::user_shutdown);
    self->send_exit(*node, caf::exit_reason::user_shutdown);
    self->send_exit(relay, caf::exit_reason::user_shutdown);
  };
  auto failed = [&](const caf::error& err) {
    shutdown();
    fail(sys, err);
  };

  // Synthetic channel traffic, posted as a Status client would (owners and
  // members alike).
  auto start_traffic = [&](synthetic_community community, const traffic_spec& spec,
                           const std::string& id) {
    traffic_options traffic{spec.messages, spec.rate, 8, spec.payload};
    traffic.late_share = spec.late_share;
    traffic.late_by = spec.late_by;
    traffic.seed = spec.seed;
    traffic.community_id = id;
    traffic.wait_for_peers = c.libp2p && spec.wait_for_peers;
    // Detached: sealing the first message of each channel derives its key
    // (PBKDF2, ~20 ms), which must not stall the node's scheduler.
    auto generator = sys.spawn<caf::detached>(traffic_generator, std::move(community), traffic, relay);
    helpers.push_back(caf::actor_cast<caf::actor>(generator));
    p->line("traffic", "posting " + std::to_string(spec.messages) + " synthetic messages to "
                         + id.substr(0, 10) + "…");
  };
  std::vector<std::string> member_ids, owner_ids;
  for (const auto& o : c.owned) {
    std::string id;
    self->request(*node, 30s, create_atom::value, community_spec{o.key_hex, o.channels, o.encrypted, o.keys_file})
      .receive([&](const std::string& community) { id = community; }, failed);
    p->line("node", "owns community " + id + " (" + counted(o.channels.size(), "channel") + ")");
    owner_ids.push_back(id);
    if (o.traffic.messages > 0) {
      auto key = take(private_key::from_bytes(*from_hex(o.key_hex)), "owner key");
      start_traffic(synthetic_community::from_key(key, o.channels), o.traffic, id);
    }
  }
  for (const auto& j : c.joined) {
    const auto& m = j.spec;
    self->request(*node, 30s, join_atom::value, m)
      .receive([&](const std::string&) {}, failed);
    member_ids.push_back(m.community_id);
    p->line("node", "joined community " + m.community_id);
    if (j.traffic.messages > 0)
      start_traffic(synthetic_community::from_id(*public_key::from_community_id(m.community_id),
                                                 m.channel_ids),
                    j.traffic, m.community_id);
  }

  auto started = std::chrono::steady_clock::now();
  auto next_status = started + std::chrono::seconds(status_interval);
  // The status page's charts: one sample now, then one per interval.
  auto next_sample = started;
  auto sample_history = [&] {
    self->request(*node, 10s, status_atom::value)
      .receive([&](const std::vector<component_status>& parts) { history->record(parts, unix_ms_now()); },
               [&](const caf::error&) {});
  };
  // The joined communities' state, asked once per use. A node too busy to
  // answer in time (a slow disk, a saturated machine) is still running:
  // that is worth a line, never an exit.
  std::size_t status_timeouts = 0;
  auto member_statuses = [&] {
    std::vector<community_status> out;
    for (const auto& id : member_ids)
      self->request(*node, 10s, status_atom::value, id)
        .receive([&](const community_status& s) { out.push_back(s); },
                 [&](const caf::error& err) {
                   if (status_timeouts++ % 10 == 0)
                     log_warn("node", "status of " + id + " not read: " + sys.render(err));
                 });
    return out;
  };
  auto print_status = [&] {
    // The same records REST and /metrics serve.
    self->request(*node, 10s, status_atom::value)
      .receive(
        [&](const std::vector<component_status>& parts) {
          for (const auto& part : parts)
            if (part.component == "relay" || part.component == "distribution" || !part.healthy)
              p->line(part.component, status_line(part));
        },
        [&](const caf::error&) {});
    for (const auto& s : member_statuses())
      p->line("node", s.community_id.substr(0, 10) + "…: " + std::to_string(s.imported) + "/"
                        + std::to_string(s.archives) + " archives imported, "
                        + std::to_string(s.messages) + " messages"
                        + (s.download.empty() ? std::string() : "; " + s.download)
                        + (s.download.empty() ? std::string() : download_figures(s))
                        + (s.last_error.empty() ? std::string()
                                                : "; last download failed: " + s.last_error)
                        + (s.missing_key.empty()
                             ? std::string()
                             : "; waiting for hash-ratchet key " + s.missing_key
                                 + " (add it to the keys file)")
                        + [&] {
                            std::string out;
                            for (const auto& w : s.warnings)
                              out += "; " + w;
                            return out;
                          }());
    // An owner's history is kept only once archived: what is not yet shows.
    for (const auto& id : owner_ids)
      self->request(*node, 10s, status_atom::value, id)
        .receive(
          [&](const community_status& s) {
            p->line("node", s.community_id.substr(0, 10) + "… (owned): "
                              + std::to_string(s.messages) + " messages stored, "
                              + std::to_string(s.unarchived) + " not archived yet, "
                              + std::to_string(s.archives) + " archives");
          },
          [&](const caf::error&) {});
  };
  // Synced: the newest link any store peer or relay peer knows was asked
  // for since start, the newest accepted link was fetched whole, nothing is
  // downloading, and every archive held is imported. A link remembered from
  // before a crash is not enough: a newer one may be half fetched.
  auto synced = [](const std::vector<community_status>& statuses) {
    return std::all_of(statuses.begin(), statuses.end(), [](const community_status& s) {
      return s.links_checked && s.download.empty() && !s.last_magnet_uri.empty()
             && s.completed_clock >= s.magnetlink_clock && s.archives > 0
             && s.imported >= s.archives;
    });
  };
  // SIGHUP: re-read the config; apply what can change live, name what
  // cannot, and keep the running config if the new one is refused.
  auto reload = [&] {
    log_info("config", "SIGHUP: reloading " + config_file);
    auto fresh = load_run_config(config_file);
    if (!fresh) {
      log_error("config", "reload refused, the running config stays: " + fresh.error().message);
      return;
    }
    auto& n = *fresh;
    std::vector<std::string> kept;
    auto restart_only = [&](bool changed, const char* key) {
      if (changed)
        kept.push_back(key);
    };
    restart_only(n.data_dir != c.data_dir, "data_dir");
    restart_only(n.libp2p != c.libp2p, "relay.mode");
    restart_only(n.relay.listen != c.relay.listen, "relay.listen");
    restart_only(n.relay.external_addresses != c.relay.external_addresses,
                 "relay.external_addresses");
    restart_only(n.relay.discv5.enabled != c.relay.discv5.enabled
                   || n.relay.discv5.listen != c.relay.discv5.listen
                   || n.relay.discv5.bootstrap != c.relay.discv5.bootstrap,
                 "discovery.discv5");
    restart_only(n.relay.dns.trees != c.relay.dns.trees, "discovery.dns");
    restart_only(n.relay.target_peers != c.relay.target_peers, "relay.target_peers");
    restart_only(n.relay_key_file != c.relay_key_file, "relay.key_file");
    restart_only(n.torrent.listen != c.torrent.listen, "torrent.listen");
    restart_only(n.rest_listen != c.rest_listen, "rest.listen");
    restart_only(n.archives.interval != c.archives.interval
                   || n.archives.republish_interval != c.archives.republish_interval
                   || n.archives.welcome_gap != c.archives.welcome_gap,
                 "archives");
    restart_only(n.events.empty() != c.events.empty() || (n.events == "-") != (c.events == "-"),
                 "events (to or from none or stdout)");
    restart_only(flags.log_file.empty() && n.log_file.empty() != c.log_file.empty(),
                 "log.file (to or from the terminal)");
    // Logging: the command line's flags still win.
    configure_log(effective_logging(flags, n, p->out));
    // Files reopen in place: after logrotate moved them, or at a new path.
    if (log_file) {
      auto path = !flags.log_file.empty() ? flags.log_file
                  : !n.log_file.empty()   ? n.log_file
                                          : c.log_file;
      if (auto ok = reopen_append(log_file, path); !ok)
        log_error("config", "log file not reopened: " + ok.error().message);
      else if (flags.log_file.empty())
        c.log_file = path;
    }
    if (events_file && events_file != stdout && !n.events.empty() && n.events != "-") {
      if (auto ok = reopen_append(events_file, n.events); !ok)
        log_error("config", "events file not reopened: " + ok.error().message);
      else
        c.events = n.events;
    }
    // Static peers: new ones dialled, dropped ones no longer redialled.
    if (network_relay && n.relay.static_peers != c.relay.static_peers) {
      self->send(*network_relay, peers_atom::value, n.relay.static_peers);
      c.relay.static_peers = n.relay.static_peers;
    }
    // Communities: new ones are joined or created; leaving takes a restart.
    for (const auto& j : n.joined) {
      auto known = std::any_of(member_ids.begin(), member_ids.end(),
                               [&](const auto& id) { return id == j.spec.community_id; });
      if (known)
        continue;
      bool ok = false;
      self->request(*node, 30s, join_atom::value, j.spec)
        .receive([&](const std::string&) { ok = true; },
                 [&](const caf::error& err) {
                   log_error("config", "joining " + j.spec.community_id + " failed: "
                                         + sys.render(err));
                 });
      if (ok) {
        member_ids.push_back(j.spec.community_id);
        c.joined.push_back(j);
        p->line("node", "joined community " + j.spec.community_id + " (reload)");
      }
    }
    for (const auto& o : n.owned) {
      auto known = std::any_of(c.owned.begin(), c.owned.end(),
                               [&](const auto& mine) { return mine.community_id == o.community_id; });
      if (known)
        continue;
      std::string id;
      self->request(*node, 30s, create_atom::value,
                    community_spec{o.key_hex, o.channels, o.encrypted, o.keys_file})
        .receive([&](const std::string& community) { id = community; },
                 [&](const caf::error& err) {
                   log_error("config", "owning " + o.community_id + " failed: " + sys.render(err));
                 });
      if (!id.empty()) {
        owner_ids.push_back(id);
        c.owned.push_back(o);
        p->line("node", "owns community " + id + " (reload)");
      }
    }
    auto gone = [](const auto& running, const auto& wanted, auto id_of) {
      std::size_t n = 0;
      for (const auto& r : running)
        n += std::none_of(wanted.begin(), wanted.end(),
                          [&](const auto& w) { return id_of(w) == id_of(r); });
      return n;
    };
    if (gone(c.joined, n.joined, [](const joined_community& j) { return j.spec.community_id; }) > 0
        || gone(c.owned, n.owned, [](const owned_community& o) { return o.community_id; }) > 0)
      kept.push_back("community (leaving one)");
    for (const auto& key : kept)
      log_warn("config", std::string(key) + " changed: that takes a restart; the running value stays");
    log_info("config", "reloaded " + config_file
                         + (kept.empty() ? std::string()
                                         : " (" + std::to_string(kept.size())
                                             + " change(s) wait for a restart)"));
  };
  while (!stop_requested) {
    // Woken for the next status line, the time limit, the synced check
    // (once a second) or a signal; an idle node's main thread sleeps.
    std::optional<std::chrono::steady_clock::time_point> until;
    auto sooner = [&](std::chrono::steady_clock::time_point t) {
      until = until ? std::min(*until, t) : t;
    };
    if (status_interval > 0)
      sooner(next_status);
    if (seconds > 0)
      sooner(started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double>(seconds)));
    if (until_synced)
      sooner(std::chrono::steady_clock::now() + 1s);
    if (rest)
      sooner(next_sample);
    wait_for_stop(until);
    if (stop_requested)
      break;
    if (reload_requested.exchange(false))
      reload();
    if (rest && std::chrono::steady_clock::now() >= next_sample) {
      sample_history();
      next_sample = std::chrono::steady_clock::now() + std::chrono::seconds(history->interval_seconds());
    }
    if (status_interval > 0 && std::chrono::steady_clock::now() >= next_status) {
      print_status();
      next_status = std::chrono::steady_clock::now() + std::chrono::seconds(status_interval);
    }
    if (seconds > 0 && std::chrono::steady_clock::now() - started > std::chrono::duration<double>(seconds)) {
      if (until_synced) {
        shutdown();
        fail("not synced within " + std::to_string(seconds) + " s");
      }
      break;
    }
    if (until_synced) {
      auto statuses = member_statuses();
      // A community whose status was not read counts as not synced.
      if (statuses.size() == member_ids.size() && synced(statuses)) {
        for (const auto& s : statuses)
          p->line("node", "synced " + s.community_id + ": " + counted(s.archives, "archive")
                            + ", " + counted(s.messages, "message"));
        break;
      }
    }
  }
  p->line("node", "stopping");
  shutdown();
}

} // namespace

void add_run_command(CLI::App& app) {
  auto flags = std::make_shared<run_flags>();
  auto* file = &flags->config_file;
  auto* seconds = &flags->seconds;
  auto* until_synced = &flags->until_synced;
  auto* status_interval = &flags->status_interval;
  auto* cmd = app.add_subcommand(
    "run", "Run a node from a TOML config: own and/or join communities, seed their archives, "
           "relay on the Waku network; prints its peer ID and listen multiaddrs");
  cmd->add_option("--config", *file, "TOML file (see docs/configuration.md)")->required();
  cmd->add_option("--seconds", *seconds, "Stop after S seconds (0: run until SIGINT/SIGTERM)")
    ->check(finite_non_negative);
  cmd->add_flag("--until-synced", *until_synced,
                "Exit 0 once every joined community has imported all archives of a verified "
                "magnet link (with --seconds: fail if that takes longer)");
  cmd->add_option("--status-interval", *status_interval,
                  "Print relay counters and sync state every S seconds (0: never)")
    ->capture_default_str();
  cmd->add_flag("--probe-scheduler", flags->probe_scheduler,
                "Measure how late a 10 ms timer fires on the node's scheduler (status, "
                "/metrics: annals_scheduler_lateness_ms)");
  cmd->add_flag("--check", flags->check,
                "Check the config file as run would and exit (0: usable, 2: the error, naming "
                "file, line and key); binds and writes nothing");
  cmd->add_option("--log-level", flags->log_level,
                  "Least severe log lines written (default: [log] level, else info)")
    ->check(CLI::IsMember({"error", "warn", "info", "debug"}));
  cmd->add_option("--log-format", flags->log_format,
                  "text or json (default: [log] format, else text); fatal errors follow it")
    ->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("--log-file", flags->log_file,
                  "Append log and progress lines to FILE (reopened on SIGHUP) instead of the "
                  "terminal");
  cmd->callback([=] { run_node(*flags); });
}

} // namespace annals::app
