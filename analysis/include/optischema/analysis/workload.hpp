#pragma once

#include "optischema/analysis/metrics.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace optischema {

/// Which counters a ranking reads: cumulative totals (what pg_stat_statements
/// shows) or the last poll interval (what is hot right now).
enum class metrics_window { cumulative, interval };

/// How /api/metrics/hot orders statements.
enum class hot_sort { total_time, mean_time, calls, rows };

std::optional<hot_sort> parse_hot_sort(std::string_view x);
std::optional<metrics_window> parse_window(std::string_view x);
const char* to_string(hot_sort x);
const char* to_string(metrics_window x);

/// Selects the counters of `x` for `w`.
const counters& pick(const statement_metrics& x, metrics_window w);

/// The value `sort` orders by (descending) for `x` over `window`.
double sort_key(const statement_metrics& x, hot_sort sort,
                metrics_window window);

/// The top `limit` statements of `snap` by `sort` over `window`, ties broken
/// by fingerprint so the order is stable. Statements without calls in the
/// window are left out.
std::vector<const statement_metrics*>
rank_hot(const metrics_snapshot& snap, hot_sort sort, metrics_window window,
         size_t limit);

/// Totals of a snapshot, for the overview.
struct workload_summary {
  size_t statements = 0;
  counters total;
  counters interval;
  int64_t interval_ms = 0;
  /// interval.calls per second.
  double calls_per_s = 0;
  /// Query time spent per wall-clock second (ms/s): the load queries put on
  /// the server.
  double time_per_s_ms = 0;
};

workload_summary summarize(const metrics_snapshot& snap);

/// Sums `points` into buckets of `bucket_ms` (aligned to the epoch); each
/// output point carries its bucket start and the summed intervals.
std::vector<history_point> downsample(const std::vector<history_point>& points,
                                      int64_t bucket_ms);
std::vector<database_point>
downsample(const std::vector<database_point>& points, int64_t bucket_ms);

} // namespace optischema
