#pragma once

// GET /metrics: the engine's status in Prometheus' text exposition format
// (version 0.0.4), for a ServiceMonitor or any scraper. Rendered from the
// status document the SUPERVISOR gathers for /api/status, so the two never
// disagree and no component keeps a second set of counters.

#include <string>
#include <string_view>

namespace optischema::web {

/// The content type Prometheus expects for the text format.
inline constexpr const char* prometheus_content_type
  = "text/plain; version=0.0.4; charset=utf-8";

/// The exposition text for the engine status document `status_json` (the
/// body of GET /api/status). Families present in the document only are
/// written; a malformed document yields just `optischema_up 0`.
std::string prometheus_text(std::string_view status_json);

} // namespace optischema::web
