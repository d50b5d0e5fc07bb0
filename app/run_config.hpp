// `annals run`'s configuration file: what it holds and how it is read. Kept
// apart from the command so a fuzzer and the tests read TOML the same way.
#pragma once

#include "actors/node.hpp"
#include "core/result.hpp"
#include "net/p2p/host.hpp"
#include <annals/store_options.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace annals::app {

/// [community.traffic]: synthetic channel traffic this node posts (tests,
/// demos, the network bench), as a Status client would.
struct traffic_spec {
  std::size_t messages = 0;
  double rate = 1000;
  double late_share = 0;        // share of messages with a past timestamp
  std::uint64_t late_by = 0;    // seconds in the past, at most
  std::size_t payload = 200;    // bytes of text per message
  std::uint64_t seed = 1;       // which messages are late
  /// Post once the relay has a peer (libp2p relay only): a member's message
  /// published to nobody reaches no one. An owner keeps its own messages
  /// whoever listens, so by default only members wait.
  bool wait_for_peers = false;
};

struct owned_community {
  std::string key_hex;
  std::string community_id;  // of key_hex, derived when the config is read
  std::vector<std::string> channels;
  bool encrypted = false;  // token-gated: archives sealed with keys_file's newest key
  std::string keys_file;   // hash-ratchet keys (annals hrkey)
  traffic_spec traffic;
};

/// A joined community, and the traffic this node posts to it.
struct joined_community {
  membership_spec spec;
  traffic_spec traffic;
};

/// `annals run` re-announces links to relay peers that appear (a network
/// relay's members connect after announcements).
inline archive_settings run_archive_defaults() {
  archive_settings archives;
  archives.welcome_gap = 60;
  return archives;
}

/// A port the node will bind, and where the config asks for it.
struct listen_claim {
  std::string where;    // "node.toml:7: rest.listen", or "relay.listen (default)"
  std::string address;  // as configured
  std::string host;     // IP literal
  std::uint16_t port = 0;
  bool tcp = true;
  bool udp = false;
};

struct run_config {
  std::filesystem::path data_dir;
  std::string events;
  // [log]: empty when not set (the command line's flags win over these)
  std::string log_level;
  std::string log_format;
  std::string log_file;  // resolved against the config file's directory
  torrent_settings torrent;
  // relay
  bool libp2p = true;
  std::filesystem::path relay_key_file;
  p2p::host_config relay;
  archive_settings archives = run_archive_defaults();
  std::vector<owned_community> owned;
  std::vector<joined_community> joined;
  std::string rest_listen;  // empty: no REST API
  store_options store;
  /// The Waku store: served and synced by default (with the libp2p relay).
  waku_store_settings waku_store{true, true};
  /// Every fixed port the node binds (port 0 left out), in config order.
  std::vector<listen_claim> listens;
};

/// Config files larger than this are refused unread.
inline constexpr std::uint64_t max_config_bytes = 4 * 1024 * 1024;

/// Reads and checks FILE (errors name file, line and key; a missing file,
/// a FIFO or a device is refused unread).
result<run_config> load_run_config(const std::filesystem::path& file);
/// The same from text; `file` names it in errors and anchors relative paths.
result<run_config> parse_run_config(std::string_view text, const std::filesystem::path& file);

/// Binds each claimed port for a moment and lets go: a taken one is refused
/// as "node.toml:7: rest.listen: 127.0.0.1:8645 is in use", before anything
/// listens or prints "listening".
result<void> check_listen_ports(const run_config& c);

} // namespace annals::app
