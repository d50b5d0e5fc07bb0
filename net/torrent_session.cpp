// libtorrent runs its own network thread; the handle tables here are not
// synchronised, which is why the class is single-threaded (see the header).
#include "net/torrent_session.hpp"

#include "core/file_io.hpp"
#include "core/hex.hpp"
#include "net/interfaces.hpp"

#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/alert_types.hpp>
#include <libtorrent/bencode.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/magnet_uri.hpp>
#include <libtorrent/peer_info.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/session_params.hpp>
#include <libtorrent/settings_pack.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>

#include <cctype>
#include <charconv>
#include <iterator>
#include <map>

namespace annals {

namespace fs = std::filesystem;

namespace {

/// How long start() waits for the listen socket to bind or fail.
constexpr auto listen_timeout = std::chrono::seconds(2);

/// Largest info dict accepted from a peer. It also bounds the piece count of
/// any magnet download at 20 bytes of hash per piece: 419,430 pieces, 40 GiB
/// of archives.
constexpr int max_metadata_size = 8 << 20;
constexpr std::size_t max_magnet_pieces = max_metadata_size / 20;

/// libtorrent's default of 2000 alerts is reached by piece_finished alone on a
/// 200 MB download between two polls; lost alerts would hide completions.
constexpr int alert_queue_size = 100'000;

std::string hex_of(const lt::sha1_hash& hash) {
  return to_hex(std::string_view(hash.data(), hash.size()));
}

std::string format_endpoint(const lt::address& address, int port) {
  auto host = address.to_string();
  return (address.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string format_endpoint(const lt::tcp::endpoint& endpoint) {
  return format_endpoint(endpoint.address(), endpoint.port());
}

/// strerror-style text starts with a capital; these messages follow a colon.
std::string lowercase_first(std::string text) {
  if (!text.empty())
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

/// "ADDR:PORT" with ADDR an IPv4 address or a bracketed IPv6 one.
std::optional<lt::tcp::endpoint> parse_endpoint(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return std::nullopt;
  auto host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535)
    return std::nullopt;
  lt::error_code address_error;
  auto address = lt::make_address(std::string(host), address_error);
  if (address_error)
    return std::nullopt;
  return lt::tcp::endpoint(address, static_cast<std::uint16_t>(port));
}

result<lt::tcp::endpoint> parse_peer(const std::string& peer) {
  auto endpoint = parse_endpoint(peer);
  if (!endpoint || endpoint->port() == 0)
    return make_error(errc::invalid_argument, "peer \"" + peer + "\" is not ADDR:PORT");
  return *endpoint;
}

result<void> append_peers(std::vector<lt::tcp::endpoint>& endpoints,
                          const std::vector<std::string>& peers) {
  for (const auto& peer : peers) {
    auto endpoint = parse_peer(peer);
    if (!endpoint)
      return endpoint.error();
    endpoints.push_back(*endpoint);
  }
  return ok_result();
}

result<std::shared_ptr<lt::torrent_info>> load_torrent_info(const fs::path& torrent_file) {
  lt::error_code ec;
  auto info = std::make_shared<lt::torrent_info>(torrent_file.string(), ec);
  if (ec == boost::system::errc::no_such_file_or_directory)
    return make_error(errc::not_found, torrent_file.string() + ": no such file");
  if (ec)
    return make_error(errc::malformed, torrent_file.string() + ": " + ec.message());
  return info;
}

/// Go's url.QueryUnescape; nullopt on a malformed %-escape.
std::optional<std::string> query_unescape(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] != '%') {
      out += text[i];
    } else {
      auto byte = from_hex(text.substr(i + 1, 2));
      if (!byte || byte->size() != 1)
        return std::nullopt;
      out += *byte;
      i += 2;
    }
  }
  return out;
}

/// The x.pe peers of a magnet link. libtorrent parses x.pe values without
/// unescaping them, so it misses "127.0.0.1%3A9025", the form Go's
/// url.Values.Encode (and magnet_link) produce.
result<std::vector<lt::tcp::endpoint>> magnet_peers(std::string_view magnet) {
  std::vector<lt::tcp::endpoint> peers;
  auto query = magnet.substr(std::min(magnet.find('?'), magnet.size()));
  while (!query.empty()) {
    query.remove_prefix(1);  // the '?' or '&' before each parameter
    auto param = query.substr(0, query.find('&'));
    query.remove_prefix(param.size());
    auto equals = std::min(param.find('='), param.size());
    if (query_unescape(param.substr(0, equals)) != "x.pe")
      continue;
    auto value = query_unescape(param.substr(std::min(equals + 1, param.size())));
    auto endpoint = value ? parse_endpoint(*value) : std::nullopt;
    if (!endpoint || endpoint->port() == 0)
      return make_error(errc::malformed, "magnet link peer \"" + std::string(param) +
                                           "\" is not x.pe=ADDR:PORT");
    peers.push_back(*endpoint);
  }
  return peers;
}

result<lt::sha1_hash> parse_info_hash(const std::string& info_hash) {
  auto bytes = from_hex_fixed<20>(info_hash);
  if (!bytes)
    return make_error(errc::invalid_argument,
                      "info hash \"" + info_hash + "\" is not 40 hex digits");
  return lt::sha1_hash(reinterpret_cast<const char*>(bytes->data()));
}

lt::settings_pack make_settings(const torrent_session_options& options) {
  lt::settings_pack sp;
  sp.set_str(lt::settings_pack::listen_interfaces, options.listen);
  // A node must own its configured port: silently listening elsewhere would
  // publish an address nobody can reach.
  sp.set_bool(lt::settings_pack::listen_system_port_fallback, false);
  sp.set_int(lt::settings_pack::max_retry_port_bind, 0);
  sp.set_bool(lt::settings_pack::enable_dht, options.dht);
  if (!options.dht_bootstrap.empty()) {
    std::string nodes;
    for (const auto& node : options.dht_bootstrap)
      nodes += (nodes.empty() ? "" : ",") + node;
    sp.set_str(lt::settings_pack::dht_bootstrap_nodes, nodes);
  }
  if (options.private_network) {
    sp.set_bool(lt::settings_pack::dht_restrict_routing_ips, false);
    sp.set_bool(lt::settings_pack::dht_restrict_search_ips, false);
  }
  if (std::string ip; !options.external_address.empty()) {
    unsigned port = 0;
    if (split_host_port(options.external_address, ip, port))
      sp.set_str(lt::settings_pack::announce_ip, ip);
  }
  sp.set_bool(lt::settings_pack::enable_lsd, options.lsd);
  sp.set_bool(lt::settings_pack::enable_upnp, options.upnp);
  sp.set_bool(lt::settings_pack::enable_natpmp, options.upnp);
  sp.set_int(lt::settings_pack::max_metadata_size, max_metadata_size);
  sp.set_int(lt::settings_pack::alert_queue_size, alert_queue_size);
  // A member that has every piece it asked for so far (say, the index) is
  // upload-only until it asks for more. Dropping it as redundant then would
  // cost a reconnect of min_reconnect_time (60 s by default) per round.
  sp.set_bool(lt::settings_pack::close_redundant_connections, false);
  // Bounds how long ~torrent_session blocks on the final tracker announces.
  sp.set_int(lt::settings_pack::stop_tracker_timeout, 1);
  // No alert_category::storage: with it libtorrent also posts a
  // cache_flushed_alert whenever a torrent becomes finished (even one with
  // nothing wanted yet, right after it is added), and those would pass for
  // the answer to a flush() issued later, before its blocks are written.
  // The alert that answers torrent_handle::flush_cache() is posted
  // regardless of the mask, so every `flushed` event answers a flush().
  sp.set_int(lt::settings_pack::alert_mask,
             lt::alert_category::status | lt::alert_category::error |
               lt::alert_category::connect | lt::alert_category::piece_progress |
               lt::alert_category::file_progress | lt::alert_category::peer);
  if (options.loopback) {
    // uTP on loopback is several times slower than TCP and erratic.
    sp.set_bool(lt::settings_pack::enable_outgoing_utp, false);
    sp.set_bool(lt::settings_pack::enable_incoming_utp, false);
    // Every node in a loopback test shares 127.0.0.1.
    sp.set_bool(lt::settings_pack::allow_multiple_connections_per_ip, true);
    // Without a tracker or DHT to rediscover peers, a handshake dropped by
    // the other side would otherwise stall the transfer for the default 60 s.
    sp.set_int(lt::settings_pack::min_reconnect_time, 1);
  }
  return sp;
}

} // namespace

torrent_session_options loopback_session_options() {
  torrent_session_options options;
  options.listen = "127.0.0.1:0";
  options.dht = false;
  options.lsd = false;
  options.upnp = false;
  options.trackers = false;
  options.loopback = true;
  return options;
}

struct torrent_session::impl {
  explicit impl(const torrent_session_options& options)
    : options(options), session(lt::session_params(make_settings(options))) {}

  result<lt::torrent_handle> find(const std::string& info_hash) const {
    auto hash = parse_info_hash(info_hash);
    if (!hash)
      return hash.error();
    auto it = torrents.find(*hash);
    if (it == torrents.end())
      return make_error(errc::not_found, "no torrent " + info_hash + " in this session");
    return it->second;
  }

  struct with_metadata {
    lt::torrent_handle handle;
    std::shared_ptr<const lt::torrent_info> info;
  };

  /// The torrent and its info dict, which a magnet download has only after
  /// metadata_received.
  result<with_metadata> find_with_metadata(const std::string& info_hash) const {
    auto handle = find(info_hash);
    if (!handle)
      return handle.error();
    auto info = handle->torrent_file();
    if (!info)
      return make_error(errc::invalid_argument,
                        info_hash + ": metadata has not arrived from a peer yet");
    return with_metadata{*handle, std::move(info)};
  }

  result<std::string> add(lt::add_torrent_params atp) {
    auto hash = atp.ti ? atp.ti->info_hashes().v1 : atp.info_hashes.v1;
    if (!options.trackers) {
      // override_trackers also drops the .torrent's own announce-list.
      atp.trackers.clear();
      atp.tracker_tiers.clear();
      atp.flags |= lt::torrent_flags::override_trackers;
    }
    atp.flags |= lt::torrent_flags::duplicate_is_error;
    lt::error_code ec;
    auto handle = session.add_torrent(std::move(atp), ec);
    if (ec == lt::errors::duplicate_torrent)
      return make_error(errc::conflict, hex_of(hash) + ": already in this session");
    if (ec)
      return make_error(errc::io, hex_of(hash) + ": " + ec.message());
    torrents[hash] = handle;
    hashes[handle] = hash;
    return hex_of(hash);
  }

  /// Raises the priority of pieces [first, last); never lowers any, so wants
  /// accumulate. File priorities are never touched: libtorrent recomputes
  /// every piece priority when they change, which would drop earlier wants.
  static result<void> want(const with_metadata& torrent, int first, int last,
                           lt::download_priority_t priority = lt::default_priority) {
    auto count = torrent.info->num_pieces();
    if (first < 0 || last > count || first > last)
      return make_error(errc::invalid_argument,
                        "pieces [" + std::to_string(first) + ", " + std::to_string(last) +
                          ") outside [0, " + std::to_string(count) + ")");
    std::vector<std::pair<lt::piece_index_t, lt::download_priority_t>> wanted;
    for (int piece = first; piece < last; ++piece)
      wanted.emplace_back(lt::piece_index_t(piece), priority);
    torrent.handle.prioritize_pieces(wanted);
    return ok_result();
  }

  /// The info hash of the torrent an alert refers to; empty for one this
  /// wrapper did not add.
  std::string hash_of(const lt::torrent_handle& handle) const {
    auto it = hashes.find(handle);
    return it == hashes.end() ? std::string() : hex_of(it->second);
  }

  std::optional<torrent_event> convert(const lt::alert* alert);

  torrent_session_options options;
  lt::session session;
  std::uint16_t port = 0;
  std::map<lt::sha1_hash, lt::torrent_handle> torrents;
  // Kept until torrent_removed_alert, so alerts still queued for a removed
  // torrent can be attributed. std::map because torrent_handle's ordering is
  // stable while its std::hash changes once the torrent is gone.
  std::map<lt::torrent_handle, lt::sha1_hash> hashes;
};

std::optional<torrent_event> torrent_session::impl::convert(const lt::alert* alert) {
  using kind = torrent_event::kind;
  auto event = [&](kind what, const lt::torrent_handle& handle) {
    return torrent_event{what, hash_of(handle), -1, -1, {}};
  };

  if (auto a = lt::alert_cast<lt::add_torrent_alert>(alert)) {
    if (!a->error)
      return event(kind::added, a->handle);
    auto hash = a->params.ti ? a->params.ti->info_hashes().v1 : a->params.info_hashes.v1;
    return torrent_event{kind::error, hex_of(hash), -1, -1,
                         "adding the torrent failed: " + a->error.message()};
  }
  if (auto a = lt::alert_cast<lt::metadata_received_alert>(alert))
    return event(kind::metadata_received, a->handle);
  if (auto a = lt::alert_cast<lt::file_completed_alert>(alert)) {
    auto e = event(kind::file_completed, a->handle);
    e.file_index = static_cast<int>(a->index);
    return e;
  }
  if (auto a = lt::alert_cast<lt::piece_finished_alert>(alert)) {
    auto e = event(kind::piece_finished, a->handle);
    e.piece = static_cast<int>(a->piece_index);
    return e;
  }
  if (auto a = lt::alert_cast<lt::torrent_finished_alert>(alert))
    return event(kind::finished, a->handle);
  if (auto a = lt::alert_cast<lt::cache_flushed_alert>(alert))
    return event(kind::flushed, a->handle);
  if (auto a = lt::alert_cast<lt::state_changed_alert>(alert)) {
    if (a->state != lt::torrent_status::seeding)
      return std::nullopt;
    return event(kind::seeding, a->handle);
  }
  if (auto a = lt::alert_cast<lt::torrent_removed_alert>(alert)) {
    hashes.erase(a->handle);
    return torrent_event{kind::removed, hex_of(a->info_hashes.v1), -1, -1, {}};
  }
  if (auto a = lt::alert_cast<lt::peer_connect_alert>(alert)) {
    auto e = event(kind::peer_connected, a->handle);
    e.message = format_endpoint(a->endpoint);
    return e;
  }
  if (auto a = lt::alert_cast<lt::peer_disconnected_alert>(alert)) {
    auto e = event(kind::peer_disconnected, a->handle);
    e.message = format_endpoint(a->endpoint) + ": " + lowercase_first(a->error.message());
    return e;
  }
  if (auto a = lt::alert_cast<lt::peer_ban_alert>(alert)) {
    auto e = event(kind::peer_banned, a->handle);
    e.message = format_endpoint(a->endpoint);
    return e;
  }
  if (auto a = lt::alert_cast<lt::hash_failed_alert>(alert)) {
    auto e = event(kind::piece_failed, a->handle);
    e.piece = static_cast<int>(a->piece_index);
    e.message = "piece " + std::to_string(e.piece) + " failed its hash check";
    return e;
  }
  if (auto a = lt::alert_cast<lt::file_error_alert>(alert)) {
    auto e = event(kind::error, a->handle);
    e.message = std::string(a->filename()) + ": " + lt::operation_name(a->op) + ": " +
                lowercase_first(a->error.message());
    return e;
  }
  if (auto a = lt::alert_cast<lt::torrent_error_alert>(alert)) {
    auto e = event(kind::error, a->handle);
    auto file = std::string(a->filename());
    e.message = (file.empty() ? "" : file + ": ") + lowercase_first(a->error.message());
    return e;
  }
  if (auto a = lt::alert_cast<lt::metadata_failed_alert>(alert)) {
    auto e = event(kind::error, a->handle);
    e.message = "metadata from a peer was rejected: " + lowercase_first(a->error.message());
    return e;
  }
  if (auto a = lt::alert_cast<lt::listen_failed_alert>(alert))
    return torrent_event{kind::error, {}, -1, -1,
                         format_endpoint(a->address, a->port) + ": " +
                           lowercase_first(a->error.message())};
  if (lt::alert_cast<lt::alerts_dropped_alert>(alert))
    return torrent_event{kind::error, {}, -1, -1,
                         "the alert queue overflowed and events were lost; "
                         "re-read progress() of every torrent"};
  return std::nullopt;
}

result<std::unique_ptr<torrent_session>>
torrent_session::start(const torrent_session_options& options) {
  if (!parse_endpoint(options.listen))
    return make_error(errc::invalid_argument,
                      "listen address \"" + options.listen + "\" is not ADDR:PORT");
  auto p = std::make_unique<impl>(options);

  // libtorrent binds asynchronously and reports the outcome only as an alert.
  // No torrent exists yet, so the other alerts drained here carry nothing.
  auto deadline = std::chrono::steady_clock::now() + listen_timeout;
  bool listening = false;
  while (!listening) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline)
      break;
    p->session.wait_for_alert(std::chrono::duration_cast<lt::time_duration>(deadline - now));
    std::vector<lt::alert*> alerts;
    p->session.pop_alerts(&alerts);
    for (auto* alert : alerts) {
      if (auto a = lt::alert_cast<lt::listen_failed_alert>(alert))
        return make_error(errc::io, format_endpoint(a->address, a->port) + ": " +
                                      lowercase_first(a->error.message()));
      if (auto a = lt::alert_cast<lt::listen_succeeded_alert>(alert);
          a && a->socket_type == lt::socket_type_t::tcp)
        listening = true;
    }
  }
  if (!listening)
    return make_error(errc::io, options.listen + ": no listen socket after " +
                                  std::to_string(listen_timeout.count()) + " s");
  p->port = p->session.listen_port();
  return std::unique_ptr<torrent_session>(new torrent_session(std::move(p)));
}

torrent_session::torrent_session(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

// ~lt::session aborts the session and blocks until its threads have stopped,
// including up to stop_tracker_timeout (1 s) for the final tracker announces.
torrent_session::~torrent_session() = default;

std::uint16_t torrent_session::listen_port() const { return impl_->port; }

result<prepared_torrent> torrent_session::prepare_seed(const fs::path& torrent_file,
                                                      const fs::path& save_path) {
  auto loaded = load_torrent_info(torrent_file);
  if (!loaded)
    return loaded.error();
  auto info = std::move(*loaded);
  // seed_mode trusts the files without hashing them, so a missing or short
  // file would surface only later, as a read error when a peer asks for it.
  const auto& files = info->files();
  for (auto index : files.file_range()) {
    auto path = save_path / files.file_path(index);
    std::error_code size_error;
    auto size = fs::file_size(path, size_error);
    if (size_error)
      return make_error(errc::not_found, path.string() + ": " + size_error.message());
    // `data` may run past the set: bytes of a newer set a member began to
    // fetch (archive_layout::fetching_index_file); they are never read.
    bool longer_data = index == lt::file_index_t{0} && info->num_files() == 2
                       && size > static_cast<std::uintmax_t>(files.file_size(index));
    if (size != static_cast<std::uintmax_t>(files.file_size(index)) && !longer_data)
      return make_error(errc::verification_failed,
                        path.string() + ": " + std::to_string(size) + " bytes, the torrent says " +
                          std::to_string(files.file_size(index)));
  }
  return prepared_torrent{std::move(info), save_path, true, {}};
}

result<prepared_torrent> torrent_session::prepare_fetch(const fs::path& torrent_file,
                                                       const fs::path& save_path) {
  auto loaded = load_torrent_info(torrent_file);
  if (!loaded)
    return loaded.error();
  return prepared_torrent{std::move(*loaded), save_path, false, {}};
}

result<std::string> torrent_session::add(prepared_torrent torrent,
                                         const std::vector<std::string>& peers,
                                         bool download_all) {
  auto info = std::static_pointer_cast<lt::torrent_info>(std::move(torrent.info));
  if (!info)
    return make_error(errc::invalid_argument, "no torrent prepared");
  lt::add_torrent_params atp;
  if (auto added = append_peers(atp.peers, peers); !added)
    return added.error();
  if (torrent.seed) {
    atp.flags |= lt::torrent_flags::seed_mode;
  } else {
    if (!download_all)  // as in fetch(), but the piece count is known here
      atp.piece_priorities.assign(static_cast<std::size_t>(info->num_pieces()),
                                  lt::dont_download);
    if (impl_->options.sequential_fetch)
      atp.flags |= lt::torrent_flags::sequential_download;
    if (!torrent.staged_index.empty() && info->num_files() > 1)
      atp.renamed_files[lt::file_index_t{1}] = torrent.staged_index;
  }
  atp.ti = std::move(info);
  atp.save_path = torrent.save_path.string();
  return impl_->add(std::move(atp));
}

result<std::string> torrent_session::seed(const fs::path& torrent_file,
                                          const fs::path& save_path) {
  auto prepared = prepare_seed(torrent_file, save_path);
  if (!prepared)
    return prepared.error();
  return add(std::move(*prepared));
}

result<std::string> torrent_session::fetch(const std::string& magnet, const fs::path& save_path,
                                           const std::vector<std::string>& peers,
                                           bool download_all, const std::string& staged_index) {
  lt::error_code ec;
  auto atp = lt::parse_magnet_uri(magnet, ec);
  if (ec)
    return make_error(errc::malformed, "magnet link \"" + magnet + "\": " + ec.message());
  if (atp.info_hashes.v1.is_all_zeros())
    return make_error(errc::unsupported,
                      "magnet link \"" + magnet + "\" has no v1 (urn:btih) info hash");
  auto magnet_endpoints = magnet_peers(magnet);
  if (!magnet_endpoints)
    return magnet_endpoints.error();
  atp.peers = std::move(*magnet_endpoints);
  if (auto added = append_peers(atp.peers, peers); !added)
    return added.error();
  atp.save_path = save_path.string();
  if (!staged_index.empty())
    atp.renamed_files[lt::file_index_t{1}] = staged_index;
  if (!download_all) {
    // Nothing may download before the caller says what it wants, from the
    // moment the metadata arrives, before poll() could react to it.
    // libtorrent applies piece_priorities then, cut to the real piece count.
    // File priorities stay non-zero: pieces of a file at priority 0 go to a
    // hidden part file instead of to `data` and `index`.
    atp.piece_priorities.assign(max_magnet_pieces, lt::dont_download);
  }
  if (impl_->options.sequential_fetch)
    atp.flags |= lt::torrent_flags::sequential_download;
  return impl_->add(std::move(atp));
}

result<std::string> torrent_session::fetch_torrent_file(const fs::path& torrent_file,
                                                       const fs::path& save_path,
                                                       const std::vector<std::string>& peers,
                                                       bool download_all) {
  auto prepared = prepare_fetch(torrent_file, save_path);
  if (!prepared)
    return prepared.error();
  return add(std::move(*prepared), peers, download_all);
}

result<void> torrent_session::rename_file(const std::string& info_hash, int file_index,
                                          const std::string& relative_path) {
  auto handle = impl_->find(info_hash);
  if (!handle)
    return handle.error();
  handle->rename_file(lt::file_index_t{file_index}, relative_path);
  return ok_result();
}

result<void> torrent_session::remove(const std::string& info_hash) {
  auto handle = impl_->find(info_hash);
  if (!handle)
    return handle.error();
  impl_->session.remove_torrent(*handle);
  impl_->torrents.erase(impl_->hashes.at(*handle));
  return ok_result();
}

result<void> torrent_session::want_pieces(const std::string& info_hash, int first, int last,
                                          piece_priority priority) {
  auto torrent = impl_->find_with_metadata(info_hash);
  if (!torrent)
    return torrent.error();
  if (auto wanted = impl::want(*torrent, first, last,
                               priority == piece_priority::top ? lt::top_priority
                                                               : lt::default_priority);
      !wanted)
    return make_error(wanted.error().code, info_hash + ": " + wanted.error().message);
  return ok_result();
}

result<void> torrent_session::want_file(const std::string& info_hash, int file_index) {
  auto torrent = impl_->find_with_metadata(info_hash);
  if (!torrent)
    return torrent.error();
  const auto& files = torrent->info->files();
  if (file_index < 0 || file_index >= files.num_files())
    return make_error(errc::invalid_argument,
                      info_hash + ": no file " + std::to_string(file_index) + " (the torrent has " +
                        std::to_string(files.num_files()) + ")");
  lt::file_index_t index(file_index);
  auto begin = files.file_offset(index);
  auto end = begin + files.file_size(index);
  auto piece_length = files.piece_length();
  return impl::want(*torrent, static_cast<int>(begin / piece_length),
                    static_cast<int>((end + piece_length - 1) / piece_length));
}

result<torrent_progress> torrent_session::progress(const std::string& info_hash) const {
  auto handle = impl_->find(info_hash);
  if (!handle)
    return handle.error();
  auto st = handle->status();
  torrent_progress out;
  out.info_hash = info_hash;
  out.name = st.name;
  out.has_metadata = st.has_metadata;
  out.seeding = st.is_seeding;
  out.finished = st.is_finished;
  out.total_wanted = static_cast<std::uint64_t>(st.total_wanted);
  out.total_wanted_done = static_cast<std::uint64_t>(st.total_wanted_done);
  out.total_download = static_cast<std::uint64_t>(st.total_payload_download);
  out.total_upload = static_cast<std::uint64_t>(st.total_payload_upload);
  out.download_rate = static_cast<std::uint64_t>(std::max(0, st.download_payload_rate));
  out.upload_rate = static_cast<std::uint64_t>(std::max(0, st.upload_payload_rate));
  out.num_peers = st.num_peers;
  if (st.errc)
    out.error = lowercase_first(st.errc.message());
  return out;
}

result<std::vector<torrent_peer_transfer>>
torrent_session::peer_transfers(const std::string& info_hash) const {
  auto handle = impl_->find(info_hash);
  if (!handle)
    return handle.error();
  std::vector<lt::peer_info> peers;
  handle->get_peer_info(peers);
  std::vector<torrent_peer_transfer> out;
  out.reserve(peers.size());
  for (const auto& p : peers) {
    torrent_peer_transfer t;
    t.web_seed = p.connection_type != lt::peer_info::standard_bittorrent;
    t.ip = p.ip.address().to_string();
    t.endpoint = format_endpoint(p.ip);
    t.downloaded = static_cast<std::uint64_t>(p.total_download);
    t.uploaded = static_cast<std::uint64_t>(p.total_upload);
    out.push_back(std::move(t));
  }
  return out;
}

result<bool> torrent_session::have_piece(const std::string& info_hash, int piece) const {
  auto torrent = impl_->find_with_metadata(info_hash);
  if (!torrent)
    return torrent.error();
  if (piece < 0 || piece >= torrent->info->num_pieces())
    return make_error(errc::invalid_argument,
                      info_hash + ": no piece " + std::to_string(piece) + " (the torrent has " +
                        std::to_string(torrent->info->num_pieces()) + ")");
  return torrent->handle.have_piece(lt::piece_index_t(piece));
}

result<std::vector<bool>> torrent_session::have_pieces(const std::string& info_hash) const {
  auto torrent = impl_->find_with_metadata(info_hash);
  if (!torrent)
    return torrent.error();
  auto status = torrent->handle.status(lt::torrent_handle::query_pieces);
  auto count = torrent->info->num_pieces();
  std::vector<bool> have(static_cast<std::size_t>(count));
  // The bitfield is empty while libtorrent still checks existing files.
  for (int piece = 0; piece < count && piece < status.pieces.size(); ++piece)
    have[static_cast<std::size_t>(piece)] = status.pieces.get_bit(lt::piece_index_t(piece));
  return have;
}

result<torrent_summary> torrent_session::metadata_summary(const std::string& info_hash) const {
  auto torrent = impl_->find_with_metadata(info_hash);
  if (!torrent)
    return torrent.error();
  auto section = torrent->info->info_section();
  auto summary = check_archive_info_dict(std::string_view(section.data(), section.size()));
  if (!summary)
    return make_error(summary.error().code, info_hash + ": " + summary.error().message);
  for (const auto& tracker : torrent->handle.trackers())
    summary->trackers.push_back(tracker.url);
  summary->magnet = magnet_link(summary->info_hash, summary->name, summary->trackers);
  return summary;
}

result<std::string> torrent_session::torrent_file_bytes(const std::string& info_hash) const {
  auto torrent = impl_->find_with_metadata(info_hash);
  if (!torrent)
    return torrent.error();
  lt::entry root(lt::entry::dictionary_t);
  auto trackers = torrent->handle.trackers();
  if (!trackers.empty()) {
    auto& tiers = root["announce-list"] = lt::entry::list_type{};
    for (const auto& tracker : trackers)
      tiers.list().push_back(lt::entry::list_type{lt::entry(tracker.url)});
  }
  // Re-encoding a decoded info dict could reorder or normalise it and so
  // change the info hash; the preformatted entry is copied verbatim.
  auto section = torrent->info->info_section();
  root["info"] = lt::entry::preformatted_type(section.begin(), section.end());
  std::string bytes;
  lt::bencode(std::back_inserter(bytes), root);
  return bytes;
}

result<void> torrent_session::save_torrent_file(const std::string& info_hash,
                                                const fs::path& file) const {
  auto bytes = torrent_file_bytes(info_hash);
  if (!bytes)
    return bytes.error();
  if (auto created = create_private_dirs(file.parent_path()); !created)
    return created.error();
  return write_file_atomic(file, *bytes);
}

result<void> torrent_session::flush(const std::string& info_hash) {
  auto handle = impl_->find(info_hash);
  if (!handle)
    return handle.error();
  handle->flush_cache();
  return ok_result();
}

result<void> torrent_session::connect_peer(const std::string& info_hash,
                                           const std::string& peer) {
  auto handle = impl_->find(info_hash);
  if (!handle)
    return handle.error();
  auto endpoint = parse_peer(peer);
  if (!endpoint)
    return endpoint.error();
  handle->connect_peer(*endpoint);
  return ok_result();
}

void torrent_session::set_alert_notify(std::function<void()> notify) {
  impl_->session.set_alert_notify(notify ? std::move(notify) : std::function<void()>([] {}));
}

std::vector<torrent_event> torrent_session::poll(std::chrono::milliseconds max_wait) {
  impl_->session.wait_for_alert(max_wait);
  std::vector<lt::alert*> alerts;
  impl_->session.pop_alerts(&alerts);
  // The alerts die at the next pop_alerts, so convert them all now.
  std::vector<torrent_event> events;
  for (auto* alert : alerts)
    if (auto event = impl_->convert(alert))
      events.push_back(std::move(*event));
  return events;
}

} // namespace annals
