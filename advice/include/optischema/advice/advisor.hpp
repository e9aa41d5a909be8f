#pragma once

// The advisor pipeline against a live target: workload from
// pg_stat_statements (and/or given statements), plans, findings, index
// candidates, what-if costing with hypopg, workload-level selection and drop
// advice. Pure decisions live in the analysis library; this file adds the
// I/O. Used by `optischema advise` and by the ADVISOR actor.

#include "optischema/analysis/catalog.hpp"
#include "optischema/analysis/findings.hpp"
#include "optischema/analysis/recommendation.hpp"
#include "optischema/analysis/statement.hpp"
#include "optischema/pg/explain.hpp"
#include "optischema/pg/session.hpp"
#include "optischema/util/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace optischema {

struct advise_options {
  /// Read the workload from pg_stat_statements (Dexter's --pg-stat-statements).
  bool use_pg_stat_statements = true;
  /// Statements given directly (--statement, --file); each counts as one
  /// call unless pg_stat_statements knows it.
  std::vector<std::string> statements;
  int64_t min_calls = 0;
  /// Statements below this total execution time (ms) are left out.
  double min_time_ms = 0;
  std::optional<double> budget_mb;
  /// Only / never these tables ("schema.table" or "table").
  std::vector<std::string> include_tables;
  std::vector<std::string> exclude_tables;
  /// Analyse only `statements` (pg_stat_statements still gives their weight
  /// when it knows them): the question is what helps them, so gains are
  /// judged against their own time, not the whole workload's.
  bool only_given_statements = false;
  /// Statements whose plan costs less than this are already cheap (Dexter's
  /// --min-cost default): no index is sought for them.
  double min_cost = 100;
  /// The most expensive statements analysed.
  size_t max_statements = 50;
  /// Actions below this confidence are reported, not proposed.
  double min_confidence = 0.5;
  pg::explain_options explain;
  /// Names the target in recommendation ids.
  std::string target;
};

/// What the advisor learned about one statement.
struct statement_result {
  std::string fingerprint;
  std::string query;
  int64_t calls = 0;
  double total_time_ms = 0;
  double mean_time_ms = 0;
  double time_ms_per_day = 0;
  /// Rows it returned per call (pg_stat_statements); negative when unknown.
  double rows_per_call = -1;
  double cost_before = 0;
  double cost_after = 0;
  /// EXPLAIN (FORMAT JSON) before, and with the recommended indexes.
  std::string plan_before;
  std::string plan_after;
  /// Its tables, columns, indexes and statistics as text for an LLM prompt
  /// (definitions and figures only: never data values).
  std::string schema_text;
  /// The same without statistics: what an LLM answer's cache key rests on.
  std::string schema_signature;
  /// Its findings, one per line.
  std::string findings_text;
  /// Ids of the recommendations that serve it.
  std::vector<std::string> served_by;
  /// Why it gets no index advice (empty when it gets some).
  std::string skipped;
};

/// Skipped statements listed in a report, at most (the most expensive).
constexpr size_t max_listed_skips = 200;

struct advice_report {
  std::string target;
  /// Index changes worth making now (confidence >= min_confidence).
  std::vector<recommendation> actions;
  /// Everything else worth knowing: lower-confidence index advice, N+1
  /// batching, configuration and schema advice.
  std::vector<recommendation> other;
  std::vector<finding> findings;
  std::vector<statement_result> statements;
  /// Degraded operation the user should know about (hypopg missing …).
  std::vector<std::string> warnings;
  /// The workload's time per day that the statements add up to (ms/day).
  double workload_ms_per_day = 0;
  /// Statements skipped (too few calls or too little time, or outside the
  /// most expensive ones) past the first max_listed_skips: counted, not
  /// listed. A workload of thousands of statements would otherwise carry
  /// each text twice through the report, its JSON and the STORE.
  size_t unlisted_statements = 0;
  double unlisted_ms_per_day = 0;
  size_t whatif_calls = 0;
  double elapsed_ms = 0;
};

/// Describes the tables of `an` for a prompt: rows, columns with types and
/// pg_stats shape (n_distinct, null fraction, correlation — never the most
/// common values, which are data), indexes with definitions and use.
/// With `figures` false, only the definitions: a signature of the schema
/// that changes when the schema does, not when statistics drift.
std::string describe_tables(const statement_analysis& an, const catalog& cat,
                            bool figures = true);

/// Runs the pipeline on the connected target. Never writes to it: plans are
/// EXPLAINed in read-only, rolled-back transactions and hypothetical indexes
/// live only in this session's memory.
expected<advice_report> advise(pg::session& s, const advise_options& opts);

/// The report as JSON: {"actions": [...], "findings": [...],
/// "skipped": [{"statement", "reason"}], "statements": [...], ...}; with
/// `plans`, each statement carries its plans before and after (as trees).
std::string to_json(const advice_report& x, bool plans = false);

/// The report as text for a terminal.
std::string to_text(const advice_report& x);

} // namespace optischema
