// Progress lines for the long-running commands (`demo`, `run`): one
// timestamped line per signal a node emits, readable by people and greppable
// by tests.
#pragma once

#include "actors/node.hpp"
#include <annals/signals.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

namespace annals::app {

struct progress {
  std::mutex mutex;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::FILE* out = stdout;

  /// "[  1.23s] who     text"
  void line(const std::string& who, const std::string& text);
};

/// "12.0/40.0 MB at 3.1 MB/s, ETA 9 s, 2 peers" (done/total in MB; ETA
/// "unknown" while nothing moves).
std::string transfer_figures(std::uint64_t done, std::uint64_t total, std::uint64_t rate,
                             std::uint64_t peers);

/// "1 archive", "3 archives": a count with its noun (plural by "s").
std::string counted(std::uint64_t n, const std::string& noun);

/// "0.42 s", "12.3 s", "4 min 05 s": a duration for people.
std::string format_seconds(double seconds);

/// Progress of a transfer on stderr: rewritten in place (\r) when stderr is
/// a terminal, one line per update otherwise (logs, pipes, CI).
class transfer_printer {
public:
  transfer_printer();
  void update(const std::string& line);
  /// Whether updates rewrite one line (stderr is a terminal); callers that
  /// report often print less when not.
  bool in_place() const { return terminal_; }
  /// Ends an in-place line, so what follows starts on its own.
  void finish();

private:
  bool terminal_;
  bool open_ = false;
};

/// A readable sentence for a signal.
std::string describe(const signal& s);

/// Prints every signal of an owner node.
signal_sink_actor::behavior_type owner_progress(signal_sink_actor::pointer,
                                                std::shared_ptr<progress> p, std::string who);

/// Prints a member node's signals, except the per-archive import lines.
signal_sink_actor::behavior_type member_progress(signal_sink_actor::pointer,
                                                 std::shared_ptr<progress> p, std::string who);

/// Adds a status-go signal JSON writer to `config`: `events` is a file to
/// append to, or "-" for stdout; empty adds nothing.
/// Answers the file it writes (stdout for "-", none for ""), which a
/// reload reopens in place (std::freopen keeps the writer's FILE*).
std::FILE* add_event_writer(caf::actor_system& sys, node_config& config, const std::string& events);

} // namespace annals::app
