#pragma once

// Checks a proposed rewrite of a statement before anyone sees it as advice
// (LITHE and GenRewrite: the checking is what matters). A rewrite is
// verified only when every step passes: it parses, keeps the parameter
// list, costs less, and returns the same rows on sample parameters.

#include "optischema/advice/parameter_samples.hpp"
#include "optischema/analysis/catalog.hpp"
#include "optischema/pg/session.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace optischema {

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

} // namespace optischema
