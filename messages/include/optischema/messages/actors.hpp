#pragma once

// Every typed actor interface of the engine, one commented line per handler.
// Read this file first: it is the vocabulary the actors speak. Roles are
// written in CAPS in comments (the COLLECTOR, the STORE, ...).
//
// Where each actor lives (actors/src/<name>.cpp, state in
// actors/include/optischema/actors/<name>.hpp, namespace optischema::actors)
// and the library that does its work without actors:
//
//   SUPERVISOR     supervisor.cpp     spawns, monitors, restarts; joins work
//   COLLECTOR      collector.cpp      pg/ (pg_stat_statements), analysis/deltas
//   FINGERPRINTER  fingerprinter.cpp  analysis/fingerprint (libpg_query)
//   STORE          store.cpp          store/ (RocksDB history, recommendations)
//   EXPLAINER      explainer.cpp      pg/explain, analysis/plan, findings
//   ADVISOR        advisor.cpp        advice/ (candidates, what-if, selection)
//   LLM            llm.cpp            llm/ (OpenAI-compatible client), prompts/
//   SANDBOX        sandbox.cpp        sandbox/ (copies, EXPLAIN ANALYZE proof)
//   APPLIER        applier.cpp        pg/ddl (index DDL run safely), audit
//   EDGE           edge.cpp           web/ (Beast server, API rendering; one
//                                     function per operation of web::routes())
//   BROKER         broker.cpp         broker/ (NATS client)
//   FLEET          fleet.cpp          broker/fleet_registry, ownership
//                                     (membership in a JetStream bucket)
//
// What actors send each other are C++ values (data.hpp: snapshots,
// history, recommendations; results.hpp: plans with findings, advisor
// summaries, statement advice, LLM answers, sandbox copies and rows checks,
// the audit log; status.hpp), rendered as JSON only where they leave the
// process: the EDGE's API, events, the CLI, and the STORE's disk. Two texts
// stay JSON on purpose: an LLM answer's content (its shape is the prompt's)
// and each component's status figures (only the component knows them).

#include "optischema/messages/atoms.hpp"
#include "optischema/messages/data.hpp"
#include "optischema/messages/event.hpp"
#include "optischema/messages/results.hpp"
#include "optischema/messages/status.hpp"

#include <caf/replies_to.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_behavior.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace optischema {

/// Anything that can say how it is (messages/status.hpp).
using status_client_actor = caf::typed_actor<
  // Returns the actor's health and its status object.
  caf::replies_to<atom::status>::with<status_report>>;

/// Receives events for the outside world.
using event_sink_actor = caf::typed_actor<
  // Delivers an event (fire and forget).
  caf::reacts_to<atom::publish, event>>;

/// The ALERTER: judges every poll of every target by the alert rules
/// (analysis/alerts.hpp). Its answer to a poll is the payload of the
/// `alert` event its COLLECTOR publishes ("" when nothing fired or
/// resolved): one per target and poll, however many statements changed.
/// (The COLLECTOR publishes, so the ALERTER holds no sinks that a restart
/// of the EDGE would leave stale.)
using alerter_actor = caf::typed_actor<
  // A target's processed poll, and whether the plans of its hottest
  // statements may be checked (through the SUPERVISOR's explain: an
  // EXPLAIN each, on the target's EXPLAINER's connection; not for targets
  // past --keep-connections, which keep no connection of their own).
  // Answered once those plans are checked.
  caf::replies_to<atom::alert, snapshot_ptr, bool>::with<std::string>,
  // A target's poll failed: the target, when, and why.
  caf::replies_to<atom::alert, atom::failed, std::string, int64_t,
                  std::string>::with<std::string>,
  // An alert another actor decided (the APPLIER's applied index that made
  // its statements slower): fires it, or resolves it when `firing` is
  // false. Same answer as a poll's.
  caf::replies_to<atom::alert, alert>::with<std::string>,
  // The target stopped here (removed, or polled by another engine): its
  // alerts end without being resolved, and its baselines are forgotten.
  caf::reacts_to<atom::erase, std::string>,
  // The alerts firing and the recently resolved, and the silences, as
  // JSON; one target's, or every target's with "".
  caf::replies_to<atom::get, atom::alert, std::string>::with<std::string>,
  // Acknowledges a firing alert (target, id, who): the alert as JSON.
  caf::replies_to<atom::ack, std::string, std::string,
                  std::string>::with<std::string>,
  // Adds a silence (its id is made here): the silence as JSON. Alerts it
  // matches are judged and listed but not announced until it ends; those
  // still firing then are announced at their target's next poll.
  caf::replies_to<atom::silence, alert_silence>::with<std::string>,
  // Ends a silence (id): the silence as JSON.
  caf::replies_to<atom::silence, atom::erase, std::string>::with<std::string>>::
  extend_with<status_client_actor>;

/// The FINGERPRINTER: libpg_query fingerprints and normalised texts, cached.
using fingerprinter_actor = caf::typed_actor<
  // Fingerprints each text; the reply has one result per text, in order.
  caf::replies_to<atom::fprint, text_list>::with<fingerprint_list>>::
  extend_with<status_client_actor>;

/// The STORE: owns the RocksDB history database.
using store_actor = caf::typed_actor<
  // Keeps a processed poll (history points, statement texts, latest
  // snapshot) with the raw counters it came from, the COLLECTOR's delta base
  // after a restart, in one atomic write.
  caf::reacts_to<atom::put, snapshot_ptr, raw_sample_ptr>,
  // Returns the delta base of a target (null if none).
  caf::replies_to<atom::get, atom::baseline, std::string>::with<raw_sample_ptr>,
  // Returns the latest snapshot of a target (null if none).
  caf::replies_to<atom::get, atom::latest, std::string>::with<snapshot_ptr>,
  // Returns the latest snapshot of every target.
  caf::replies_to<atom::get, atom::latest>::with<snapshot_list>,
  // Returns history points of a statement or of a database.
  caf::replies_to<atom::history, history_request>::with<history_reply_ptr>,
  // Keeps an analysis and its recommendations; replies with the
  // recommendations as stored (statuses people set survive re-analysis).
  caf::replies_to<atom::put, analysis_ptr>::with<analysis_ptr>,
  // Returns the recommendations of a target ("" for all), best first.
  caf::replies_to<atom::get, atom::recommend,
                  std::string>::with<recommendation_list>,
  // Returns one recommendation (error not_found).
  caf::replies_to<atom::get, atom::recommend, atom::by_id,
                  std::string>::with<recommendation>,
  // Changes one recommendation by id (a status change, a sandbox result,
  // an application) in one step; replies with it as stored, or with the
  // patch's failure, or not_found.
  caf::replies_to<atom::put, atom::recommend, std::string,
                  recommendation_patch>::with<recommendation>,
  // This engine now polls a target (fleet): reads the target's decisions
  // from the fleet's bucket and keeps those newer than its own, and fills
  // its history since its last point from the fleet's metrics events (and
  // older hours from the fleet's roll-ups).
  caf::reacts_to<atom::adopt, std::string>,
  // INTERNAL: the decisions read (target, one recommendation JSON each).
  caf::reacts_to<atom::adopt, std::string, std::vector<std::string>>,
  // INTERNAL: metrics events read back (target, events up to this time,
  // one event JSON each), kept as history.
  caf::reacts_to<atom::adopt, atom::history, std::string, int64_t,
                 std::vector<std::string>>,
  // INTERNAL: hours the fleet rolled up, read back (target, one roll-up
  // JSON each), kept as hourly history where this engine has none.
  caf::reacts_to<atom::adopt, atom::rollup, std::string,
                 std::vector<std::string>>,
  // Appends an entry to the audit log.
  caf::reacts_to<atom::put, atom::audit, audit_entry>,
  // Begins a change of a target's schema (target, op id, "started" entry):
  // appends the entry and keeps it as in flight, synced to disk before the
  // reply, so no DDL runs before the audit log says so.
  caf::replies_to<atom::put, atom::audit, atom::started, std::string,
                  std::string, audit_entry>::with<bool>,
  // Ends it (target, op id, outcome entry): appends the entry and forgets
  // the change as in flight, synced.
  caf::replies_to<atom::put, atom::audit, atom::finished, std::string,
                  std::string, audit_entry>::with<bool>,
  // Returns the "started" entries of a target's changes that never finished
  // (the engine stopped during them).
  caf::replies_to<atom::get, atom::audit, atom::started,
                  std::string>::with<audit_list>,
  // Keeps a pending cleanup of a target (target, key, what to drop), synced.
  caf::replies_to<atom::put, atom::cleanup, std::string, std::string,
                  audit_entry>::with<bool>,
  // Forgets a pending cleanup (target, key), synced.
  caf::replies_to<atom::erase, atom::cleanup, std::string,
                  std::string>::with<bool>,
  // Returns the pending cleanups of a target.
  caf::replies_to<atom::get, atom::cleanup, std::string>::with<audit_list>,
  // Returns a page of the audit log (limit, offset), newest first: in a
  // fleet, the fleet's (every engine's changes), else this engine's own.
  caf::replies_to<atom::get, atom::audit, int64_t, int64_t>::with<audit_page>,
  // INTERNAL: a page of the fleet's audit log was read (read id, entries,
  // total, or why it could not be).
  caf::reacts_to<atom::audit, uint64_t, std::vector<std::string>, uint64_t,
                 std::string>,
  // Returns a cached LLM answer ("" when absent or expired).
  caf::replies_to<atom::get, atom::cache, std::string>::with<std::string>,
  // Keeps an LLM answer: key, answer, TTL (ms), size cap of the cache (bytes).
  caf::reacts_to<atom::put, atom::cache, std::string, std::string, int64_t,
                 int64_t>,
  // Returns the ALERTER's silences, as it stored them (JSON; "" for none).
  caf::replies_to<atom::get, atom::silence>::with<std::string>,
  // Replaces the ALERTER's silences (JSON).
  caf::reacts_to<atom::put, atom::silence, std::string>,
  // Returns what fires on a target as the ALERTER last stored it
  // (stored_alerts_json(); "" for nothing): in a fleet, from the fleet's
  // bucket (whichever engine polled it last), else from RocksDB.
  caf::replies_to<atom::get, atom::alert, std::string>::with<std::string>,
  // Replaces what fires on a target (target, JSON), here and in a fleet's
  // bucket.
  caf::reacts_to<atom::put, atom::alert, std::string, std::string>,
  // Forgets what fires on a target here (it left this engine; the fleet's
  // bucket keeps it for the next owner).
  caf::reacts_to<atom::erase, atom::alert, std::string>,
  // INTERNAL: the fleet's bucket was read for a target's alerts (read id,
  // the text if one was stored, or why it could not be read).
  caf::reacts_to<atom::alert, uint64_t, std::vector<std::string>, std::string>,
  // Returns the LLM spend of a UTC day ("2026-11-25"): tokens, USD.
  caf::replies_to<atom::get, atom::spend, std::string>::with<int64_t, double>,
  // Adds to the LLM spend of a day: tokens, USD.
  caf::reacts_to<atom::put, atom::spend, std::string, int64_t, double>,
  // INTERNAL: rolls up and expires history (timer).
  caf::reacts_to<atom::maintain>>::extend_with<status_client_actor>;

/// A COLLECTOR: polls one target's pg_stat_statements and pg_stat_database.
using collector_actor = caf::typed_actor<
  // INTERNAL: the poll timer fired; stale generations are ignored.
  caf::reacts_to<atom::tick, uint64_t>,
  // Polls now; replies with the number of statements seen.
  caf::replies_to<atom::poll>::with<int64_t>,
  // In a fleet: the engine that polls this target now, and whether it is
  // this one (else the COLLECTOR stands by, connected to nothing).
  caf::reacts_to<atom::owner, std::string,
                 bool>>::extend_with<status_client_actor>;

/// The FLEET: this engine's membership in a fleet of engines (--fleet). Every
/// heartbeat it writes its key to the fleet's JetStream bucket, reads the live
/// members and tells the SUPERVISOR who owns each target.
using fleet_actor = caf::typed_actor<
  // INTERNAL: the heartbeat timer fired.
  caf::reacts_to<atom::tick>,
  // The targets now (the targets file changed): owners given at the next
  // heartbeat.
  caf::reacts_to<atom::targets,
                 std::vector<std::string>>>::extend_with<status_client_actor>;

/// An EXPLAINER: plans statements of one target on demand (EXPLAIN
/// FORMAT JSON in a read-only, rolled-back transaction with timeouts; generic
/// plans for $n statements) and reads the findings off each plan.
using explainer_actor = caf::typed_actor<
  // Plans one statement and reads the findings off its plan.
  caf::replies_to<atom::explain, std::string>::with<explained_statement>,
  // With `false`: the plan alone, no findings (nor the catalog they
  // need): the ALERTER's plan checks, every poll.
  caf::replies_to<atom::explain, std::string, bool>::with<
    explained_statement>>::extend_with<status_client_actor>;

/// An ADVISOR: analyses one target's workload every analysis interval
/// (plans, findings, index candidates, hypopg what-if, selection, drops),
/// stores the recommendations and announces them.
using advisor_actor = caf::typed_actor<
  // INTERNAL: the analysis timer fired; stale generations are ignored.
  caf::reacts_to<atom::tick, uint64_t>,
  // Analyses the workload now; replies with its summary.
  caf::replies_to<atom::analyze>::with<advisor_summary>,
  // Analyses one statement: plan, findings and index advice; with `true`,
  // also the LLM's explanation and checked rewrites.
  caf::replies_to<atom::analyze, std::string, bool>::with<statement_advice>,
  // In a fleet: the engine that polls this target, and whether it is this
  // one (else no periodic analyses here).
  caf::reacts_to<atom::owner, std::string,
                 bool>>::extend_with<status_client_actor>;

/// A SANDBOX actor: keeps a copy of one target on the sandbox server and
/// proves recommendations on it (EXPLAIN ANALYZE before and after).
using sandbox_actor = caf::typed_actor<
  // Copies the target again (`true`: now; `false`: only when its schema
  // changed); replies with the copy's facts.
  caf::replies_to<atom::prepare, bool>::with<sandbox::prepared>,
  // Tests one recommendation, keeps the result on it (status `tested`) and
  // replies with the recommendation as stored.
  caf::replies_to<atom::test, std::string>::with<recommendation>,
  // Runs a statement (original) and its rewrite on sample parameters on the
  // copy and compares their rows: the only place either is executed;
  // replies with the rows check, or `disabled` without a sandbox.
  caf::replies_to<atom::verify, std::string, std::string>::with<rows_check>>::
  extend_with<status_client_actor>;

/// An APPLIER: changes one target's indexes as its recommendations say,
/// keeps an audit log ("started" synced before any DDL), resolves changes a
/// crash interrupted and drops INVALID leftovers (also after a restart),
/// and measures what each change did afterwards.
using applier_actor = caf::typed_actor<
  // Applies a recommendation (id, who asked); replies with the
  // recommendation as stored.
  caf::replies_to<atom::apply, std::string, std::string>::with<recommendation>,
  // Undoes an applied recommendation (id, who asked); same reply.
  caf::replies_to<atom::rollback, std::string,
                  std::string>::with<recommendation>,
  // INTERNAL: measures realised benefits and retries leftover cleanups.
  caf::reacts_to<atom::tick>>::extend_with<status_client_actor>;

/// The LLM actor: asks an OpenAI-compatible endpoint, with versioned
/// prompts, strict JSON answers (validated, asked once more with the error,
/// else dropped), a cache in the STORE, rate limits and a daily budget.
using llm_actor = caf::typed_actor<
  // Answers one question, or fails (disabled, budget, busy, a bad answer…).
  caf::replies_to<atom::ask, llm_request>::with<llm_answer>>::
  extend_with<status_client_actor>;

/// The BROKER: publishes events to NATS.
using broker_actor = event_sink_actor::extend_with<status_client_actor>;

/// The EDGE: REST API, WebSocket relay and static files on one port.
using edge_actor = caf::typed_actor<
  // Answers one HTTP request (from a web io thread, or forwarded by another
  // engine of the fleet).
  caf::reacts_to<atom::http, web_request>,
  // In a fleet: who polls which target; requests about another engine's
  // targets are forwarded to it.
  caf::reacts_to<atom::owner, fleet_view>,
  // The targets now (the targets file changed).
  caf::reacts_to<atom::targets, std::vector<std::string>>,
  // In a fleet: an event another engine published (checked), sent to this
  // engine's WebSocket clients unless this engine polls its target.
  caf::reacts_to<atom::relay, event>>::extend_with<event_sink_actor>::
  extend_with<status_client_actor>;

/// The SUPERVISOR: spawns and monitors everything, restarts with backoff.
using supervisor_actor = caf::typed_actor<
  // Returns the names of the monitored targets.
  caf::replies_to<atom::get, atom::targets>::with<std::vector<std::string>>,
  // Polls one target now; replies with its number of statements.
  caf::replies_to<atom::poll, std::string>::with<int64_t>,
  // Analyses one target's workload now (its ADVISOR's summary).
  caf::replies_to<atom::analyze, std::string>::with<advisor_summary>,
  // Analyses one statement on a target (its ADVISOR's answer), with the
  // LLM's explanation and checked rewrites when the flag is set.
  caf::replies_to<atom::analyze, std::string, std::string,
                  bool>::with<statement_advice>,
  // Plans one statement on a target (its EXPLAINER's answer); with
  // `false`, the plan alone, without findings.
  caf::replies_to<atom::explain, std::string,
                  std::string>::with<explained_statement>,
  caf::replies_to<atom::explain, std::string, std::string,
                  bool>::with<explained_statement>,
  // Applies a recommendation on a target (target, id, who asked).
  caf::replies_to<atom::apply, std::string, std::string,
                  std::string>::with<recommendation>,
  // Rolls back a recommendation on a target (target, id, who asked).
  caf::replies_to<atom::rollback, std::string, std::string,
                  std::string>::with<recommendation>,
  // Tests a recommendation in the target's sandbox (target, id).
  caf::replies_to<atom::test, std::string, std::string>::with<recommendation>,
  // Copies a target to its sandbox again (target).
  caf::replies_to<atom::prepare, std::string>::with<sandbox::prepared>,
  // Compares a statement's and its rewrite's rows in the target's sandbox
  // (target, original, rewrite): the SANDBOX's answer.
  caf::replies_to<atom::verify, std::string, std::string,
                  std::string>::with<rows_check>,
  // The ALERTER's alerts, one target's or every target's with "" (JSON).
  caf::replies_to<atom::get, atom::alert, std::string>::with<std::string>,
  // An alert of the engine itself (the LLM's budget nearly spent), under
  // target engine_alerts: to the ALERTER, its answer to the event sinks.
  caf::reacts_to<atom::alert, alert>,
  // To the ALERTER: acknowledge an alert, add or end a silence (as there).
  caf::replies_to<atom::ack, std::string, std::string,
                  std::string>::with<std::string>,
  caf::replies_to<atom::silence, alert_silence>::with<std::string>,
  caf::replies_to<atom::silence, atom::erase, std::string>::with<std::string>,
  // Returns the status of every ADVISOR ({"<target>": status, …}).
  caf::replies_to<atom::status, atom::analyze>::with<status_report>,
  // Returns the status of every COLLECTOR ({"<target>": status, …}): the
  // readiness probe's question.
  caf::replies_to<atom::status, atom::poll>::with<status_report>,
  // From the FLEET: who polls which target now; the COLLECTORs follow it.
  caf::reacts_to<atom::owner, fleet_view>,
  // Adds target (name, DSN) to the targets file and starts it; replies
  // with every target's name (POST /api/targets).
  caf::replies_to<atom::put, atom::targets, std::string,
                  std::string>::with<std::vector<std::string>>,
  // Removes a target from the targets file and stops it; replies with
  // every target's name (DELETE /api/targets/{name}).
  caf::replies_to<atom::erase, atom::targets,
                  std::string>::with<std::vector<std::string>>,
  // INTERNAL: re-read the targets file (a timer).
  caf::reacts_to<atom::targets>,
  // INTERNAL: restarts the named component after its backoff.
  caf::reacts_to<atom::restart, std::string>>::extend_with<status_client_actor>;

} // namespace optischema
