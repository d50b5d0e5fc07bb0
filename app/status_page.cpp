#include "app/status_page.hpp"

#include "net/http_server.hpp"

#include <nlohmann/json.hpp>

namespace annals::app {

namespace {

/// Only this origin: no inline script or style, no frames, no forms, no
/// other hosts, so a string from the network that slipped into markup
/// could still run nothing.
const char* content_security_policy =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
  "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

double sum_of(const std::vector<component_status>& parts, const std::string& name) {
  double total = 0;
  for (const auto& part : parts)
    for (const auto& m : part.metrics)
      if (m.name == name)
        total += m.value;
  return total;
}

} // namespace

std::optional<http_response> status_page_asset(std::string_view path) {
  http_response out;
  if (path == "/" || path == "/index.html") {
    out.content_type = "text/html; charset=utf-8";
    out.body = std::string(status_page_index);
  } else if (path == "/ui/app.js") {
    out.content_type = "text/javascript; charset=utf-8";
    out.body = std::string(status_page_script);
  } else if (path == "/favicon.ico") {
    // Browsers ask for it unprompted; nothing to show, and no 404 to log.
    out.status = 204;
    out.content_type = "image/x-icon";
  } else if (path == "/ui/app.css") {
    out.content_type = "text/css; charset=utf-8";
    out.body = std::string(status_page_style);
  } else {
    return std::nullopt;
  }
  out.headers = {{"Content-Security-Policy", content_security_policy},
                 {"X-Content-Type-Options", "nosniff"},
                 {"Referrer-Policy", "no-referrer"}};
  return out;
}

void status_history::record(const std::vector<component_status>& parts, std::uint64_t unix_ms) {
  history_sample s;
  s.unix_ms = unix_ms;
  s.messages_stored = sum_of(parts, "annals_messages_stored");
  s.relay_messages_in = sum_of(parts, "annals_relay_messages_in_total");
  s.seeded_bytes = sum_of(parts, "annals_seeded_bytes_total");
  s.fetched_bytes = sum_of(parts, "annals_fetched_bytes_total");
  s.memory_bytes = sum_of(parts, "annals_process_anonymous_memory_bytes");
  std::lock_guard lock(mutex_);
  samples_.push_back(s);
  while (samples_.size() > capacity_)
    samples_.pop_front();
}

std::string status_history::json() const {
  nlohmann::json samples = nlohmann::json::array();
  {
    std::lock_guard lock(mutex_);
    for (const auto& s : samples_)
      samples.push_back({{"t", s.unix_ms},
                         {"messagesStored", s.messages_stored},
                         {"relayMessagesIn", s.relay_messages_in},
                         {"seededBytes", s.seeded_bytes},
                         {"fetchedBytes", s.fetched_bytes},
                         {"memoryBytes", s.memory_bytes}});
  }
  return nlohmann::json{{"intervalSeconds", interval_seconds_}, {"samples", std::move(samples)}}
    .dump();
}

std::size_t status_history::size() const {
  std::lock_guard lock(mutex_);
  return samples_.size();
}

} // namespace annals::app
