#include "app/progress.hpp"

#include <annals/log.hpp>

#include "actors/signal_bus.hpp"
#include "app/commands.hpp"

#include <caf/all.hpp>

#include <unistd.h>

namespace annals::app {

void progress::line(const std::string& who, const std::string& text) {
  log_info(who, text);
}

std::string transfer_figures(std::uint64_t done, std::uint64_t total, std::uint64_t rate,
                             std::uint64_t peers) {
  constexpr double mb = 1e6;
  std::string eta = "unknown";
  if (done >= total)
    eta = "0 s";
  else if (rate > 0)
    eta = std::to_string((total - done + rate - 1) / rate) + " s";
  char buf[160];
  std::snprintf(buf, sizeof buf, "%.1f/%.1f MB at %.1f MB/s, ETA %s, %llu peer%s",
                double(done) / mb, double(total) / mb, double(rate) / mb, eta.c_str(),
                static_cast<unsigned long long>(peers), peers == 1 ? "" : "s");
  return buf;
}

std::string counted(std::uint64_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

std::string format_seconds(double seconds) {
  char buf[48];
  if (seconds < 10)
    std::snprintf(buf, sizeof buf, "%.2f s", seconds);
  else if (seconds < 120)
    std::snprintf(buf, sizeof buf, "%.1f s", seconds);
  else
    std::snprintf(buf, sizeof buf, "%llu min %02llu s",
                  static_cast<unsigned long long>(seconds) / 60,
                  static_cast<unsigned long long>(seconds) % 60);
  return buf;
}

transfer_printer::transfer_printer() : terminal_(::isatty(STDERR_FILENO) == 1) {}

void transfer_printer::update(const std::string& line) {
  if (terminal_) {
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
    open_ = true;
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

void transfer_printer::finish() {
  if (open_)
    std::fputc('\n', stderr);
  open_ = false;
}

namespace {

struct describe_signal {
  using result_type = std::string;
  std::string operator()(const creating_history_archives&) const { return "creating archives"; }
  std::string operator()(const history_archives_created& x) const {
    return "archives created for [" + std::to_string(x.from) + ", " + std::to_string(x.to) + ")";
  }
  std::string operator()(const no_history_archives_created& x) const {
    return "nothing new to archive in [" + std::to_string(x.from) + ", " + std::to_string(x.to) + ")";
  }
  std::string operator()(const history_archives_seeding&) const { return "seeding the torrent"; }
  std::string operator()(const magnetlink_published& x) const {
    return "published the signed magnet link (clock " + std::to_string(x.clock) + ")";
  }
  std::string operator()(const magnetlink_rejected& x) const {
    return "rejected a magnet link: " + x.reason;
  }
  std::string operator()(const downloading_history_archives_started&) const {
    return "verified the owner's magnet link; fetching the archives it lacks";
  }
  std::string operator()(const history_archive_downloaded& x) const {
    return "downloaded the archive of [" + std::to_string(x.from) + ", " + std::to_string(x.to) + ")";
  }
  std::string operator()(const archive_key_missing& x) const {
    return "cannot open the archives: no hash-ratchet key " + x.key_id
           + " (waiting for the keys file to change)";
  }
  std::string operator()(const download_failed& x) const {
    return "download FAILED: " + x.reason;
  }
  std::string operator()(const downloading_history_archives_finished&) const {
    return "download and import finished";
  }
  template <class T>
  std::string operator()(const T& x) const {
    return signal_type(signal{x});
  }
};

} // namespace

std::string describe(const signal& s) {
  return caf::visit(describe_signal{}, s);
}

signal_sink_actor::behavior_type owner_progress(signal_sink_actor::pointer,
                                                std::shared_ptr<progress> p, std::string who) {
  return {[=](const signal& s) { p->line(who, describe(s)); }};
}

signal_sink_actor::behavior_type member_progress(signal_sink_actor::pointer,
                                                 std::shared_ptr<progress> p, std::string who) {
  return {[=](const signal& s) {
    if (caf::holds_alternative<importing_history_archive_messages>(s))
      return;  // one per archive: too chatty for a progress line
    p->line(who, describe(s));
  }};
}

std::FILE* add_event_writer(caf::actor_system& sys, node_config& config, const std::string& events) {
  if (events.empty())
    return nullptr;
  std::FILE* out = events == "-" ? stdout : std::fopen(events.c_str(), "a");
  if (out == nullptr)
    fail(events + ": cannot open for appending", exit_bad_input);
  config.subscribers.push_back(sys.spawn(event_writer, out, events != "-"));
  return out;
}

} // namespace annals::app
