#include <annals/log.hpp>

#include <google/protobuf/stubs/logging.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>

namespace annals {

namespace {

std::mutex log_mutex;
log_options options;  // guarded by log_mutex
std::atomic<int> enabled_level{static_cast<int>(log_level::info)};

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void protobuf_log(google::protobuf::LogLevel level, const char*, int, const std::string& text) {
  log_line(level >= google::protobuf::LOGLEVEL_FATAL ? log_level::error : log_level::debug,
           "protobuf", text);
}

// Before main: the first hostile message may arrive before any command
// configures the log.
const bool protobuf_routed = (google::protobuf::SetLogHandler(&protobuf_log), true);

} // namespace

void route_protobuf_logs() {
  google::protobuf::SetLogHandler(&protobuf_log);
}

std::optional<log_level> parse_log_level(std::string_view name) {
  if (name == "error")
    return log_level::error;
  if (name == "warn" || name == "warning")
    return log_level::warn;
  if (name == "info")
    return log_level::info;
  if (name == "debug")
    return log_level::debug;
  return std::nullopt;
}

std::optional<log_format> parse_log_format(std::string_view name) {
  if (name == "text")
    return log_format::text;
  if (name == "json")
    return log_format::json;
  return std::nullopt;
}

const char* to_string(log_level level) {
  switch (level) {
    case log_level::error: return "error";
    case log_level::warn: return "warn";
    case log_level::info: return "info";
    case log_level::debug: return "debug";
  }
  return "info";
}

void configure_log(const log_options& o) {
  std::lock_guard lock(log_mutex);
  options = o;
  enabled_level = static_cast<int>(o.level);
}

log_options current_log_options() {
  std::lock_guard lock(log_mutex);
  return options;
}

bool log_enabled(log_level level) {
  return static_cast<int>(level) <= enabled_level.load(std::memory_order_relaxed);
}

std::string log_timestamp() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string format_log_line(log_format format, log_level level, std::string_view time,
                            std::string_view component, std::string_view message) {
  std::string out;
  if (format == log_format::json) {
    out += "{\"time\":";
    append_json_string(out, time);
    out += ",\"level\":";
    append_json_string(out, to_string(level));
    out += ",\"component\":";
    append_json_string(out, component);
    out += ",\"message\":";
    append_json_string(out, message);
    out += '}';
    return out;
  }
  out.reserve(time.size() + component.size() + message.size() + 16);
  out += time;
  out += ' ';
  std::string_view name = to_string(level);
  out += name;
  out.append(6 - name.size(), ' ');
  out += component;
  out += ": ";
  // One event, one line: a message from a stranger cannot forge a second.
  for (char c : message)
    out += (c == '\n' || c == '\r') ? ' ' : c;
  return out;
}

void log_line(log_level level, std::string_view component, std::string_view message) {
  if (!log_enabled(level))
    return;
  std::lock_guard lock(log_mutex);
  if (options.sink) {
    // Under the lock as a file write is: lines arrive one at a time and
    // whole, in the order they were logged.
    options.sink(level, component, message);
    return;
  }
  auto time = log_timestamp();
  auto line = format_log_line(options.format, level, time, component, message);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), options.out);
  std::fflush(options.out);
}

} // namespace annals
