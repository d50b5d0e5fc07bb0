// A small expected-style result for the pure cores, which stay free of CAF.
// Actors convert an `annals::error` into a caf::error at their boundary.
#pragma once

#include <annals/errors.hpp>

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace annals {

template <class T>
class [[nodiscard]] result {
public:
  result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  result(annals::error err) : state_(std::in_place_index<1>, std::move(err)) {}

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { assert(has_value()); return std::get<0>(state_); }
  const T& value() const& { assert(has_value()); return std::get<0>(state_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const annals::error& error() const { assert(!has_value()); return std::get<1>(state_); }

private:
  std::variant<T, annals::error> state_;
};

/// result<void>: success or an error.
template <>
class [[nodiscard]] result<void> {
public:
  result() = default;
  result(annals::error err) : err_(std::move(err)) {}
  bool has_value() const { return !err_.has_value(); }
  explicit operator bool() const { return has_value(); }
  const annals::error& error() const { assert(err_); return *err_; }

private:
  std::optional<annals::error> err_;
};

inline result<void> ok_result() { return {}; }

} // namespace annals
