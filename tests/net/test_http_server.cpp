// The REST transport on 127.0.0.1: what a scraper or curl sees.
#include "net/http_server.hpp"
#include "tests/http_get.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

using namespace annals;
using namespace annals::test;

namespace {

std::unique_ptr<http_server> serve(http_handler handler, http_server_options options = {}) {
  options.listen = "127.0.0.1:0";
  auto server = http_server::start(options, std::move(handler));
  REQUIRE(server);
  return std::move(*server);
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
