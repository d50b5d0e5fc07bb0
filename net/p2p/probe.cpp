#include "net/p2p/probe.hpp"

#include "net/p2p/tcp_target.hpp"

#include <boost/asio.hpp>

#include <array>
#include <functional>
#include <optional>

namespace annals::p2p {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

struct probe_handler : connection_handler {
  std::optional<identify_info> identify;
  std::string muxer;
  bool established = false;
  std::optional<std::string> refusal;  // e.g. the peer answered "na" to identify
  void on_note(const std::string& text) override {
    if (!refusal)
      refusal = text;
  }
  void on_established(const p2p::peer_id&, const std::string& m) override {
    established = true;
    muxer = m;
  }
  void on_relay_rpc(std::string) override {}
  void on_identify(const identify_info& info) override { identify = info; }
};

} // namespace

result<probe_report> probe(const std::string& address, const private_key& identity,
                           std::chrono::milliseconds timeout, std::vector<std::string> muxers) {
  auto target = parse_tcp_target(address);
  if (!target)
    return target.error();
  asio::io_context io;
  tcp::socket socket(io);
  asio::steady_timer deadline(io);
  std::optional<annals::error> failure;
  probe_handler handler;
  connection_config cc;
  cc.identity = identity;
  cc.muxers = std::move(muxers);
  cc.relay = false;
  if (target->peer) {
    auto key = target->peer->public_key();
    if (!key)
      return make_error(errc::invalid_argument, "the /p2p/ ID does not embed a public key");
    cc.expected_remote_key = key->encode();
  }
  connection conn(connection::role::dialer, cc, handler);
  std::array<char, 64 * 1024> buffer{};
  std::string stage = "tcp";
  bool identify_requested = false;

  auto finish = [&](std::optional<annals::error> err) {
    if (err && !failure)
      failure = std::move(err);
    boost::system::error_code ignored;
    socket.close(ignored);
    deadline.cancel();
  };
  std::function<void()> read_more;
  auto write_out = [&] {
    auto out = conn.take_output();
    if (!out.empty()) {
      boost::system::error_code ec;
      asio::write(socket, asio::buffer(out), ec);
      if (ec)
        finish(make_error(errc::io, std::string(to_string(conn.layer())) + ": write: " + ec.message()));
    }
  };
  read_more = [&] {
    socket.async_read_some(asio::buffer(buffer), [&](const boost::system::error_code& ec, std::size_t n) {
      if (ec) {
        if (ec != asio::error::operation_aborted)
          finish(make_error(errc::io, std::string(handler.established ? "identify" : to_string(conn.layer()))
                                        + ": " + (ec == asio::error::eof ? "peer closed the connection"
                                                                         : ec.message())));
        return;
      }
      auto r = conn.on_bytes(std::string_view(buffer.data(), n));
      if (!r) {
        finish(r.error());
        return;
      }
      if (handler.established && !identify_requested) {
        identify_requested = true;
        conn.request_identify();
      }
      write_out();
      if (handler.identify) {
        finish(std::nullopt);
        return;
      }
      if (handler.refusal) {
        finish(make_error(errc::unsupported, "identify: " + *handler.refusal));
        return;
      }
      if (socket.is_open())
        read_more();
    });
  };
  deadline.expires_after(timeout);
  deadline.async_wait([&](const boost::system::error_code& ec) {
    if (ec)
      return;
    std::string layer = stage == "tcp" ? "tcp"
                        : handler.established ? "identify"
                                              : to_string(conn.layer());
    finish(make_error(errc::io, layer + ": no answer within " + std::to_string(timeout.count()) + " ms"));
  });
  socket.async_connect(target->endpoint, [&](const boost::system::error_code& ec) {
    if (ec) {
      if (ec != asio::error::operation_aborted)
        finish(make_error(errc::io, "tcp: " + ec.message()));
      return;
    }
    stage = "upgrade";
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto first = conn.start();
    asio::write(socket, asio::buffer(first), ignored);
    read_more();
  });
  io.run();
  if (failure)
    return *failure;
  if (!handler.identify)
    return make_error(errc::io, "identify: no answer");
  probe_report report;
  report.peer_id = conn.remote()->to_string();
  report.muxer = handler.muxer;
  report.identify = *handler.identify;
  return report;
}

} // namespace annals::p2p
