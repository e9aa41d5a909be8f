#pragma once

// Indexes worth dropping: invalid ones, exact duplicates, btree prefixes of
// another btree index, and indexes unused since the statistics reset. Never
// a primary key, unique or constraint-backing index (PgHero's rules plus
// write cost; anchors.md 2.2, 2.6).

#include "optischema/analysis/catalog.hpp"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace optischema {

struct drop_candidate {
  std::string schema;
  std::string table;
  index_info index;
  /// "invalid", "duplicate", "redundant_prefix", "unused".
  std::string reason;
  /// The index that makes it superfluous (duplicate, redundant_prefix).
  std::string covered_by;
  double confidence = 0;
  std::vector<std::string> reasons;
  /// Rows written to its table per day that this index also had to absorb.
  double writes_per_day = 0;
};

struct drop_options {
  int64_t now_ms = 0;
  /// Unused indexes smaller than this on tables without writes are noise.
  int64_t min_unused_bytes = 1 << 20;
  /// How long the table statistics have been collecting (ms); drives the
  /// confidence of "unused" (a week of silence says more than an hour).
  int64_t stats_age_ms = 0;
  /// Indexes ("schema.name", or the bare name EXPLAIN shows) the current plans of the workload use: never
  /// "unused", whatever the counters say (they may have been reset, or the
  /// statements run on a replica).
  std::set<std::string> used_in_plans;
};

std::vector<drop_candidate> drop_candidates(const catalog& cat,
                                            const drop_options& opts);

/// Normalises an index key or expression for comparison: whitespace, case
/// outside quotes, and redundant outer parentheses removed.
std::string normalize_key(const std::string& key);

} // namespace optischema
