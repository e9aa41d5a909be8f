#pragma once

// The sandbox: a copy of a target on a separate PostgreSQL where advice is
// proven by running the statements it serves (EXPLAIN ANALYZE, which is
// never run on a target) before and after the change. No actors: the
// SANDBOX actor drives these calls; `optischema` tests call them directly.

#include "optischema/advice/rewrite_check.hpp"
#include "optischema/analysis/recommendation.hpp"
#include "optischema/pg/conninfo.hpp"
#include "optischema/util/error.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace optischema::sandbox {

struct options {
  /// Where pg_dump and psql live ("": the newest /usr/lib/postgresql/*/bin,
  /// else PATH).
  std::string pg_bin_dir;
  /// Databases up to this size are copied whole...
  int64_t full_copy_max_bytes = 1LL << 30;
  /// ...larger ones are sampled to about that size, or to this percentage
  /// of each table's rows when set (0 < p ≤ 100).
  double sample_percent = 0;
  /// Bounds each copy step and each measured execution.
  std::chrono::milliseconds statement_timeout{60'000};
  /// Timed executions per statement, before and after (the median counts).
  int runs = 5;
  /// Parameter sets per statement with $n (drawn from the sandbox's
  /// pg_stats and values).
  int samples = 3;
  /// A statement is slower after the change when its median grows by more
  /// than this factor and `regression_floor_ms`.
  double regression_factor = 1.2;
  double regression_floor_ms = 0.5;
  /// Rows fetched per statement when a rewrite's rows are compared.
  int64_t row_limit = 10'000;
};

/// What a preparation made.
struct prepared {
  std::string database;
  /// The target's schema signature the copy was made from.
  std::string signature;
  /// 100 for a full copy.
  double percent = 100;
  int64_t tables = 0;
  int64_t rows = 0;
  /// Rows deleted so that every foreign key of a sampled copy holds.
  int64_t orphans_deleted = 0;
  int64_t source_bytes = 0;
  /// Extensions of the target the sandbox role could not create.
  std::vector<std::string> extensions_skipped;
  /// User triggers of the copy, all disabled.
  int64_t triggers_disabled = 0;
  int64_t prepared_ms = 0;
  int64_t duration_ms = 0;
};
std::string to_json(const prepared& x);

/// The target's schema signature: tables, columns, types, indexes and
/// constraints (a hash). A copy is stale when it changed.
expected<std::string> schema_signature(const pg::conninfo& source);

/// Refuses a sandbox role (`server`'s login role, and the role it acts as)
/// that is a superuser, has CREATEROLE, or is a member of
/// pg_execute_server_program, pg_read_server_files or
/// pg_write_server_files: functions and triggers copied from a target run
/// as it. The failure says which role to create.
expected<ok> check_role(const pg::conninfo& server);

/// (Re)creates `database` on the sandbox server (`server` names any
/// database there, used to create and drop it) as a copy of `source`:
/// schema by pg_dump (archive format) restored by the sandbox role
/// (--no-owner: it owns every function and trigger) through psql under
/// \restrict — schemas, then the extensions it may create (the others are
/// listed in `extensions_skipped`), then the rest without event triggers,
/// languages, foreign servers and tables; data by COPY from one REPEATABLE
/// READ snapshot (whole, or a TABLESAMPLE of each table for large
/// databases; rows whose foreign keys lost their parent are deleted, so
/// every constraint holds), then indexes and constraints (post-data), user
/// triggers disabled, and VACUUM ANALYZE. Refuses when `server` is the
/// source database itself, and a privileged role (check_role).
expected<prepared> prepare(const pg::conninfo& source,
                           const pg::conninfo& server,
                           const std::string& database, const options& opts);

/// `server` naming `database` instead (the copy prepare made).
expected<pg::conninfo> database_conninfo(const pg::conninfo& server,
                                         const std::string& database);

/// One statement timed before and after a change.
struct timing {
  std::string fingerprint;
  std::string query;
  /// Sum over the parameter sets of EXPLAIN ANALYZE's execution time, per
  /// run (ms).
  std::vector<double> before_ms;
  std::vector<double> after_ms;
  double median_before_ms = 0;
  double median_after_ms = 0;
  /// The plan after the change uses the recommendation's index.
  bool uses_index = false;
  /// EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) of the first parameter set.
  std::string plan_before;
  std::string plan_after;
  /// Set when the statement could not be timed.
  std::string error;
};

/// The proof of one recommendation.
struct result {
  /// faster, no_gain, regression, inconclusive.
  std::string verdict;
  /// Total median time before / after over the served statements.
  double speedup = 0;
  std::vector<timing> served;
  /// Other hot statements, timed to catch regressions the change causes.
  std::vector<timing> others;
  /// For people: what was measured and what it means.
  std::string summary;
  int runs = 0;
  int64_t tested_ms = 0;
  int64_t duration_ms = 0;
  prepared copy;
};
/// The JSON object kept on the recommendation (`sandbox`).
std::string to_json(const result& x);

/// Proves `r` on the prepared copy `db`: times the statements it serves and
/// `other_statements` (normalised texts with $n), applies its DDL (without
/// CONCURRENTLY) and ANALYZE in a transaction, times them again and rolls
/// everything back, so the copy is left as it was. Statements that write
/// are timed inside savepoints that are rolled back.
expected<result> test(const pg::conninfo& db, const recommendation& r,
                      const std::vector<std::string>& other_statements,
                      const options& opts);

/// Compares the rows of `original` and `rewrite` on the prepared copy `db`
/// (advice/rewrite_check.hpp compare_rows): the one place a rewrite and
/// the statement it replaces are executed. Refuses a privileged role.
expected<rows_check>
compare_rewrite(const pg::conninfo& db, const std::string& original,
                const std::string& rewrite, const options& opts);

} // namespace optischema::sandbox
