#include "net/p2p/connection.hpp"

#include "net/p2p/gossipsub.hpp"
#include "net/p2p/multistream.hpp"
#include "net/p2p/muxer.hpp"
#include "net/p2p/noise.hpp"
#include "net/p2p/varint.hpp"

#include <algorithm>
#include <functional>

namespace annals::p2p {

const char* to_string(connection_layer layer) {
  switch (layer) {
    case connection_layer::security_select: return "multistream (security)";
    case connection_layer::noise: return "noise";
    case connection_layer::muxer_select: return "multistream (muxer)";
    case connection_layer::muxed: return "muxer";
  }
  return "?";
}

namespace {

enum class stream_purpose { inbound, relay_out, request_out };

struct stream_state {
  stream_purpose purpose;
  std::unique_ptr<multistream_negotiator> select;
  std::string protocol;  // once negotiated
  frame_reader reader;   // request_out: the answer
  std::string request;   // request_out: framed, sent once negotiated
  std::function<void(result<std::string>)> on_answer;  // request_out, until answered
  std::unique_ptr<stream_protocol_handler> handler;  // inbound: the protocol's
  bool local_closed = false;

  stream_state(stream_purpose p, std::unique_ptr<multistream_negotiator> s, std::size_t max_frame)
      : purpose(p), select(std::move(s)), reader(max_frame) {}
};

} // namespace

struct connection::impl {
  connection& self;
  role my_role;
  connection_config config;
  connection_handler& handler;

  std::string raw_in;   // socket bytes not yet consumed
  std::string out;      // socket bytes to send
  std::optional<annals::error> failure;

  std::unique_ptr<multistream_negotiator> security_select;
  std::optional<noise_handshake> handshake;
  std::optional<noise_session> session;
  std::unique_ptr<multistream_negotiator> muxer_select;
  std::unique_ptr<muxer> mux;

  std::map<stream_handle, stream_state> streams;
  std::optional<stream_handle> relay_out;
  bool relay_out_ready = false;
  int relay_out_attempts = 0;   // since the last successful negotiation
  bool relay_out_abandoned = false;
  protocol_table protocols;  // what we serve on streams the peer opens
  std::string relay_pending;  // framed RPCs waiting for the relay stream

  impl(connection& c, role r, connection_config cfg, connection_handler& h)
      : self(c), my_role(r), config(std::move(cfg)), handler(h) {
    protocols = builtin_protocols(config, handler);
    for (const auto& [id, how] : config.protocols)
      protocols[id] = how;
    protocols[std::string(identify_protocol)] =
      identify_responder(identify_message(config, protocols));
  }

  /// What a protocol handler does to its stream, applied once it returns.
  struct inbound_io final : stream_io {
    impl& c;
    stream_handle h;
    bool closed = false;
    bool reset_requested = false;
    inbound_io(impl& c, stream_handle h) : c(c), h(h) {}
    void write(std::string_view bytes) override { (void)c.mux->write(h, bytes); }
    void close() override { closed = true; }
    void reset() override { reset_requested = true; }
    void note(const std::string& text) override { c.handler.on_note(text); }
    std::string remote_peer() const override {
      return c.self.remote_ ? c.self.remote_->to_string() : std::string();
    }
  };

  void settle(const inbound_io& io) {
    if (io.reset_requested) {
      drop_stream(io.h, true);
      return;
    }
    auto it = streams.find(io.h);
    if (io.closed && it != streams.end() && !it->second.local_closed) {
      mux->close(io.h);
      it->second.local_closed = true;
    }
  }

  bool dialer() const { return my_role == role::dialer; }

  annals::error layer_error(errc code, const std::string& detail) const {
    return make_error(code, std::string(to_string(self.layer_)) + ": " + detail);
  }

  result<void> send_encrypted(std::string_view plaintext) {
    if (plaintext.empty())
      return ok_result();
    auto frames = session->encrypt(plaintext);
    if (!frames)
      return layer_error(frames.error().code, frames.error().message);
    out += *frames;
    return ok_result();
  }

  result<void> flush_muxer() {
    if (!mux)
      return ok_result();
    return send_encrypted(mux->take_output());
  }

  // -- security select and Noise ---------------------------------------------

  result<void> begin_noise() {
    noise_handshake::options opts;
    opts.expected_remote_key = config.expected_remote_key;
    auto hs = dialer() ? noise_handshake::initiator(config.identity, opts)
                       : noise_handshake::responder(config.identity, opts);
    if (!hs)
      return layer_error(hs.error().code, hs.error().message);
    handshake.emplace(std::move(*hs));
    self.layer_ = connection_layer::noise;
    if (handshake->my_turn()) {
      auto msg = handshake->write_message();
      if (!msg)
        return layer_error(msg.error().code, msg.error().message);
      out += *msg;
    }
    return ok_result();
  }

  result<void> step_security_select() {
    auto reply = security_select->feed(raw_in);
    raw_in.clear();
    if (!reply)
      return layer_error(reply.error().code, reply.error().message);
    out += *reply;
    if (!security_select->done())
      return ok_result();
    raw_in = security_select->take_leftover();
    security_select.reset();
    return begin_noise();
  }

  result<void> step_noise() {
    std::string_view view = raw_in;
    while (!handshake->complete()) {
      auto body = next_noise_frame(view);
      if (!body)
        break;
      if (auto r = handshake->read_message(*body); !r)
        return layer_error(r.error().code, r.error().message);
      if (handshake->my_turn()) {
        auto msg = handshake->write_message();
        if (!msg)
          return layer_error(msg.error().code, msg.error().message);
        out += *msg;
      }
    }
    raw_in.erase(0, raw_in.size() - view.size());
    if (!handshake->complete())
      return ok_result();
    auto s = handshake->finish();
    if (!s)
      return layer_error(s.error().code, s.error().message);
    auto key = libp2p_public_key::decode(s->remote_identity_key());
    if (!key)
      return layer_error(key.error().code, "remote identity key: " + key.error().message);
    self.remote_ = peer_id::from_public_key(*key);
    session.emplace(std::move(*s));
    handshake.reset();
    self.layer_ = connection_layer::muxer_select;
    if (dialer()) {
      auto d = std::make_unique<multistream_dialer>(config.muxers);
      auto first = d->start();
      muxer_select = std::move(d);
      return send_encrypted(first);
    }
    auto l = std::make_unique<multistream_listener>(config.muxers);
    auto first = l->start();
    muxer_select = std::move(l);
    return send_encrypted(first);
  }

  // -- transport frames --------------------------------------------------------

  result<void> step_transport() {
    std::string_view view = raw_in;
    while (auto body = next_noise_frame(view)) {
      auto plain = session->decrypt_frame(*body);
      if (!plain) {
        raw_in.clear();
        return make_error(plain.error().code, "noise: transport frame: " + plain.error().message);
      }
      if (auto r = on_plaintext(*plain); !r) {
        raw_in.clear();
        return r;
      }
    }
    raw_in.erase(0, raw_in.size() - view.size());
    return ok_result();
  }

  result<void> on_plaintext(std::string_view plain) {
    if (self.layer_ == connection_layer::muxer_select) {
      auto reply = muxer_select->feed(plain);
      if (!reply)
        return layer_error(reply.error().code, reply.error().message);
      if (auto r = send_encrypted(*reply); !r)
        return r;
      if (!muxer_select->done())
        return ok_result();
      mux = make_muxer(muxer_select->protocol(), dialer(), config.limits);
      if (!mux)
        return layer_error(errc::unsupported, "peer chose muxer " + muxer_select->protocol());
      auto leftover = muxer_select->take_leftover();
      auto chosen = muxer_select->protocol();
      muxer_select.reset();
      self.layer_ = connection_layer::muxed;
      handler.on_established(*self.remote_, chosen);
      if (config.relay)
        open_relay_stream();
      if (auto r = flush_muxer(); !r)
        return r;
      return feed_muxer(leftover);
    }
    return feed_muxer(plain);
  }

  // -- streams -----------------------------------------------------------------

  void open_relay_stream() {
    ++relay_out_attempts;
    auto h = mux->open_stream();
    auto d = std::make_unique<multistream_dialer>(
      std::vector<std::string>{std::string(waku_relay_protocol)});
    auto first = d->start();
    streams.emplace(h, stream_state(stream_purpose::relay_out, std::move(d), max_control_message));
    relay_out = h;
    relay_out_ready = false;
    (void)mux->write(h, first);
  }

  void open_request_stream(const std::string& protocol, std::optional<std::string> message,
                           std::size_t max_answer,
                           std::function<void(result<std::string>)> on_answer) {
    auto h = mux->open_stream();
    auto d = std::make_unique<multistream_dialer>(std::vector<std::string>{protocol});
    auto first = d->start();
    auto& s = streams.emplace(h, stream_state(stream_purpose::request_out, std::move(d), max_answer))
                .first->second;
    if (message)
      s.request = frame(*message);
    s.on_answer = std::move(on_answer);
    (void)mux->write(h, first);
  }

  void drop_stream(stream_handle h, bool reset) {
    if (reset)
      mux->reset(h);
    auto it = streams.find(h);
    if (it == streams.end())
      return;
    auto unanswered = std::move(it->second.on_answer);
    streams.erase(it);
    if (unanswered)
      unanswered(make_error(errc::io, "the stream ended before an answer"));
    if (relay_out == h) {
      relay_out.reset();
      relay_out_ready = false;
      // A peer may reset our relay stream while it restarts its pubsub;
      // reopen a few times, then accept that it will not take our RPCs.
      if (relay_out_attempts < 3)
        open_relay_stream();
      else
        relay_out_abandoned = true;  // send_relay_rpc now fails: the host drops the peer
    }
  }

  result<void> feed_muxer(std::string_view bytes) {
    if (bytes.empty())
      return flush_muxer();
    std::vector<muxer_event> events;
    if (auto r = mux->feed(bytes, events); !r)
      return layer_error(r.error().code, r.error().message);
    for (auto& ev : events) {
      if (auto r = on_event(ev); !r)
        return r;
    }
    return flush_muxer();
  }

  std::vector<std::string> served_protocols() const {
    std::vector<std::string> served;
    for (const auto& [id, how] : protocols)
      served.push_back(id);
    return served;
  }

  result<void> on_event(muxer_event& ev) {
    switch (ev.what) {
      case muxer_event::kind::opened: {
        auto l = std::make_unique<multistream_listener>(served_protocols());
        auto first = l->start();
        streams.emplace(ev.stream,
                        stream_state(stream_purpose::inbound, std::move(l), max_control_message));
        (void)mux->write(ev.stream, first);
        return ok_result();
      }
      case muxer_event::kind::data:
        return on_stream_bytes(ev.stream, ev.bytes);
      case muxer_event::kind::remote_closed: {
        auto it = streams.find(ev.stream);
        if (it == streams.end())
          return ok_result();
        if (it->second.purpose == stream_purpose::relay_out)
          return ok_result();  // js only reads our stream; its half-close is no news
        if (!it->second.local_closed)
          mux->close(ev.stream);
        streams.erase(it);
        return ok_result();
      }
      case muxer_event::kind::reset:
        if (streams.count(ev.stream))
          drop_stream(ev.stream, false);
        return ok_result();
    }
    return ok_result();
  }

  result<void> on_stream_bytes(stream_handle h, std::string_view bytes) {
    auto it = streams.find(h);
    if (it == streams.end())
      return ok_result();
    auto& s = it->second;
    if (s.select) {
      auto reply = s.select->feed(bytes);
      if (!reply) {
        const char* what = s.purpose == stream_purpose::relay_out      ? "our relay stream"
                           : s.purpose == stream_purpose::request_out  ? "our request"
                                                                       : "an inbound stream";
        auto failed = std::string("negotiating ") + what + " failed: " + reply.error().message;
        if (s.on_answer)
          std::exchange(s.on_answer, {})(make_error(errc::unsupported, failed));
        else
          handler.on_note(failed);
        drop_stream(h, true);
        return ok_result();
      }
      if (!reply->empty())
        (void)mux->write(h, *reply);
      if (!s.select->done())
        return ok_result();
      s.protocol = s.select->protocol();
      auto leftover = s.select->take_leftover();
      s.select.reset();
      if (auto r = on_stream_ready(h, s); !r)
        return r;
      if (leftover.empty() || !streams.count(h))
        return ok_result();
      return on_protocol_bytes(h, streams.at(h), leftover);
    }
    return on_protocol_bytes(h, s, bytes);
  }

  result<void> on_stream_ready(stream_handle h, stream_state& s) {
    if (s.purpose == stream_purpose::relay_out) {
      relay_out_ready = true;
      relay_out_attempts = 0;
      if (!relay_pending.empty()) {
        if (auto r = mux->write(h, relay_pending); !r)
          return layer_error(r.error().code, "relay stream: " + r.error().message);
        relay_pending.clear();
      }
      handler.on_relay_ready();
      return ok_result();
    }
    if (s.purpose == stream_purpose::request_out) {
      if (!s.request.empty())
        (void)mux->write(h, std::exchange(s.request, {}));
      return ok_result();
    }
    if (s.purpose != stream_purpose::inbound)
      return ok_result();
    auto served = protocols.find(s.protocol);
    std::size_t open = 0;
    for (const auto& [other, state] : streams)
      open += state.handler && state.protocol == s.protocol ? 1 : 0;
    if (served == protocols.end() || open >= served->second.max_streams) {
      handler.on_note("refused an inbound " + s.protocol + " stream: "
                      + (served == protocols.end()
                           ? std::string("not served")
                           : "at most " + std::to_string(served->second.max_streams)
                               + " per connection"));
      drop_stream(h, true);
      return ok_result();
    }
    inbound_io io(*this, h);
    s.handler = served->second.open(io);
    settle(io);
    return ok_result();
  }

  result<void> on_protocol_bytes(stream_handle h, stream_state& s, std::string_view bytes) {
    if (s.purpose == stream_purpose::relay_out)
      return ok_result();  // nothing is expected back on our own relay stream
    if (s.purpose == stream_purpose::inbound) {
      if (!s.handler)
        return ok_result();
      inbound_io io(*this, h);
      if (auto r = s.handler->on_bytes(io, bytes); !r)
        return layer_error(r.error().code, r.error().message);
      settle(io);
      return ok_result();
    }
    // Our request: one answer, then the stream is done.
    s.reader.feed(bytes);
    auto next = s.reader.next();
    if (next && !*next)
      return ok_result();
    auto answered = std::exchange(s.on_answer, {});
    if (!next) {
      drop_stream(h, true);
      if (answered)
        answered(make_error(errc::invalid_argument, "answer refused: " + next.error().message));
      return ok_result();
    }
    drop_stream(h, false);
    mux->close(h);
    if (answered)
      answered(std::move(**next));
    return ok_result();
  }

  // -- entry points --------------------------------------------------------------

  result<void> on_bytes(std::string_view bytes) {
    if (failure)
      return *failure;
    if (self.layer_ == connection_layer::security_select && !security_select)
      return make_error(errc::invalid_argument, "connection: on_bytes before start");
    raw_in.append(bytes);
    auto r = pump();
    if (!r)
      failure = r.error();
    return r;
  }

  result<void> pump() {
    if (self.layer_ == connection_layer::security_select) {
      if (auto r = step_security_select(); !r)
        return r;
      if (self.layer_ == connection_layer::security_select)
        return ok_result();
    }
    if (self.layer_ == connection_layer::noise) {
      if (auto r = step_noise(); !r)
        return r;
      if (self.layer_ == connection_layer::noise)
        return ok_result();
    }
    return step_transport();
  }
};

connection::connection(role r, connection_config config, connection_handler& handler)
    : impl_(std::make_unique<impl>(*this, r, std::move(config), handler)) {}

connection::~connection() = default;

std::string connection::start() {
  std::vector<std::string> security{std::string(noise_protocol)};
  if (impl_->dialer()) {
    auto d = std::make_unique<multistream_dialer>(security);
    auto first = d->start();
    impl_->security_select = std::move(d);
    return first;
  }
  auto l = std::make_unique<multistream_listener>(security);
  auto first = l->start();
  impl_->security_select = std::move(l);
  return first;
}

result<void> connection::on_bytes(std::string_view bytes) {
  return impl_->on_bytes(bytes);
}

std::string connection::take_output() {
  return std::exchange(impl_->out, std::string());
}

result<void> connection::send_relay_rpc(std::string_view rpc) {
  if (impl_->failure)
    return *impl_->failure;
  if (impl_->relay_out_abandoned)
    return make_error(errc::unsupported, "peer keeps resetting our relay stream");
  auto framed = frame(rpc);
  if (established() && impl_->relay_out && impl_->relay_out_ready) {
    if (auto r = impl_->mux->write(*impl_->relay_out, framed); !r)
      return r;
    return impl_->flush_muxer();
  }
  // Within what the muxer takes in one write once the stream is ready.
  if (impl_->relay_pending.size() + framed.size() > impl_->config.limits.max_pending_send)
    return make_error(errc::io, "relay stream not open and its queue is full");
  impl_->relay_pending += framed;
  return ok_result();
}

void connection::request(const std::string& protocol, std::optional<std::string> message,
                         std::size_t max_answer,
                         std::function<void(result<std::string>)> on_answer) {
  if (!established()) {
    on_answer(make_error(errc::io, "connection not established"));
    return;
  }
  impl_->open_request_stream(protocol, std::move(message), max_answer, std::move(on_answer));
  (void)impl_->flush_muxer();
}

void connection::request_identify() {
  if (!established())
    return;
  auto* events = &impl_->handler;
  impl_->open_request_stream(std::string(identify_protocol), std::nullopt, max_control_message,
                             [events](result<std::string> answer) {
                               if (!answer) {
                                 events->on_note("identify: " + answer.error().message);
                                 return;
                               }
                               auto info = parse_identify(*answer);
                               if (!info)
                                 events->on_note(info.error().message);
                               else
                                 events->on_identify(*info);
                             });
  (void)impl_->flush_muxer();
}

std::size_t connection::pending_relay_bytes() const {
  return impl_->relay_pending.size();
}

std::size_t connection::backlog() const {
  return impl_->relay_pending.size() + (impl_->mux ? impl_->mux->pending_bytes() : 0);
}

std::uint64_t connection::streams_refused() const {
  return impl_->mux ? impl_->mux->streams_refused() : 0;
}

} // namespace annals::p2p
