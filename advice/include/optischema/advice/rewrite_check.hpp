#pragma once

// Checks a proposed rewrite of a statement before anyone sees it as advice
// (LITHE and GenRewrite: the checking is what matters). A rewrite is
// verified only when every step passes: it parses, keeps the parameter
// list, costs less, and returns the same rows on sample parameters.

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

struct rewrite_check_options {
  pg::explain_options explain;
  /// Bound on each execution of the original and the rewrite.
  std::chrono::milliseconds statement_timeout{5000};
  /// Rows fetched from each side per sample; more means "too many to compare".
  int64_t row_limit = 10'000;
  /// Parameter sets tried (for statements with $n).
  int samples = 3;
};

struct rewrite_check {
  bool verified = false;
  /// Why it is (not) verified, for people: the first failed step, or what
  /// was compared. Never data values: which check failed and counts.
  std::string reason;
  /// Each step and its outcome, e.g. "parses: yes", "parameters: $1, $2
  /// kept", "cost: 1234 -> 56", "rows: same on 3 samples (ordered)".
  std::vector<std::string> steps;
  double cost_before = 0;
  double cost_after = 0;
  /// Parameter sets compared and rows compared in total.
  int samples_compared = 0;
  int64_t rows_compared = 0;
  /// Every check on the target passed; the rows are still to be compared on
  /// the sandbox's copy (compare_rows, then complete or not_compared).
  bool rows_pending = false;
  /// The checks passed so far, for the final reason ("parses, keeps $1,
  /// cost 467 -> 179").
  std::string passed;
};

/// Checks `rewrite` against `original` on a target without running either:
/// 1. libpg_query parses the rewrite as exactly one statement of the same
///    kind; only SELECT rewrites are verified by their results (others are
///    never run: "not verifiable");
/// 2. the rewrite uses exactly the original's parameters ($1…$n);
/// 3. its EXPLAIN cost (generic plans for $n; EXPLAIN only, each text
///    checked by pg::check_statement first) is lower than the original's.
/// A SELECT that passes is not verified yet: `rows_pending` is set and the
/// rows must be compared on a copy (compare_rows). Never throws; every
/// failure is a reason.
rewrite_check check_rewrite(pg::session& target, const std::string& original,
                            const std::string& rewrite,
                            const rewrite_check_options& opts = {});

/// What comparing the rows of an original and its rewrite found.
struct rows_check {
  bool same = false;
  /// "same rows on 3 samples (…)" or why not (counts, never values).
  std::string reason;
  /// Where sample values came from, and the rows step.
  std::vector<std::string> steps;
  int samples = 0;
  int64_t rows = 0;
};

/// Runs the original and the rewrite on sample parameters (drawn from
/// pg_stats most common values and the tables' own values of the columns
/// each $n is compared with) on the session's database — the sandbox's
/// copy, never a target — and compares their rows: in order when the
/// original orders at its top level, as multisets otherwise; in one
/// REPEATABLE READ READ ONLY transaction with a statement timeout, at most
/// `row_limit` rows each, always rolled back. Never throws.
rows_check compare_rows(pg::session& copy, const catalog& cat,
                        const std::string& original, const std::string& rewrite,
                        const rewrite_check_options& opts = {});

/// Completes a check whose rows were pending with what the copy showed.
void complete(rewrite_check& check, const rows_check& rows);
/// Leaves a check whose rows were pending unverified, saying why ("no
/// sandbox to compare the rows on: pass --sandbox-dsn").
void not_compared(rewrite_check& check, const std::string& why);

/// The rows check as JSON (the SANDBOX actor's answer) and back.
std::string to_json(const rows_check& x);
expected<rows_check> rows_check_from_json(const std::string& text);

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
