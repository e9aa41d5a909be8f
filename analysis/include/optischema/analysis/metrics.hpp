#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace optischema {

// -- counters
// ------------------------------------------------------------------

/// The additive figures pg_stat_statements keeps per entry. The same struct
/// holds cumulative totals, per-interval deltas and history points, so every
/// sum and difference is written once (below).
struct counters {
  int64_t calls = 0;
  double exec_time_ms = 0;
  double plan_time_ms = 0;
  int64_t rows = 0;
  int64_t shared_blks_hit = 0;
  int64_t shared_blks_read = 0;
  int64_t temp_blks_read = 0;
  int64_t temp_blks_written = 0;

  counters& operator+=(const counters& x);
  friend counters operator+(counters x, const counters& y) {
    return x += y;
  }
  friend counters operator-(const counters& x, const counters& y);
  friend bool operator==(const counters&, const counters&) = default;

  /// Mean execution time per call; 0 without calls.
  double mean_time_ms() const;
  /// Share of shared blocks found in the buffer cache; 1 without reads.
  double cache_hit_ratio() const;
  /// True if any counter is below zero (a delta across a reset).
  bool negative() const;
};

// -- pg_stat_statements
// ------------------------------------------------------------

/// Identity of one pg_stat_statements entry. `toplevel` exists since PG 14;
/// older servers report every entry as top level.
struct pgss_key {
  int64_t userid = 0;
  int64_t dbid = 0;
  int64_t queryid = 0;
  bool toplevel = true;
  friend bool operator==(const pgss_key&, const pgss_key&) = default;
};

struct pgss_key_hash {
  size_t operator()(const pgss_key& x) const noexcept;
};

/// One row of pg_stat_statements: cumulative since the entry was created.
struct pgss_row {
  pgss_key key;
  std::string query;
  counters total;
};

/// pg_stat_statements_info (PG 14+): entries evicted and the last full reset.
struct pgss_info {
  bool available = false;
  int64_t dealloc = 0;
  int64_t stats_reset_ms = 0;
};

/// pg_stat_database of the target database plus a few server figures.
struct database_sample {
  int64_t numbackends = 0;
  int64_t max_connections = 0;
  int64_t xact_commit = 0;
  int64_t xact_rollback = 0;
  int64_t blks_read = 0;
  int64_t blks_hit = 0;
  int64_t tup_returned = 0;
  int64_t tup_fetched = 0;
  int64_t tup_inserted = 0;
  int64_t tup_updated = 0;
  int64_t tup_deleted = 0;
  int64_t temp_files = 0;
  int64_t temp_bytes = 0;
  int64_t deadlocks = 0;
  int64_t size_bytes = 0;
  int64_t stats_reset_ms = 0;
};

/// Everything one poll of a target reads, before any processing.
struct raw_sample {
  int64_t ts_ms = 0;
  std::vector<pgss_row> rows;
  pgss_info info;
  database_sample db;
  /// Rows whose text reads `<insufficient privilege>`: the role lacks
  /// pg_read_all_stats. They are counted, not grouped.
  int64_t hidden_rows = 0;
};

// -- processed metrics
// ---------------------------------------------------------

/// Database-level figures of one interval.
struct database_metrics {
  int64_t numbackends = 0;
  int64_t max_connections = 0;
  int64_t size_bytes = 0;
  /// Buffer cache hit ratio over the interval (cumulative on the first poll).
  double cache_hit_ratio = 1;
  double commits_per_s = 0;
  double rollbacks_per_s = 0;
  int64_t xact_commit = 0;
  int64_t xact_rollback = 0;
  int64_t blks_hit = 0;
  int64_t blks_read = 0;
  int64_t temp_bytes = 0;
  int64_t deadlocks = 0;
};

/// All pg_stat_statements entries that share one libpg_query fingerprint.
struct statement_metrics {
  std::string fingerprint;
  /// Normalised text ($n for constants), as one of the entries shows it.
  std::string query;
  std::vector<int64_t> queryids;
  /// libpg_query could not parse the text; `fingerprint` is a text hash.
  bool parse_error = false;
  /// Cumulative since the entries were created (what pg_stat_statements shows).
  counters total;
  /// The change during the last poll interval.
  counters interval;
};

/// One processed poll of one target: what the store keeps and events carry.
struct metrics_snapshot {
  std::string target;
  int64_t ts_ms = 0;
  /// Length of the interval the deltas cover; 0 for a baseline poll.
  int64_t interval_ms = 0;
  /// The first poll ever (no previous counters): deltas are all zero.
  bool baseline = false;
  /// pg_stat_statements was reset since the previous poll.
  bool reset_detected = false;
  /// Entries evicted from pg_stat_statements since the previous poll (their
  /// last calls are lost; deltas are a lower bound).
  int64_t evicted = 0;
  /// Rows hidden for lack of pg_read_all_stats.
  int64_t hidden_rows = 0;
  database_metrics db;
  std::vector<statement_metrics> statements;
};

/// One point of a statement's (or a database's) history.
struct history_point {
  int64_t ts_ms = 0;
  int64_t interval_ms = 0;
  counters delta;
  friend bool operator==(const history_point&, const history_point&) = default;
};

/// One point of a target's database-level history.
struct database_point {
  int64_t ts_ms = 0;
  int64_t interval_ms = 0;
  /// Figures summed over the point's interval.
  int64_t xact_commit = 0;
  int64_t xact_rollback = 0;
  int64_t blks_hit = 0;
  int64_t blks_read = 0;
  /// Sum over the point's statements (total query time in the interval).
  double exec_time_ms = 0;
  int64_t calls = 0;
  /// Highest number of connections seen in the interval.
  int64_t max_backends = 0;
  friend bool operator==(const database_point&, const database_point&)
    = default;
};

} // namespace optischema
