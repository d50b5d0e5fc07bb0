// The scheduler probe's histogram: quantiles to a bucket's edge, the exact
// maximum, nothing lost above its range.
#include "core/latency_histogram.hpp"

#include <catch2/catch.hpp>

using namespace annals;

TEST_CASE("latency quantiles land on the bucket of their rank; the maximum is exact",
          "[core][latency]") {
  latency_histogram h;
  CHECK(h.quantile(0.5) == 0);
  for (int i = 0; i < 98; ++i)
    h.add(0.12);    // bucket [0.10, 0.15)
  h.add(7.01);      // [7.00, 7.05)
  h.add(250.0);     // above the range
  CHECK(h.count() == 100);
  CHECK(h.quantile(0.5) == Approx(0.15));
  CHECK(h.quantile(0.98) == Approx(0.15));
  CHECK(h.quantile(0.99) == Approx(7.05));
  CHECK(h.quantile(1.0) == Approx(250.0));
  CHECK(h.max() == Approx(250.0));
  h.add(-3);  // a timer that fired early counts as on time
  CHECK(h.count() == 101);
  h.clear();
  CHECK(h.count() == 0);
  CHECK(h.max() == 0);
}
