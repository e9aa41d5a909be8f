#pragma once

// The REST API's pure parts: parameter parsing and answer rendering. No
// actors and no I/O, so every answer shape is unit-tested; the EDGE actor
// only fetches data and calls these.

#include "optischema/analysis/metrics.hpp"
#include "optischema/analysis/workload.hpp"
#include "optischema/util/error.hpp"
#include "optischema/web/server.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace optischema::web {

/// A JSON error answer: {"error": {"code": …, "message": …}}.
http_response error_response(unsigned status, ec code,
                             const std::string& message);
/// Maps a failure to its HTTP status (400, 404, 503, …) and renders it.
http_response error_response(const failure& f);
http_response json_response(std::string body, unsigned status = 200);

/// Who may call an operation. `token`: it changes state, so the web server
/// asks for the API token when the engine has one (web/access.hpp), and
/// /api/openapi.json declares the bearer scheme on it.
enum class access : uint8_t { open, token };

/// One operation of the API: the one list. The EDGE dispatches on
/// `operation` (actors/src/edge.cpp has a function per operation), and
/// /api/openapi.json must say the same (operationId, security, response
/// schema), which tests/unit/api_test.cpp checks.
struct route {
  const char* method;
  /// May hold parameters in braces: "/api/suggestions/{id}".
  const char* path;
  /// The OpenAPI operationId, and the name of the EDGE's handler.
  const char* operation;
  access auth;
  /// The 2xx answer's schema under components/schemas.
  const char* schema;
};
/// Every route the EDGE serves.
const std::vector<route>& routes();

/// A request path matched against the routes.
struct route_match {
  /// The route's path template; empty when no route matches.
  std::string path;
  /// The routes of its path, one per method allowed.
  std::vector<const route*> routes;
  /// Values of the template's {parameters}.
  std::map<std::string, std::string> params;
};
route_match match_route(const std::string& path);

/// The body of POST /api/analysis/query.
struct analysis_query {
  std::string sql;
  std::optional<std::string> target;
  /// Also ask the LLM for an explanation and rewrites (checked).
  bool llm = false;
};
/// Checks the body: JSON {"sql": "…", "target": "…"} with one SELECT,
/// INSERT, UPDATE or DELETE ($n parameters allowed).
expected<analysis_query> parse_analysis_query(const std::string& body);

/// Checks the body of apply, rollback, test and dismiss: exactly
/// {"id": "<recommendation id>"}; any other field (SQL, DDL) is refused.
expected<std::string> parse_id_request(const std::string& body);

/// The body of POST /api/alerts/ack and /api/alerts/unsilence: exactly
/// {"id": "<alert or silence id>"}.
expected<std::string> parse_alert_id_request(const std::string& body);

/// The body of POST /api/alerts/silence: which alerts (rule, target,
/// fingerprint: at least one), for how long (hours, up to 30 days), and
/// why.
struct silence_request {
  std::string rule;
  std::string target;
  std::string fingerprint;
  double hours = 0;
  std::string comment;
};
expected<silence_request> parse_silence_request(const std::string& body);

/// Body of POST /api/targets: {"name": "...", "dsn": "..."}, nothing else.
struct target_request {
  std::string name;
  std::string dsn;
};
expected<target_request> parse_target_request(const std::string& body);

/// `limit` and `offset` of a list (/api/suggestions/latest, /api/audit).
struct page_query {
  size_t limit = 100;
  size_t offset = 0;
};
/// Bounds: limit 1 to `max_limit`, offset 0 to `max_offset`.
expected<page_query>
parse_page_query(const std::map<std::string, std::string>& q,
                 size_t default_limit, size_t max_limit,
                 size_t max_offset = 1'000'000);

/// {"<key>": the page of `array_json` (a JSON array), "total", "offset",
/// "limit"}.
expected<std::string> render_page(const std::string& array_json,
                                  std::string_view key, const page_query& p);

/// The OpenAPI 3 document (web/openapi.json, embedded at build time).
const std::string& openapi_document();

/// Query of /api/metrics/hot.
struct hot_query {
  std::optional<std::string> target;
  size_t limit = 20;
  hot_sort sort = hot_sort::total_time;
  metrics_window window = metrics_window::cumulative;
};
expected<hot_query>
parse_hot_query(const std::map<std::string, std::string>& q);

/// Query of /api/metrics/raw.
struct raw_query {
  std::optional<std::string> target;
  size_t limit = 1000;
  size_t offset = 0;
};
expected<raw_query>
parse_raw_query(const std::map<std::string, std::string>& q);

/// Query of /api/metrics/history.
struct history_query {
  std::optional<std::string> target;
  std::string fingerprint; ///< empty: the database-level series
  int64_t from_ms = 0;
  int64_t to_ms = 0;
  /// Raw points when the range fits in raw retention, hourly otherwise,
  /// unless `resolution` says.
  bool hourly = false;
};
expected<history_query>
parse_history_query(const std::map<std::string, std::string>& q, int64_t now_ms,
                    int64_t raw_retention_ms);

/// Answers. Snapshots of several targets are merged where the query names
/// none; each statement then carries its "target".
std::string render_hot(const std::vector<const metrics_snapshot*>& snaps,
                       const hot_query& q);
std::string render_raw(const std::vector<const metrics_snapshot*>& snaps,
                       const raw_query& q);
std::string render_summary(const std::vector<const metrics_snapshot*>& snaps,
                           const std::vector<std::string>& targets);
std::string render_history(const history_query& q, const std::string& target,
                           const std::string& query,
                           const std::vector<history_point>& points,
                           const std::vector<database_point>& db_points);

} // namespace optischema::web
