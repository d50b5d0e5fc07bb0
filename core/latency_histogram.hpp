// A histogram of delays fine enough for quantiles of a scheduler's
// responsiveness: 0.05 ms buckets up to 100 ms, one bucket above, the
// maximum kept exactly. Fixed size (16 KB), no allocation per sample.
#pragma once

#include <array>
#include <cstdint>

namespace annals {

class latency_histogram {
public:
  static constexpr double bucket_ms = 0.05;
  static constexpr std::size_t buckets = 2000;  // 0 .. 100 ms

  void add(double ms);
  /// The q-quantile (0..1) in ms: the upper edge of its bucket; the maximum
  /// for a quantile above 100 ms. 0 when empty.
  double quantile(double q) const;
  double max() const { return max_; }
  std::uint64_t count() const { return count_; }
  void clear();

private:
  std::array<std::uint32_t, buckets + 1> counts_{};
  std::uint64_t count_ = 0;
  double max_ = 0;
};

} // namespace annals
