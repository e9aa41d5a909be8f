#pragma once

// Running an index change on a target, safely: its own autocommit
// connection (CONCURRENTLY cannot run in a transaction), lock and statement
// timeouts, retries when a lock is busy, an advisory lock so two engines
// never change one database at once, and no INVALID index left behind by a
// failed concurrent build.

#include "optischema/analysis/change.hpp"
#include "optischema/pg/conninfo.hpp"
#include "optischema/util/error.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace optischema::pg {

struct ddl_options {
  /// Each attempt gives up waiting for a lock after this long.
  std::chrono::milliseconds lock_timeout{2000};
  /// Bounds the build itself (0: none).
  std::chrono::milliseconds statement_timeout{std::chrono::hours{1}};
  /// Attempts when a lock is busy (55P03) or a deadlock (40P01) aborts one.
  int attempts = 3;
  /// Wait before attempt k + 1: k × retry_delay.
  std::chrono::milliseconds retry_delay{1000};
  /// The index's estimated size; the build is refused when it is above
  /// `max_index_bytes` (0: no limit).
  int64_t estimated_bytes = 0;
  int64_t max_index_bytes = 0;
  /// Run DDL that is not CONCURRENTLY (a partitioned table's index), which
  /// blocks writes for the whole build. Off: such changes are refused.
  bool allow_blocking = false;
};

/// What happened; every step is also a line for the audit log.
struct ddl_outcome {
  /// False when the target already was as wanted (idempotent re-apply).
  bool changed = false;
  int attempts = 0;
  int64_t duration_ms = 0;
  std::vector<std::string> steps;
};

/// A failure of run_index_change, with what it did before failing.
struct ddl_failure {
  failure error;
  ddl_outcome partial;
  /// A failed concurrent build left an INVALID index that could not be
  /// dropped yet (a lock); drop_invalid_index must be retried.
  bool invalid_left = false;
};

/// Runs `c` on `target`. Creating an index that exists and is valid, or
/// dropping one that is gone, changes nothing and succeeds. An INVALID index
/// of the same name (an earlier failed build) is dropped first. After a
/// failed concurrent build the INVALID index it leaves is dropped (on a new
/// connection when the old one died). Errors name the lock holder's pids
/// when a lock was busy and say what to do.
std::variant<ddl_outcome, ddl_failure>
run_index_change(const conninfo& target, const index_change& c,
                 const ddl_options& opts = {});

/// Drops `schema.name` if it exists and is INVALID (a leftover of a failed
/// concurrent build). Returns true when one was dropped.
expected<bool>
drop_invalid_index(const conninfo& target, const std::string& schema,
                   const std::string& name, const ddl_options& opts = {});

/// Whether `schema.name` exists and is valid: "valid", "invalid", "absent".
expected<std::string> index_state(const conninfo& target,
                                  const std::string& schema,
                                  const std::string& name);

} // namespace optischema::pg
