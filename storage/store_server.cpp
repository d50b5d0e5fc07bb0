#include "storage/store_server.hpp"

#include "storage/store.hpp"

#include <algorithm>

namespace annals {

store_query_server::store_query_server(store_server_options options)
  : options_(std::move(options)) {}

void store_query_server::attach(std::shared_ptr<store> db) {
  std::lock_guard lock(mutex_);
  db_ = std::move(db);
}

bool store_query_server::admit(const std::string& peer) {
  auto now = std::chrono::steady_clock::now();
  if (buckets_.size() >= options_.max_tracked_peers && !buckets_.count(peer)) {
    // Forget peers whose bucket has refilled: they cost nothing to re-add.
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      double age = std::chrono::duration<double>(now - it->second.refilled).count();
      if (it->second.tokens + age * options_.queries_per_second >= options_.burst)
        it = buckets_.erase(it);
      else
        ++it;
    }
    if (buckets_.size() >= options_.max_tracked_peers)
      return false;  // that many busy peers at once: everyone new waits
  }
  auto [it, fresh] = buckets_.try_emplace(peer, bucket{options_.burst, now});
  auto& b = it->second;
  double elapsed = std::chrono::duration<double>(now - b.refilled).count();
  b.tokens = std::min(options_.burst, b.tokens + elapsed * options_.queries_per_second);
  b.refilled = now;
  if (b.tokens < 1)
    return false;
  b.tokens -= 1;
  return true;
}

std::string store_query_server::refuse(const std::string& request_id, store_status status,
                                       std::string why) {
  ++counters_.answers[static_cast<std::uint32_t>(status)];
  return encode_store_refusal(request_id, store_refusal{status, std::move(why)});
}

std::string store_query_server::answer(const std::string& peer, std::string_view request) {
  std::shared_ptr<store> db;
  {
    std::lock_guard lock(mutex_);
    if (!admit(peer))
      return refuse(store_request_id(request.substr(0, options_.limits.max_request_bytes)),
                    store_status::too_many_requests,
                    "over " + std::to_string(options_.queries_per_second)
                      + " queries a second from one peer");
    if (!db_)
      return refuse(store_request_id(request), store_status::unavailable,
                    "the store is not open yet");
    db = db_;
  }
  store_refusal refusal{store_status::bad_request, {}};
  auto query = parse_store_query(request, options_.limits, &refusal);
  std::lock_guard lock(mutex_);
  if (!query)
    return refuse(store_request_id(request.substr(0, options_.limits.max_request_bytes)),
                  refusal.status, refusal.description);
  // The store reads a snapshot: the lock is only for the counters, but the
  // read is cheap and bounded, and one query at a time keeps the I/O
  // thread's cost predictable.
  auto page = db->relay_messages().query(*query, options_.limits.max_response_bytes);
  if (!page) {
    if (page.error().code == errc::not_found)
      return refuse(query->request_id, store_status::bad_request, page.error().message);
    return refuse(query->request_id, store_status::internal_error, page.error().to_string());
  }
  ++counters_.answers[static_cast<std::uint32_t>(store_status::ok)];
  counters_.messages_served += page->messages.size();
  return encode_store_answer(query->request_id, *page, query->include_data);
}

store_server_counters store_query_server::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

} // namespace annals
