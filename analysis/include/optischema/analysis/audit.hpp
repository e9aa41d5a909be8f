#pragma once

// One entry of the audit log: who changed what on which target, when, with
// which DDL, and how it went. Written by the APPLIER, the SANDBOX actor and
// the EDGE, kept by the STORE, shown at /api/audit. A change that runs DDL
// on a target writes two entries with the same `op`: "started" (synced to
// disk before any DDL) and its outcome after; a "started" entry without an
// outcome is a change the engine was killed in, resolved at its next start.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace optischema {

struct audit_entry {
  int64_t ts_ms = 0;
  /// Who asked: "api (127.0.0.1)", "analysis", "cli", "engine".
  std::string who;
  /// apply, rollback, test, cleanup, dismiss.
  std::string action;
  std::string target;
  std::string recommendation_id;
  std::string kind;
  std::string ddl;
  /// started, applied, unchanged, failed, refused, tested, rolled_back,
  /// dropped.
  std::string outcome;
  int64_t duration_ms = 0;
  int attempts = 0;
  std::vector<std::string> steps;
  std::string error;
  // -- a change that runs DDL --
  /// Pairs the "started" entry with its outcome ("" for other entries).
  std::string op;
  /// The index changed: its schema and name (as built: a free name when the
  /// advised one was taken), and its oid and definition (pg_get_indexdef)
  /// once known: what a rollback may drop.
  std::string schema;
  std::string index_name;
  int64_t index_oid = 0;
  std::string index_definition;
};

std::string to_json(const audit_entry& x);

/// Reads what to_json wrote (a stored "started" entry, at a restart).
std::optional<audit_entry> audit_entry_from_json(std::string_view text);

/// The index a change began on, as the target's catalog has it now.
struct index_now {
  bool exists = false;
  bool valid = false;
  /// It is the index the change was about: the definition it was building
  /// (a create), or the oid and definition it was dropping (a drop).
  bool as_started = false;
};

/// What became of a change the engine began and never finished (killed
/// mid-DDL), judged from the target's catalog at the next start.
struct interrupted_change {
  /// applied, rolled_back or failed: the entry that ends the change.
  std::string outcome;
  /// What was found, for the audit log and the engine's log.
  std::string step;
  /// The change took effect: its recommendation is applied (or rolled back).
  bool took_effect = false;
  /// It left its index INVALID: the engine drops it (a pending cleanup).
  bool cleanup = false;
};

/// Resolves `started` (creating an index when `creates`) from `now`.
interrupted_change resolve_interrupted(const audit_entry& started, bool creates,
                                       const index_now& now);

} // namespace optischema
