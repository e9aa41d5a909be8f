#pragma once

#include "optischema/analysis/metrics.hpp"
#include "optischema/messages/actors.hpp"
#include "optischema/messages/config.hpp"
#include "optischema/pg/session.hpp"
#include "optischema/pg/stats_reader.hpp"
#include "optischema/util/histogram.hpp"

#include <caf/typed_response_promise.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace optischema::actors {

/// What a COLLECTOR needs besides its target.
struct collector_peers {
  fingerprinter_actor fingerprinter;
  store_actor store;
  std::vector<event_sink_actor> sinks;
  /// Judges each poll, and each failure, by the alert rules.
  alerter_actor alerter{};
  /// In a fleet: start standing by, until the SUPERVISOR says this engine
  /// owns the target (atom::owner).
  bool standby = false;
  /// Close the connection after each poll (many targets: config.hpp's
  /// keep_connections) instead of keeping it open.
  bool transient = false;
  /// The first poll's delay: many targets spread their polls over the
  /// interval instead of all polling at once.
  std::chrono::milliseconds first_poll{0};
  /// Many targets on one server: the one reader (and connection) of that
  /// server, shared with the COLLECTORs of its other targets, instead of a
  /// connection of this COLLECTOR's own (pg/stats_reader.hpp).
  std::shared_ptr<pg::server_reader> server{};
};

struct collector_state {
  collector_state() = default; // not an aggregate: see CMakeLists.txt
  static inline const char* name = "collector";

  // -- configuration
  // ------------------------------------------------------------

  std::string target;
  std::chrono::milliseconds interval{};
  size_t event_top_n = 50;
  collector_peers peers;

  // -- polling
  // --------------------------------------------------------------------

  /// Owned only by this actor; libpq blocks, so the actor runs detached.
  std::unique_ptr<pg::session> session;
  /// The previous poll's counters: the base of the next deltas, shared
  /// with the STORE, which keeps it for a restart. Without texts.
  raw_sample_ptr prev;
  /// Fingerprints by queryid, so a steady workload never re-parses, nor
  /// reads its texts again: the one copy of each text a collector keeps.
  std::unordered_map<int64_t, fingerprint_result> fingerprints;
  bool polling = false;
  /// Only the tick of this generation polls; others are stale.
  uint64_t tick_generation = 0;
  /// Callers of atom::poll waiting for the poll in progress.
  std::vector<caf::typed_response_promise<int64_t>> waiting;
  std::chrono::steady_clock::time_point poll_started;
  std::chrono::milliseconds backoff{};
  /// In a fleet: another engine polls the target (or none is known yet);
  /// this COLLECTOR neither polls nor holds a connection.
  bool standby = false;
  /// The engine that polls the target ("" before the fleet's first word).
  std::string owner;

  // -- status
  // ----------------------------------------------------------------------

  /// "starting", "ok", "degraded" (working, with warnings) or "down".
  health state = health::starting;
  std::optional<failure> last_error;
  /// What impairs the numbers (hidden rows, evictions): state "degraded".
  std::vector<std::string> warnings;
  /// What a DBA should change but does not impair collection.
  std::vector<std::string> advice;
  pg::server_facts facts;
  int64_t last_poll_ms = 0;
  int64_t last_success_ms = 0;
  double last_poll_duration_ms = 0;
  /// Every poll's duration, successful or not (/metrics).
  duration_histogram poll_seconds;
  uint64_t polls = 0;
  uint64_t failures = 0;
  uint64_t resets_detected = 0;
  uint64_t evicted_total = 0;
  /// pg_stat_statements entries of the last poll whose text held a
  /// password: dropped before anything kept or published them (scrub_texts).
  uint64_t texts_withheld = 0;
  size_t statements = 0;
  int64_t hidden_rows = 0;
  int64_t last_reset_ms = 0;
};

/// A COLLECTOR: polls one target every `interval`, turns counters into
/// per-interval deltas grouped by fingerprint, hands snapshots to the STORE
/// and `metrics`/`status` events to the sinks. A target that is down or
/// misconfigured never stops it: it reports why and retries with backoff.
collector_actor::behavior_type
collector(collector_actor::stateful_pointer<collector_state> self,
          target_config target, std::chrono::milliseconds interval,
          size_t event_top_n, collector_peers peers);

} // namespace optischema::actors
