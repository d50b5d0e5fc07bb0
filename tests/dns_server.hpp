// A real DNS server for tests: Debian's dnsmasq on 127.0.0.1 at a free port,
// answering an EIP-1459 tree's TXT records for one domain (NXDOMAIN for any
// other name under it). Killed with the test.
#pragma once

#include "core/enr_tree.hpp"
#include "net/dns_txt.hpp"
#include "tests/process.hpp"
#include "tests/temp_dir.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace annals::test {

/// A UDP port on 127.0.0.1 free a moment ago.
inline std::uint16_t free_udp_port() {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class dns_server {
public:
  dns_server(const temp_dir& dir, std::string domain) : dir_(dir), domain_(std::move(domain)) {
    port_ = free_udp_port();
  }

  /// "127.0.0.1:PORT", for dns_resolver_options::server.
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  /// Serves `records` (name relative to the domain, "" for the domain
  /// itself, and TXT text), replacing what was served; waits until the
  /// server answers. Throws when dnsmasq does not start.
  void serve(const std::vector<enrtree_txt>& records) {
    std::string conf;
    for (const auto& r : records)
      conf += "txt-record=" + (r.label.empty() ? domain_ : r.label + "." + domain_) + ",\""
              + r.text + "\"\n";
    write_file(dir_ / "dnsmasq.conf", conf);
    process_.reset();  // killed; its port is taken again below
    process_ = std::make_unique<child_process>(
      std::vector<std::string>{"dnsmasq", "--keep-in-foreground", "--conf-file="
                                 + (dir_ / "dnsmasq.conf").string(),
                               "--port=" + std::to_string(port_), "--listen-address=127.0.0.1",
                               "--bind-interfaces", "--no-resolv", "--no-hosts", "--pid-file=",
                               "--local=/" + domain_ + "/", "--log-facility=-"},
      dir_ / "dnsmasq.out", dir_ / "dnsmasq.err");
    dns_resolver_options o{address(), std::chrono::milliseconds(1000), 1};
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      auto answer = resolve_txt(domain_, o);
      auto root = root_text(records);
      if (answer ? std::find(answer->begin(), answer->end(), root) != answer->end()
                 : root.empty() && answer.error().code == errc::not_found)
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("dnsmasq did not answer on " + address() + ": "
                             + read_file(dir_ / "dnsmasq.err"));
  }

private:
  static std::string root_text(const std::vector<enrtree_txt>& records) {
    for (const auto& r : records)
      if (r.label.empty())
        return r.text;
    return {};
  }

  const temp_dir& dir_;
  std::string domain_;
  std::uint16_t port_ = 0;
  std::unique_ptr<child_process> process_;
};

} // namespace annals::test
