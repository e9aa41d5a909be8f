#pragma once

#include "optischema/messages/actors.hpp"
#include "optischema/messages/config.hpp"
#include "optischema/pg/conninfo.hpp"
#include "optischema/pg/ddl.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace optischema::actors {

struct applier_peers {
  store_actor store;
  std::vector<event_sink_actor> sinks;
  /// Raises (and resolves) the alert of an applied index that made its
  /// statements slower.
  alerter_actor alerter{};
};

struct applier_state {
  applier_state() = default; // not an aggregate: see CMakeLists.txt
  static inline const char* name = "applier";
  std::string target;
  /// The apply role's connection (the target's DSN unless --apply-dsn).
  pg::conninfo conn;
  pg::ddl_options ddl;
  std::chrono::milliseconds interval{};
  applier_peers peers;
  /// INVALID indexes failed builds left that could not be dropped yet, by
  /// "schema.name"; kept in the STORE too, so a restart resumes them.
  std::map<std::string, pg::index_facts> cleanups;
  /// Changes a crash interrupted, resolved at this start ("op: outcome").
  std::vector<std::string> recovered;
  /// Makes the ids of changes unique within a millisecond.
  uint32_t ops = 0;
  /// Recommendations whose regression was announced (once each).
  std::set<std::string> alerted;
  // -- status --
  uint64_t applied = 0;
  uint64_t rolled_back = 0;
  uint64_t unchanged = 0;
  uint64_t failed = 0;
  std::optional<failure> last_error;
};

/// An APPLIER: one per target. Runs the DDL the advisor generated for a
/// recommendation (checked by change_for, never SQL from a request) with
/// pg::run_index_change, after its "started" audit entry is on disk (synced)
/// and before its outcome, and every poll interval measures the realised
/// benefit of applied changes and retries dropping INVALID leftovers (kept
/// in the STORE). At its start it resolves changes a crash interrupted
/// (started, never finished) from the target's catalog. Blocks on the
/// database: spawn it detached.
applier_actor::behavior_type
applier(applier_actor::stateful_pointer<applier_state> self,
        target_config target, apply_config cfg,
        std::chrono::milliseconds interval, applier_peers peers);

} // namespace optischema::actors
