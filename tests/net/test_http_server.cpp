// The REST transport on 127.0.0.1: what a scraper or curl sees.
#include "net/http_server.hpp"
#include "tests/http_get.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace annals;
using namespace annals::test;

namespace {

std::unique_ptr<http_server> serve(http_handler handler, http_server_options options = {}) {
  options.listen = "127.0.0.1:0";
  auto server = http_server::start(options, std::move(handler));
  REQUIRE(server);
  return std::move(*server);
}

/// Whether the server holds `n` event streams within 5 s.
bool eventually_streams(const http_server& server, std::size_t n) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server.event_streams() != n && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return server.event_streams() == n;
}

} // namespace

TEST_CASE("the HTTP server answers GET with the handler's status, type and body", "[net][http]") {
  std::atomic<int> calls{0};
  auto server = serve([&](const http_request& r) {
    ++calls;
    if (r.target == "/missing?x=1")
      return http_response{404, "application/json", "{\"error\":\"no\"}"};
    return http_response{200, "text/plain", "path " + r.target};
  });
  auto address = server->listen_address();
  CHECK(address.rfind("127.0.0.1:", 0) == 0);
  auto ok = http_get(address, "/metrics");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(ok->body == "path /metrics");
  CHECK(ok->head.find("Content-Type: text/plain") != std::string::npos);
  auto missing = http_get(address, "/missing?x=1");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(missing->body == "{\"error\":\"no\"}");
  // Two requests on one connection (keep-alive), answered in order.
  auto both = http_exchange(address, "GET /a HTTP/1.1\r\nHost: t\r\n\r\n"
                                     "GET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  REQUIRE(both);
  CHECK(both->body.find("path /a") != std::string::npos);
  CHECK(both->body.find("path /b") != std::string::npos);
  CHECK(calls == 4);
  CHECK(server->requests() == 4);
}

TEST_CASE("the HTTP server refuses what it does not serve, without calling the handler",
          "[net][http]") {
  std::atomic<int> calls{0};
  http_server_options options;
  options.max_header_bytes = 1024;
  auto server = serve(
    [&](const http_request&) {
      ++calls;
      return http_response{};
    },
    options);
  auto address = server->listen_address();
  auto post = http_exchange(address, "POST /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  REQUIRE(post);
  CHECK(post->status == 405);
  auto huge = http_exchange(address, "GET /health HTTP/1.1\r\nHost: t\r\nX-Pad: "
                                       + std::string(4096, 'a') + "\r\n\r\n");
  REQUIRE(huge);
  CHECK(huge->status == 413);
  auto body = http_exchange(address, "GET /health HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                                       "Connection: close\r\n\r\nhello");
  REQUIRE(body);
  CHECK(body->status == 413);
  auto garbage = http_exchange(address, "\x16\x03\x01 not http at all\r\n\r\n");
  REQUIRE(garbage);
  CHECK(garbage->status == 400);
  CHECK(calls == 0);
  // Still serving after all that.
  auto ok = http_get(address, "/health");
  REQUIRE(ok);
  CHECK(ok->status == 200);
}

TEST_CASE("the HTTP server names a taken port and a malformed address", "[net][http]") {
  auto first = serve([](const http_request&) { return http_response{}; });
  http_server_options options;
  options.listen = first->listen_address();
  auto second = http_server::start(options, [](const http_request&) { return http_response{}; });
  REQUIRE_FALSE(second);
  CHECK(second.error().code == errc::io);
  CHECK_THAT(second.error().message, Catch::Contains(first->listen_address()));
  CHECK_THAT(second.error().message, Catch::Contains("in use"));
  CHECK_FALSE(check_http_listen("localhost:8645"));
  CHECK_FALSE(check_http_listen("127.0.0.1"));
  CHECK_FALSE(check_http_listen("127.0.0.1:65536"));
  CHECK(check_http_listen("127.0.0.1:8645"));
  CHECK(check_http_listen("[::1]:8645"));
}

namespace {

/// A TCP connection to `address` ("127.0.0.1:PORT") that may send `first`
/// and then nothing: an idle or slowloris client. -1 when it cannot connect.
int hold_connection(const std::string& address, const std::string& first) {
  auto colon = address.rfind(':');
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
  ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &to.sin_addr);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  if (!first.empty())
    (void)::send(fd, first.data(), first.size(), MSG_NOSIGNAL);
  return fd;
}

} // namespace

TEST_CASE("the HTTP server answers /health while idle and slowloris connections flood it",
          "[net][http][hostile]") {
  auto server = serve([](const http_request&) { return http_response{200, "text/plain", "ok"}; });
  auto address = server->listen_address();
  std::vector<int> held;
  // 300 idle connections and 100 that sent half a request line.
  for (int i = 0; i < 400; ++i)
    if (auto fd = hold_connection(address, i < 300 ? "" : "GET /slow HTTP/1.1\r\nX-A: "); fd >= 0)
      held.push_back(fd);
  CHECK(held.size() == 400);
  // And clients that reconnect with half a request as fast as they can.
  std::atomic<bool> stop{false};
  std::atomic<int> reconnects{0};
  std::vector<std::thread> slowloris;
  for (int t = 0; t < 2; ++t)
    slowloris.emplace_back([&] {
      while (!stop) {
        auto fd = hold_connection(address, "GET /slow HTTP/1.1\r\n");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (fd >= 0)
          ::close(fd);
        ++reconnects;
      }
    });
  int answered = 0;
  for (int i = 0; i < 30; ++i) {
    auto health = http_get(address, "/health");
    answered += health && health->status == 200 ? 1 : 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  for (auto& t : slowloris)
    t.join();
  for (auto fd : held)
    ::close(fd);
  CHECK(reconnects > 30);
  CHECK(answered == 30);
  // Room was made by closing connections that had sent no request.
  CHECK(server->connections_evicted() > 0);
}

namespace {

/// A raw client connection to 127.0.0.1:PORT that sends `request`.
int open_and_send(const std::string& address, const std::string& request) {
  auto port = std::stoi(address.substr(address.rfind(':') + 1));
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
  REQUIRE(::send(fd, request.data(), request.size(), 0) == ssize_t(request.size()));
  return fd;
}

/// Reads from `fd` until `needle` arrived or 5 s passed; what was read.
std::string read_until(int fd, const std::string& needle) {
  std::string got;
  timeval tv{0, 200000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  char buf[4096];
  while (got.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0)
      break;
    if (n > 0)
      got.append(buf, std::size_t(n));
  }
  return got;
}

} // namespace

TEST_CASE("an event stream gets every published event as data lines; one stream too many gets "
          "503; a client that stops reading is dropped at its backlog",
          "[net][http]") {
  http_server_options options;
  options.max_event_streams = 2;
  options.max_event_backlog = 64 * 1024;
  auto server = serve(
    [](const http_request& r) {
      http_response out;
      if (r.target == "/events") {
        out.event_stream = true;
        out.headers = {{"X-Test", "yes"}};
      } else {
        out.body = "ok";
      }
      return out;
    },
    options);
  auto address = server->listen_address();
  int first = open_and_send(address, "GET /events HTTP/1.1\r\nHost: t\r\n\r\n");
  auto head = read_until(first, ": annals events\n\n");
  CHECK_THAT(head, Catch::Contains("HTTP/1.1 200 OK"));
  CHECK_THAT(head, Catch::Contains("Content-Type: text/event-stream"));
  CHECK_THAT(head, Catch::Contains("X-Test: yes"));
  REQUIRE(eventually_streams(*server, 1));
  server->publish_event("{\"type\":\"one\"}");
  server->publish_event("two\nlines");
  auto events = read_until(first, "data: lines\n\n");
  CHECK_THAT(events, Catch::Contains("data: {\"type\":\"one\"}\n\n"));
  CHECK_THAT(events, Catch::Contains("data: two\ndata: lines\n\n"));

  // A second stream that never reads; a third is refused.
  int stalled = open_and_send(address, "GET /events HTTP/1.1\r\nHost: t\r\n\r\n");
  REQUIRE(eventually_streams(*server, 2));
  auto third = http_get(address, "/events");
  REQUIRE(third);
  CHECK(third->status == 503);
  // Plain requests still get in.
  CHECK(http_get(address, "/health")->status == 200);

  // The first client keeps reading; the stalled one's socket buffers and
  // then its backlog fill, and it alone is dropped.
  std::atomic<bool> reading{true};
  std::thread reader([&] {
    char buf[65536];
    timeval tv{0, 100000};
    ::setsockopt(first, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (reading)
      if (::recv(first, buf, sizeof buf, 0) == 0)
        break;
  });
  const std::string big(16 * 1024, 'x');
  for (int i = 0; i < 2000 && server->event_streams_dropped() == 0; ++i) {
    server->publish_event(big);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(server->event_streams_dropped() == 1);
  CHECK(eventually_streams(*server, 1));
  reading = false;
  reader.join();
  ::close(stalled);
  ::close(first);
  CHECK(eventually_streams(*server, 0));
}
