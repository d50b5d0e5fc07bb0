// The libp2p protocols a connection serves on streams the peer opens, as a
// table: protocol ID -> how a negotiated stream of it is handled. A new
// protocol (Waku store, light push, peer exchange) is one handler class and
// one entry; the connection itself only negotiates and routes bytes.
#pragma once

#include "core/result.hpp"

#include <cstddef>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace annals::p2p {

struct connection_config;
class connection_handler;
struct identify_info;

/// Identify and metadata messages are small; a peer sending more is broken.
inline constexpr std::size_t max_control_message = 64 * 1024;

/// What a protocol handler may do with its stream.
class stream_io {
public:
  virtual ~stream_io() = default;
  virtual void write(std::string_view bytes) = 0;
  /// Ends our side of the stream: the answer is complete.
  virtual void close() = 0;
  /// Resets the stream; its handler is dropped once it returns.
  virtual void reset() = 0;
  /// Something for operators that does not end the connection.
  virtual void note(const std::string& text) = 0;
  /// The authenticated peer ID of the remote (empty when unknown).
  virtual std::string remote_peer() const { return {}; }
};

/// One inbound stream of a negotiated protocol.
class stream_protocol_handler {
public:
  virtual ~stream_protocol_handler() = default;
  /// Bytes from the peer. An error ends the whole connection (a peer that
  /// breaks the rules of a protocol it chose); io.reset() refuses only the
  /// stream.
  virtual result<void> on_bytes(stream_io& io, std::string_view bytes) = 0;
};

/// How a protocol is served.
struct stream_protocol {
  /// Called once the stream is negotiated; may answer at once (identify).
  std::function<std::unique_ptr<stream_protocol_handler>(stream_io& io)> open;
  /// Streams of it a peer may have open at once on one connection.
  std::size_t max_streams = std::numeric_limits<std::size_t>::max();
};

using protocol_table = std::map<std::string, stream_protocol, std::less<>>;

/// What every annals connection serves besides identify (which the
/// connection adds last, listing the final table): ping, Waku metadata and,
/// when config.relay is set, Waku relay (one inbound stream, RPCs up to
/// config.max_rpc). `config` and `events` must outlive the table.
protocol_table builtin_protocols(const connection_config& config, connection_handler& events);

/// Our identify message: our key, addresses and every protocol `served`.
std::string identify_message(const connection_config& config, const protocol_table& served);
/// Answers one request of a request-response protocol: the asking peer's
/// ID and the request's bytes in, the answer's bytes out.
using request_answerer =
  std::function<std::string(const std::string& peer, std::string_view request)>;
/// Serves a request-response protocol (Waku store): one framed request of
/// at most `max_request` bytes (more resets the stream, never the
/// connection), one framed answer, then our side closes; at most
/// `max_streams` at once per connection.
stream_protocol request_responder(request_answerer answer, std::size_t max_request,
                                  std::size_t max_streams);

/// Serves identify by answering `message` and closing.
stream_protocol identify_responder(std::string message);
/// A peer's identify answer.
result<identify_info> parse_identify(std::string_view message);

} // namespace annals::p2p
