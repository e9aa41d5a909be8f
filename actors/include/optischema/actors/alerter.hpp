#pragma once

#include "optischema/analysis/alert_notice.hpp"
#include "optischema/analysis/alerts.hpp"
#include "optischema/messages/actors.hpp"

#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace optischema::actors {

struct alerter_state {
  alerter_state() = default; // not an aggregate: see CMakeLists.txt
  static inline const char* name = "alerter";

  alert_thresholds thresholds;
  /// Plans the hot statements of a target (its EXPLAINER, through the
  /// SUPERVISOR) for the plan-change rule.
  supervisor_actor supervisor;
  /// Statements' hourly history: baselines a restart has not rebuilt yet,
  /// and the same hour a week ago.
  store_actor store;
  /// Each target's rules: its baselines and what fires.
  std::map<std::string, alert_rules> rules;
  /// Targets whose firing alerts are being read from `store` (at their
  /// first poll, failure or raised alert here: after a start, or taken
  /// over from another engine), with what waits for that read, run with
  /// whether the target is still here. Nothing fires again, announced a
  /// second time, before its stored self is back.
  std::map<std::string, std::vector<std::function<void(bool)>>> reading;
  /// Of those, the targets that left this engine meanwhile.
  std::set<std::string> leaving;
  /// Whether the silences were read (or could not be): until then polls,
  /// failures and raised alerts wait in `waiting` (a silence would have
  /// held back what they announce).
  bool loaded = false;
  std::vector<std::function<void()>> waiting;
  /// The latest resolved alerts, newest last (the API shows them).
  std::deque<alert> resolved;
  /// Silences not yet ended, oldest first.
  std::vector<alert_silence> silences;
  /// Alerts that fired under a silence and were not announced: announced
  /// when the silence ends while they still fire, dropped when they
  /// resolve under it.
  std::set<std::string> suppressed;
  uint64_t silences_made = 0;
  // -- status
  uint64_t polls = 0;
  uint64_t failures = 0;
  uint64_t fired = 0;
  uint64_t resolutions = 0;
  /// `alert` events answered (one per target and poll with changes).
  uint64_t events = 0;
  /// Plans checked for the plan-change rule, and those not had.
  uint64_t plans_checked = 0;
  uint64_t plans_failed = 0;
  /// Statements' stored pasts read, and those the STORE did not give.
  uint64_t pasts_read = 0;
  uint64_t pasts_failed = 0;
  /// Alerts taken up after a restart, and stored texts not taken.
  uint64_t restored = 0;
  uint64_t restore_failed = 0;
};

/// The ALERTER (messages/actors.hpp). Keeps its baselines in memory; until
/// a restart (or a target that moved here) has made them again, a
/// statement's baseline is its last day's hours in `store`, read when it
/// would change a judgement, which also gives the same hour a week ago.
/// Keeps what fires, and the silences, in `store` too (what fires also in a
/// fleet's bucket): a restart or a takeover neither announces a firing
/// alert again nor forgets to resolve it.
alerter_actor::behavior_type
alerter(alerter_actor::stateful_pointer<alerter_state> self,
        alert_thresholds thresholds, supervisor_actor supervisor,
        store_actor store);

} // namespace optischema::actors
