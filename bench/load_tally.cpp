#include "bench/load_tally.hpp"

#include "messages/actors.hpp"

#include <algorithm>
#include <cmath>

namespace annals::bench {

latency_summary summarize(std::vector<double> samples) {
  latency_summary out;
  out.count = samples.size();
  if (samples.empty())
    return out;
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) {
    auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size()))) ;
    return samples[std::min(samples.size() - 1, i == 0 ? 0 : i - 1)];
  };
  out.p50 = at(0.50);
  out.p99 = at(0.99);
  out.max = samples.back();
  return out;
}

load_tally::load_tally(std::vector<std::string> members,
                       std::chrono::steady_clock::time_point start)
  : start_(start), members_(std::move(members)), member_imported_(members_.size(), 0) {
  for (std::size_t i = 0; i < members_.size(); ++i)
    member_index_[members_[i]] = i;
}

stamp load_tally::now() const {
  std::lock_guard lock(mutex_);
  return std::chrono::duration<float, std::milli>(std::chrono::steady_clock::now() - start_)
    .count();
}

void load_tally::restart_clock(std::chrono::steady_clock::time_point start) {
  std::lock_guard lock(mutex_);
  start_ = start;
}

message_times& load_tally::entry(const std::string& hash) {
  auto& e = messages_[hash];
  if (e.imported.empty())
    e.imported.assign(members_.size(), -1);
  return e;
}

void load_tally::observe(const std::string& node, const std::string& community, std::uint8_t kind,
                         const std::vector<std::string>& hashes) {
  auto t = now();
  std::lock_guard lock(mutex_);
  auto& counts = counts_[node];
  switch (kind) {
  case message_observation::posted:
    for (const auto& h : hashes) {
      auto& e = entry(h);
      if (e.posted < 0) {
        e.posted = t;
        ++posted_;
        posted_by_community_[community].push_back(h);
      }
    }
    break;
  case message_observation::stored:
    for (const auto& h : hashes) {
      auto& e = entry(h);
      if (e.stored < 0)
        e.stored = t;
    }
    counts.stored += hashes.size();
    break;
  case message_observation::archived:
    for (const auto& h : hashes) {
      auto& e = entry(h);
      if (e.archived < 0)
        e.archived = t;
      ++e.archived_count;
    }
    counts.archived += hashes.size();
    break;
  case message_observation::imported: {
    auto m = member_index_.find(node);
    if (m == member_index_.end())
      break;
    for (const auto& h : hashes) {
      auto& e = entry(h);
      if (e.imported[m->second] < 0) {
        e.imported[m->second] = t;
        ++member_imported_[m->second];
        ++counts.imported;
      }
    }
    if (first_import_ < 0)
      first_import_ = t;
    last_import_ = t;
    break;
  }
  default:
    break;
  }
}

void load_tally::build_started(const std::string& community) {
  auto t = now();
  std::lock_guard lock(mutex_);
  build_started_[community] = t;
}

void load_tally::build_finished(const std::string& community) {
  auto t = now();
  std::lock_guard lock(mutex_);
  auto it = build_started_.find(community);
  if (it == build_started_.end())
    return;
  build_ms_ += t - it->second;
  ++builds_;
  build_started_.erase(it);
}

std::uint64_t load_tally::posted() const {
  std::lock_guard lock(mutex_);
  return posted_;
}

std::unordered_map<std::string, std::vector<std::string>> load_tally::posted_hashes() const {
  std::lock_guard lock(mutex_);
  return posted_by_community_;
}

std::map<std::string, node_counts> load_tally::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

bool load_tally::all_imported(std::uint64_t expected_posted) const {
  std::lock_guard lock(mutex_);
  if (posted_ < expected_posted)
    return false;
  for (const auto& [hash, e] : messages_)
    if (e.posted >= 0)
      for (auto t : e.imported)
        if (t < 0)
          return false;
  return true;
}

std::map<std::string, std::uint64_t> load_tally::lagging() const {
  std::lock_guard lock(mutex_);
  std::vector<std::uint64_t> missing(members_.size(), 0);
  for (const auto& [hash, e] : messages_)
    if (e.posted >= 0)
      for (std::size_t i = 0; i < e.imported.size(); ++i)
        missing[i] += e.imported[i] < 0 ? 1 : 0;
  std::map<std::string, std::uint64_t> out;
  for (std::size_t i = 0; i < members_.size(); ++i)
    if (missing[i] > 0)
      out[members_[i]] = missing[i];
  return out;
}

load_tally::summary load_tally::summarize_all() const {
  std::lock_guard lock(mutex_);
  std::vector<double> stored, archived, imported;
  summary out;
  for (const auto& [hash, e] : messages_) {
    if (e.posted < 0)
      continue;
    if (e.stored >= 0)
      stored.push_back(std::max<double>(0, e.stored - e.posted));
    if (e.archived >= 0) {
      archived.push_back(std::max<double>(0, e.archived - e.posted));
      ++out.archived_messages;
    }
    for (auto t : e.imported)
      if (t >= 0) {
        imported.push_back(std::max<double>(0, t - e.posted));
        ++out.imported_messages;
      }
  }
  out.stored = summarize(std::move(stored));
  out.archived = summarize(std::move(archived));
  std::sort(imported.begin(), imported.end());
  if (!imported.empty())
    for (int q = 1; q <= 1000; ++q)
      out.imported_quantiles.push_back(
        imported[std::min(imported.size() - 1, imported.size() * q / 1000)]);
  out.imported = summarize(std::move(imported));
  out.build_seconds = build_ms_ / 1000.0;
  out.builds = builds_;
  out.first_import_ms = first_import_;
  out.last_import_ms = last_import_;
  return out;
}

} // namespace annals::bench
