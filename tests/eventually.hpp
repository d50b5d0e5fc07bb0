// Polling for a condition that another thread or process makes true.
#pragma once

#include <chrono>
#include <thread>

namespace annals::test {

/// True as soon as `pred()` holds, false if it still does not after `timeout`.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

} // namespace annals::test
