// The status page at GET / of the REST listener: its assets (compiled in
// from app/ui/), the hour of samples behind its charts (/debug/v1/history)
// and the signal lines its event stream (/events) carries.
#pragma once

#include <annals/status.hpp>

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace annals {
struct http_response;
}

namespace annals::app {

extern const std::string_view status_page_index;
extern const std::string_view status_page_script;
extern const std::string_view status_page_style;

/// The page's files for `path` ("/", "/ui/app.js", "/ui/app.css"), with a
/// Content-Security-Policy that allows nothing but this origin's scripts,
/// styles and requests; none for another path.
std::optional<http_response> status_page_asset(std::string_view path);

/// One sample of what the charts draw.
struct history_sample {
  std::uint64_t unix_ms = 0;
  double messages_stored = 0;    // sum of annals_messages_stored
  double relay_messages_in = 0;  // annals_relay_messages_in_total
  double seeded_bytes = 0;       // annals_seeded_bytes_total (all communities)
  double fetched_bytes = 0;      // annals_fetched_bytes_total
  double memory_bytes = 0;       // annals_process_anonymous_memory_bytes
};

/// The last `capacity` samples (an hour at one per 10 s), thread-safe: the
/// node's main loop records, the REST thread reads.
class status_history {
public:
  explicit status_history(std::size_t capacity = 360, std::uint64_t interval_seconds = 10)
      : capacity_(capacity), interval_seconds_(interval_seconds) {}
  void record(const std::vector<component_status>& parts, std::uint64_t unix_ms);
  /// {"intervalSeconds": 10, "samples": [{"t", "messagesStored", …}, …]}
  std::string json() const;
  std::uint64_t interval_seconds() const { return interval_seconds_; }
  std::size_t size() const;

private:
  mutable std::mutex mutex_;
  std::deque<history_sample> samples_;
  std::size_t capacity_;
  std::uint64_t interval_seconds_;
};

} // namespace annals::app
