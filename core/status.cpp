#include <annals/status.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <unistd.h>

namespace annals {

status_histogram status_histogram::seconds(std::string name, std::string help) {
  status_histogram h;
  h.name = std::move(name);
  h.help = std::move(help);
  h.bounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
  h.counts.assign(h.bounds.size() + 1, 0);
  return h;
}

void status_histogram::observe(double value) {
  if (counts.size() != bounds.size() + 1)
    counts.assign(bounds.size() + 1, 0);
  std::size_t i = 0;
  while (i < bounds.size() && value > bounds[i])
    ++i;
  ++counts[i];
  sum += value;
  ++count;
}

component_status& component_status::counter(std::string name, std::string help, double value,
                                             std::vector<std::string> labels) {
  metrics.push_back({std::move(name), std::move(help), status_metric::counter, std::move(labels),
                     value});
  return *this;
}

component_status& component_status::gauge(std::string name, std::string help, double value,
                                           std::vector<std::string> labels) {
  metrics.push_back({std::move(name), std::move(help), status_metric::gauge, std::move(labels),
                     value});
  return *this;
}

component_status& component_status::detail(std::string key, std::string value) {
  details.push_back(std::move(key));
  details.push_back(std::move(value));
  return *this;
}

std::string component_status::detail_of(const std::string& key) const {
  for (std::size_t i = 0; i + 1 < details.size(); i += 2)
    if (details[i] == key)
      return details[i + 1];
  return {};
}

double component_status::value_of(const std::string& name,
                                  const std::vector<std::string>& labels) const {
  for (const auto& m : metrics)
    if (m.name == name && m.labels == labels)
      return m.value;
  return -1;
}

process_memory read_process_memory() {
  // statm: size resident shared(file-backed) text lib data dt, in pages.
  std::ifstream in("/proc/self/statm");
  std::uint64_t size = 0, resident = 0, shared = 0;
  process_memory out;
  if (!(in >> size >> resident >> shared))
    return out;
  auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  out.resident = resident * page;
  out.anonymous = (resident > shared ? resident - shared : 0) * page;
  return out;
}

std::uint64_t unix_ms_now() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
}

namespace {

/// Prometheus escapes backslash and newline in HELP text, and the double
/// quote too in label values.
std::string escape(const std::string& text, bool label_value) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && label_value)
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

std::string number(double v) {
  if (std::isnan(v))
    return "NaN";
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string label_set(const std::vector<std::string>& labels, const std::string& extra = {}) {
  std::string out;
  for (std::size_t i = 0; i + 1 < labels.size(); i += 2) {
    out += out.empty() ? "{" : ",";
    out += labels[i] + "=\"" + escape(labels[i + 1], true) + "\"";
  }
  if (!extra.empty()) {
    out += out.empty() ? "{" : ",";
    out += extra;
  }
  if (!out.empty())
    out += "}";
  return out;
}

} // namespace

std::string status_line(const component_status& status) {
  std::string out = status.state;
  std::string numbers;
  for (const auto& m : status.metrics) {
    if (!m.labels.empty() || m.value == 0)
      continue;
    std::string_view name = m.name;
    if (name.rfind("annals_", 0) == 0)
      name.remove_prefix(7);
    if (name.size() > 6 && name.substr(name.size() - 6) == "_total")
      name.remove_suffix(6);
    numbers += numbers.empty() ? "" : ", ";
    numbers += std::string(name) + "=" + number(m.value);
  }
  if (!numbers.empty())
    out += "; " + numbers;
  return out;
}

std::string prometheus_text(const std::vector<component_status>& components) {
  // Families in first-seen order, their samples together (the format wants
  // one block per metric name).
  std::vector<std::string> order;
  std::map<std::string, std::vector<const status_metric*>> families;
  std::map<std::string, std::vector<const status_histogram*>> histograms;
  for (const auto& c : components) {
    for (const auto& m : c.metrics) {
      if (!families.count(m.name) && !histograms.count(m.name))
        order.push_back(m.name);
      families[m.name].push_back(&m);
    }
    for (const auto& h : c.histograms) {
      if (!families.count(h.name) && !histograms.count(h.name))
        order.push_back(h.name);
      histograms[h.name].push_back(&h);
    }
  }
  std::string out;
  for (const auto& name : order) {
    if (auto f = families.find(name); f != families.end()) {
      const auto& first = *f->second.front();
      out += "# HELP " + name + " " + escape(first.help, false) + "\n";
      out += "# TYPE " + name + (first.kind == status_metric::counter ? " counter\n" : " gauge\n");
      for (const auto* m : f->second)
        out += name + label_set(m->labels) + " " + number(m->value) + "\n";
      continue;
    }
    const auto& hs = histograms[name];
    out += "# HELP " + name + " " + escape(hs.front()->help, false) + "\n";
    out += "# TYPE " + name + " histogram\n";
    for (const auto* h : hs) {
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < h->bounds.size(); ++i) {
        cumulative += i < h->counts.size() ? h->counts[i] : 0;
        out += name + "_bucket" + label_set({}, "le=\"" + number(h->bounds[i]) + "\"") + " "
               + std::to_string(cumulative) + "\n";
      }
      out += name + "_bucket{le=\"+Inf\"} " + std::to_string(h->count) + "\n";
      out += name + "_sum " + number(h->sum) + "\n";
      out += name + "_count " + std::to_string(h->count) + "\n";
    }
  }
  return out;
}

} // namespace annals
