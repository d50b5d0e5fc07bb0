// A blocking HTTP/1.1 GET over loopback, for the REST tests and the benches
// that read a node's /metrics: no client library, so what the server sends
// is what the caller sees.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>

namespace annals {

struct http_reply {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

/// Sends `request` (a whole request, or a path to GET) to ADDR:PORT and
/// reads until the server closes; nullopt when it cannot connect.
inline std::optional<http_reply> http_exchange(const std::string& host_port,
                                               const std::string& request) {
  auto colon = host_port.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(std::stoi(host_port.substr(colon + 1))));
  if (::inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr) != 1)
    return std::nullopt;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return std::nullopt;
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  std::string text = request.rfind('/', 0) == 0
                       ? "GET " + request + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
                       : request;
  for (std::size_t sent = 0; sent < text.size();) {
    auto n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    sent += static_cast<std::size_t>(n);
  }
  std::string response;
  char buf[4096];
  for (;;) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    response.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  http_reply out;
  auto end = response.find("\r\n\r\n");
  out.head = response.substr(0, end);
  out.body = end == std::string::npos ? std::string() : response.substr(end + 4);
  if (response.rfind("HTTP/1.", 0) == 0 && response.size() > 12)
    out.status = std::stoi(response.substr(9, 3));
  return out;
}

inline std::optional<http_reply> http_get(const std::string& host_port, const std::string& path) {
  return http_exchange(host_port, path);
}

/// The value of the sample `series` (name and labels, as printed) in
/// Prometheus text, or -1 when it is absent.
inline double prometheus_sample(const std::string& metrics, const std::string& series) {
  auto at = metrics.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stod(metrics.substr(at + series.size() + 2));
}

} // namespace annals
