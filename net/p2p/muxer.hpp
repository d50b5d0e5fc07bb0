// Stream multiplexers over one secured connection: mplex (/mplex/6.7.0) and
// yamux (/yamux/1.0.0). Pure state machines: the connection feeds decrypted
// bytes in, collects events, and writes take_output() to the peer. Streams
// are named by a handle that is unique per connection, whoever opened them
// (mplex reuses numeric ids across the two directions).
#pragma once

#include "core/result.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace annals::p2p {

inline constexpr std::string_view mplex_protocol = "/mplex/6.7.0";
inline constexpr std::string_view yamux_protocol = "/yamux/1.0.0";

using stream_handle = std::uint64_t;

struct muxer_event {
  enum class kind {
    opened,        // the peer opened a stream (inbound)
    data,          // bytes arrived on a stream
    remote_closed, // the peer half-closed: no more data from it on this stream
    reset,         // the stream is gone in both directions
  };
  kind what;
  stream_handle stream;
  std::string bytes;  // for data
};

struct muxer_limits {
  /// mplex: the largest frame body accepted (the spec's 1 MiB).
  std::size_t max_frame = 1 << 20;
  /// Streams open at once; the peer opening more is refused by reset.
  std::size_t max_streams = 256;
  /// yamux: bytes queued for a stream whose send window is exhausted before
  /// write() fails (the peer is not reading).
  std::size_t max_pending_send = 4 << 20;
};

class muxer {
public:
  virtual ~muxer() = default;
  /// "/mplex/6.7.0" or "/yamux/1.0.0".
  virtual std::string_view protocol() const = 0;
  /// Consumes decrypted bytes in arbitrary pieces; appends events in order.
  /// An error is a protocol violation (bad frame, oversized frame, data
  /// beyond the window, unknown type): the caller closes the connection.
  virtual result<void> feed(std::string_view bytes, std::vector<muxer_event>& events) = 0;
  /// Opens an outbound stream.
  virtual stream_handle open_stream() = 0;
  /// Queues data on an open stream (chunked as the muxer needs). Fails for an
  /// unknown, reset or locally closed stream, or when yamux's pending queue is full.
  virtual result<void> write(stream_handle stream, std::string_view data) = 0;
  /// Half-closes our direction (mplex Close, yamux FIN).
  virtual void close(stream_handle stream) = 0;
  /// Resets the stream in both directions and forgets it.
  virtual void reset(stream_handle stream) = 0;
  /// Whether the handle names a stream we opened.
  virtual bool is_local(stream_handle stream) const = 0;
  /// Bytes to send to the peer, in order (frames, window updates, ping ACKs).
  virtual std::string take_output() = 0;
  /// Number of streams currently known.
  virtual std::size_t stream_count() const = 0;
  /// Bytes written but held back by flow control (yamux's send window).
  virtual std::size_t pending_bytes() const = 0;
  /// Streams the peer opened beyond max_streams, refused by reset.
  std::uint64_t streams_refused() const { return streams_refused_; }

protected:
  std::uint64_t streams_refused_ = 0;
};

/// `initiator`: this side dialled the connection (yamux client: odd ids).
std::unique_ptr<muxer> make_mplex(bool initiator, muxer_limits limits = {});
std::unique_ptr<muxer> make_yamux(bool initiator, muxer_limits limits = {});
/// By protocol id; nullptr for an unknown one.
std::unique_ptr<muxer> make_muxer(std::string_view protocol, bool initiator, muxer_limits limits = {});

} // namespace annals::p2p
