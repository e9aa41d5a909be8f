#pragma once

// One answer from the parts of a fleet: a list asked of any engine (hot
// statements, suggestions, status) is gathered from every live engine, each
// answering for the targets it polls, and merged here into the answer one
// engine would give if it polled them all. Pure functions on the JSON the
// API renders (api.hpp), so the merged answer keeps the documented shape,
// plus a "fleet" object naming the engines that answered and those that did
// not within the deadline.

#include "optischema/web/api.hpp"

#include <string>
#include <vector>

namespace optischema::web {

/// One engine's part of a fleet-wide answer.
struct fleet_part {
  std::string engine;
  /// Its answer (a 200's body), or empty if it did not answer in time or
  /// answered something else (then `error` says what).
  std::string body;
  std::string error;
};

/// GET /api/metrics/hot: statements of all parts, ordered by the query's
/// sort key, the first `limit`; "polled" of all parts.
std::string merge_hot(const std::vector<fleet_part>& parts, const hot_query& q);

/// GET /api/suggestions/latest: suggestions of all parts (each asked for
/// its first offset + limit), best first as one engine orders them, then
/// the page.
std::string merge_suggestions(const std::vector<fleet_part>& parts,
                              const page_query& page);

/// GET /api/alerts: the alerts firing on every part's targets, then the
/// resolved, newest first.
std::string merge_alerts(const std::vector<fleet_part>& parts);

/// GET /api/status: this engine's status (`parts[0]`) with each target's
/// entry taken from the engine that polls it (its "owner") when that one
/// answered. The engine's own "state" stays its own; "fleet" says who did
/// not answer.
std::string merge_status(const std::vector<fleet_part>& parts);

} // namespace optischema::web
