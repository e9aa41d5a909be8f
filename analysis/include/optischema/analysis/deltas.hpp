#pragma once

#include "optischema/analysis/metrics.hpp"

#include <functional>
#include <string>
#include <vector>

namespace optischema {

/// What changed between two polls of pg_stat_statements.
struct delta_report {
  /// One delta per row of the current sample, in the same order. Never
  /// negative: an entry that went backwards was reset or re-created, and its
  /// current totals are what happened since.
  std::vector<counters> deltas;
  /// No previous sample: every delta is zero.
  bool baseline = false;
  /// pg_stat_statements was reset (pg_stat_statements_info.stats_reset moved,
  /// or, on servers without it, most surviving entries went backwards).
  bool reset_detected = false;
  /// Entries evicted since the previous poll (pg_stat_statements_info.dealloc).
  int64_t evicted = 0;
  /// Entries present now but not before (new, or evicted and re-created).
  int64_t new_entries = 0;
  /// Entries whose counters went backwards without a full reset.
  int64_t restarted_entries = 0;
  /// Milliseconds between the two samples.
  int64_t interval_ms = 0;
};

/// Computes per-entry deltas of `cur` against `prev` (null for the first poll).
delta_report compute_deltas(const raw_sample* prev, const raw_sample& cur);

/// Database-level figures of the interval between `prev` and `cur`.
database_metrics compute_database_metrics(const raw_sample* prev,
                                          const raw_sample& cur);

/// How the collector learns a row's fingerprint (from the FINGERPRINTER).
struct fingerprint_result;
using fingerprint_lookup
  = std::function<const fingerprint_result&(const pgss_row&)>;

/// Replaces the text of every row of `s` that carries one by its normalised
/// form (constants as $n) and drops the rows whose text holds a password,
/// before anything keeps, shows or publishes the sample. Rows read without
/// their text (pg::read_sample with `known`) stay without. Returns how many
/// rows were dropped.
int64_t scrub_texts(raw_sample& s, const fingerprint_lookup& lookup);

/// Groups the rows of `cur` by fingerprint into a snapshot; statements are
/// sorted by cumulative execution time, largest first.
metrics_snapshot
build_snapshot(const std::string& target, const raw_sample& cur,
               const delta_report& deltas, const database_metrics& db,
               const fingerprint_lookup& lookup);

/// The database-level history point of a snapshot.
database_point to_database_point(const metrics_snapshot& x);

} // namespace optischema
