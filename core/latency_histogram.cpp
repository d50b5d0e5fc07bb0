#include "core/latency_histogram.hpp"

#include <algorithm>
#include <cmath>

namespace annals {

void latency_histogram::add(double ms) {
  ms = std::max(0.0, ms);
  auto index = static_cast<std::size_t>(std::min<double>(buckets, std::floor(ms / bucket_ms)));
  ++counts_[index];
  ++count_;
  max_ = std::max(max_, ms);
}

double latency_histogram::quantile(double q) const {
  if (count_ == 0)
    return 0;
  auto rank = static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * double(count_)));
  rank = std::max<std::uint64_t>(rank, 1);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets; ++i) {
    seen += counts_[i];
    if (seen >= rank)
      return std::min(max_, double(i + 1) * bucket_ms);
  }
  return max_;
}

void latency_histogram::clear() {
  counts_.fill(0);
  count_ = 0;
  max_ = 0;
}

} // namespace annals
