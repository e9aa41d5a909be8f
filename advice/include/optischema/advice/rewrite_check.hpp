#pragma once

// Checks a proposed rewrite of a statement before anyone sees it as advice
// (LITHE and GenRewrite: the checking is what matters). A rewrite is
// verified only when every step passes: it parses, keeps the parameter
// list, costs less, and returns the same rows on sample parameters.

#include "optischema/analysis/catalog.hpp"
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
  /// was compared.
  std::string reason;
  /// Each step and its outcome, e.g. "parses: yes", "parameters: $1, $2
  /// kept", "cost: 1234 -> 56", "rows: same on 3 samples (ordered)".
  std::vector<std::string> steps;
  double cost_before = 0;
  double cost_after = 0;
  /// Parameter sets compared and rows compared in total.
  int samples_compared = 0;
  int64_t rows_compared = 0;
};

/// Checks `rewrite` against `original` on the connected database:
/// 1. libpg_query parses the rewrite as exactly one statement of the same
///    kind; only SELECT rewrites are verified by their results (others are
///    never run: "not verifiable");
/// 2. the rewrite uses exactly the original's parameters ($1…$n);
/// 3. its EXPLAIN cost (generic plans for $n) is lower than the original's;
/// 4. on sample parameters (drawn from pg_stats most common values and the
///    tables' own values of the columns each $n is compared with), both
///    return the same rows — in order when the original orders at its top
///    level, as multisets otherwise — executed in a read-only transaction
///    with a statement timeout, at most `row_limit` rows each, always
///    rolled back.
/// Never throws; every failure is a reason.
rewrite_check check_rewrite(pg::session& s, const catalog& cat,
                            const std::string& original,
                            const std::string& rewrite,
                            const rewrite_check_options& opts = {});

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

} // namespace optischema
