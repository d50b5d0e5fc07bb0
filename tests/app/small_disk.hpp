// A small disk for tests: a tmpfs mounted on a temp directory (root only,
// as CI runs), grown or removed as a test needs, and a free loopback port.
#pragma once

#include <filesystem>
#include <netinet/in.h>
#include <string>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

namespace annals::test {

/// A loopback TCP port free right now (the kernel's pick, released).
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// A tmpfs of `size` ("12m") at `at`, unmounted when it goes.
struct small_disk {
  std::filesystem::path at;
  bool mounted = false;
  small_disk(std::filesystem::path where, const std::string& size) : at(std::move(where)) {
    std::filesystem::create_directories(at);
    mounted = ::mount("tmpfs", at.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
  }
  small_disk(const small_disk&) = delete;
  small_disk& operator=(const small_disk&) = delete;
  bool grow(const std::string& size) {
    return ::mount("tmpfs", at.c_str(), "tmpfs", MS_REMOUNT, ("size=" + size).c_str()) == 0;
  }
  ~small_disk() {
    if (mounted)
      ::umount2(at.c_str(), MNT_DETACH);
  }
};

} // namespace annals::test
