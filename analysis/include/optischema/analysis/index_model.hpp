#pragma once

// What an index hypopg cannot simulate (GIN, GiST) would cost the planner:
// PostgreSQL's own formulas for a bitmap heap scan (Mackert–Lohman pages,
// the random/sequential page cost interpolation, per-tuple CPU) fed with the
// row estimate EXPLAIN already made for the scan it replaces. A model, not
// the planner: recommendations built on it say so, and a sandbox
// measurement outweighs it.

#include "optischema/analysis/candidates.hpp"
#include "optischema/analysis/catalog.hpp"
#include "optischema/analysis/plan.hpp"

#include <optional>
#include <string>

namespace optischema {

struct index_model_estimate {
  /// The statement's total cost with the index (the replaced scan's cost
  /// swapped for the bitmap scan's).
  double cost_after = 0;
  /// The replaced scan's cost and the modelled scan's.
  double scan_cost_before = 0;
  double scan_cost_after = 0;
  /// Rows the index returns (EXPLAIN's estimate) and heap pages read.
  double rows = 0;
  double heap_pages = 0;
  /// Share of the table's rows the predicate keeps.
  double share = 0;
  /// The rows came from what the statement returned, not the planner.
  bool observed = false;
  /// One line for the recommendation's reasons.
  std::string explanation;
};

/// Pages a scan fetching `tuples` rows at random from a table of `pages`
/// pages reads, with `cache_pages` of cache (Mackert and Lohman, as
/// PostgreSQL's index_pages_fetched).
double pages_fetched(double tuples, double pages, double cache_pages);

/// The bitmap heap scan of `rows` rows of `t` through candidate `c`,
/// replacing the sequential scan of `t` in `before`. Empty when the model
/// does not apply: no sequential scan of that table, a scan repeated per
/// outer row or under a LIMIT (its cost is not what the statement pays), or
/// a table without statistics.
///
/// `observed_rows_per_call`: what the statement returned per call
/// (pg_stat_statements rows / calls; negative when unknown). Where the scan
/// feeds the result directly (only sorts, gathers and a LIMIT it did not
/// reach on average above it) that is how many rows the filter keeps, and
/// it replaces the planner's estimate, which for a parameter of @>, ? or
/// LIKE is a fixed default, not the data's.
std::optional<index_model_estimate>
model_bitmap_scan(const plan& before, const index_candidate& c,
                  const table_info& t, const planner_costs& pc,
                  double observed_rows_per_call = -1);

/// The nearest-first scan of a GiST candidate `c` on column `col` replacing
/// a LIMIT over the sort of `t`'s sequential scan by a distance of `col`
/// (ORDER BY col <-> x LIMIT n): PostgreSQL's index scan in distance order
/// stops after n rows. Costed as the planner does an ordered index scan
/// under a LIMIT: a descent, then per row an index tuple (times the
/// operator class's false positives), a distance and a random heap fetch.
/// n is the rows the statement returned per call when known (a LIMIT $n
/// is 10% of the rows in a generic plan), else the LIMIT's estimate. Empty
/// when the plan has no such LIMIT.
std::optional<index_model_estimate>
model_knn_scan(const plan& before, const index_candidate& c,
               const std::string& col, const table_info& t,
               const planner_costs& pc, double observed_rows_per_call = -1);

} // namespace optischema
