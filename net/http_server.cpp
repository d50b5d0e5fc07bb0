#include "net/http_server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <atomic>
#include <list>
#include <map>
#include <optional>
#include <thread>

namespace annals {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

result<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& text) {
  std::string host, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return make_error(errc::invalid_argument, "\"" + text + "\" is not [ADDR]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0)
      return make_error(errc::invalid_argument, "\"" + text + "\" is not ADDR:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5
      || port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535)
    return make_error(errc::invalid_argument, "\"" + text + "\": the port must be 0..65535");
  return std::pair{host, static_cast<std::uint16_t>(std::stoul(port))};
}

result<void> check_http_listen(const std::string& listen) {
  auto where = split_host_port(listen);
  if (!where)
    return where.error();
  beast::error_code ec;
  asio::ip::make_address(where->first, ec);
  if (ec)
    return make_error(errc::invalid_argument, "\"" + where->first + "\" is not an IP address");
  return ok_result();
}

struct http_server::impl {
  // Declared before the io_context: sessions, destroyed with its handlers,
  // still count down.
  http_server_options options;
  http_handler handler;
  std::atomic<std::size_t> active{0};
  std::atomic<std::uint64_t> answered{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> evicted{0};
  std::atomic<std::size_t> streams_open{0};
  std::atomic<std::uint64_t> streams_dropped{0};
  struct session;
  /// Sessions that became event streams; touched on the I/O thread only.
  std::list<std::weak_ptr<session>> streams;
  /// Sessions waiting for a request, longest-waiting first, and how many
  /// connections each IP holds; both touched on the I/O thread only.
  std::list<std::weak_ptr<session>> waiting;
  std::map<std::string, std::size_t> per_ip;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread thread;

  struct session : std::enable_shared_from_this<session> {
    impl& owner;
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    std::optional<http::request_parser<http::empty_body>> parser;
    http::response<http::string_body> response;

    std::string ip;
    std::optional<std::list<std::weak_ptr<session>>::iterator> waiting_at;
    // As an event stream: what waits to be written, and whether a write runs.
    std::optional<std::list<std::weak_ptr<session>>::iterator> stream_at;
    std::list<std::string> outbox;
    std::size_t outbox_bytes = 0;
    bool writing = false;
    bool closed = false;
    std::array<char, 256> drain{};

    session(impl& o, tcp::socket socket, std::string from)
        : owner(o), stream(std::move(socket)), ip(std::move(from)) {
      ++owner.active;
      ++owner.per_ip[ip];
    }
    ~session() {
      stop_waiting();
      if (stream_at) {
        owner.streams.erase(*stream_at);
        --owner.streams_open;
      }
      --owner.active;
      if (auto it = owner.per_ip.find(ip); it != owner.per_ip.end() && --it->second == 0)
        owner.per_ip.erase(it);
    }

    void stop_waiting() {
      if (waiting_at) {
        owner.waiting.erase(*waiting_at);
        waiting_at.reset();
      }
    }

    void read() {
      stop_waiting();
      waiting_at = owner.waiting.insert(owner.waiting.end(), weak_from_this());
      parser.emplace();
      parser->header_limit(static_cast<std::uint32_t>(owner.options.max_header_bytes));
      parser->body_limit(0);
      stream.expires_after(owner.options.idle_timeout);
      http::async_read(stream, buffer, *parser,
                       [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         self->on_read(ec);
                       });
    }

    void on_read(beast::error_code ec) {
      stop_waiting();
      if (ec == http::error::end_of_stream || ec == beast::error::timeout
          || ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
        close();
        return;
      }
      if (ec) {
        // A request we will not read (too large, a body, not HTTP): say
        // why once, then close.
        bool too_large = ec == http::error::header_limit || ec == http::error::body_limit;
        respond(too_large ? 413 : 400, "application/json",
                std::string("{\"error\":\"") + (too_large ? "request too large" : "bad request")
                  + "\"}\n",
                false, 11);
        return;
      }
      const auto& request = parser->get();
      http_response answer;
      if (request.method() != http::verb::get && request.method() != http::verb::head) {
        answer = {405, "application/json", "{\"error\":\"only GET and HEAD are served\"}\n"};
      } else {
        try {
          answer = owner.handler(
            {std::string(request.method_string()), std::string(request.target())});
        } catch (const std::exception&) {
          answer = {500, "application/json",
                    std::string("{\"error\":\"internal error\"}\n")};
        }
      }
      ++owner.answered;
      if (answer.event_stream && request.method() == http::verb::get) {
        if (owner.streams.size() >= owner.options.max_event_streams) {
          respond(503, "application/json", "{\"error\":\"too many event streams\"}\n", false,
                  request.version());
          return;
        }
        start_stream(answer);
        return;
      }
      if (request.method() == http::verb::head) {
        auto length = answer.body.size();
        answer.body.clear();
        respond(answer.status, answer.content_type, std::move(answer.body),
                request.keep_alive(), request.version(), length);
        return;
      }
      extra_headers = std::move(answer.headers);
      respond(answer.status, answer.content_type, std::move(answer.body), request.keep_alive(),
              request.version());
    }

    std::vector<std::pair<std::string, std::string>> extra_headers;

    /// The connection from now on carries events: the head once, then each
    /// published event; a read that ends means the client left.
    void start_stream(const http_response& answer) {
      stream_at = owner.streams.insert(owner.streams.end(), weak_from_this());
      ++owner.streams_open;
      stream.expires_never();
      std::string head = "HTTP/1.1 200 OK\r\nServer: annals\r\nContent-Type: text/event-stream"
                         "\r\nCache-Control: no-store\r\nConnection: close\r\n";
      for (const auto& [name, value] : answer.headers)
        head += name + ": " + value + "\r\n";
      head += "\r\n: annals events\n\n";
      send(std::move(head));
      watch_close();
    }

    void watch_close() {
      stream.socket().async_read_some(
        asio::buffer(drain), [self = shared_from_this()](beast::error_code ec, std::size_t) {
          if (ec) {
            self->close();
            return;
          }
          self->watch_close();
        });
    }

    void send(std::string text) {
      if (closed)
        return;
      if (outbox_bytes + text.size() > owner.options.max_event_backlog) {
        ++owner.streams_dropped;
        close();
        return;
      }
      outbox_bytes += text.size();
      outbox.push_back(std::move(text));
      write_next();
    }

    void write_next() {
      if (writing || outbox.empty() || closed)
        return;
      writing = true;
      asio::async_write(stream.socket(), asio::buffer(outbox.front()),
                        [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          self->writing = false;
                          self->outbox_bytes -= self->outbox.front().size();
                          self->outbox.pop_front();
                          if (ec) {
                            self->close();
                            return;
                          }
                          self->write_next();
                        });
    }

    void respond(int status, const std::string& type, std::string body, bool keep_alive,
                 unsigned version, std::optional<std::size_t> head_length = std::nullopt) {
      response = {};
      response.version(version);
      response.result(static_cast<http::status>(status));
      response.set(http::field::server, "annals");
      response.set(http::field::content_type, type);
      response.set(http::field::cache_control, "no-store");
      for (const auto& [name, value] : extra_headers)
        response.set(name, value);
      extra_headers.clear();
      response.keep_alive(keep_alive);
      response.body() = std::move(body);
      response.prepare_payload();
      if (head_length)
        response.content_length(*head_length);
      stream.expires_after(owner.options.idle_timeout);
      http::async_write(stream, response,
                        [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                          if (ec || !keep_alive) {
                            self->close();
                            return;
                          }
                          self->read();
                        });
    }

    void close() {
      closed = true;
      stop_waiting();
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream.socket().close(ignored);
    }
  };

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted)
        return;
      if (!ec) {
        beast::error_code endpoint_error;
        auto from = socket.remote_endpoint(endpoint_error).address().to_string();
        auto found = per_ip.find(from);
        auto held = found == per_ip.end() ? 0 : found->second;
        bool ip_full = held >= options.max_connections_per_ip;
        bool full = active.load() >= options.max_connections;
        // Room is made by closing the connection that has waited longest
        // for a request: from the same IP when that IP is at its share.
        if ((ip_full || full) && !evict_oldest_waiting(ip_full ? &from : nullptr)) {
          ++refused;
          beast::error_code ignored;
          socket.close(ignored);
        } else {
          std::make_shared<session>(*this, std::move(socket), std::move(from))->read();
        }
      }
      accept();
    });
  }

  /// Closes the session (of `ip`, when given) that has waited longest for
  /// a request; false when there is none to close.
  bool evict_oldest_waiting(const std::string* ip) {
    for (auto it = waiting.begin(); it != waiting.end(); ++it) {
      auto s = it->lock();
      if (!s || (ip && s->ip != *ip))
        continue;
      ++evicted;
      s->close();  // leaves `waiting`; its pending read ends, and the session with it
      return true;
    }
    return false;
  }

  ~impl() {
    io.stop();
    if (thread.joinable())
      thread.join();
  }
};

http_server::http_server(std::shared_ptr<impl> p) : impl_(std::move(p)) {}

http_server::~http_server() = default;

result<std::unique_ptr<http_server>> http_server::start(const http_server_options& options,
                                                        http_handler handler) {
  auto where = split_host_port(options.listen);
  if (!where)
    return make_error(where.error().code, "rest listen: " + where.error().message);
  beast::error_code ec;
  auto address = asio::ip::make_address(where->first, ec);
  if (ec)
    return make_error(errc::invalid_argument,
                      "rest listen: \"" + where->first + "\" is not an IP address");
  auto p = std::make_shared<impl>();
  p->options = options;
  p->handler = std::move(handler);
  tcp::endpoint endpoint{address, where->second};
  auto fail = [&](const char* step) {
    return make_error(errc::io, options.listen + ": " + step + ": " + ec.message());
  };
  p->acceptor.open(endpoint.protocol(), ec);
  if (ec)
    return fail("open");
  p->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  p->acceptor.bind(endpoint, ec);
  if (ec)
    return fail("bind");
  p->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return fail("listen");
  p->accept();
  p->thread = std::thread([raw = p.get()] { raw->io.run(); });
  return std::unique_ptr<http_server>(new http_server(std::move(p)));
}

std::string http_server::listen_address() const {
  beast::error_code ec;
  auto endpoint = impl_->acceptor.local_endpoint(ec);
  if (ec)
    return impl_->options.listen;
  auto host = endpoint.address().to_string();
  if (endpoint.address().is_v6())
    host = "[" + host + "]";
  return host + ":" + std::to_string(endpoint.port());
}

std::uint64_t http_server::requests() const {
  return impl_->answered.load();
}

std::uint64_t http_server::connections_refused() const {
  return impl_->refused.load();
}

std::uint64_t http_server::connections_evicted() const { return impl_->evicted.load(); }

void http_server::publish_event(std::string data) {
  std::string event;
  std::size_t start = 0;
  while (start <= data.size()) {
    auto end = data.find('\n', start);
    if (end == std::string::npos)
      end = data.size();
    event += "data: " + data.substr(start, end - start) + "\n";
    start = end + 1;
  }
  event += "\n";
  asio::post(impl_->io, [p = impl_.get(), event = std::move(event)] {
    for (auto& weak : std::list<std::weak_ptr<impl::session>>(p->streams))
      if (auto s = weak.lock())
        s->send(event);
  });
}

std::size_t http_server::event_streams() const { return impl_->streams_open.load(); }

std::uint64_t http_server::event_streams_dropped() const { return impl_->streams_dropped.load(); }

} // namespace annals
