#pragma once

// Running an index change on a target, safely: its own autocommit
// connection (CONCURRENTLY cannot run in a transaction), lock and statement
// timeouts, retries when a lock is busy or the connection is lost, an
// advisory lock held by every connection that runs DDL (taken again after a
// reconnect) so two engines never change one database at once, and no
// INVALID index left behind by a failed concurrent build. An index is "there
// already" only when its definition is the advised one; a drop runs only on
// the index it is meant for.

#include "optischema/analysis/change.hpp"
#include "optischema/pg/conninfo.hpp"
#include "optischema/util/error.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace optischema::pg {

struct ddl_options {
  /// Each attempt gives up waiting for a lock after this long.
  std::chrono::milliseconds lock_timeout{2000};
  /// Bounds the build itself (0: none).
  std::chrono::milliseconds statement_timeout{std::chrono::hours{1}};
  /// Attempts when a lock is busy (55P03), a deadlock (40P01) aborts one or
  /// the connection is lost.
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
  /// The advisory lock every DDL connection holds.
  int64_t lock_key = optischema::default_apply_lock_key;
  /// Build under a free name when the change's name belongs to another
  /// index. Off after plan_index_change chose the name: a name taken since
  /// then fails the change instead.
  bool may_rename = true;
};

/// A relation of the target's catalog found by name: an index (with its
/// validity and pg_get_indexdef), or another relation holding that name.
struct index_facts {
  std::string schema;
  std::string name;
  uint32_t oid = 0;
  bool is_index = true;
  bool valid = false;
  std::string definition;
};

/// What happened; every step is also a line for the audit log.
struct ddl_outcome {
  /// False when the target already was as wanted (idempotent re-apply).
  bool changed = false;
  int attempts = 0;
  int64_t duration_ms = 0;
  std::vector<std::string> steps;
  /// The statement that ran (the change's, under a free name when its own
  /// was taken).
  std::string sql;
  /// The index built or found (create) or dropped (drop); oid 0 when none.
  index_facts index;
};

/// A failure of run_index_change, with what it did before failing.
struct ddl_failure {
  failure error;
  ddl_outcome partial;
  /// A failed concurrent build left this INVALID index, which could not be
  /// dropped yet (a lock, a lost connection): drop_invalid_index must be
  /// retried with it.
  std::optional<index_facts> invalid_left;
  /// Refused before anything ran: the target is not as the change expects
  /// (the index to drop is not the one it is meant for).
  bool refused = false;
};

/// What run_index_change will do, read from the catalog before anything
/// runs (no lock taken, nothing changed), so the audit log can say it first.
struct ddl_plan {
  /// The change as it will run: under a free name when its own belongs to
  /// another index, with `may_rename` off for the run.
  index_change change;
  std::vector<std::string> steps;
  /// Set when the target already is as wanted: nothing runs.
  std::optional<ddl_outcome> done;
};

/// Plans `c` on `target`: the create of an index that exists with the
/// advised definition (under its name or another) or the drop of one that
/// is gone changes nothing; a create whose name another index (or table)
/// holds gets a free name; a drop of an index that is not the one `c`
/// expects (its oid or definition) is refused (ec::conflict).
std::variant<ddl_plan, ddl_failure>
plan_index_change(const conninfo& target, const index_change& c,
                  const ddl_options& opts = {});

/// Runs `c` on `target` under the advisory lock, deciding again as
/// plan_index_change does. An INVALID index of the same name and definition
/// (an earlier failed build) is dropped first. After a failed concurrent
/// build the INVALID index it left is dropped (on a new connection that
/// takes the lock again when the old one died). Errors name the lock
/// holder's pids when a lock was busy and say what to do.
std::variant<ddl_outcome, ddl_failure>
run_index_change(const conninfo& target, const index_change& c,
                 const ddl_options& opts = {});

/// Drops `x`, an INVALID index a failed build of the engine left, under the
/// advisory lock, if it still is that index (same oid, still INVALID).
/// Returns true when dropped, false when there is nothing to drop any more.
expected<bool> drop_invalid_index(const conninfo& target, const index_facts& x,
                                  const ddl_options& opts = {});

/// The relation named `schema.name`, if there is one.
expected<std::optional<index_facts>> find_index(const conninfo& target,
                                                const std::string& schema,
                                                const std::string& name);

/// The extensions an action's prerequisites name ("CREATE EXTENSION IF NOT
/// EXISTS pg_trgm" → "pg_trgm"); a prerequisite of any other form, or of
/// an extension the advisor never names, is an error.
expected<std::vector<std::string>>
prerequisite_extensions(const std::vector<std::string>& prerequisites);

/// The extensions an action's prerequisites name ("CREATE EXTENSION IF NOT
/// EXISTS pg_trgm") that `target` does not have. A prerequisite of any
/// other form is an error: the engine runs no statement it did not write,
/// and extensions are created only by a person who decides to.
expected<std::vector<std::string>>
missing_extensions(const conninfo& target,
                   const std::vector<std::string>& prerequisites);

/// ok when every prerequisite of an action is met on `target`; else a
/// failure (ec::conflict) naming the extension and the statement a person
/// allowed to must run first. The engine never runs it.
expected<ok> check_prerequisites(const conninfo& target,
                                 const std::vector<std::string>& prerequisites);

} // namespace optischema::pg
