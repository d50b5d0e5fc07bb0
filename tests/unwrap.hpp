// Catch2 helpers for annals::result: a failed result fails the test with
// its error text (cause and detail) instead of a bare "false".
#pragma once

#include "core/result.hpp"

#include <catch2/catch.hpp>

namespace annals::test {

// FAIL throws, so the value is only reached on success.
template <class T>
T unwrap(result<T> r) {
  if (!r)
    FAIL(r.error().to_string());
  return std::move(r).value();
}

inline void require_ok(const result<void>& r) {
  if (!r)
    FAIL(r.error().to_string());
}

} // namespace annals::test
