// The fetch half of `annals bench throughput`: one archive set, one seeder
// on 127.0.0.1, and a member's fetch timed beside aria2's from the same
// seeder. The seeder is aria2 (neither side's own), found through a local
// opentracker as aria2 needs; `annals archive fetch` dials it by address.
// Then annals -> annals: `annals archive seed` to `annals archive fetch`.
#pragma once

#include "core/archive_format.hpp"

#include <functional>
#include <string>

namespace annals::bench {

struct fetch_figures {
  bool measured = false;
  std::string why;            // when not measured
  std::uint64_t bytes = 0;    // data + index
  double annals_s = 0;        // annals archive fetch from the aria2 seeder
  double aria2_s = 0;         // aria2 from the same seeder
  double annals_from_annals_s = 0;
  double ratio() const { return annals_s > 0 ? aria2_s / annals_s : 0; }
};

/// Fetches `owner`'s archive set (its torrent is rewritten to list the
/// local tracker) into directories under `work`, with `annals_binary` for
/// annals' own commands. Needs aria2c and opentracker on PATH (Debian
/// packages aria2 and opentracker, which scripts/setup.sh installs);
/// without them, measured is false and why says what is missing. Throws
/// when a fetch fails or its copy differs.
fetch_figures run_fetch(const archive_layout& owner, const std::filesystem::path& work,
                        const std::filesystem::path& annals_binary,
                        const std::function<void(const std::string&)>& line);

} // namespace annals::bench
