// `annals relay probe`: one connection to a peer, upgraded as far as
// identify, reporting which layer failed. Independent of the host.
#pragma once

#include "core/identity.hpp"
#include "core/result.hpp"
#include "net/p2p/connection.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace annals::p2p {

/// What `annals relay probe` reports.
struct probe_report {
  std::string peer_id;
  std::string muxer;
  identify_info identify;
};

/// Dials `address`, completes Noise and muxer selection, asks identify, and
/// returns what the peer said. The error names the failing layer ("tcp",
/// "multistream (security)", "noise", "multistream (muxer)", "identify").
result<probe_report> probe(const std::string& address, const private_key& identity,
                           std::chrono::milliseconds timeout,
                           std::vector<std::string> muxers = {"/yamux/1.0.0", "/mplex/6.7.0"});

} // namespace annals::p2p
