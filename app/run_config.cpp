// `annals run`'s TOML: read, checked whole (unknown keys, types, ranges, IDs)
// before anything starts or binds a port.
#include "app/run_config.hpp"

#include "actors/traffic_generator.hpp"
#include "core/enr_tree.hpp"
#include "core/file_io.hpp"
#include "core/hash_ratchet.hpp"
#include "core/hex.hpp"
#include "core/identity.hpp"
#include "net/dns_txt.hpp"
#include "net/http_server.hpp"
#include "net/interfaces.hpp"
#include "net/p2p/enr_peer.hpp"
#include "net/p2p/multiaddr.hpp"

#include <boost/asio.hpp>
#include <annals/log.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <set>
#include <type_traits>
#include <cstring>
#include <unistd.h>

namespace annals::app {

namespace fs = std::filesystem;

namespace {

/// Reads an optional value of the right type, failing with the key's name.
/// The node's value as T. An integer key takes only a TOML integer:
/// toml++ would convert a float such as 7.7e26 with an out-of-range cast.
template <class T>
std::optional<T> typed_value(const toml::node& node) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    if (!node.is_integer())
      return std::nullopt;
  return node.value<T>();
}

/// What a T is called in an error: the type the key wants.
template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, bool>)
    return "true or false";
  else if constexpr (std::is_integral_v<T>)
    return "an integer";
  else if constexpr (std::is_floating_point_v<T>)
    return "a number";
  else
    return "a string";
}

/// "node.toml:7: " from where toml++ read the node; "" when it does not know.
std::string source_of(const toml::node& node) {
  const auto& src = node.source();
  if (!src.path || src.begin.line == 0)
    return {};
  return *src.path + ":" + std::to_string(src.begin.line) + ": ";
}

std::string key_name(const std::string& where, std::string_view key) {
  return where.empty() ? std::string(key) : where + "." + std::string(key);
}

template <class T>
result<void> read(const toml::table& table, std::string_view key, const std::string& where, T& out) {
  auto node = table.get(key);
  if (!node)
    return ok_result();
  auto value = typed_value<T>(*node);
  if (!value)
    return make_error(errc::invalid_argument, source_of(*node) + key_name(where, key)
                                                + " has the wrong type: it must be "
                                                + type_name<T>());
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
    return make_error(errc::invalid_argument, source_of(*node) + key_name(where, key)
                                                + " must be an array, each element "
                                                + type_name<T>());
  out.clear();
  for (auto& item : *array) {
    auto value = typed_value<T>(item);
    if (!value)
      return make_error(errc::invalid_argument,
                        source_of(item) + key_name(where, key)
                          + " has an element of the wrong type: each must be " + type_name<T>());
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

/// "FILE:LINE: " of a value (the line from the TOML source when the node has
/// one), so a value error reads like an unknown key's.
std::string at(const fs::path& file, const toml::node* node) {
  if (!node || node->source().begin.line == 0)
    return file.string() + ": ";
  return file.string() + ":" + std::to_string(node->source().begin.line) + ": ";
}

/// Checks each string of the array `key` with `check`, naming file, line,
/// key and index.
result<void> check_each(const toml::table& table, std::string_view key, const std::string& where,
                        const fs::path& file,
                        result<void> (*check)(std::string_view)) {
  auto* array = table[key].as_array();
  if (!array)
    return ok_result();
  for (std::size_t i = 0; i < array->size(); ++i)
    if (auto text = (*array)[i].value<std::string>())
      if (auto ok = check(*text); !ok)
        return make_error(errc::invalid_argument,
                          at(file, array->get(i)) + where + "." + std::string(key) + "["
                            + std::to_string(i) + "]: " + ok.error().message);
  return ok_result();
}

/// Whether `run` can append to the events file `path` once it has created
/// `data_dir`: an existing file it may write, or a new one in a directory
/// that exists (or is data_dir).
result<void> check_appendable(const fs::path& path, const fs::path& data_dir) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (fs::exists(status)) {
    if (fs::is_directory(status))
      return make_error(errc::invalid_argument, path.string() + " is a directory");
    if (::access(path.c_str(), W_OK) != 0)
      return make_error(errc::invalid_argument,
                        path.string() + " cannot be appended to: " + std::strerror(errno));
    return ok_result();
  }
  auto parent = path.parent_path();
  if (parent.lexically_normal() == data_dir.lexically_normal())
    return ok_result();  // run creates data_dir before it opens the file
  // "events.jsonl" beside a config given as "node.toml": the current directory.
  if (parent.empty())
    parent = ".";
  if (!fs::is_directory(parent, ec))
    return make_error(errc::invalid_argument,
                      path.string() + ": no directory " + parent.string() + " to create it in");
  if (::access(parent.c_str(), W_OK | X_OK) != 0)
    return make_error(errc::invalid_argument, path.string() + " cannot be created in "
                                                + parent.string() + ": " + std::strerror(errno));
  return ok_result();
}

/// "IP:PORT" a peer on another host can dial: no wildcard, no port 0.
result<void> check_external_endpoint(std::string_view text) {
  std::string ip;
  unsigned port = 0;
  if (!split_host_port(text, ip, port))
    return make_error(errc::invalid_argument,
                      "\"" + std::string(text) + "\" is not IP:PORT ([V6]:PORT for IPv6)");
  if (is_wildcard_ip(ip) || port == 0)
    return make_error(errc::invalid_argument, "\"" + std::string(text)
                                                + "\" is not an address a peer can dial");
  return ok_result();
}

/// "HOST:PORT" of a DHT router: a name or an IP, and a port 1..65535.
result<void> check_dht_router(std::string_view text) {
  auto colon = text.rfind(':');
  auto host = colon == std::string_view::npos ? std::string_view() : text.substr(0, colon);
  unsigned port = 0;
  auto digits = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (host.empty() || digits.empty() || ec != std::errc() || end != digits.data() + digits.size()
      || port == 0 || port > 65535)
    return make_error(errc::invalid_argument,
                      "\"" + std::string(text) + "\" is not HOST:PORT (e.g. \"10.0.0.1:6881\")");
  return ok_result();
}

/// Every table and key `annals run` reads besides [[community]]'s (checked
/// as each is read), before anything runs.
result<void> check_run_config_keys(const toml::table& root, const fs::path& file) {
  ANNALS_TRY(check_keys(root, {"data_dir", "events", "torrent", "relay", "archives", "community", "rest",
                               "store", "discovery", "log"},
                        file, ""));
  if (auto* l = root["log"].as_table())
    ANNALS_TRY(check_keys(*l, {"level", "format", "file"}, file, "log"));
  if (auto* t = root["torrent"].as_table())
    ANNALS_TRY(check_keys(*t, {"listen", "loopback", "dht", "trackers", "advertise_address",
                               "external_address", "dht_bootstrap", "lsd", "private_network"},
                          file, "torrent"));
  if (auto* r = root["relay"].as_table())
    ANNALS_TRY(check_keys(*r, {"mode", "listen", "peers", "key_file", "cluster", "shards",
                               "handshake_timeout_ms", "muxers", "external_addresses",
                               "target_peers"},
                          file, "relay"));
  if (auto* d = root["discovery"].as_table())
    ANNALS_TRY(check_keys(*d, {"peer_exchange", "dns", "dns_server", "dns_interval", "discv5",
                               "discv5_listen", "bootstrap", "discv5_protocol_id"},
                          file, "discovery"));
  if (auto* a = root["archives"].as_table())
    ANNALS_TRY(check_keys(*a, {"interval", "republish_interval", "welcome_gap", "settle",
                               "link_patience"},
                          file, "archives"));
  if (auto* r = root["rest"].as_table())
    ANNALS_TRY(check_keys(*r, {"listen"}, file, "rest"));
  if (auto* st = root["store"].as_table())
    ANNALS_TRY(check_keys(*st, {"min_free_mb", "serve", "sync", "max_age", "max_messages",
                                "verify_interval"},
                          file, "store"));
  return ok_result();
}

result<run_config> read_run_config(const toml::table& root, const fs::path& file);

} // namespace

result<run_config> load_run_config(const fs::path& file) {
  std::error_code exists_ec;
  if (!fs::exists(file, exists_ec))
    return make_error(errc::not_found, file.string() + ": no such config file");
  // A regular file of a sane size: a FIFO or /dev/zero is refused unread.
  auto text = read_file_bytes(file, max_config_bytes);
  if (!text)
    return make_error(text.error().code == errc::io ? errc::invalid_argument : text.error().code,
                      text.error().message);
  return parse_run_config(*text, file);
}

result<run_config> parse_run_config(std::string_view text, const fs::path& file) {
  toml::table root;
  try {
    root = toml::parse(text, file.string());
  } catch (const toml::parse_error& e) {
    auto at = e.source().begin;
    return make_error(errc::malformed, file.string() + ":" + std::to_string(at.line) + ":"
                                         + std::to_string(at.column) + ": "
                                         + std::string(e.description()));
  }
  ANNALS_TRY(check_run_config_keys(root, file));
  auto config = read_run_config(root, file);
  // Every error names the file, as unknown keys do (most name the line too).
  if (!config && config.error().message.rfind(file.string() + ":", 0) != 0)
    return make_error(config.error().code, file.string() + ": " + config.error().message);
  return config;
}

namespace {

/// Where `table.key` (or its `index`th element) is set: "node.toml:7: key".
std::string claim_where(const fs::path& file, const toml::node_view<const toml::node>& node,
                        const std::string& key) {
  if (!node)
    return key + " (default)";
  return at(file, node.node()) + key;
}

void add_claim(run_config& c, std::string where, const std::string& address, bool tcp, bool udp) {
  std::string text = address;
  // A relay multiaddr: /ip4/A/tcp/P or /ip6/A/tcp/P (what follows is ignored).
  if (!text.empty() && text.front() == '/') {
    std::vector<std::string> parts;
    std::size_t start = 1;
    for (auto slash = text.find('/', start); ; slash = text.find('/', start)) {
      parts.push_back(text.substr(start, slash == std::string::npos ? slash : slash - start));
      if (slash == std::string::npos)
        break;
      start = slash + 1;
    }
    if (parts.size() < 4 || (parts[0] != "ip4" && parts[0] != "ip6") || parts[2] != "tcp")
      return;
    text = parts[0] == "ip6" ? "[" + parts[1] + "]:" + parts[3] : parts[1] + ":" + parts[3];
  }
  auto hp = split_host_port(text);
  if (!hp || hp->second == 0)
    return;  // port 0 picks a free one; malformed ones were refused before
  c.listens.push_back({std::move(where), address, hp->first, hp->second, tcp, udp});
}

/// The fixed ports the node binds, with where each is asked for.
void collect_listens(const toml::table& root, const fs::path& file, run_config& c) {
  const auto& croot = root;
  if (c.libp2p) {
    auto list = croot["relay"]["listen"];
    for (std::size_t i = 0; i < c.relay.listen.size(); ++i)
      add_claim(c, claim_where(file, list[i], "relay.listen"), c.relay.listen[i], true, false);
    if (c.relay.discv5.enabled)
      add_claim(c, claim_where(file, croot["discovery"]["discv5_listen"], "discovery.discv5_listen"),
                c.relay.discv5.listen, false, true);
  }
  // libtorrent listens for TCP and uTP on the one port.
  add_claim(c, claim_where(file, croot["torrent"]["listen"], "torrent.listen"), c.torrent.listen,
            true, true);
  if (!c.rest_listen.empty())
    add_claim(c, claim_where(file, croot["rest"]["listen"], "rest.listen"), c.rest_listen, true,
              false);
}

/// [community.traffic] of one community (owned or joined).
result<void> read_traffic(const toml::table& community, const std::string& where,
                          const std::vector<std::string>& channels, const fs::path& file,
                          traffic_spec& out) {
  auto* traffic = community["traffic"].as_table();
  if (!traffic)
    return ok_result();
  auto at_key = [&](const char* key) { return at(file, traffic->get(key)) + where + ".traffic." + key; };
  std::int64_t n = 0;
  ANNALS_TRY(read(*traffic, "messages", where + ".traffic", n));
  if (n < 0)
    return make_error(errc::invalid_argument, at_key("messages") + " must not be negative");
  out.messages = static_cast<std::size_t>(n);
  ANNALS_TRY(read(*traffic, "rate", where + ".traffic", out.rate));
  ANNALS_TRY(read(*traffic, "late_share", where + ".traffic", out.late_share));
  std::int64_t late_by = 0;
  ANNALS_TRY(read(*traffic, "late_by", where + ".traffic", late_by));
  if (late_by < 0)
    return make_error(errc::invalid_argument, at_key("late_by") + " must not be negative");
  out.late_by = static_cast<std::uint64_t>(late_by);
  std::int64_t payload = static_cast<std::int64_t>(out.payload);
  ANNALS_TRY(read(*traffic, "payload", where + ".traffic", payload));
  if (payload < 1 || payload > 100'000)
    return make_error(errc::invalid_argument, at_key("payload") + " must be 1..100000 bytes");
  out.payload = static_cast<std::size_t>(payload);
  std::int64_t seed = 1;
  ANNALS_TRY(read(*traffic, "seed", where + ".traffic", seed));
  ANNALS_TRY(read(*traffic, "wait_for_peers", where + ".traffic", out.wait_for_peers));
  out.seed = static_cast<std::uint64_t>(seed);
  traffic_options check{out.messages, out.rate};
  check.late_share = out.late_share;
  check.late_by = out.late_by;
  if (auto bad = check_traffic_options(check))
    return make_error(errc::invalid_argument, at(file, traffic->get("messages")) + where
                                                + ".traffic: " + *bad);
  if (out.messages > 0 && channels.empty())
    return make_error(errc::invalid_argument,
                      where + ".traffic: the community has no channels to post to");
  return ok_result();
}

result<run_config> read_run_config(const toml::table& root, const fs::path& file) {
  auto base = file.parent_path();
  auto resolve = [&](const std::string& p) { return fs::path(p).is_absolute() ? fs::path(p) : base / p; };
  run_config c;
  // A node's links name where it seeds (x.pe), so a member's first fetch
  // needs no DHT or tracker; an embedder of the library opts in instead.
  c.torrent.advertise_address = true;
  std::string data_dir;
  ANNALS_TRY(read(root, "data_dir", "", data_dir));
  if (data_dir.empty())
    return make_error(errc::invalid_argument, file.string() + ": data_dir is required");
  c.data_dir = resolve(data_dir);
  ANNALS_TRY(read(root, "events", "", c.events));
  if (!c.events.empty() && c.events != "-") {
    c.events = resolve(c.events).string();
    if (auto ok = check_appendable(c.events, c.data_dir); !ok)
      return make_error(errc::invalid_argument,
                        at(file, root.get("events")) + "events: " + ok.error().message);
  }

  if (auto* l = root["log"].as_table()) {
    ANNALS_TRY(read(*l, "level", "log", c.log_level));
    if (!c.log_level.empty() && !parse_log_level(c.log_level))
      return make_error(errc::invalid_argument, at(file, l->get("level"))
                                                  + "log.level must be error, warn, info or debug");
    ANNALS_TRY(read(*l, "format", "log", c.log_format));
    if (!c.log_format.empty() && !parse_log_format(c.log_format))
      return make_error(errc::invalid_argument, at(file, l->get("format"))
                                                  + "log.format must be text or json");
    std::string log_file;
    ANNALS_TRY(read(*l, "file", "log", log_file));
    if (!log_file.empty()) {
      c.log_file = resolve(log_file).string();
      if (auto ok = check_appendable(c.log_file, c.data_dir); !ok)
        return make_error(errc::invalid_argument,
                          at(file, l->get("file")) + "log.file: " + ok.error().message);
    }
  }

  if (auto* t = root["torrent"].as_table()) {
    ANNALS_TRY(read(*t, "listen", "torrent", c.torrent.listen));
    ANNALS_TRY(read(*t, "loopback", "torrent", c.torrent.loopback));
    ANNALS_TRY(read(*t, "dht", "torrent", c.torrent.dht));
    ANNALS_TRY(read_list(*t, "trackers", "torrent", c.torrent.trackers));
    ANNALS_TRY(read(*t, "advertise_address", "torrent", c.torrent.advertise_address));
    ANNALS_TRY(read(*t, "lsd", "torrent", c.torrent.lsd));
    ANNALS_TRY(read(*t, "private_network", "torrent", c.torrent.private_network));
    ANNALS_TRY(read(*t, "external_address", "torrent", c.torrent.external_address));
    if (!c.torrent.external_address.empty())
      if (auto ok = check_external_endpoint(c.torrent.external_address); !ok)
        return make_error(errc::invalid_argument, at(file, t->get("external_address"))
                                                    + "torrent.external_address: "
                                                    + ok.error().message);
    ANNALS_TRY(read_list(*t, "dht_bootstrap", "torrent", c.torrent.dht_bootstrap));
    ANNALS_TRY(check_each(*t, "dht_bootstrap", "torrent", file, check_dht_router));
    // libtorrent would refuse it only once the relay listens.
    if (auto ok = check_http_listen(c.torrent.listen); !ok)
      return make_error(errc::invalid_argument, at(file, t->get("listen")) + "torrent.listen: "
                                                  + ok.error().message
                                                  + " (ADDR:PORT, an IP literal, port 0..65535)");
  }
  c.torrent.use_trackers = !c.torrent.trackers.empty();
  std::string relay_key = "relay.key";
  c.relay.target_peers = 8;
  if (auto* r = root["relay"].as_table()) {
    std::string mode = "libp2p";
    ANNALS_TRY(read(*r, "mode", "relay", mode));
    if (mode != "libp2p" && mode != "inprocess")
      return make_error(errc::invalid_argument, at(file, r->get("mode"))
                                                  + "relay.mode must be \"libp2p\" or \"inprocess\"");
    c.libp2p = mode == "libp2p";
    ANNALS_TRY(read_list(*r, "listen", "relay", c.relay.listen));
    ANNALS_TRY(check_each(*r, "listen", "relay", file, p2p::check_listen_address));
    ANNALS_TRY(read_list(*r, "peers", "relay", c.relay.static_peers));
    ANNALS_TRY(read_list(*r, "external_addresses", "relay", c.relay.external_addresses));
    ANNALS_TRY(check_each(*r, "external_addresses", "relay", file, p2p::check_external_address));
    // An `enr:` record stands for the address it gives a TCP relay (the
    // host keeps the record to pass on by peer exchange).
    if (auto* peers = (*r)["peers"].as_array())
      for (std::size_t i = 0; i < peers->size() && i < c.relay.static_peers.size(); ++i)
        if (auto address = p2p::static_peer_address(c.relay.static_peers[i]); !address)
          return make_error(errc::invalid_argument, at(file, peers->get(i)) + "relay.peers["
                                                      + std::to_string(i)
                                                      + "]: " + address.error().message);
    std::int64_t target = static_cast<std::int64_t>(c.relay.target_peers);
    ANNALS_TRY(read(*r, "target_peers", "relay", target));
    if (target < 0 || target > 1000)
      return make_error(errc::invalid_argument,
                        at(file, r->get("target_peers")) + "relay.target_peers must be 0..1000");
    c.relay.target_peers = static_cast<std::size_t>(target);
    ANNALS_TRY(read(*r, "key_file", "relay", relay_key));
    std::int64_t cluster = c.relay.cluster_id;
    ANNALS_TRY(read(*r, "cluster", "relay", cluster));
    if (cluster < 0 || cluster > 0xffff)
      return make_error(errc::invalid_argument,
                        at(file, r->get("cluster")) + "relay.cluster must be 0..65535");
    c.relay.cluster_id = static_cast<std::uint32_t>(cluster);
    std::vector<std::int64_t> shards{32};
    ANNALS_TRY(read_list(*r, "shards", "relay", shards));
    for (auto shard : shards)
      if (shard < 0 || shard > 1023)
        return make_error(errc::invalid_argument,
                          at(file, r->get("shards")) + "relay.shards: each shard must be 0..1023");
    c.relay.shards.assign(shards.begin(), shards.end());
    std::int64_t timeout_ms = c.relay.handshake_timeout.count();
    ANNALS_TRY(read(*r, "handshake_timeout_ms", "relay", timeout_ms));
    if (timeout_ms <= 0)
      return make_error(errc::invalid_argument, at(file, r->get("handshake_timeout_ms"))
                                                  + "relay.handshake_timeout_ms must be positive");
    c.relay.handshake_timeout = std::chrono::milliseconds(timeout_ms);
    ANNALS_TRY(read_list(*r, "muxers", "relay", c.relay.muxers));
    if (c.relay.muxers.empty())
      return make_error(errc::invalid_argument, at(file, r->get("muxers"))
                                                  + "relay.muxers must name at least one muxer");
    for (const auto& m : c.relay.muxers)
      if (m != p2p::yamux_protocol && m != p2p::mplex_protocol)
        return make_error(errc::invalid_argument, at(file, r->get("muxers")) + "relay.muxers: unknown muxer " + m
                                                    + " (use /yamux/1.0.0 or /mplex/6.7.0)");
  }
  if (c.relay.listen.empty())
    c.relay.listen = {"/ip4/0.0.0.0/tcp/60000"};
  // Peer exchange is on unless turned off: a member whose only peer leaves
  // asks the others it still has for more.
  bool peer_exchange = true;
  if (auto* d = root["discovery"].as_table()) {
    ANNALS_TRY(read(*d, "peer_exchange", "discovery", peer_exchange));
    // DNS discovery (EIP-1459): trees read through the system resolver, or
    // through dns_server when set.
    ANNALS_TRY(read_list(*d, "dns", "discovery", c.relay.dns.trees));
    ANNALS_TRY(check_each(*d, "dns", "discovery", file, [](std::string_view url) -> result<void> {
      if (auto parsed = parse_enrtree_url(url); !parsed)
        return parsed.error();
      return ok_result();
    }));
    ANNALS_TRY(read(*d, "dns_server", "discovery", c.relay.dns.resolver.server));
    if (!c.relay.dns.resolver.server.empty())
      if (auto ok = check_dns_server(c.relay.dns.resolver.server); !ok)
        return make_error(errc::invalid_argument, at(file, d->get("dns_server"))
                                                    + "discovery.dns_server: " + ok.error().message);
    std::int64_t interval = c.relay.dns.interval.count() / 1000;
    ANNALS_TRY(read(*d, "dns_interval", "discovery", interval));
    if (interval < 10 || interval > 7 * 86400)
      return make_error(errc::invalid_argument,
                        at(file, d->get("dns_interval"))
                          + "discovery.dns_interval must be 10..604800 seconds");
    c.relay.dns.interval = std::chrono::seconds(interval);
    // discv5 (33/WAKU2-DISCV5): its own UDP port, started from bootstrap
    // records; Waku's network unless the protocol ID says otherwise.
    ANNALS_TRY(read(*d, "discv5", "discovery", c.relay.discv5.enabled));
    ANNALS_TRY(read(*d, "discv5_listen", "discovery", c.relay.discv5.listen));
    if (auto ok = p2p::parse_discv5_listen(c.relay.discv5.listen); !ok)
      return make_error(errc::invalid_argument, at(file, d->get("discv5_listen"))
                                                  + "discovery.discv5_listen: " + ok.error().message);

    ANNALS_TRY(read_list(*d, "bootstrap", "discovery", c.relay.discv5.bootstrap));
    ANNALS_TRY(check_each(*d, "bootstrap", "discovery", file, [](std::string_view text) -> result<void> {
      if (auto r = p2p::parse_discv5_bootstrap(text); !r)
        return r.error();
      return ok_result();
    }));
    ANNALS_TRY(read(*d, "discv5_protocol_id", "discovery", c.relay.discv5.protocol_id));
    if (c.relay.discv5.protocol_id.size() != 6)
      return make_error(errc::invalid_argument,
                        at(file, d->get("discv5_protocol_id"))
                          + "discovery.discv5_protocol_id must be 6 bytes (\"d5waku\" for Waku)");
    if (!c.relay.discv5.enabled && !c.relay.discv5.bootstrap.empty())
      return make_error(errc::invalid_argument,
                        at(file, d->get("bootstrap"))
                          + "discovery.bootstrap is for discv5: set discovery.discv5 = true");
  }
  c.relay.serve_peer_exchange = peer_exchange;
  c.relay.ask_peer_exchange = peer_exchange;
  c.relay_key_file = fs::path(relay_key).is_absolute() ? fs::path(relay_key) : c.data_dir / relay_key;

  if (auto* st = root["store"].as_table()) {
    std::int64_t mb = static_cast<std::int64_t>(c.store.min_free_bytes >> 20);
    ANNALS_TRY(read(*st, "min_free_mb", "store", mb));
    if (mb < 0 || mb > (std::int64_t{1} << 30))
      return make_error(errc::invalid_argument,
                        at(file, st->get("min_free_mb")) + "store.min_free_mb must be 0..2^30");
    c.store.min_free_bytes = static_cast<std::uint64_t>(mb) << 20;
    ANNALS_TRY(read(*st, "serve", "store", c.waku_store.serve));
    ANNALS_TRY(read(*st, "sync", "store", c.waku_store.sync));
    for (auto [key, field] : {std::pair{"max_age", &c.waku_store.max_age},
                              std::pair{"max_messages", &c.waku_store.max_messages}}) {
      auto v = static_cast<std::int64_t>(*field);
      ANNALS_TRY(read(*st, key, "store", v));
      if (v <= 0)
        return make_error(errc::invalid_argument,
                          at(file, st->get(key)) + "store." + key + " must be positive");
      *field = static_cast<std::uint64_t>(v);
    }
    std::int64_t verify = c.waku_store.verify_interval.count();
    ANNALS_TRY(read(*st, "verify_interval", "store", verify));
    if (verify < 0 || verify > 7 * 24 * 3600)
      return make_error(errc::invalid_argument,
                        at(file, st->get("verify_interval"))
                          + "store.verify_interval must be 0..604800 seconds (0: never)");
    c.waku_store.verify_interval = std::chrono::seconds(verify);
  }

  if (auto* rest = root["rest"].as_table()) {
    ANNALS_TRY(read(*rest, "listen", "rest", c.rest_listen));
    if (c.rest_listen.empty())
      return make_error(errc::invalid_argument,
                        at(file, rest->get("listen"))
                          + "rest.listen must be ADDR:PORT (e.g. \"127.0.0.1:8645\")");
    if (auto ok = check_http_listen(c.rest_listen); !ok)
      return make_error(errc::invalid_argument,
                        at(file, rest->get("listen")) + "rest.listen: " + ok.error().message);
  }

  if (auto* a = root["archives"].as_table()) {
    for (auto [key, field] : {std::pair{"interval", &c.archives.interval},
                              std::pair{"republish_interval", &c.archives.republish_interval},
                              std::pair{"welcome_gap", &c.archives.welcome_gap},
                              std::pair{"settle", &c.archives.settle},
                              std::pair{"link_patience", &c.archives.link_patience}}) {
      auto v = static_cast<std::int64_t>(*field);
      ANNALS_TRY(read(*a, key, "archives", v));
      *field = static_cast<std::uint64_t>(v);
    }
    for (auto key : {"interval", "republish_interval", "welcome_gap", "settle", "link_patience"})
      if (auto value = a->get(key) ? typed_value<std::int64_t>(*a->get(key)) : std::nullopt;
          value && *value < 0)
        return make_error(errc::invalid_argument, at(file, a->get(key)) + "archives." + key
                                                    + " must not be negative");
    if (c.archives.interval == 0)
      return make_error(errc::invalid_argument,
                        at(file, a->get("interval")) + "archives.interval must be positive");
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
        ANNALS_TRY(check_keys(*traffic, {"messages", "rate", "late_share", "late_by", "payload",
                                         "seed", "wait_for_peers"},
                              file, where + ".traffic"));
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
          o.community_id = key->public_key().community_id();
        }
        if (o.key_hex.empty())
          return make_error(errc::invalid_argument, where + ": an owner needs key or key_file");
        // Checked before any port is bound, naming where it is written.
        if (key_file.empty()) {
          auto bytes = from_hex(o.key_hex.rfind("0x", 0) == 0 ? o.key_hex.substr(2) : o.key_hex);
          auto key = bytes ? private_key::from_bytes(*bytes)
                           : result<private_key>(make_error(errc::invalid_argument,
                                                            "not hex"));
          if (!key)
            return make_error(errc::invalid_argument,
                              at(file, t->get("key")) + where
                                + ".key is not a community private key (64 hex digits): "
                                + key.error().message);
          o.community_id = key->public_key().community_id();
        }
        ANNALS_TRY(read(*t, "encrypted", where, o.encrypted));
        ANNALS_TRY(read(*t, "keys_file", where, o.keys_file));
        if (!o.keys_file.empty())
          o.keys_file = resolve(o.keys_file).string();
        if (o.encrypted && o.keys_file.empty())
          return make_error(errc::invalid_argument,
                            where + ": encrypted = true needs keys_file (hash-ratchet keys; "
                                    "annals hrkey new)");
        // The first build seals with it: a missing or broken file fails now.
        if (o.encrypted)
          if (auto keys = load_hr_keys(o.keys_file); !keys)
            return make_error(errc::invalid_argument, at(file, t->get("keys_file")) + where
                                                   + ".keys_file: " + keys.error().message);
        ANNALS_TRY(read_traffic(*t, where, channels, file, o.traffic));
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
        joined_community j{std::move(m), {}};
        j.traffic.wait_for_peers = true;
        ANNALS_TRY(read_traffic(*t, where, channels, file, j.traffic));
        c.joined.push_back(std::move(j));
      } else {
        return make_error(errc::invalid_argument, where + ".role must be \"owner\" or \"member\"");
      }
    }
  }
  if (c.owned.empty() && c.joined.empty())
    return make_error(errc::invalid_argument, file.string() + ": no [[community]] to own or join");
  // One role per community: a node cannot be a community's owner and its
  // member, nor list it twice.
  std::set<std::string> seen;
  for (const auto& o : c.owned)
    if (!seen.insert(o.community_id).second)
      return make_error(errc::invalid_argument,
                        file.string() + ": community " + o.community_id + " is owned twice");
  for (const auto& j : c.joined)
    if (!seen.insert(j.spec.community_id).second)
      return make_error(errc::invalid_argument,
                        file.string() + ": community " + j.spec.community_id
                          + (std::any_of(c.owned.begin(), c.owned.end(),
                                         [&](const auto& o) {
                                           return o.community_id == j.spec.community_id;
                                         })
                               ? " is both owned and joined: a node is its owner or a member"
                               : " is joined twice"));
  collect_listens(root, file, c);
  return c;
}


} // namespace

result<void> check_listen_ports(const run_config& c) {
  namespace asio = boost::asio;
  asio::io_context io;
  for (const auto& claim : c.listens) {
    boost::system::error_code ec;
    auto ip = asio::ip::make_address(claim.host, ec);
    if (ec)
      continue;
    auto taken = [&](boost::system::error_code bind_ec, const char* proto) -> result<void> {
      if (!bind_ec)
        return ok_result();
      if (bind_ec == asio::error::address_in_use)
        return make_error(errc::io, claim.where + ": " + claim.address + " is in use ("
                                            + proto + " port " + std::to_string(claim.port)
                                            + " is bound by another process)");
      return make_error(errc::io, claim.where + ": cannot bind " + claim.address + " ("
                                          + proto + "): " + bind_ec.message());
    };
    if (claim.tcp) {
      // As the listeners themselves do: reuse_address lets a port in
      // TIME_WAIT go, never one another socket listens on.
      asio::ip::tcp::acceptor probe(io);
      probe.open(ip.is_v4() ? asio::ip::tcp::v4() : asio::ip::tcp::v6(), ec);
      if (!ec)
        probe.set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec)
        probe.bind({ip, claim.port}, ec);
      if (!ec)
        probe.listen(asio::socket_base::max_listen_connections, ec);
      if (auto ok = taken(ec, "tcp"); !ok)
        return ok;
    }
    if (claim.udp) {
      asio::ip::udp::socket probe(io);
      probe.open(ip.is_v4() ? asio::ip::udp::v4() : asio::ip::udp::v6(), ec);
      if (!ec)
        probe.bind({ip, claim.port}, ec);
      if (auto ok = taken(ec, "udp"); !ok)
        return ok;
    }
  }
  return ok_result();
}

#undef ANNALS_TRY

} // namespace annals::app
