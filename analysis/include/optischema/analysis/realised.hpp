#pragma once

// What an applied change did in production: the served statements' mean
// execution time over the polls after it, against the day before it. Pure
// arithmetic over history points; the APPLIER feeds it from the STORE.

#include "optischema/analysis/metrics.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace optischema {

struct realised_options {
  /// Polls with calls needed after the change before a verdict.
  int min_polls = 3;
  int64_t min_calls = 10;
  /// After / before above this is a regression, below its inverse an
  /// improvement.
  double regression_factor = 1.2;
};

struct realised_benefit {
  int64_t calls_before = 0;
  int64_t calls_after = 0;
  double mean_before_ms = 0;
  double mean_after_ms = 0;
  /// mean_before / mean_after (0 when either side has no calls).
  double speedup = 0;
  /// Polls after the change in which the statements ran.
  int polls_after = 0;
  /// measuring (not enough traffic yet), no_baseline, improved, unchanged,
  /// regression.
  std::string verdict;
};

/// Calls-weighted means over the points of every served statement, before
/// and after the change.
realised_benefit realise(const std::vector<history_point>& before,
                         const std::vector<history_point>& after,
                         const realised_options& opts = {});

/// The JSON object kept on the recommendation (`realised`).
std::string to_json(const realised_benefit& x, int64_t measured_ms);

} // namespace optischema
