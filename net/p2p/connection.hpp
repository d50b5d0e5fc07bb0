// One libp2p connection as Waku relay peers speak it, without the socket:
//
//   multistream-select -> /noise -> Noise XX -> multistream-select -> muxer
//     per stream: multistream-select -> a protocol of the table
//                 (net/p2p/stream_protocol.hpp: relay, identify, ping, metadata)
//
// The host feeds raw TCP bytes to on_bytes() and writes take_output(); what
// the connection learns (the remote peer, relay RPCs, identify answers)
// reaches the host through connection_handler. Every failure names the layer
// it happened in, so `annals relay probe` and the logs can say where a peer
// went wrong.
#pragma once

#include "core/identity.hpp"
#include "core/result.hpp"
#include "net/p2p/muxer.hpp"
#include "net/p2p/peer_id.hpp"
#include "net/p2p/stream_protocol.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace annals::p2p {

inline constexpr std::string_view noise_protocol = "/noise";
inline constexpr std::string_view identify_protocol = "/ipfs/id/1.0.0";
inline constexpr std::string_view ping_protocol = "/ipfs/ping/1.0.0";
inline constexpr std::string_view waku_metadata_protocol = "/vac/waku/metadata/1.0.0";

/// Where a connection is, and where it failed.
enum class connection_layer { security_select, noise, muxer_select, muxed };
const char* to_string(connection_layer layer);

struct connection_config {
  private_key identity;
  /// Muxers in our order of preference (dialer) or accepted (listener).
  std::vector<std::string> muxers{"/yamux/1.0.0", "/mplex/6.7.0"};
  std::string agent_version = "annals";
  /// Our listen addresses, binary multiaddrs, for identify.
  std::vector<std::string> listen_addrs;
  /// The remote address as we see it, binary multiaddr, for identify.
  std::string observed_addr;
  std::uint32_t cluster_id = 16;
  std::vector<std::uint32_t> shards{32};
  /// Largest relay RPC frame accepted on a stream; more closes the connection.
  std::size_t max_rpc = 1 << 20;
  /// When set (a dialled /p2p/ address), the remote must own this key.
  std::optional<std::string> expected_remote_key;
  /// Whether we speak relay at all (probe connections do not).
  bool relay = true;
  /// Per-stream caps of the muxer (mplex frame size, yamux send queue).
  muxer_limits limits;
  /// Protocols served beside the built-ins (builtin_protocols), by ID; an
  /// entry here replaces a built-in of the same ID.
  protocol_table protocols;
};

/// What identify told us about the remote.
struct identify_info {
  std::string agent_version;
  std::string protocol_version;
  std::vector<std::string> protocols;
  std::vector<std::string> listen_addrs;  // text multiaddrs (unparsable ones skipped)
  std::string observed_addr;             // text, or empty
};

/// Callbacks, always from within on_bytes()/the connection's own methods.
class connection_handler {
public:
  virtual ~connection_handler() = default;
  /// Noise and muxer agreed; `remote` is authenticated.
  virtual void on_established(const peer_id& remote, const std::string& muxer) = 0;
  /// Our outbound relay stream is negotiated; RPCs queued so far are out.
  virtual void on_relay_ready() {}
  /// One RPC body from the peer's relay stream.
  virtual void on_relay_rpc(std::string rpc) = 0;
  /// The answer to request_identify().
  virtual void on_identify(const identify_info& info) {}
  /// The peer's Waku metadata request (cluster, shards), answered already.
  virtual void on_metadata(std::uint32_t cluster, std::vector<std::uint32_t> shards) {}
  /// Something worth an operator's attention that does not end the
  /// connection (a refused stream protocol, a reset stream).
  virtual void on_note(const std::string& text) {}
};

class connection {
public:
  enum class role { dialer, listener };

  connection(role r, connection_config config, connection_handler& handler);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Bytes this side sends first (the dialer's multistream proposal; the
  /// listener's header).
  std::string start();
  /// Raw bytes from the socket. An error is fatal: close the socket and log
  /// the message, which names the layer.
  result<void> on_bytes(std::string_view bytes);
  /// Raw bytes for the socket, in order.
  std::string take_output();

  bool established() const { return layer_ == connection_layer::muxed; }
  connection_layer layer() const { return layer_; }
  const std::optional<peer_id>& remote() const { return remote_; }

  /// Queues one relay RPC body on our outbound relay stream (opened when the
  /// connection is established); frames it there.
  result<void> send_relay_rpc(std::string_view rpc);
  /// Opens an identify stream; the answer arrives as on_identify.
  void request_identify();
  /// A request-response protocol (Waku store, light push): opens a stream
  /// of `protocol`, sends `message` framed (nothing when absent) and hands
  /// the peer's one framed answer of at most `max_answer` bytes, or why
  /// there is none, to `on_answer`, from within on_bytes().
  void request(const std::string& protocol, std::optional<std::string> message,
               std::size_t max_answer, std::function<void(result<std::string>)> on_answer);
  /// Bytes queued on the relay stream that have not reached take_output()
  /// because that stream is still being negotiated.
  std::size_t pending_relay_bytes() const;
  /// Bytes accepted for sending that the muxer holds back (flow control) or
  /// that wait for the relay stream.
  std::size_t backlog() const;
  /// Streams the peer opened beyond the muxer's cap, refused by reset.
  std::uint64_t streams_refused() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
  connection_layer layer_ = connection_layer::security_select;
  std::optional<peer_id> remote_;
};

} // namespace annals::p2p
