// One logger for the whole process: actors, the relay's I/O thread and the
// commands write through it, with a wall-clock timestamp, a level and the
// component that speaks. Text for people, JSON lines for log shippers.
// Thread-safe; a line is written whole.
#pragma once

#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace annals {

enum class log_level { error = 0, warn = 1, info = 2, debug = 3 };
enum class log_format { text, json };

std::optional<log_level> parse_log_level(std::string_view name);
std::optional<log_format> parse_log_format(std::string_view name);
const char* to_string(log_level level);

/// Where a host application sends annals' lines instead of a file: its own
/// logger. Called from whichever thread logs (actors, the relay's I/O
/// thread), one call per line, never two at once; it must not block long.
using log_sink = std::function<void(log_level level, std::string_view component,
                                    std::string_view message)>;

struct log_options {
  log_level level = log_level::info;
  log_format format = log_format::text;
  std::FILE* out = stderr;
  /// When set, every line at `level` or more severe goes here (unformatted)
  /// and nothing is written to `out`.
  log_sink sink;
};

/// Replaces the process's log options (before actors start, normally).
void configure_log(const log_options& options);
log_options current_log_options();

bool log_enabled(log_level level);

/// Writes one line: text `2026-12-01T11:05:20.123Z info  relay: connected …`,
/// or JSON `{"time":…,"level":…,"component":…,"message":…}`.
void log_line(log_level level, std::string_view component, std::string_view message);

inline void log_error(std::string_view component, std::string_view message) {
  log_line(log_level::error, component, message);
}
inline void log_warn(std::string_view component, std::string_view message) {
  log_line(log_level::warn, component, message);
}
inline void log_info(std::string_view component, std::string_view message) {
  log_line(log_level::info, component, message);
}
inline void log_debug(std::string_view component, std::string_view message) {
  log_line(log_level::debug, component, message);
}

/// Sends protobuf's own log lines (it prints "String field ... contains
/// invalid UTF-8" for bytes from strangers) to this logger at debug level,
/// so a hostile peer cannot flood stderr. Idempotent; runs at start-up too.
void route_protobuf_logs();

/// The line as written (no newline), for tests and other sinks.
std::string format_log_line(log_format format, log_level level, std::string_view time,
                            std::string_view component, std::string_view message);

/// UTC wall-clock time with milliseconds: 2026-12-01T11:05:20.123Z.
std::string log_timestamp();

} // namespace annals
