#include "optischema/web/api.hpp"
#include "optischema/util/json_parse.hpp"

#include "optischema/analysis/fingerprint.hpp"
#include "optischema/analysis/json.hpp"
#include "optischema/util/duration.hpp"
#include "optischema/util/strings.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <charconv>

namespace optischema::web {

// -- answers
// ---------------------------------------------------------------------

http_response json_response(std::string body, unsigned status) {
  http_response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

http_response error_response(unsigned status, ec code,
                             const std::string& message) {
  return json_response(fmt::format(R"({{"error":{{"code":{},"message":{}}}}})",
                                   json::quote(to_string(code)),
                                   json::quote(message)),
                       status);
}

http_response error_response(const failure& f) {
  unsigned status = 500;
  switch (f.code) {
    case ec::bad_request:
    case ec::parse_error: status = 400; break;
    // The engine's configuration, not the request, is what needs a fix.
    case ec::invalid_configuration: status = 503; break;
    case ec::unauthorized: status = 401; break;
    case ec::permission_denied:
    case ec::disabled: status = 403; break;
    case ec::not_found: status = 404; break;
    case ec::conflict: status = 409; break;
    // A limit reached (a rate, a budget, requests in flight): later.
    case ec::budget_exhausted: status = 429; break;
    case ec::timeout:
    case ec::db_unreachable:
    case ec::broker_error:
    case ec::missing_extension: status = 503; break;
    default: status = 500;
  }
  return error_response(status, f.code, f.message);
}

// -- routes
// ------------------------------------------------------------------------

const std::vector<route>& routes() {
  using enum access;
  static const std::vector<route> xs = {
    {"GET", "/health", "health", open, "Health"},
    {"GET", "/health/live", "health_live", open, "Health"},
    {"GET", "/health/ready", "health_ready", open, "Readiness"},
    {"GET", "/metrics", "metrics_prometheus", open, "PrometheusText"},
    {"GET", "/api/status", "get_status", open, "Status"},
    {"GET", "/api/targets", "list_targets", open, "Targets"},
    {"POST", "/api/targets", "add_target", token, "Targets"},
    {"DELETE", "/api/targets/{name}", "remove_target", token, "Targets"},
    {"GET", "/api/metrics/raw", "metrics_raw", open, "StatementPage"},
    {"GET", "/api/metrics/summary", "metrics_summary", open, "Summaries"},
    {"GET", "/api/metrics/hot", "metrics_hot", open, "HotStatements"},
    {"GET", "/api/metrics/history", "metrics_history", open, "History"},
    {"POST", "/api/collect", "collect", token, "Collected"},
    {"GET", "/api/suggestions/latest", "list_suggestions", open,
     "RecommendationPage"},
    {"GET", "/api/suggestions/{id}", "get_suggestion", open, "Recommendation"},
    {"POST", "/api/suggestions/apply", "apply_suggestion", token,
     "Recommendation"},
    {"POST", "/api/suggestions/rollback", "rollback_suggestion", token,
     "Recommendation"},
    {"POST", "/api/suggestions/test", "test_suggestion", token,
     "Recommendation"},
    {"POST", "/api/suggestions/dismiss", "dismiss_suggestion", token,
     "Recommendation"},
    {"POST", "/api/sandbox/prepare", "prepare_sandbox", token, "SandboxCopy"},
    {"GET", "/api/audit", "get_audit", open, "AuditPage"},
    {"GET", "/api/alerts", "list_alerts", open, "Alerts"},
    {"POST", "/api/alerts/ack", "ack_alert", token, "Alert"},
    {"POST", "/api/alerts/silence", "silence_alerts", token, "Silence"},
    {"POST", "/api/alerts/unsilence", "unsilence_alerts", token, "Silence"},
    {"POST", "/api/analysis/query", "analyze_query", token, "AdviceReport"},
    {"POST", "/api/analysis/run", "run_analysis", token, "AnalysisSummary"},
    {"GET", "/api/analysis/status", "analysis_status", open, "AdvisorStatuses"},
    {"GET", "/api/analysis/plan", "analysis_plan", open, "PlanAnswer"},
    {"GET", "/api/openapi.json", "openapi", open, "OpenApiDocument"},
  };
  return xs;
}

// -- parameters
// ------------------------------------------------------------------

namespace {

failure bad(std::string msg) {
  return {ec::bad_request, std::move(msg)};
}

std::optional<int64_t> to_int(const std::string& x) {
  int64_t v = 0;
  auto [end, err] = std::from_chars(x.data(), x.data() + x.size(), v);
  if (err != std::errc{} || end != x.data() + x.size())
    return std::nullopt;
  return v;
}

const std::string* find(const std::map<std::string, std::string>& q,
                        const char* key) {
  auto i = q.find(key);
  return i != q.end() ? &i->second : nullptr;
}

expected<std::optional<std::string>>
parse_target(const std::map<std::string, std::string>& q) {
  auto* t = find(q, "target");
  if (t == nullptr || t->empty())
    return std::optional<std::string>{};
  if (t->size() > 64 || !std::all_of(t->begin(), t->end(), [](unsigned char c) {
        return std::isalnum(c) || c == '_' || c == '-';
      }))
    return bad(fmt::format("target must be a target name (letters, digits, _ "
                           "and -), got '{}'; GET /api/targets lists them",
                           *t));
  return std::optional<std::string>{*t};
}

expected<size_t> parse_count(const std::map<std::string, std::string>& q,
                             const char* key, size_t fallback, size_t lo,
                             size_t hi) {
  auto* v = find(q, key);
  if (v == nullptr)
    return fallback;
  auto n = to_int(*v);
  if (!n || *n < static_cast<int64_t>(lo) || *n > static_cast<int64_t>(hi))
    return bad(fmt::format("{} must be an integer from {} to {}, got '{}'", key,
                           lo, hi, *v));
  return static_cast<size_t>(*n);
}

} // namespace

expected<hot_query>
parse_hot_query(const std::map<std::string, std::string>& q) {
  hot_query r;
  auto target = parse_target(q);
  if (!target)
    return target.error();
  r.target = *target;
  auto limit = parse_count(q, "limit", 20, 1, 1000);
  if (!limit)
    return limit.error();
  r.limit = *limit;
  if (auto* s = find(q, "sort")) {
    auto sort = parse_hot_sort(*s);
    if (!sort)
      return bad(fmt::format("sort must be total_time, mean_time, calls or "
                             "rows, got '{}'",
                             *s));
    r.sort = *sort;
  }
  if (auto* w = find(q, "window")) {
    auto window = parse_window(*w);
    if (!window)
      return bad(fmt::format("window must be cumulative (since the last "
                             "pg_stat_statements reset) or interval (the last "
                             "poll), got '{}'",
                             *w));
    r.window = *window;
  }
  return r;
}

expected<page_query>
parse_page_query(const std::map<std::string, std::string>& q,
                 size_t default_limit, size_t max_limit, size_t max_offset) {
  page_query p;
  auto limit = parse_count(q, "limit", default_limit, 1, max_limit);
  if (!limit)
    return limit.error();
  p.limit = *limit;
  auto offset = parse_count(q, "offset", 0, 0, max_offset);
  if (!offset)
    return offset.error();
  p.offset = *offset;
  return p;
}

expected<raw_query>
parse_raw_query(const std::map<std::string, std::string>& q) {
  raw_query r;
  auto target = parse_target(q);
  if (!target)
    return target.error();
  r.target = *target;
  auto page = parse_page_query(q, 1000, 10'000, 10'000'000);
  if (!page)
    return page.error();
  r.limit = page->limit;
  r.offset = page->offset;
  return r;
}

expected<history_query>
parse_history_query(const std::map<std::string, std::string>& q, int64_t now_ms,
                    int64_t raw_retention_ms) {
  history_query r;
  auto target = parse_target(q);
  if (!target)
    return target.error();
  r.target = *target;
  if (auto* fp = find(q, "fingerprint")) {
    if (fp->empty() || fp->size() > 32
        || !std::all_of(fp->begin(), fp->end(),
                        [](unsigned char c) { return std::isxdigit(c); }))
      return bad(fmt::format("fingerprint must be the hex fingerprint of a "
                             "statement (see /api/metrics/hot), got '{}'",
                             *fp));
    r.fingerprint = *fp;
  }
  constexpr int64_t max_range = 90LL * 86'400'000;
  r.to_ms = now_ms;
  if (auto* to = find(q, "to")) {
    auto v = to_int(*to);
    if (!v || *v <= 0)
      return bad(fmt::format("to must be epoch milliseconds, got '{}'", *to));
    r.to_ms = *v;
  }
  if (auto* from = find(q, "from")) {
    auto v = to_int(*from);
    if (!v || *v < 0 || *v >= r.to_ms)
      return bad(fmt::format("from must be epoch milliseconds before to, got "
                             "'{}'",
                             *from));
    r.from_ms = *v;
  } else {
    auto* range = find(q, "range");
    auto len = parse_duration(range != nullptr ? *range : "1h");
    if (!len || len->count() <= 0 || len->count() > max_range)
      return bad(fmt::format("range must be a duration up to 90d such as 15m, "
                             "1h, 24h or 7d, got '{}'",
                             range != nullptr ? *range : ""));
    r.from_ms = r.to_ms - len->count();
  }
  auto* res = find(q, "resolution");
  if (res == nullptr || *res == "auto")
    r.hourly = r.from_ms < now_ms - raw_retention_ms;
  else if (*res == "raw" || *res == "hourly")
    r.hourly = *res == "hourly";
  else
    return bad(
      fmt::format("resolution must be raw, hourly or auto, got '{}'", *res));
  return r;
}

// -- routes with parameters, analysis requests -------------------------------

namespace {

std::vector<std::string> segments(const std::string& path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= path.size()) {
    auto next = path.find('/', pos);
    if (next == std::string::npos)
      next = path.size();
    out.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

} // namespace

route_match match_route(const std::string& path) {
  auto want = segments(path);
  route_match best;
  // Literal routes win over templates ("/latest" over "/{id}").
  bool best_literal = false;
  for (auto& r : routes()) {
    auto have = segments(r.path);
    if (have.size() != want.size())
      continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    bool literal = true;
    for (size_t i = 0; i < have.size() && ok; ++i) {
      auto& h = have[i];
      if (h.size() > 2 && h.front() == '{' && h.back() == '}') {
        literal = false;
        ok = !want[i].empty();
        params[h.substr(1, h.size() - 2)] = want[i];
      } else {
        ok = h == want[i];
      }
    }
    if (!ok)
      continue;
    if (best.path == r.path) {
      best.routes.push_back(&r);
      continue;
    }
    if (!best.path.empty() && (best_literal || !literal))
      continue;
    best = route_match{r.path, {&r}, params};
    best_literal = literal;
  }
  return best;
}

expected<analysis_query> parse_analysis_query(const std::string& body) {
  rapidjson::Document d;
  if (!json::parse(d, body, "the body") || !d.IsObject())
    return bad(
      R"(the body must be a JSON object: {"sql": "SELECT …", "target": "name"})");
  if (!d.HasMember("sql") || !d["sql"].IsString())
    return bad(R"("sql" is required and must be a string)");
  analysis_query q;
  q.sql = d["sql"].GetString();
  if (q.sql.empty() || q.sql.size() > 100'000)
    return bad(
      R"("sql" must hold one statement of at most 100,000 characters)");
  if (d.HasMember("target")) {
    if (!d["target"].IsString())
      return bad(R"("target" must be a string naming a target)");
    std::map<std::string, std::string> named{
      {"target", d["target"].GetString()}};
    auto t = parse_target(named);
    if (!t)
      return t.error();
    q.target = *t;
  }
  if (d.HasMember("llm")) {
    if (!d["llm"].IsBool())
      return bad(R"("llm" must be true or false)");
    q.llm = d["llm"].GetBool();
  }
  auto type = single_statement_type(q.sql);
  if (!type)
    return failure{ec::bad_request, type.error().message};
  if (*type != "SelectStmt" && *type != "InsertStmt" && *type != "UpdateStmt"
      && *type != "DeleteStmt")
    return bad(
      fmt::format("only SELECT, INSERT, UPDATE and DELETE are analysed; "
                  "this is a {}",
                  *type));
  return q;
}

namespace {

/// Exactly {"id": "<id>"}: letters, digits and _ - : . (at most `max`).
/// `what` names the id and `where` says where the ids are listed; `only`
/// is why nothing else is accepted.
expected<std::string> id_body(const std::string& body, size_t max,
                              std::string_view what, std::string_view where,
                              std::string_view only) {
  rapidjson::Document d;
  if (!json::parse(d, body, "the body") || !d.IsObject())
    return bad(
      fmt::format(R"(the body must be a JSON object: {{"id": "<{}>"}})", what));
  for (auto& m : d.GetObject()) {
    std::string k = m.name.GetString();
    if (k != "id")
      return bad(
        fmt::format(R"(unknown field "{}": only {{"id": …}} is accepted{})",
                    k.substr(0, 40), only));
  }
  if (!d.HasMember("id") || !d["id"].IsString())
    return bad(R"("id" is required and must be a string)");
  std::string id = d["id"].GetString();
  if (id.empty() || id.size() > max
      || !std::all_of(id.begin(), id.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '_' || c == '-' || c == ':'
             || c == '.';
         }))
    return bad(fmt::format("\"id\" must be {} (letters, digits, _ - : .); {}",
                           what, where));
  return id;
}

} // namespace

expected<std::string> parse_id_request(const std::string& body) {
  return id_body(body, 128, "a recommendation id",
                 "GET /api/suggestions/latest lists them",
                 "; the engine runs only the DDL it generated for that "
                 "recommendation");
}

namespace {

/// Letters, digits and `extra`, 1 to `max` of them.
bool word(const std::string& x, size_t max, std::string_view extra) {
  return !x.empty() && x.size() <= max
    && std::all_of(x.begin(), x.end(), [&](unsigned char c) {
         return std::isalnum(c)
           || extra.find(static_cast<char>(c)) != std::string_view::npos;
       });
}

} // namespace

expected<std::string> parse_alert_id_request(const std::string& body) {
  return id_body(body, 256, "an alert's or a silence's id",
                 "GET /api/alerts lists them, and the silences", "");
}

expected<silence_request> parse_silence_request(const std::string& body) {
  constexpr auto usage
    = R"(the body must be {"rule": "…", "target": "…", "fingerprint": "…", )"
      R"("hours": 1–720, "comment": "…"}, with rule, target or fingerprint )"
      R"(set (each narrows which alerts it silences))";
  rapidjson::Document d;
  if (!json::parse(d, body, "the body") || !d.IsObject())
    return bad(usage);
  silence_request out;
  for (auto& m : d.GetObject()) {
    std::string k = m.name.GetString();
    auto text = [&](std::string& into, size_t max, std::string_view extra) {
      if (!m.value.IsString())
        return false;
      into = m.value.GetString();
      return extra.empty() ? into.size() <= max && valid_utf8(into)
                           : word(into, max, extra);
    };
    auto ok = k == "rule"  ? text(out.rule, 64, "_")
      : k == "target"      ? text(out.target, 64, "_-")
      : k == "fingerprint" ? text(out.fingerprint, 64, "_-")
      : k == "comment"     ? text(out.comment, 500, "")
      : k == "hours" && m.value.IsNumber()
      ? (out.hours = m.value.GetDouble(), out.hours > 0 && out.hours <= 720)
      : false;
    if (!ok)
      return bad(fmt::format("field \"{}\" is unknown or malformed: {}",
                             k.substr(0, 40), usage));
  }
  if ((out.rule.empty() && out.target.empty() && out.fingerprint.empty())
      || out.hours <= 0)
    return bad(usage);
  return out;
}

expected<target_request> parse_target_request(const std::string& body) {
  constexpr auto usage
    = R"(the body must be {"name": "<letters, digits, _ ->", "dsn": "postgresql://user@host:5432/db"} (no password: .pgpass or PGSERVICE))";
  rapidjson::Document d;
  if (!json::parse(d, body, "the body") || !d.IsObject())
    return bad(usage);
  target_request out;
  for (auto& m : d.GetObject()) {
    std::string k = m.name.GetString();
    if ((k != "name" && k != "dsn") || !m.value.IsString()
        || m.value.GetStringLength() > 4096)
      return bad(fmt::format("unknown or malformed field \"{}\": {}",
                             k.substr(0, 40), usage));
    (k == "name" ? out.name : out.dsn) = m.value.GetString();
  }
  if (out.name.empty() || out.dsn.empty())
    return bad(usage);
  return out;
}

// -- rendering
// --------------------------------------------------------------------

namespace {

std::string done(rapidjson::StringBuffer& buf) {
  return {buf.GetString(), buf.GetSize()};
}

} // namespace

expected<std::string> render_page(const std::string& array_json,
                                  std::string_view key, const page_query& p) {
  rapidjson::Document d;
  if (auto parsed = json::parse(d, array_json, "the list"); !parsed)
    return parsed.error();
  if (!d.IsArray())
    return failure{ec::internal, "the list is not a JSON array"};
  rapidjson::StringBuffer buf;
  json::writer w{buf};
  w.StartObject();
  json::key(w, std::string{key});
  w.StartArray();
  auto total = static_cast<size_t>(d.Size());
  for (auto i = p.offset; i < total && i < p.offset + p.limit; ++i)
    d[static_cast<rapidjson::SizeType>(i)].Accept(w);
  w.EndArray();
  json::field(w, "total", total);
  json::field(w, "offset", p.offset);
  json::field(w, "limit", p.limit);
  w.EndObject();
  return done(buf);
}

std::string render_hot(const std::vector<const metrics_snapshot*>& snaps,
                       const hot_query& q) {
  struct entry {
    const metrics_snapshot* snap;
    const statement_metrics* st;
    double workload_ms;
  };
  std::vector<entry> xs;
  for (auto* snap : snaps) {
    auto total = summarize(*snap);
    auto ms = q.window == metrics_window::interval ? total.interval.exec_time_ms
                                                   : total.total.exec_time_ms;
    for (auto* st : rank_hot(*snap, q.sort, q.window, q.limit))
      xs.push_back({snap, st, ms});
  }
  std::stable_sort(xs.begin(), xs.end(), [&](const entry& x, const entry& y) {
    return sort_key(*x.st, q.sort, q.window)
      > sort_key(*y.st, q.sort, q.window);
  });
  if (xs.size() > q.limit)
    xs.resize(q.limit);
  rapidjson::StringBuffer buf;
  json::writer w{buf};
  w.StartObject();
  json::key(w, "sort");
  w.String(to_string(q.sort));
  json::key(w, "window");
  w.String(to_string(q.window));
  json::field(w, "limit", q.limit);
  json::key(w, "polled");
  w.StartObject();
  for (auto* snap : snaps) {
    json::key(w, snap->target);
    w.Int64(snap->ts_ms);
  }
  w.EndObject();
  json::key(w, "statements");
  w.StartArray();
  for (auto& e : xs) {
    // Render the statement, then splice in its target as the first field.
    rapidjson::StringBuffer one;
    json::writer ow{one};
    json::write(ow, *e.st, q.window, e.workload_ms);
    std::string text{one.GetString(), one.GetSize()};
    text.insert(1, fmt::format(R"("target":{},)", json::quote(e.snap->target)));
    w.RawValue(text.data(), text.size(), rapidjson::kObjectType);
  }
  w.EndArray();
  w.EndObject();
  return done(buf);
}

std::string render_raw(const std::vector<const metrics_snapshot*>& snaps,
                       const raw_query& q) {
  rapidjson::StringBuffer buf;
  json::writer w{buf};
  size_t total = 0;
  for (auto* snap : snaps)
    total += snap->statements.size();
  w.StartObject();
  json::field(w, "total", total);
  json::field(w, "offset", q.offset);
  json::field(w, "limit", q.limit);
  json::key(w, "statements");
  w.StartArray();
  size_t index = 0;
  size_t written = 0;
  for (auto* snap : snaps) {
    auto workload = summarize(*snap).total.exec_time_ms;
    for (auto& st : snap->statements) {
      if (index++ < q.offset)
        continue;
      if (written == q.limit)
        break;
      ++written;
      rapidjson::StringBuffer one;
      json::writer ow{one};
      json::write(ow, st, metrics_window::cumulative, workload);
      std::string text{one.GetString(), one.GetSize()};
      text.insert(1, fmt::format(R"("target":{},)", json::quote(snap->target)));
      w.RawValue(text.data(), text.size(), rapidjson::kObjectType);
    }
  }
  w.EndArray();
  w.EndObject();
  return done(buf);
}

std::string render_summary(const std::vector<const metrics_snapshot*>& snaps,
                           const std::vector<std::string>& targets) {
  rapidjson::StringBuffer buf;
  json::writer w{buf};
  w.StartObject();
  json::key(w, "targets");
  w.StartArray();
  for (auto& name : targets) {
    auto i = std::find_if(snaps.begin(), snaps.end(),
                          [&](auto* s) { return s->target == name; });
    w.StartObject();
    json::field(w, "target", name);
    if (i == snaps.end()) {
      json::field(w, "polled", nullptr);
      json::key(w, "message");
      w.String("no poll has completed yet; see /api/status for why");
      w.EndObject();
      continue;
    }
    auto& snap = **i;
    json::field(w, "polled", snap.ts_ms);
    json::field(w, "interval_ms", snap.interval_ms);
    json::field(w, "baseline", snap.baseline);
    json::field(w, "reset_detected", snap.reset_detected);
    json::field(w, "evicted", snap.evicted);
    json::field(w, "hidden_rows", snap.hidden_rows);
    json::key(w, "summary");
    json::write(w, summarize(snap));
    json::key(w, "database");
    json::write(w, snap.db);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return done(buf);
}

std::string render_history(const history_query& q, const std::string& target,
                           const std::string& query,
                           const std::vector<history_point>& points,
                           const std::vector<database_point>& db_points) {
  rapidjson::StringBuffer buf;
  json::writer w{buf};
  w.StartObject();
  json::field(w, "target", target);
  json::key(w, "fingerprint");
  if (q.fingerprint.empty())
    w.Null();
  else
    json::str(w, q.fingerprint);
  json::key(w, "query");
  if (query.empty())
    w.Null();
  else
    json::str(w, query);
  json::field(w, "from", q.from_ms);
  json::field(w, "to", q.to_ms);
  json::key(w, "resolution");
  w.String(q.hourly ? "hourly" : "raw");
  json::key(w, "points");
  w.StartArray();
  if (q.fingerprint.empty())
    for (auto& p : db_points)
      json::write(w, p);
  else
    for (auto& p : points)
      json::write(w, p);
  w.EndArray();
  w.EndObject();
  return done(buf);
}

} // namespace optischema::web
