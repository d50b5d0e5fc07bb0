#include "core/piece_hasher.hpp"

#include <openssl/sha.h>

namespace annals {

void sha1_pieces(std::string_view bytes, std::string& digests, std::uint64_t piece_length) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  for (std::size_t at = 0; at < bytes.size(); at += piece_length) {
    auto n = std::min<std::size_t>(piece_length, bytes.size() - at);
    SHA1(reinterpret_cast<const unsigned char*>(bytes.data() + at), n, digest);
    digests.append(reinterpret_cast<const char*>(digest), sizeof digest);
  }
}

piece_hasher::piece_hasher(std::size_t max_waiting, piece_sink sink)
  : max_waiting_(max_waiting ? max_waiting : 1), sink_(std::move(sink)) {}

piece_hasher::~piece_hasher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (hasher_.joinable())
    hasher_.join();
  if (sinker_.joinable())
    sinker_.join();
}

bool piece_hasher::idle() const {
  return to_hash_.empty() && to_sink_.empty() && busy_ == 0;
}

result<void> piece_hasher::add(buffer bytes) {
  std::unique_lock lock(mutex_);
  if (!hasher_.joinable()) {
    hasher_ = std::thread([this] { hash_loop(); });
    if (sink_)
      sinker_ = std::thread([this] { sink_loop(); });
  }
  changed_.wait(lock, [&] { return to_hash_.size() < max_waiting_ || failed_; });
  if (failed_)
    return *failed_;
  to_hash_.push_back(std::move(bytes));
  changed_.notify_all();
  return {};
}

result<std::string> piece_hasher::finish() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return idle() || failed_; });
  if (failed_)
    return *failed_;
  return std::move(digests_);
}

page_buffer piece_hasher::take_spare() {
  std::lock_guard lock(mutex_);
  if (spares_.empty())
    return {};
  auto spare = std::move(spares_.back());
  spares_.pop_back();
  spare.clear();
  return spare;
}

void piece_hasher::keep_spare(buffer bytes) {
  // Only the last owner may take the string, and only a few are kept.
  if (bytes.use_count() != 1)
    return;
  std::lock_guard lock(mutex_);
  if (spares_.size() < max_waiting_ + 2)
    spares_.push_back(std::move(*bytes));
}

void piece_hasher::hash_loop() {
  std::string digests;
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || !to_hash_.empty(); });
    if (to_hash_.empty())
      return;  // stopping, nothing left
    auto bytes = std::move(to_hash_.front());
    to_hash_.pop_front();
    ++busy_;
    changed_.notify_all();
    lock.unlock();
    digests.clear();
    sha1_pieces(*bytes, digests);
    lock.lock();
    digests_ += digests;
    if (sink_ && !failed_) {
      changed_.wait(lock, [&] { return to_sink_.size() < max_waiting_ || failed_; });
      if (!failed_)
        to_sink_.push_back(std::move(bytes));
    }
    --busy_;
    lock.unlock();
    if (bytes)
      keep_spare(std::move(bytes));
    lock.lock();
    changed_.notify_all();
  }
}

void piece_hasher::sink_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return !to_sink_.empty() || (stopping_ && to_hash_.empty() && busy_ == 0); });
    if (to_sink_.empty())
      return;
    auto bytes = std::move(to_sink_.front());
    to_sink_.pop_front();
    ++busy_;
    changed_.notify_all();
    lock.unlock();
    auto sunk = sink_(*bytes);
    keep_spare(std::move(bytes));
    lock.lock();
    --busy_;
    if (!sunk && !failed_) {
      failed_ = sunk.error();
      to_hash_.clear();
      to_sink_.clear();
    }
    changed_.notify_all();
  }
}

} // namespace annals
