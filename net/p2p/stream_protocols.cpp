// The protocols of builtin_protocols(): each answers on its own stream.
#include "net/p2p/stream_protocol.hpp"

#include "proto/libp2p.pb.h"
#include "net/p2p/connection.hpp"
#include "net/p2p/gossipsub.hpp"
#include "net/p2p/multiaddr.hpp"
#include "net/p2p/varint.hpp"

namespace annals::p2p {

namespace {

/// A ping stream echoes 32-byte blocks; anything else is not a ping.
constexpr std::size_t ping_size = 32;

/// Reads varint-framed messages of at most `max` bytes and hands each to
/// `on_message`; a frame over the cap refuses the stream (or, with
/// `fatal`, the connection).
class framed_handler : public stream_protocol_handler {
public:
  framed_handler(std::string protocol, std::size_t max, bool fatal)
    : protocol_(std::move(protocol)), reader_(max), fatal_(fatal) {}

  result<void> on_bytes(stream_io& io, std::string_view bytes) override {
    reader_.feed(bytes);
    for (;;) {
      auto next = reader_.next();
      if (!next) {
        if (fatal_)
          return make_error(errc::invalid_argument,
                            protocol_ + " frame refused: " + next.error().message);
        io.note(protocol_ + ": " + next.error().message);
        io.reset();
        return ok_result();
      }
      if (!*next)
        return ok_result();
      if (auto handled = on_message(io, std::move(**next)); !handled || done_)
        return handled;
    }
  }

protected:
  virtual result<void> on_message(stream_io& io, std::string message) = 0;
  /// No more messages are read (the stream was answered or refused).
  void stop() { done_ = true; }

private:
  std::string protocol_;
  frame_reader reader_;
  bool fatal_;
  bool done_ = false;
};

class ping_handler : public stream_protocol_handler {
public:
  result<void> on_bytes(stream_io& io, std::string_view bytes) override {
    buffer_.append(bytes);
    while (buffer_.size() >= ping_size) {
      io.write(std::string_view(buffer_).substr(0, ping_size));
      buffer_.erase(0, ping_size);
    }
    return ok_result();
  }

private:
  std::string buffer_;
};

/// Our identify answer was written when the stream opened; the peer has
/// nothing to say on it.
class silent_handler : public stream_protocol_handler {
public:
  result<void> on_bytes(stream_io&, std::string_view) override { return ok_result(); }
};

class metadata_handler : public framed_handler {
public:
  metadata_handler(const connection_config& config, connection_handler& events)
    : framed_handler("metadata", max_control_message, false), config_(config), events_(events) {}

protected:
  result<void> on_message(stream_io& io, std::string message) override {
    stop();
    pb::WakuMetadata request;
    if (!request.ParseFromString(message)) {
      io.note("metadata: request does not parse");
      io.reset();
      return ok_result();
    }
    pb::WakuMetadata response;
    response.set_cluster_id(config_.cluster_id);
    for (auto shard : config_.shards)
      response.add_shards(shard);
    io.write(frame(response.SerializeAsString()));
    io.close();
    events_.on_metadata(request.cluster_id(), {request.shards().begin(), request.shards().end()});
    return ok_result();
  }

private:
  const connection_config& config_;
  connection_handler& events_;
};

class relay_handler : public framed_handler {
public:
  relay_handler(const connection_config& config, connection_handler& events)
    : framed_handler("relay RPC", config.max_rpc, true), events_(events) {}

protected:
  result<void> on_message(stream_io&, std::string message) override {
    events_.on_relay_rpc(std::move(message));
    return ok_result();
  }

private:
  connection_handler& events_;
};

/// One request, one answer, then our side closes.
class request_handler : public framed_handler {
public:
  request_handler(std::shared_ptr<const request_answerer> answer, std::size_t max_request)
    : framed_handler("request", max_request, false), answer_(std::move(answer)) {}

protected:
  result<void> on_message(stream_io& io, std::string message) override {
    stop();
    io.write(frame((*answer_)(io.remote_peer(), message)));
    io.close();
    return ok_result();
  }

private:
  std::shared_ptr<const request_answerer> answer_;
};

} // namespace

stream_protocol request_responder(request_answerer answer, std::size_t max_request,
                                  std::size_t max_streams) {
  stream_protocol served;
  served.max_streams = max_streams;
  served.open = [answer = std::make_shared<const request_answerer>(std::move(answer)),
                 max_request](stream_io&) {
    return std::make_unique<request_handler>(answer, max_request);
  };
  return served;
}

std::string identify_message(const connection_config& config, const protocol_table& served) {
  pb::Identify id;
  id.set_protocolversion("ipfs/0.1.0");
  id.set_agentversion(config.agent_version);
  id.set_publickey(libp2p_public_key::secp256k1(config.identity.public_key()).encode());
  for (const auto& addr : config.listen_addrs)
    id.add_listenaddrs(addr);
  if (!config.observed_addr.empty())
    id.set_observedaddr(config.observed_addr);
  id.add_protocols(std::string(identify_protocol));
  for (const auto& [protocol, how] : served)
    if (protocol != identify_protocol)
      id.add_protocols(protocol);
  return id.SerializeAsString();
}

result<identify_info> parse_identify(std::string_view message) {
  pb::Identify id;
  if (!id.ParseFromArray(message.data(), static_cast<int>(message.size())))
    return make_error(errc::malformed, "identify: answer does not parse");
  identify_info info;
  info.agent_version = id.agentversion();
  info.protocol_version = id.protocolversion();
  info.protocols.assign(id.protocols().begin(), id.protocols().end());
  for (const auto& a : id.listenaddrs())
    if (auto m = multiaddr::from_bytes(a))
      info.listen_addrs.push_back(m->to_string());
  if (id.has_observedaddr())
    if (auto m = multiaddr::from_bytes(id.observedaddr()))
      info.observed_addr = m->to_string();
  return info;
}

stream_protocol identify_responder(std::string message) {
  stream_protocol identify;
  identify.open = [message = std::move(message)](stream_io& io) {
    io.write(frame(message));
    io.close();
    return std::make_unique<silent_handler>();
  };
  return identify;
}

protocol_table builtin_protocols(const connection_config& config, connection_handler& events) {
  protocol_table table;
  table[std::string(ping_protocol)].open = [](stream_io&) {
    return std::make_unique<ping_handler>();
  };
  table[std::string(waku_metadata_protocol)].open = [&config, &events](stream_io&) {
    return std::make_unique<metadata_handler>(config, events);
  };
  if (config.relay) {
    // gossipsub uses one stream per direction; more would each hold a
    // reader of up to max_rpc bytes for nothing.
    auto& relay = table[std::string(waku_relay_protocol)];
    relay.max_streams = 1;
    relay.open = [&config, &events](stream_io&) {
      return std::make_unique<relay_handler>(config, events);
    };
  }
  return table;
}

} // namespace annals::p2p
