// `annals run --config FILE`: a standalone node. It owns and/or joins
// communities, keeps their archives, seeds them over BitTorrent and speaks
// Waku relay on the network through the libp2p host, until SIGINT/SIGTERM.
#include "actors/libp2p_relay.hpp"
#include "actors/inprocess_relay.hpp"
#include "actors/node.hpp"
#include "actors/signal_bus.hpp"
#include "app/actor_errors.hpp"
#include "app/commands.hpp"
#include "app/progress.hpp"
#include "actors/traffic_generator.hpp"
#include "app/rest.hpp"
#include "core/hex.hpp"
#include "core/log.hpp"
#include "net/http_server.hpp"
#include "net/p2p/host.hpp"

#include <caf/all.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <thread>

namespace annals::app {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct owned_community {
  std::string key_hex;
  std::vector<std::string> channels;
  bool encrypted = false;  // token-gated: archives sealed with keys_file's newest key
  std::string keys_file;   // hash-ratchet keys (annals hrkey)
  std::size_t traffic_messages = 0;  // synthetic channel traffic to post (tests, demos)
  double traffic_rate = 1000;
  double traffic_late_share = 0;     // share of messages with a past timestamp
  std::uint64_t traffic_late_by = 0; // seconds in the past, at most
};

/// `annals run` re-announces links to relay peers that appear (a network
/// relay's members connect after announcements).
archive_settings run_archive_defaults() {
  archive_settings archives;
  archives.welcome_gap = 60;
  return archives;
}

struct run_config {
  fs::path data_dir;
  std::string events;
  torrent_settings torrent;
  // relay
  bool libp2p = true;
  fs::path relay_key_file;
  p2p::host_config relay;
  archive_settings archives = run_archive_defaults();
  std::vector<owned_community> owned;
  std::vector<membership_spec> joined;
  std::string rest_listen;  // empty: no REST API
};

/// Reads an optional value of the right type, failing with the key's name.
template <class T>
result<void> read(const toml::table& table, std::string_view key, const std::string& where, T& out) {
  auto node = table.get(key);
  if (!node)
    return ok_result();
  auto value = node->value<T>();
  if (!value)
    return make_error(errc::invalid_argument, where + "." + std::string(key) + " has the wrong type");
  out = *value;
  return ok_result();
}

template <class T>
result<void> read_list(const toml::table& table, std::string_view key, const std::string& where,
                       std::vector<T>& out) {
  auto node = table.get(key);
  if (!node)
    return ok_result();
  auto* array = node->as_array();
  if (!array)
    return make_error(errc::invalid_argument, where + "." + std::string(key) + " must be an array");
  out.clear();
  for (auto& item : *array) {
    auto value = item.value<T>();
    if (!value)
      return make_error(errc::invalid_argument,
                        where + "." + std::string(key) + " has an element of the wrong type");
    out.push_back(*value);
  }
  return ok_result();
}

#define ANNALS_TRY(expr)                                                                         \
  if (auto r_ = (expr); !r_)                                                                     \
    return r_.error();

/// Edit distance, for "did you mean".
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      auto above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1u : 0u)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// Refuses a key `table` does not know, naming file, line and key, with the
/// closest known key: a typo such as [torrnet] would otherwise start the
/// node with defaults (0.0.0.0, DHT on).
result<void> check_keys(const toml::table& table, const std::vector<std::string_view>& known,
                        const fs::path& file, const std::string& where) {
  for (const auto& [key, value] : table) {
    auto name = std::string(key.str());
    if (std::find(known.begin(), known.end(), name) != known.end())
      continue;
    std::string_view best;
    auto best_distance = std::string::npos;
    for (auto candidate : known)
      if (auto d = edit_distance(name, candidate); d < best_distance) {
        best_distance = d;
        best = candidate;
      }
    auto message = file.string() + ":" + std::to_string(key.source().begin.line) + ": unknown key "
                   + (where.empty() ? "" : where + ".") + name;
    if (best_distance <= 2)
      message += " (did you mean " + std::string(best) + "?)";
    return make_error(errc::invalid_argument, message);
  }
  return ok_result();
}

/// Every table and key `annals run` reads besides [[community]]'s (checked
/// as each is read), before anything runs.
result<void> check_run_config_keys(const toml::table& root, const fs::path& file) {
  ANNALS_TRY(check_keys(root, {"data_dir", "events", "torrent", "relay", "archives", "community", "rest"},
                        file, ""));
  if (auto* t = root["torrent"].as_table())
    ANNALS_TRY(check_keys(*t, {"listen", "loopback", "dht", "trackers", "advertise_address"}, file,
                          "torrent"));
  if (auto* r = root["relay"].as_table())
    ANNALS_TRY(check_keys(*r, {"mode", "listen", "peers", "key_file", "cluster", "shards",
                               "handshake_timeout_ms", "muxers"},
                          file, "relay"));
  if (auto* a = root["archives"].as_table())
    ANNALS_TRY(check_keys(*a, {"interval", "republish_interval", "welcome_gap", "settle"}, file,
                          "archives"));
  if (auto* r = root["rest"].as_table())
    ANNALS_TRY(check_keys(*r, {"listen"}, file, "rest"));
  return ok_result();
}

result<run_config> load_run_config(const fs::path& file) {
  std::error_code exists_ec;
  if (!fs::is_regular_file(file, exists_ec))
    return make_error(errc::not_found, file.string() + ": no such config file");
  toml::table root;
  try {
    root = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    auto at = e.source().begin;
    return make_error(errc::malformed, file.string() + ":" + std::to_string(at.line) + ":"
                                         + std::to_string(at.column) + ": "
                                         + std::string(e.description()));
  }
  ANNALS_TRY(check_run_config_keys(root, file));
  auto base = file.parent_path();
  auto resolve = [&](const std::string& p) { return fs::path(p).is_absolute() ? fs::path(p) : base / p; };
  run_config c;
  std::string data_dir;
  ANNALS_TRY(read(root, "data_dir", "", data_dir));
  if (data_dir.empty())
    return make_error(errc::invalid_argument, file.string() + ": data_dir is required");
  c.data_dir = resolve(data_dir);
  ANNALS_TRY(read(root, "events", "", c.events));
  if (!c.events.empty() && c.events != "-")
    c.events = resolve(c.events).string();

  if (auto* t = root["torrent"].as_table()) {
    ANNALS_TRY(read(*t, "listen", "torrent", c.torrent.listen));
    ANNALS_TRY(read(*t, "loopback", "torrent", c.torrent.loopback));
    ANNALS_TRY(read(*t, "dht", "torrent", c.torrent.dht));
    ANNALS_TRY(read_list(*t, "trackers", "torrent", c.torrent.trackers));
    ANNALS_TRY(read(*t, "advertise_address", "torrent", c.torrent.advertise_address));
  }
  c.torrent.use_trackers = !c.torrent.trackers.empty();
  std::string relay_key = "relay.key";
  if (auto* r = root["relay"].as_table()) {
    std::string mode = "libp2p";
    ANNALS_TRY(read(*r, "mode", "relay", mode));
    if (mode != "libp2p" && mode != "inprocess")
      return make_error(errc::invalid_argument, "relay.mode must be \"libp2p\" or \"inprocess\"");
    c.libp2p = mode == "libp2p";
    ANNALS_TRY(read_list(*r, "listen", "relay", c.relay.listen));
    ANNALS_TRY(read_list(*r, "peers", "relay", c.relay.static_peers));
    ANNALS_TRY(read(*r, "key_file", "relay", relay_key));
    std::int64_t cluster = c.relay.cluster_id;
    ANNALS_TRY(read(*r, "cluster", "relay", cluster));
    if (cluster < 0 || cluster > 0xffff)
      return make_error(errc::invalid_argument, "relay.cluster must be 0..65535");
    c.relay.cluster_id = static_cast<std::uint32_t>(cluster);
    std::vector<std::int64_t> shards{32};
    ANNALS_TRY(read_list(*r, "shards", "relay", shards));
    for (auto shard : shards)
      if (shard < 0 || shard > 1023)
        return make_error(errc::invalid_argument, "relay.shards: each shard must be 0..1023");
    c.relay.shards.assign(shards.begin(), shards.end());
    std::int64_t timeout_ms = c.relay.handshake_timeout.count();
    ANNALS_TRY(read(*r, "handshake_timeout_ms", "relay", timeout_ms));
    if (timeout_ms <= 0)
      return make_error(errc::invalid_argument, "relay.handshake_timeout_ms must be positive");
    c.relay.handshake_timeout = std::chrono::milliseconds(timeout_ms);
    ANNALS_TRY(read_list(*r, "muxers", "relay", c.relay.muxers));
    if (c.relay.muxers.empty())
      return make_error(errc::invalid_argument, "relay.muxers must name at least one muxer");
    for (const auto& m : c.relay.muxers)
      if (m != p2p::yamux_protocol && m != p2p::mplex_protocol)
        return make_error(errc::invalid_argument, "relay.muxers: unknown muxer " + m
                                                    + " (use /yamux/1.0.0 or /mplex/6.7.0)");
  }
  if (c.relay.listen.empty())
    c.relay.listen = {"/ip4/0.0.0.0/tcp/60000"};
  c.relay_key_file = fs::path(relay_key).is_absolute() ? fs::path(relay_key) : c.data_dir / relay_key;

  if (auto* rest = root["rest"].as_table()) {
    ANNALS_TRY(read(*rest, "listen", "rest", c.rest_listen));
    if (c.rest_listen.empty())
      return make_error(errc::invalid_argument,
                        "rest.listen must be ADDR:PORT (e.g. \"127.0.0.1:8645\")");
    if (auto ok = check_http_listen(c.rest_listen); !ok)
      return make_error(errc::invalid_argument, "rest.listen: " + ok.error().message);
  }

  if (auto* a = root["archives"].as_table()) {
    for (auto [key, field] : {std::pair{"interval", &c.archives.interval},
                              std::pair{"republish_interval", &c.archives.republish_interval},
                              std::pair{"welcome_gap", &c.archives.welcome_gap},
                              std::pair{"settle", &c.archives.settle}}) {
      auto v = static_cast<std::int64_t>(*field);
      ANNALS_TRY(read(*a, key, "archives", v));
      *field = static_cast<std::uint64_t>(v);
    }
    for (auto key : {"interval", "republish_interval", "welcome_gap", "settle"})
      if (auto value = (*a)[key].value<std::int64_t>(); value && *value < 0)
        return make_error(errc::invalid_argument, std::string("archives.") + key
                                                    + " must not be negative");
    if (c.archives.interval == 0)
      return make_error(errc::invalid_argument, "archives.interval must be positive");
  }

  if (auto* list = root["community"].as_array()) {
    std::size_t i = 0;
    for (auto& item : *list) {
      auto where = "community[" + std::to_string(i++) + "]";
      auto* t = item.as_table();
      if (!t)
        return make_error(errc::invalid_argument, where + " must be a table ([[community]])");
      ANNALS_TRY(check_keys(*t, {"role", "key", "key_file", "channels", "id", "encrypted",
                                 "keys_file", "traffic"},
                            file, where));
      if (auto* traffic = (*t)["traffic"].as_table())
        ANNALS_TRY(check_keys(*traffic, {"messages", "rate", "late_share", "late_by"}, file,
                              where + ".traffic"));
      std::string role;
      ANNALS_TRY(read(*t, "role", where, role));
      std::vector<std::string> channels;
      ANNALS_TRY(read_list(*t, "channels", where, channels));
      if (role == "owner") {
        owned_community o;
        o.channels = channels;
        std::string key_file;
        ANNALS_TRY(read(*t, "key", where, o.key_hex));
        ANNALS_TRY(read(*t, "key_file", where, key_file));
        if (!key_file.empty()) {
          auto key = private_key::load(resolve(key_file));
          if (!key)
            return make_error(key.error().code, where + ".key_file: " + key.error().message);
          o.key_hex = to_hex(key->bytes());
        }
        if (o.key_hex.empty())
          return make_error(errc::invalid_argument, where + ": an owner needs key or key_file");
        ANNALS_TRY(read(*t, "encrypted", where, o.encrypted));
        ANNALS_TRY(read(*t, "keys_file", where, o.keys_file));
        if (!o.keys_file.empty())
          o.keys_file = resolve(o.keys_file).string();
        if (o.encrypted && o.keys_file.empty())
          return make_error(errc::invalid_argument,
                            where + ": encrypted = true needs keys_file (hash-ratchet keys; "
                                    "annals hrkey new)");
        if (auto* traffic = (*t)["traffic"].as_table()) {
          std::int64_t n = 0;
          ANNALS_TRY(read(*traffic, "messages", where + ".traffic", n));
          if (n < 0)
            return make_error(errc::invalid_argument,
                              where + ".traffic.messages must not be negative");
          o.traffic_messages = static_cast<std::size_t>(n);
          ANNALS_TRY(read(*traffic, "rate", where + ".traffic", o.traffic_rate));
          ANNALS_TRY(read(*traffic, "late_share", where + ".traffic", o.traffic_late_share));
          std::int64_t late_by = 0;
          ANNALS_TRY(read(*traffic, "late_by", where + ".traffic", late_by));
          if (late_by < 0)
            return make_error(errc::invalid_argument, where + ".traffic.late_by must not be negative");
          o.traffic_late_by = static_cast<std::uint64_t>(late_by);
          traffic_options check{o.traffic_messages, o.traffic_rate};
          check.late_share = o.traffic_late_share;
          check.late_by = o.traffic_late_by;
          if (auto bad = check_traffic_options(check))
            return make_error(errc::invalid_argument, where + ".traffic: " + *bad);
          if (o.traffic_messages > 0 && o.channels.empty())
            return make_error(errc::invalid_argument,
                              where + ".traffic: the community has no channels to post to");
        }
        c.owned.push_back(std::move(o));
      } else if (role == "member") {
        membership_spec m;
        ANNALS_TRY(read(*t, "id", where, m.community_id));
        if (m.community_id.empty())
          return make_error(errc::invalid_argument, where + ": a member needs the community id");
        // Checked before any port is bound, not when the node joins.
        if (auto id = public_key::from_community_id(m.community_id);
            !id || id->community_id() != m.community_id)
          return make_error(errc::invalid_argument,
                            where + ".id \"" + m.community_id
                              + "\" is not a community ID (0x + 66 lowercase hex of a public key)");
        m.channel_ids = channels;
        ANNALS_TRY(read(*t, "keys_file", where, m.keys_file));
        if (!m.keys_file.empty())
          m.keys_file = resolve(m.keys_file).string();
        c.joined.push_back(std::move(m));
      } else {
        return make_error(errc::invalid_argument, where + ".role must be \"owner\" or \"member\"");
      }
    }
  }
  if (c.owned.empty() && c.joined.empty())
    return make_error(errc::invalid_argument, file.string() + ": no [[community]] to own or join");
  return c;
}

#undef ANNALS_TRY

/// ", 12.0/40.0 MB at 3.1 MB/s, ETA 9 s, 2 peers" for a running download.
std::string download_figures(const community_status& s) {
  if (s.download_bytes_total == 0)
    return ", " + std::to_string(s.download_peers) + " peers";
  return ", " + transfer_figures(s.download_bytes_done, s.download_bytes_total, s.download_rate,
                                 s.download_peers);
}

std::atomic<bool> stop_requested{false};

extern "C" void on_stop_signal(int) {
  stop_requested = true;
}


struct run_flags {
  std::string config_file;
  double seconds = 0;
  bool until_synced = false;
  unsigned status_interval = 60;
  std::string log_level = "info";
  std::string log_format = "text";
};

void run_node(const run_flags& flags) {
  const auto& config_file = flags.config_file;
  auto seconds = flags.seconds;
  auto until_synced = flags.until_synced;
  auto status_interval = flags.status_interval;
  auto c = take(load_run_config(config_file), "config");
  std::error_code ec;
  fs::create_directories(c.data_dir, ec);
  if (ec)
    fail("data_dir " + c.data_dir.string() + ": " + ec.message());
  auto p = std::make_shared<progress>();
  if (c.events == "-")
    p->out = stderr;  // stdout carries the JSON events alone
  log_options logging;
  logging.level = *parse_log_level(flags.log_level);
  logging.format = *parse_log_format(flags.log_format);
  logging.out = p->out;
  configure_log(logging);
  node_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};

  relay_actor relay;
  if (c.libp2p) {
    std::error_code exists_ec;
    if (!fs::exists(c.relay_key_file, exists_ec)) {
      take(private_key::generate().save(c.relay_key_file), "relay key");
      p->line("relay", "created node key " + c.relay_key_file.string());
    }
    c.relay.identity = take(private_key::load(c.relay_key_file), "relay key");
    c.relay.agent_version = std::string("annals/") + ANNALS_VERSION;
    auto spawned = spawn_libp2p_relay(sys, c.relay, [p](const std::string& line) {
      p->line("relay", line);
    });
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
    relay = *spawned;
  } else {
    relay = sys.spawn(inprocess_relay);
    p->line("relay", "in-process relay (no network)");
  }

  node_config config;
  config.data_dir = c.data_dir;
  config.torrent = c.torrent;
  config.archives = c.archives;
  config.relay = relay;
  config.subscribers.push_back(
    c.owned.empty() ? caf::actor_cast<signal_sink_actor>(sys.spawn(member_progress, p, std::string("node")))
                    : caf::actor_cast<signal_sink_actor>(sys.spawn(owner_progress, p, std::string("node"))));
  add_event_writer(sys, config, c.events);
  auto node = spawn_node(sys, config);
  if (!node)
    fail(sys, node.error());
  // The REST API reads the node from its own thread: it stops first.
  std::unique_ptr<http_server> rest;
  if (!c.rest_listen.empty()) {
    http_server_options options;
    options.listen = c.rest_listen;
    std::shared_ptr<rest_source> source = make_node_rest_source(sys, *node, relay);
    rest_identity identity{ANNALS_VERSION, ANNALS_REVISION};
    auto started_rest = http_server::start(options, [source, identity](const http_request& r) {
      return route_rest(r, *source, identity);
    });
    if (!started_rest) {
      self->send_exit(*node, caf::exit_reason::user_shutdown);
      self->send_exit(relay, caf::exit_reason::user_shutdown);
      fail(started_rest.error());
    }
    rest = std::move(*started_rest);
    p->line("rest", "serving http://" + rest->listen_address()
                      + " (/health, /metrics, /archive/v1/communities)");
  }
  std::vector<caf::actor> helpers;
  auto shutdown = [&] {
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

  std::vector<std::string> member_ids, owner_ids;
  for (const auto& o : c.owned) {
    std::string id;
    self->request(*node, 30s, create_atom::value, community_spec{o.key_hex, o.channels, o.encrypted, o.keys_file})
      .receive([&](const std::string& community) { id = community; }, failed);
    p->line("node", "owns community " + id + " (" + std::to_string(o.channels.size()) + " channels)");
    owner_ids.push_back(id);
    if (o.traffic_messages > 0) {
      auto key = take(private_key::from_bytes(*from_hex(o.key_hex)), "owner key");
      auto community = synthetic_community::from_key(key, o.channels);
      traffic_options traffic{o.traffic_messages, o.traffic_rate, 8, 200};
      traffic.late_share = o.traffic_late_share;
      traffic.late_by = o.traffic_late_by;
      traffic.community_id = id;
      auto generator = sys.spawn(traffic_generator, community, traffic, relay);
      helpers.push_back(caf::actor_cast<caf::actor>(generator));
      p->line("traffic", "posting " + std::to_string(o.traffic_messages) + " synthetic messages");
    }
  }
  for (const auto& m : c.joined) {
    self->request(*node, 30s, join_atom::value, m)
      .receive([&](const std::string&) {}, failed);
    member_ids.push_back(m.community_id);
    p->line("node", "joined community " + m.community_id);
  }

  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  auto started = std::chrono::steady_clock::now();
  auto next_status = started + std::chrono::seconds(status_interval);
  // The joined communities' state, asked once per use.
  auto member_statuses = [&] {
    std::vector<community_status> out;
    for (const auto& id : member_ids)
      self->request(*node, 10s, status_atom::value, id)
        .receive([&](const community_status& s) { out.push_back(s); }, failed);
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
                                 + " (add it to the keys file)"));
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
  auto synced = [](const std::vector<community_status>& statuses) {
    return std::all_of(statuses.begin(), statuses.end(), [](const community_status& s) {
      return !s.last_magnet_uri.empty() && s.archives > 0 && s.imported >= s.archives;
    });
  };
  while (!stop_requested) {
    std::this_thread::sleep_for(200ms);
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
      if (synced(statuses)) {
        for (const auto& s : statuses)
          p->line("node", "synced " + s.community_id + ": " + std::to_string(s.archives)
                            + " archives, " + std::to_string(s.messages) + " messages");
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
  cmd->add_option("--config", *file, "TOML file (see README, `annals run`)")->required();
  cmd->add_option("--seconds", *seconds, "Stop after S seconds (0: run until SIGINT/SIGTERM)")
    ->check(finite_non_negative);
  cmd->add_flag("--until-synced", *until_synced,
                "Exit 0 once every joined community has imported all archives of a verified "
                "magnet link (with --seconds: fail if that takes longer)");
  cmd->add_option("--status-interval", *status_interval,
                  "Print relay counters and sync state every S seconds (0: never)")
    ->capture_default_str();
  add_log_options(*cmd, flags->log_level, flags->log_format);
  cmd->callback([=] { run_node(*flags); });
}

} // namespace annals::app
