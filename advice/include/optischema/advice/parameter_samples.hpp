#pragma once

// Sample values for a statement's parameters ($n): each traced to the
// column it is compared with, values drawn from that column's pg_stats or
// its own rows, spliced into the text as typed literals. The rewrite check
// compares rows on them (rewrite_check.hpp), the sandbox times statements
// and rewrites on them, the advisor costs indexes on skewed values.

#include "optischema/analysis/catalog.hpp"
#include "optischema/analysis/observed.hpp"
#include "optischema/pg/explain.hpp"
#include "optischema/pg/session.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace optischema {

/// How the rewrite check plans and runs statements, and how many sample
/// values it draws: check_rewrite and compare_rows take it, and so do the
/// sampling functions below (the sandbox's timings draw values alike).
struct rewrite_check_options {
  pg::explain_options explain;
  /// Bound on each execution of the original and the rewrite.
  std::chrono::milliseconds statement_timeout{5000};
  /// Rows fetched from each side per sample; more means "too many to compare".
  int64_t row_limit = 10'000;
  /// Parameter sets tried (for statements with $n).
  int samples = 3;
};

/// `sql` ready to execute: each $n replaced by sample values drawn as for
/// the rows check of check_rewrite (`opts.samples` sets, duplicates
/// dropped); a statement without parameters is returned as it is. Used to
/// time statements on realistic values in the sandbox.
expected<std::vector<std::string>>
sample_executions(pg::session& s, const catalog& cat, const std::string& sql,
                  const rewrite_check_options& opts = {});

/// The original and the rewrite ready to execute on the same sample values
/// (drawn for the original's parameters, which the rewrite must share):
/// one pair per parameter set. Used to time a rewrite in the sandbox.
expected<std::vector<std::pair<std::string, std::string>>>
sample_pairs(pg::session& s, const catalog& cat, const std::string& original,
             const std::string& rewrite,
             const rewrite_check_options& opts = {});

/// One way of binding a statement's parameters for costing it on values
/// the generic plan does not represent.
struct skew_sample {
  /// The statement, its $n as they were.
  std::string sql;
  /// A value for each $n (values[n - 1]), bound through the extended
  /// protocol (pg::explain_json_bound): data never enters a text the target
  /// keeps (pg_stat_statements).
  std::vector<std::string> values;
  /// What was bound, for reasons: "the most common value of
  /// public.events.state (90% of the rows)". Never the value.
  std::string label;
  /// The share of executions like this one: as pg_qualstats saw the
  /// workload use the values, else as often as rows hold them (the
  /// samples' weights add up to 1).
  double weight = 0;
  /// Some value comes from what pg_qualstats saw the workload use: the
  /// samples are the workload, not a guess beside the generic plan.
  bool observed = false;
};

/// Where a parameter is compared by `=` with a column whose values are
/// skewed (pg_stats: the most common value, or a rare one, at least 3× off
/// the average that a generic plan assumes), two bindings: every such
/// parameter at its column's most common value, and at a rare value (a
/// LIMIT at the rows per call, an OFFSET at 0). Empty when the generic plan
/// stands for every value alike, or when another parameter (a range) has
/// no value that would not distort the plan. Costing an
/// index on these as well keeps one average estimate from choosing an
/// index that only the frequent values are fast with (the advisor).
/// `rows_per_call` (pg_stat_statements' rows / calls, when known) binds a
/// LIMIT parameter: a generic plan assumes a LIMIT keeps 10% of the rows,
/// which for a page of 20 makes a frequent value look 1000s of rows deep.
/// With `seen` (what pg_qualstats saw this statement use), a parameter
/// whose column the workload compares with one to three values (90% of
/// its calls) is costed on those, as often as they come, and one whose
/// values are spread is bound to its most frequent one.
/// Reads nothing: pg_stats comes with the catalog.
expected<std::vector<skew_sample>>
skew_samples(const catalog& cat, const std::string& sql,
             double rows_per_call = -1, const observed_values* seen = nullptr);

} // namespace optischema
