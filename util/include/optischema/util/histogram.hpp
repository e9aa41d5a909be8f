#pragma once

// A latency histogram in Prometheus' form: fixed upper bounds, cumulative
// counts, a sum and a count. A component keeps one and writes it into its
// status JSON; /metrics renders it, reading the bounds from the JSON, so the
// two never disagree on them.

#include <array>
#include <cstddef>
#include <cstdint>

namespace optischema {

struct duration_histogram {
  /// Upper bounds in seconds: a poll takes milliseconds on a quiet target and
  /// seconds on one with 5,000 statements or a slow network.
  static constexpr std::array<double, 12> bounds
    = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

  /// counts[i]: observations <= bounds[i] (not cumulative; the writer sums).
  std::array<uint64_t, bounds.size()> counts{};
  double sum_seconds = 0;
  uint64_t count = 0;

  void observe(double seconds) {
    for (size_t i = 0; i < bounds.size(); ++i)
      if (seconds <= bounds[i]) {
        ++counts[i];
        break;
      }
    sum_seconds += seconds;
    ++count;
  }

  /// Observations <= bounds[i], as Prometheus' `le` buckets count them.
  uint64_t cumulative(size_t i) const {
    uint64_t n = 0;
    for (size_t k = 0; k <= i; ++k)
      n += counts[k];
    return n;
  }
};

} // namespace optischema
