// A small HTTP/1.1 server for the node's REST API and /metrics. The routes
// are a plain function (app/rest.hpp), so this transport can be swapped
// without touching them. It runs its own I/O thread and serves one request at
// a time: the endpoints are for operators and scrapers, not for the public.
#pragma once

#include "core/result.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace annals {

struct http_request {
  std::string method;  // "GET"
  std::string target;  // path and query: "/archive/v1/communities?x=1"
};

struct http_response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  /// More header fields (Content-Security-Policy, …).
  std::vector<std::pair<std::string, std::string>> headers = {};
  /// Keep the connection as a server-sent event stream (text/event-stream):
  /// `body` is ignored and every http_server::publish_event reaches it.
  bool event_stream = false;
};

using http_handler = std::function<http_response(const http_request&)>;

struct http_server_options {
  /// "ADDR:PORT" or "[V6]:PORT"; port 0 picks a free one.
  std::string listen = "127.0.0.1:8645";
  /// Connections held at once. When all are taken, a new one takes the
  /// place of the connection that has waited longest for a request (a
  /// slowloris or idle keep-alive client), so a health check always gets in;
  /// one that finds no such connection is closed at accept.
  std::size_t max_connections = 32;
  /// Of those, at most this many from one IP address: one host flooding the
  /// port displaces its own connections, not everyone's.
  std::size_t max_connections_per_ip = 16;
  /// A client that sends nothing for this long is disconnected.
  std::chrono::milliseconds idle_timeout{10'000};
  /// Request line and headers; a request body is refused.
  std::size_t max_header_bytes = 8 * 1024;
  /// Event streams held at once (each holds a connection for good); one more
  /// is answered 503, so /health always has room.
  std::size_t max_event_streams = 8;
  /// Bytes queued for one event stream before it is closed (a client that
  /// stopped reading must not grow the node's memory).
  std::size_t max_event_backlog = 1 << 20;
};

class http_server {
public:
  /// Binds and starts serving; fails naming the address (port in use,
  /// malformed address).
  static result<std::unique_ptr<http_server>> start(const http_server_options& options,
                                                    http_handler handler);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// The bound address, "127.0.0.1:8645".
  std::string listen_address() const;
  /// Requests answered so far, and connections refused over the limit.
  std::uint64_t requests() const;
  std::uint64_t connections_refused() const;
  /// Connections closed to make room, having sent no request in time.
  std::uint64_t connections_evicted() const;
  /// Sends `data` (one event; each line becomes a `data:` line) to every
  /// event stream open now. Thread-safe; returns at once.
  void publish_event(std::string data);
  /// Event streams open now, and those closed for falling behind.
  std::size_t event_streams() const;
  std::uint64_t event_streams_dropped() const;

private:
  struct impl;
  explicit http_server(std::shared_ptr<impl> p);
  std::shared_ptr<impl> impl_;
};

/// Splits "ADDR:PORT" / "[V6]:PORT", or says what is wrong with it.
result<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& text);

/// Whether `listen` is an address the server can bind (checked before any
/// port is bound); the error names the problem.
result<void> check_http_listen(const std::string& listen);

} // namespace annals
