#include "net/p2p/muxer.hpp"

#include "net/p2p/varint.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

namespace annals::p2p {

namespace {

/// What both muxers share: handle allocation, the input buffer that joins
/// frames split across feed() calls, the output buffer, and the sticky
/// failure (after a protocol error the frame boundaries are lost, so every
/// later feed fails the same way).
class muxer_base : public muxer {
public:
  explicit muxer_base(muxer_limits limits) : limits_(limits) {}

  result<void> feed(std::string_view bytes, std::vector<muxer_event>& events) final {
    if (failure_)
      return *failure_;
    in_.append(bytes);
    std::size_t pos = 0;
    while (pos < in_.size()) {
      auto consumed = next_frame(std::string_view(in_).substr(pos), events);
      if (!consumed) {
        failure_ = consumed.error();
        in_.clear();
        return *failure_;
      }
      if (*consumed == 0)
        break;
      pos += *consumed;
    }
    // One erase per feed keeps a burst of small frames linear.
    in_.erase(0, pos);
    return ok_result();
  }

  bool is_local(stream_handle stream) const final { return (stream & 1) != 0; }

  std::string take_output() final { return std::exchange(out_, std::string()); }

protected:
  /// Handles the frame at the front of `buffered`: the bytes it used, or 0
  /// when the frame is not complete yet.
  virtual result<std::size_t> next_frame(std::string_view buffered,
                                         std::vector<muxer_event>& events) = 0;

  /// The low bit records who opened the stream, so is_local() stays right
  /// for a handle whose stream is already gone.
  stream_handle new_handle(bool local) { return (next_handle_++ << 1) | (local ? 1 : 0); }

  annals::error protocol_error(const std::string& detail) const {
    return make_error(errc::malformed, std::string(protocol()) + ": " + detail);
  }
  annals::error usage_error(errc code, const std::string& detail) const {
    return make_error(code, std::string(protocol()) + ": " + detail);
  }

  /// Runs `write` on the stream when a write may go to it: known, not
  /// reset, not closed by us.
  template <class Streams, class Write>
  result<void> write_to(Streams& streams, stream_handle stream, Write write) const {
    auto it = streams.find(stream);
    if (it == streams.end())
      return usage_error(errc::invalid_argument, "write on an unknown or reset stream");
    if (it->second.local_closed)
      return usage_error(errc::invalid_argument, "write after close");
    return write(it->second);
  }

  muxer_limits limits_;
  std::string out_;

private:
  std::uint64_t next_handle_ = 1;
  std::string in_;
  std::optional<annals::error> failure_;
};

// -- mplex --------------------------------------------------------------------

class mplex final : public muxer_base {
public:
  using muxer_base::muxer_base;

  std::string_view protocol() const override { return mplex_protocol; }

  stream_handle open_stream() override {
    auto id = next_id_++;
    auto h = add_stream(id, true);
    // js names streams by their id; the name carries no meaning for us.
    send_frame(id, flag::new_stream, std::to_string(id));
    return h;
  }

  result<void> write(stream_handle stream, std::string_view data) override {
    return write_to(streams_, stream, [&](auto& s) -> result<void> {
      // Our receive limit doubles as the send chunk: the spec caps every
      // implementation at 1 MiB, and a smaller configured limit is then
      // honoured by an identical peer too.
      auto chunk = std::max<std::size_t>(1, std::min(limits_.max_frame, spec_max_frame));
      auto f = s.local ? flag::message_initiator : flag::message_receiver;
      for (std::size_t at = 0; at < data.size(); at += chunk)
        send_frame(s.id, f, data.substr(at, chunk));
      return ok_result();
    });
  }

  void close(stream_handle stream) override {
    auto it = streams_.find(stream);
    if (it == streams_.end() || it->second.local_closed)
      return;
    auto& s = it->second;
    send_frame(s.id, s.local ? flag::close_initiator : flag::close_receiver, {});
    s.local_closed = true;
    if (s.remote_closed)
      erase(it);
  }

  void reset(stream_handle stream) override {
    auto it = streams_.find(stream);
    if (it == streams_.end())
      return;
    send_frame(it->second.id, it->second.local ? flag::reset_initiator : flag::reset_receiver, {});
    erase(it);
  }

  std::size_t stream_count() const override { return streams_.size(); }
  std::size_t pending_bytes() const override { return 0; }  // mplex has no flow control

private:
  static constexpr std::size_t spec_max_frame = 1 << 20;

  // Flags 1/3/5 are sent by the side that accepted the stream, 2/4/6 by the
  // side that opened it; that is what keeps the two id spaces apart.
  enum class flag : std::uint8_t {
    new_stream = 0,
    message_receiver = 1,
    message_initiator = 2,
    close_receiver = 3,
    close_initiator = 4,
    reset_receiver = 5,
    reset_initiator = 6,
  };

  struct stream {
    std::uint64_t id;
    bool local;
    bool local_closed = false;
    bool remote_closed = false;
  };
  /// (id, opened by us): both sides count ids from 0.
  using key = std::pair<std::uint64_t, bool>;

  stream_handle add_stream(std::uint64_t id, bool local) {
    auto h = new_handle(local);
    streams_.emplace(h, stream{id, local});
    by_key_.emplace(key{id, local}, h);
    return h;
  }

  void erase(std::map<stream_handle, stream>::iterator it) {
    by_key_.erase(key{it->second.id, it->second.local});
    streams_.erase(it);
  }

  void send_frame(std::uint64_t id, flag f, std::string_view data) {
    append_uvarint(out_, (id << 3) | static_cast<std::uint64_t>(f));
    append_uvarint(out_, data.size());
    out_.append(data);
  }

  result<std::size_t> next_frame(std::string_view buffered,
                                 std::vector<muxer_event>& events) override {
    auto header = peek_uvarint(buffered);
    if (!header)
      return protocol_error("frame header: " + header.error().message);
    if (!*header)
      return std::size_t{0};
    auto length = peek_uvarint(buffered.substr((*header)->size));
    if (!length)
      return protocol_error("frame length: " + length.error().message);
    if (!*length)
      return std::size_t{0};
    // Refused from the length alone, before buffering what a hostile peer
    // announces.
    if ((*length)->value > limits_.max_frame)
      return protocol_error("frame of " + std::to_string((*length)->value) +
                            " bytes exceeds the limit of " + std::to_string(limits_.max_frame));
    auto start = (*header)->size + (*length)->size;
    auto total = start + static_cast<std::size_t>((*length)->value);
    if (buffered.size() < total)
      return std::size_t{0};
    auto value = (*header)->value;
    if (auto r = on_frame(value >> 3, value & 7, buffered.substr(start, total - start), events); !r)
      return r.error();
    return total;
  }

  result<void> on_frame(std::uint64_t id, std::uint64_t f, std::string_view data,
                        std::vector<muxer_event>& events) {
    if (f == static_cast<std::uint64_t>(flag::new_stream)) {
      if (by_key_.count(key{id, false}))
        return protocol_error("peer opened stream " + std::to_string(id) + " twice");
      if (streams_.size() >= limits_.max_streams) {
        // Refusing one stream is enough; the connection itself is fine.
        ++streams_refused_;
        send_frame(id, flag::reset_receiver, {});
        return ok_result();
      }
      events.push_back({muxer_event::kind::opened, add_stream(id, false), {}});
      return ok_result();
    }
    if (f == 7)
      return protocol_error("unknown frame flag 7 on stream " + std::to_string(id));

    // Odd flags come from the side that accepted the stream, so the stream
    // is one we opened.
    bool ours = f % 2 == 1;
    auto k = by_key_.find(key{id, ours});
    // Frames for a stream we do not know are ignored, not fatal: they are
    // usually in flight from before a reset.
    if (k == by_key_.end())
      return ok_result();
    auto it = streams_.find(k->second);
    auto& s = it->second;
    switch (static_cast<flag>(f)) {
      case flag::message_receiver:
      case flag::message_initiator:
        // Data after the peer's close is its bug; dropping it is harmless.
        if (!s.remote_closed && !data.empty())
          events.push_back({muxer_event::kind::data, it->first, std::string(data)});
        break;
      case flag::close_receiver:
      case flag::close_initiator:
        if (s.remote_closed)
          break;
        s.remote_closed = true;
        events.push_back({muxer_event::kind::remote_closed, it->first, {}});
        if (s.local_closed)
          erase(it);
        break;
      default:  // the two reset flags
        events.push_back({muxer_event::kind::reset, it->first, {}});
        erase(it);
        break;
    }
    return ok_result();
  }

  std::uint64_t next_id_ = 0;
  std::map<stream_handle, stream> streams_;
  std::map<key, stream_handle> by_key_;
};

// -- yamux --------------------------------------------------------------------

class yamux final : public muxer_base {
public:
  yamux(bool initiator, muxer_limits limits)
      : muxer_base(limits), next_id_(initiator ? 1 : 2), initiator_(initiator) {}

  std::string_view protocol() const override { return yamux_protocol; }

  stream_handle open_stream() override {
    auto h = new_handle(true);
    // After the peer's GoAway (or with all 2^31 ids of our parity used) the
    // handle is never registered: write() on it fails, close/reset are no-ops.
    if (going_away_ || next_id_ > UINT32_MAX)
      return h;
    auto id = static_cast<std::uint32_t>(next_id_);
    next_id_ += 2;
    add_stream(h, id);
    send_header(type::window_update, syn, id, 0);
    return h;
  }

  result<void> write(stream_handle stream, std::string_view data) override {
    return write_to(streams_, stream, [&](auto& s) -> result<void> {
      // What exceeds the peer's window waits in `pending`; bounding it keeps
      // a peer that never reads from growing our memory without limit.
      if (s.pending.size() + data.size() > s.send_window + limits_.max_pending_send)
        return usage_error(errc::io, "send queue full: the peer is not reading stream " +
                                         std::to_string(s.id));
      s.pending.append(data);
      pending_total_ += data.size();
      flush(s);
      return ok_result();
    });
  }

  void close(stream_handle stream) override {
    auto it = streams_.find(stream);
    if (it == streams_.end() || it->second.local_closed)
      return;
    it->second.local_closed = true;
    // The FIN goes out after the queued data, which may wait for the window.
    flush(it->second);
    settle(it);
  }

  void reset(stream_handle stream) override {
    auto it = streams_.find(stream);
    if (it == streams_.end())
      return;
    send_header(type::window_update, rst, it->second.id, 0);
    erase(it);
  }

  std::size_t stream_count() const override { return streams_.size(); }
  // Kept as a running sum: the host asks for it on every relay flush.
  std::size_t pending_bytes() const override { return pending_total_; }

private:
  static constexpr std::size_t header_size = 12;
  static constexpr std::uint32_t initial_window = 256 * 1024;
  /// Bounds one Data frame so a large write interleaves with other streams'
  /// frames instead of holding the connection for a whole window.
  static constexpr std::uint32_t max_data_chunk = 16 * 1024;

  enum class type : std::uint8_t { data = 0, window_update = 1, ping = 2, go_away = 3 };
  static constexpr std::uint16_t syn = 1, ack = 2, fin = 4, rst = 8;

  struct stream {
    stream_handle handle;
    std::uint32_t id;
    /// Bytes the peer lets us send; 64 bits so that generous updates cannot wrap.
    std::uint64_t send_window = initial_window;
    /// Bytes we still accept before the peer must wait for an update.
    std::uint32_t recv_window = initial_window;
    /// Delivered bytes not yet returned to the peer by a window update.
    std::uint32_t unacked = 0;
    std::string pending{};  // written, waiting for send window
    bool local_closed = false;
    bool fin_sent = false;
    bool remote_closed = false;
  };

  void add_stream(stream_handle h, std::uint32_t id) {
    streams_.emplace(h, stream{h, id});
    by_id_.emplace(id, h);
  }

  void erase(std::map<stream_handle, stream>::iterator it) {
    pending_total_ -= it->second.pending.size();
    by_id_.erase(it->second.id);
    streams_.erase(it);
  }

  /// Forgets a stream once both directions are finished.
  void settle(std::map<stream_handle, stream>::iterator it) {
    if (it->second.fin_sent && it->second.remote_closed)
      erase(it);
  }

  void send_header(type t, std::uint16_t flags, std::uint32_t id, std::uint32_t length) {
    out_.push_back(0);  // version
    out_.push_back(static_cast<char>(t));
    out_.push_back(static_cast<char>(flags >> 8));
    out_.push_back(static_cast<char>(flags));
    for (auto value : {id, length})
      for (int shift = 24; shift >= 0; shift -= 8)
        out_.push_back(static_cast<char>(value >> shift));
  }

  /// Sends as much pending data as the window allows, then the FIN once the
  /// queue is empty after close().
  void flush(stream& s) {
    auto sendable = static_cast<std::size_t>(
      std::min<std::uint64_t>(s.pending.size(), s.send_window));
    for (std::size_t at = 0; at < sendable; at += max_data_chunk) {
      auto n = static_cast<std::uint32_t>(std::min<std::size_t>(max_data_chunk, sendable - at));
      send_header(type::data, 0, s.id, n);
      out_.append(s.pending, at, n);
    }
    s.pending.erase(0, sendable);
    pending_total_ -= sendable;
    s.send_window -= sendable;
    if (s.local_closed && !s.fin_sent && s.pending.empty()) {
      send_header(type::window_update, fin, s.id, 0);
      s.fin_sent = true;
    }
  }

  static std::uint32_t be32(std::string_view bytes) {
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < 4; ++i)
      value = (value << 8) | static_cast<std::uint8_t>(bytes[i]);
    return value;
  }

  result<std::size_t> next_frame(std::string_view buffered,
                                 std::vector<muxer_event>& events) override {
    if (buffered.size() < header_size)
      return std::size_t{0};
    auto version = static_cast<std::uint8_t>(buffered[0]);
    auto t = static_cast<std::uint8_t>(buffered[1]);
    if (version != 0)
      return protocol_error("unknown version " + std::to_string(version));
    if (t > static_cast<std::uint8_t>(type::go_away))
      return protocol_error("unknown frame type " + std::to_string(t));
    auto flags = static_cast<std::uint16_t>((static_cast<std::uint8_t>(buffered[2]) << 8) |
                                            static_cast<std::uint8_t>(buffered[3]));
    auto id = be32(buffered.substr(4));
    auto length = be32(buffered.substr(8));

    switch (static_cast<type>(t)) {
      case type::data: {
        // No stream of ours ever grants more than the initial window, so a
        // longer frame is a violation whatever stream it names; refusing it
        // here also bounds what we buffer.
        if (length > initial_window)
          return protocol_error("data frame of " + std::to_string(length) +
                                " bytes exceeds the receive window");
        std::size_t total = header_size + length;
        if (buffered.size() < total)
          return std::size_t{0};
        if (auto r = on_stream_frame(type::data, flags, id, length,
                                     buffered.substr(header_size, length), events);
            !r)
          return r.error();
        return total;
      }
      case type::window_update:
        if (auto r = on_stream_frame(type::window_update, flags, id, length, {}, events); !r)
          return r.error();
        return header_size;
      case type::ping:
        // We never send pings, so an ACK is unsolicited and ignored.
        if (flags & syn)
          send_header(type::ping, ack, 0, length);
        return header_size;
      case type::go_away:
        // The peer is shutting the session down (the length is only its
        // reason): every stream is lost and no new one can start.
        going_away_ = true;
        for (auto& [h, s] : streams_)
          events.push_back({muxer_event::kind::reset, h, {}});
        streams_.clear();
        by_id_.clear();
        return header_size;
    }
    return header_size;  // unreachable: the type was checked above
  }

  result<void> on_stream_frame(type t, std::uint16_t flags, std::uint32_t id, std::uint32_t length,
                               std::string_view payload, std::vector<muxer_event>& events) {
    if (id == 0)
      return protocol_error("data or window update on stream 0");
    auto found = by_id_.find(id);
    if (flags & syn) {
      if (found != by_id_.end())
        return protocol_error("peer opened stream " + std::to_string(id) + " twice");
      // Clients open odd ids, servers even ones; the peer must use the other parity.
      if ((id % 2 == 1) == initiator_)
        return protocol_error("peer opened stream " + std::to_string(id) + " with our id parity");
      if (going_away_ || streams_.size() >= limits_.max_streams) {
        // Refusing one stream is enough; any payload goes with it.
        ++streams_refused_;
        send_header(type::window_update, rst, id, 0);
        return ok_result();
      }
      auto h = new_handle(false);
      add_stream(h, id);
      found = by_id_.find(id);
      events.push_back({muxer_event::kind::opened, h, {}});
      send_header(type::window_update, ack, id, 0);
    }
    // Frames for a stream we do not know are ignored, not fatal: they are
    // usually in flight from before a reset.
    if (found == by_id_.end())
      return ok_result();
    auto it = streams_.find(found->second);
    auto& s = it->second;

    if (flags & rst) {
      events.push_back({muxer_event::kind::reset, it->first, {}});
      erase(it);
      return ok_result();
    }
    if (t == type::window_update) {
      s.send_window += length;
    } else {
      if (length > s.recv_window)
        return protocol_error("peer sent " + std::to_string(length) + " bytes on stream " +
                              std::to_string(id) + " with only " +
                              std::to_string(s.recv_window) + " left in its window");
      s.recv_window -= length;
      // Data after the peer's FIN is its bug; dropping it is harmless.
      if (!s.remote_closed && length > 0) {
        s.unacked += length;
        events.push_back({muxer_event::kind::data, it->first, std::string(payload)});
      }
    }
    if ((flags & fin) && !s.remote_closed) {
      s.remote_closed = true;
      events.push_back({muxer_event::kind::remote_closed, it->first, {}});
    }
    // The event hands data to the application, so it counts as consumed at
    // once. Returning credit only after half the window is used saves an
    // update per small message, while the peer always keeps at least half a
    // window to send with, so it never stalls waiting for us.
    if (!s.remote_closed && s.unacked >= initial_window / 2) {
      send_header(type::window_update, 0, id, s.unacked);
      s.recv_window += s.unacked;
      s.unacked = 0;
    }
    if (t == type::window_update)
      flush(s);
    settle(it);
    return ok_result();
  }

  std::uint64_t next_id_;  // 64 bits to notice when the 32-bit id space is used up
  bool initiator_;
  bool going_away_ = false;
  std::map<stream_handle, stream> streams_;
  std::map<std::uint32_t, stream_handle> by_id_;
  std::size_t pending_total_ = 0;  // every stream's `pending`
};

} // namespace

std::unique_ptr<muxer> make_mplex(bool /*initiator*/, muxer_limits limits) {
  // mplex ids are scoped by opener, so both sides behave the same.
  return std::make_unique<mplex>(limits);
}

std::unique_ptr<muxer> make_yamux(bool initiator, muxer_limits limits) {
  return std::make_unique<yamux>(initiator, limits);
}

std::unique_ptr<muxer> make_muxer(std::string_view protocol, bool initiator, muxer_limits limits) {
  if (protocol == mplex_protocol)
    return make_mplex(initiator, limits);
  if (protocol == yamux_protocol)
    return make_yamux(initiator, limits);
  return nullptr;
}

} // namespace annals::p2p
