#include "net/dns_discovery.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace annals {

struct dns_discovery::shared {
  dns_discovery_config config;
  std::vector<enrtree_url> urls;
  found_fn found;
  log_fn log;
  mutable std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  dns_discovery_stats stats;

  void run() {
    using clock = std::chrono::steady_clock;
    std::vector<enrtree_client> clients(urls.size(), enrtree_client(config.limits));
    std::vector<clock::time_point> due(urls.size(), clock::now());
    std::vector<std::chrono::milliseconds> backoff(urls.size(), config.retry_initial);
    txt_lookup lookup = [this](const std::string& name) {
      return resolve_txt(name, config.resolver);
    };
    std::unique_lock lock(mutex);
    while (!stopping) {
      auto next = std::min_element(due.begin(), due.end());
      if (clock::now() < *next) {
        wake.wait_until(lock, *next);
        continue;
      }
      auto i = static_cast<std::size_t>(next - due.begin());
      lock.unlock();
      auto synced = clients[i].sync(urls[i], lookup);
      lock.lock();
      if (stopping)
        break;
      auto text = urls[i].text();
      if (!synced) {
        ++stats.failures;
        stats.last_error = synced.error().message;
        due[i] = clock::now() + backoff[i];
        log(true, "dns discovery: " + synced.error().message + "; again in "
                    + std::to_string(backoff[i].count() / 1000) + " s");
        backoff[i] = std::min(backoff[i] * 2, config.retry_max);
        continue;
      }
      ++stats.syncs;
      stats.lookups += synced->lookups;
      stats.entries_failed += synced->failures.size();
      stats.records += synced->records.size();
      backoff[i] = config.retry_initial;
      due[i] = clock::now() + config.interval;
      for (const auto& f : synced->failures)
        log(true, "dns discovery: " + f);
      log(false, "dns discovery: " + urls[i].domain + " seq " + std::to_string(synced->seq) + ": "
                   + std::to_string(synced->records.size()) + " record(s) in "
                   + std::to_string(synced->lookups) + " lookup(s)");
      std::vector<std::string> records;
      for (const auto& r : synced->records)
        records.push_back(r.text());
      // Under the lock, so the owner's destructor waits for a call under way
      // and none starts after it.
      found(std::move(records), text);
    }
  }
};

result<std::unique_ptr<dns_discovery>> dns_discovery::start(dns_discovery_config config,
                                                            found_fn found, log_fn log) {
  auto state = std::make_shared<shared>();
  for (const auto& t : config.trees) {
    auto url = parse_enrtree_url(t);
    if (!url)
      return url.error();
    state->urls.push_back(std::move(*url));
  }
  if (!config.resolver.server.empty())
    if (auto ok = check_dns_server(config.resolver.server); !ok)
      return ok.error();
  state->config = std::move(config);
  state->found = std::move(found);
  state->log = log ? std::move(log) : [](bool, const std::string&) {};
  if (!state->urls.empty())
    std::thread([state] { state->run(); }).detach();
  return std::unique_ptr<dns_discovery>(new dns_discovery(state));
}

dns_discovery::~dns_discovery() {
  std::lock_guard lock(state_->mutex);
  state_->stopping = true;
  state_->found = nullptr;
  state_->log = nullptr;
  state_->wake.notify_all();
}

dns_discovery_stats dns_discovery::stats() const {
  std::lock_guard lock(state_->mutex);
  return state_->stats;
}

} // namespace annals
