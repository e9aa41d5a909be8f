#pragma once

// Message tags. CAF 0.17 atoms hold at most 10 characters.

#include <caf/atom.hpp>

namespace optischema::atom {

#define OPTISCHEMA_ATOM(name, text)                                            \
  using name = caf::atom_constant<caf::atom(text)>;                            \
  constexpr name name##_v = name{};

/// INTERNAL: a timer fired (collector poll, store maintenance, retries).
OPTISCHEMA_ATOM(tick, "tick")
/// Poll a target now.
OPTISCHEMA_ATOM(poll, "poll")
/// Report status as a JSON object.
OPTISCHEMA_ATOM(status, "status")
/// Store something.
OPTISCHEMA_ATOM(put, "put")
/// Read something.
OPTISCHEMA_ATOM(get, "get")
/// The latest snapshot(s).
OPTISCHEMA_ATOM(latest, "latest")
/// A collector's delta base.
OPTISCHEMA_ATOM(baseline, "baseline")
/// History points.
OPTISCHEMA_ATOM(history, "history")
/// Hours of history rolled up (a fleet's roll-up stream).
OPTISCHEMA_ATOM(rollup, "rollup")
/// Publish an event to sinks (NATS, WebSocket).
OPTISCHEMA_ATOM(publish, "publish")
/// Fingerprint statements.
OPTISCHEMA_ATOM(fprint, "fprint")
/// An HTTP request from the web server.
OPTISCHEMA_ATOM(http, "http")
/// The monitored targets.
OPTISCHEMA_ATOM(targets, "targets")
/// Alerts: a poll to judge, a failed poll, the alerts firing.
OPTISCHEMA_ATOM(alert, "alert")
/// An alert acknowledged: someone is on it.
OPTISCHEMA_ATOM(ack, "ack")
/// Alerts kept from being announced for a while.
OPTISCHEMA_ATOM(silence, "silence")
/// A poll that failed.
OPTISCHEMA_ATOM(failed, "failed")
/// INTERNAL: roll up and expire history.
OPTISCHEMA_ATOM(maintain, "maintain")
/// Analyse a workload or a statement.
OPTISCHEMA_ATOM(analyze, "analyze")
/// Plan a statement (EXPLAIN, never ANALYZE on a target).
OPTISCHEMA_ATOM(explain, "explain")
/// Recommendations (the API says "suggestions" in its paths only).
OPTISCHEMA_ATOM(recommend, "recommend")
/// Select one item by its id.
OPTISCHEMA_ATOM(by_id, "by_id")
/// The LLM answer cache.
OPTISCHEMA_ATOM(cache, "cache")
/// LLM spend (tokens, USD) per day.
OPTISCHEMA_ATOM(spend, "spend")
/// Ask the LLM.
OPTISCHEMA_ATOM(ask, "ask")
/// The audit log of changes made to targets.
OPTISCHEMA_ATOM(audit, "audit")
/// Apply a recommendation to its target.
OPTISCHEMA_ATOM(apply, "apply")
/// Undo an applied recommendation.
OPTISCHEMA_ATOM(rollback, "rollback")
/// Prove a recommendation in the sandbox.
OPTISCHEMA_ATOM(test, "test")
/// Prepare (copy) the sandbox database.
OPTISCHEMA_ATOM(prepare, "prepare")
/// Compare the rows of a statement and its rewrite on the sandbox's copy.
OPTISCHEMA_ATOM(verify, "verify")
/// Set a recommendation aside.
OPTISCHEMA_ATOM(dismiss, "dismiss")
/// A change to a target's schema begins: its audit entry, synced first.
OPTISCHEMA_ATOM(started, "started")
/// A change to a target's schema ends: its outcome, synced.
OPTISCHEMA_ATOM(finished, "finished")
/// INVALID indexes a failed build left, waiting to be dropped.
OPTISCHEMA_ATOM(cleanup, "cleanup")
/// Forget something stored.
OPTISCHEMA_ATOM(erase, "erase")
/// Who polls a target in a fleet of engines.
OPTISCHEMA_ATOM(owner, "owner")
/// Take over what follows a target from the fleet (its decisions).
OPTISCHEMA_ATOM(adopt, "adopt")
/// An event another engine of the fleet published, for WebSocket clients.
OPTISCHEMA_ATOM(relay, "relay")
/// INTERNAL: restart a supervised actor.
OPTISCHEMA_ATOM(restart, "restart")

#undef OPTISCHEMA_ATOM

} // namespace optischema::atom
