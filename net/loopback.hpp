// Running other programs as peers on 127.0.0.1 (aria2, opentracker, a
// second annals): finding them, a port for them, knowing they listen.
// Shared by the interop tests and `annals bench throughput`.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

namespace annals {

/// The absolute path of `program` on PATH, or nullopt.
inline std::optional<std::filesystem::path> find_program(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    auto end = std::min(dirs.find(':', start), dirs.size());
    auto candidate = std::filesystem::path(dirs.substr(start, end - start)) / program;
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

/// A port that is free on 127.0.0.1 for both TCP and UDP when asked (a
/// tracker binds both); another process could still take it before use.
/// Nullopt when none was found in a few tries.
inline std::optional<std::uint16_t> free_loopback_port() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    int tcp = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    bool bound = ::bind(tcp, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0
                 && ::getsockname(tcp, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    bound = bound && ::bind(udp, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    ::close(tcp);
    ::close(udp);
    if (bound)
      return ntohs(address.sin_port);
  }
  return std::nullopt;
}

/// Whether something accepts TCP connections on 127.0.0.1:`port` within
/// `limit`.
inline bool accepts_connections(std::uint16_t port, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  do {
    int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool connected =
      ::connect(probe, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    ::close(probe);
    if (connected)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  return false;
}

} // namespace annals
