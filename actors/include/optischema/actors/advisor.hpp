#pragma once

#include "optischema/advice/advisor.hpp"
#include "optischema/advice/rewrite_check.hpp"
#include "optischema/messages/actors.hpp"
#include "optischema/messages/config.hpp"
#include "optischema/pg/session.hpp"

#include "optischema/analysis/catalog.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace optischema::actors {

struct advisor_peers {
  store_actor store;
  std::vector<event_sink_actor> sinks;
  /// Explanations, narratives and rewrite ideas (may be disabled).
  llm_actor llm;
  /// Routes sandbox tests to the target's SANDBOX actor (null: no tests).
  supervisor_actor supervisor;
  /// Untested index actions each analysis sends to the sandbox.
  size_t auto_test = 0;
  /// In a fleet: start without periodic analyses, until the SUPERVISOR
  /// says this engine polls the target (atom::owner).
  bool standby = false;
  /// Close the connection after each analysis (many targets).
  bool transient = false;
  /// Added to the first analysis' delay: many targets spread their
  /// analyses over the interval.
  std::chrono::milliseconds stagger{0};
};

struct advisor_state {
  advisor_state() = default; // not an aggregate: see CMakeLists.txt
  static inline const char* name = "advisor";
  std::string target;
  std::chrono::milliseconds interval{};
  double min_confidence = 0.5;
  advisor_peers peers;
  /// Its own connection: hypothetical indexes live in one session.
  std::unique_ptr<pg::session> session;
  uint64_t tick_generation = 0;
  /// In a fleet: another engine polls (and so analyses) the target; asked
  /// analyses still run here.
  bool standby = false;
  /// The engine that polls it (fleet only).
  std::string owner;
  // -- status --
  health state = health::starting;
  std::optional<failure> last_error;
  int64_t last_run_ms = 0;
  double last_elapsed_ms = 0;
  uint64_t runs = 0;
  uint64_t failures = 0;
  size_t last_actions = 0;
  size_t last_statements = 0;
  size_t last_whatif_calls = 0;
  std::vector<std::string> warnings;
  /// Statements per cycle that get LLM explanations, rewrites, narratives.
  size_t llm_per_cycle = 3;
  /// Checks of rewrites already made, by statement, rewrite and plan: a
  /// check plans both statements on the target and runs them on the
  /// sandbox's copy, so it is not repeated every cycle for the same
  /// (cached) LLM answer.
  std::map<std::string,
           std::pair<std::chrono::steady_clock::time_point, rewrite_check>>
    checked;
  uint64_t rewrites_verified = 0;
  uint64_t rewrites_rejected = 0;
  /// What each recommendation looked like when last announced, so only new
  /// or changed advice makes an event.
  std::map<std::string, std::string> announced;
  /// Recommendations sent to the sandbox (once each unless that failed).
  std::set<std::string> auto_tested;
};

/// An ADVISOR: runs the advisor pipeline on its target's workload every
/// `interval` (and on request), hands the recommendations to the STORE and
/// announces new or changed ones as `recommendation` events plus an
/// `analysis` event per run. Blocks on the database: spawn it detached.
advisor_actor::behavior_type
advisor(advisor_actor::stateful_pointer<advisor_state> self,
        target_config target, std::chrono::milliseconds interval,
        double min_confidence, size_t llm_per_cycle, advisor_peers peers);

} // namespace optischema::actors
