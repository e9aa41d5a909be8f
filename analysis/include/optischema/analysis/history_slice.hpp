#pragma once

// History another engine of a fleet collected, read back from its metrics
// events (json::metrics_payload) in the JetStream events stream: a new owner
// of a target fills the time the other engine polled it, so charts show no
// gap but an outage itself. An event carries the database's figures of the
// interval and the statements that took the most time in it (the top N),
// so that is what a slice holds.

#include "optischema/analysis/metrics.hpp"
#include "optischema/util/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace optischema {

/// One statement's point of an interval, with what the catalogue keeps.
struct statement_point {
  std::string fingerprint;
  std::string query;
  bool parse_error = false;
  counters delta;
};

/// One poll's history, as a metrics event carried it.
struct history_slice {
  /// The target a roll-up is about (metrics events name it in their
  /// envelope instead: empty).
  std::string target;
  int64_t ts_ms = 0;
  int64_t interval_ms = 0;
  database_point db;
  std::vector<statement_point> statements;
};

/// Reads a metrics event's payload (another engine's: hostile). Fails
/// (ec::bad_request, with what is wrong) on a payload that is not one, a
/// baseline poll (no interval), counts that are negative or not numbers,
/// and sizes no engine writes.
expected<history_slice> read_metrics_payload(std::string_view payload);

/// An hour of a target's history as the fleet keeps it in JetStream (the
/// roll-up stream): the fields read_metrics_payload reads, plus the target,
/// so a new owner can fill hours older than the events stream keeps.
std::string rollup_payload(const std::string& target, const history_slice& x);

} // namespace optischema
