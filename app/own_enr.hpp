// A node's own ENR, kept in its data_dir so the sequence number goes up only
// when what the record says changes.
#pragma once

#include "app/run_config.hpp"
#include "core/enr.hpp"

#include <string>
#include <vector>

namespace annals::app {

/// The file that keeps the node's last record.
inline std::filesystem::path own_enr_file(const run_config& c) { return c.data_dir / "enr"; }

/// The record of `key` saying `fields`: the one in `file` when it says the
/// same, else a new one with the next sequence number, saved there first.
result<enr_record> own_enr(const private_key& key, const enr_fields& fields,
                           const std::filesystem::path& file);

/// The fields a node run with `c` advertises at `addresses` (text
/// multiaddrs, a trailing /p2p/<ID> ignored): relay, store when it serves
/// one, its cluster and shards.
/// `udp` is the discv5 port (0: none).
enr_fields node_enr_fields(const run_config& c, const std::vector<std::string>& addresses,
                           std::uint16_t udp = 0);

} // namespace annals::app
