#include "optischema/web/prometheus.hpp"

#include "optischema/util/json_parse.hpp"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace optischema::web {

namespace {

using labels = std::vector<std::pair<std::string, std::string>>;

/// Families in the order first written, each with its samples; the text
/// format wants one HELP/TYPE header per family and its samples together.
class exposition {
public:
  void add(const std::string& name, const char* type, const char* help,
           const labels& ls, double value, const char* suffix = "") {
    auto [i, fresh] = index_.try_emplace(name, families_.size());
    if (fresh)
      families_.push_back({name, type, help, {}});
    auto& f = families_[i->second];
    f.samples += name;
    f.samples += suffix;
    if (!ls.empty()) {
      f.samples += '{';
      for (size_t k = 0; k < ls.size(); ++k) {
        if (k > 0)
          f.samples += ',';
        f.samples += ls[k].first;
        f.samples += "=\"";
        append_escaped(f.samples, ls[k].second);
        f.samples += '"';
      }
      f.samples += '}';
    }
    f.samples += ' ';
    f.samples += number(value);
    f.samples += '\n';
  }

  std::string text() const {
    std::string out;
    for (auto& f : families_)
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{}", f.name, f.help,
                         f.name, f.type, f.samples);
    return out;
  }

  static std::string number(double v) {
    if (std::isnan(v))
      return "NaN";
    if (std::isinf(v))
      return v > 0 ? "+Inf" : "-Inf";
    if (v == std::floor(v) && std::fabs(v) < 1e15)
      return fmt::format("{}", static_cast<int64_t>(v));
    return fmt::format("{}", v);
  }

private:
  /// Label values escape \, " and newlines (the only escapes the format has).
  static void append_escaped(std::string& out, std::string_view v) {
    for (char c : v) {
      if (c == '\\')
        out += "\\\\";
      else if (c == '"')
        out += "\\\"";
      else if (c == '\n')
        out += "\\n";
      else
        out += c;
    }
  }

  struct family {
    std::string name;
    const char* type;
    const char* help;
    std::string samples;
  };
  std::vector<family> families_;
  std::map<std::string, size_t> index_;
};

using value = rapidjson::Value;

const value* member(const value& v, const char* key) {
  if (!v.IsObject())
    return nullptr;
  auto i = v.FindMember(key);
  return i != v.MemberEnd() ? &i->value : nullptr;
}

std::optional<double> num(const value& v, const char* key) {
  auto* m = member(v, key);
  if (m == nullptr || !m->IsNumber())
    return std::nullopt;
  return m->GetDouble();
}

std::string str(const value& v, const char* key) {
  auto* m = member(v, key);
  return m != nullptr && m->IsString()
    ? std::string{m->GetString(), m->GetStringLength()}
    : std::string{};
}

/// 1 when a component works (with or without warnings), else 0.
double up(const value& v) {
  auto s = str(v, "state");
  return s == "ok" || s == "degraded" ? 1 : 0;
}

/// Writes `key` of `v` as family `name` when the document has it.
void put(exposition& out, const value& v, const char* key,
         const std::string& name, const char* type, const char* help,
         const labels& ls = {}) {
  if (auto x = num(v, key))
    out.add(name, type, help, ls, *x);
}

/// A figure of a status object exported as it is: its key there, and the
/// metric's name, type and help.
struct figure {
  const char* key;
  const char* name;
  const char* type;
  const char* help;
};

constexpr figure target_figures[] = {
  {"polls", "optischema_polls_total", "counter",
   "Polls of pg_stat_statements started"},
  {"failures", "optischema_poll_failures_total", "counter",
   "Polls that failed (target down, refused, timed out)"},
  {"statements", "optischema_statements_tracked", "gauge",
   "Statements (fingerprints) in the last poll"},
  {"resets_detected", "optischema_pgss_resets_total", "counter",
   "Resets of pg_stat_statements seen"},
  {"evicted_total", "optischema_pgss_evicted_total", "counter",
   "pg_stat_statements entries evicted between polls"},
  {"last_success", "optischema_last_success_timestamp_ms", "gauge",
   "When the last successful poll ended (Unix ms)"},
};

constexpr figure fleet_figures[] = {
  {"beats", "optischema_fleet_heartbeats_total", "counter",
   "Heartbeats written to the fleet's bucket"},
  {"failures", "optischema_fleet_heartbeat_failures_total", "counter",
   "Heartbeats that failed (NATS or JetStream away)"},
  {"ownership_changes", "optischema_fleet_ownership_changes_total", "counter",
   "Targets that moved between engines"},
};

constexpr figure nats_figures[] = {
  {"published", "optischema_events_published_total", "counter",
   "Events handed to NATS"},
  {"acknowledged", "optischema_events_acknowledged_total", "counter",
   "Events JetStream confirmed it stored"},
  {"unacknowledged", "optischema_events_unacknowledged", "gauge",
   "Events sent to JetStream, confirmation pending"},
  {"store_retries", "optischema_events_store_retries_total", "counter",
   "Events sent again after JetStream refused or did not confirm them"},
  {"unstored", "optischema_events_unstored_total", "counter",
   "Events JetStream refused on every attempt"},
  {"dropped", "optischema_events_dropped_total", "counter",
   "Events dropped (buffer full while NATS was away, or never stored)"},
  {"buffered", "optischema_events_buffered", "gauge",
   "Events waiting for NATS"},
  {"disconnects", "optischema_nats_disconnects_total", "counter",
   "Connections to NATS lost"},
};

constexpr figure alert_figures[] = {
  {"fired", "optischema_alerts_fired_total", "counter",
   "Alerts that fired (GET /api/alerts lists them)"},
  {"resolved", "optischema_alerts_resolved_total", "counter",
   "Alerts that resolved"},
};

constexpr figure web_figures[] = {
  {"requests", "optischema_http_requests_total", "counter",
   "HTTP requests answered"},
  {"connections", "optischema_http_connections", "gauge",
   "Open HTTP and WebSocket connections"},
  {"connections_refused", "optischema_http_connections_refused_total",
   "counter", "Connections refused at the connection limit"},
  {"ws_clients", "optischema_websocket_clients", "gauge",
   "WebSocket clients connected"},
  {"ws_frames_sent", "optischema_websocket_frames_sent_total", "counter",
   "WebSocket frames sent"},
  {"ws_frames_dropped", "optischema_websocket_frames_dropped_total", "counter",
   "WebSocket frames dropped for slow clients"},
};

constexpr figure llm_figures[] = {
  {"calls", "optischema_llm_calls_total", "counter",
   "Calls to the LLM endpoint"},
  {"failures", "optischema_llm_failures_total", "counter",
   "LLM calls that failed or timed out"},
  {"invalid_answers", "optischema_llm_invalid_answers_total", "counter",
   "LLM answers refused by validation"},
  {"cache_hits", "optischema_llm_cache_hits_total", "counter",
   "LLM questions answered from the cache"},
  {"cache_misses", "optischema_llm_cache_misses_total", "counter",
   "LLM questions the cache did not have"},
  {"budget_refusals", "optischema_llm_budget_refusals_total", "counter",
   "LLM questions refused by the daily budget"},
};

constexpr figure llm_budget_figures[] = {
  {"tokens", "optischema_llm_tokens_today", "gauge",
   "LLM tokens spent today (UTC)"},
  {"tokens_limit", "optischema_llm_tokens_limit", "gauge",
   "The daily LLM token budget (0: none)"},
  {"usd", "optischema_llm_usd_today", "gauge", "LLM spend today in USD (UTC)"},
};

constexpr figure sandbox_figures[] = {
  {"tests", "optischema_sandbox_tests_total", "counter",
   "Recommendations tested on a sandbox copy"},
  {"failures", "optischema_sandbox_failures_total", "counter",
   "Sandbox preparations or tests that failed"},
};

/// Writes each figure `v` has.
template <size_t N>
void put_all(exposition& out, const value& v, const figure (&fs)[N],
             const labels& ls = {}) {
  for (auto& f : fs)
    put(out, v, f.key, f.name, f.type, f.help, ls);
}

void histogram(exposition& out, const value& h, const std::string& name,
               const char* help, const labels& ls) {
  auto* le = member(h, "le");
  auto* counts = member(h, "counts");
  auto sum = num(h, "sum");
  auto count = num(h, "count");
  if (le == nullptr || counts == nullptr || !le->IsArray() || !counts->IsArray()
      || le->Size() != counts->Size() || !sum || !count)
    return;
  for (rapidjson::SizeType i = 0; i < le->Size(); ++i) {
    if (!(*le)[i].IsNumber() || !(*counts)[i].IsNumber())
      return;
    auto bl = ls;
    bl.emplace_back("le", exposition::number((*le)[i].GetDouble()));
    out.add(name, "histogram", help, bl, (*counts)[i].GetDouble(), "_bucket");
  }
  auto bl = ls;
  bl.emplace_back("le", "+Inf");
  out.add(name, "histogram", help, bl, *count, "_bucket");
  out.add(name, "histogram", help, ls, *sum, "_sum");
  out.add(name, "histogram", help, ls, *count, "_count");
}

void targets(exposition& out, const value& doc) {
  auto* ts = member(doc, "targets");
  if (ts == nullptr || !ts->IsArray())
    return;
  for (auto& t : ts->GetArray()) {
    labels ls{{"target", str(t, "name")}};
    out.add("optischema_target_up", "gauge",
            "1 while the target's last poll succeeded", ls, up(t));
    put_all(out, t, target_figures, ls);
    if (auto* sb = member(t, "standby"); sb != nullptr && sb->IsBool())
      out.add("optischema_target_owned", "gauge",
              "In a fleet: 1 while this engine polls the target", ls,
              sb->GetBool() ? 0 : 1);
    if (auto* h = member(t, "poll_seconds"))
      histogram(out, *h, "optischema_poll_duration_seconds",
                "Time one poll took, failures included", ls);
  }
}

/// Per-target components listed in the targets' order (apply, sandbox).
void per_target(exposition& out, const value& doc, const value& list,
                const auto& write) {
  auto* ts = member(doc, "targets");
  if (ts == nullptr || !ts->IsArray() || !list.IsArray())
    return;
  for (rapidjson::SizeType i = 0; i < list.Size() && i < ts->Size(); ++i)
    write(list[i], labels{{"target", str((*ts)[i], "name")}});
}

} // namespace

std::string prometheus_text(std::string_view status_json) {
  exposition out;
  rapidjson::Document d;
  if (!json::parse(d, status_json) || !d.IsObject()) {
    out.add("optischema_up", "gauge", "1 when the engine answered its status",
            {}, 0);
    return out.text();
  }
  out.add("optischema_up", "gauge", "1 when the engine answered its status", {},
          1);
  out.add("optischema_info", "gauge", "The engine's version, always 1",
          {{"version", str(d, "version")}}, 1);
  out.add("optischema_degraded", "gauge",
          "1 while any component reports a problem (GET /api/status says "
          "which)",
          {}, str(d, "state") == "ok" ? 0 : 1);
  if (auto ms = num(d, "uptime_ms"))
    out.add("optischema_uptime_seconds", "gauge",
            "Seconds since the engine started", {}, *ms / 1000);
  targets(out, d);
  if (auto* fl = member(d, "fleet"); fl != nullptr && member(*fl, "members")) {
    auto* m = member(*fl, "members");
    out.add("optischema_fleet_members", "gauge",
            "Live engines in this engine's fleet", {},
            m->IsArray() ? m->Size() : 0);
    put_all(out, *fl, fleet_figures);
  }
  if (auto* n = member(d, "nats")) {
    out.add("optischema_nats_connected", "gauge",
            "1 while connected to NATS (0 also when NATS is off)", {},
            str(*n, "connection") == "connected" ? 1 : 0);
    put_all(out, *n, nats_figures);
  }
  if (auto* w = member(d, "web"))
    put_all(out, *w, web_figures);
  if (auto* a = member(d, "alerts")) {
    put_all(out, *a, alert_figures);
    // Firing now, by rule and severity: for teams whose alerting is
    // Prometheus rules.
    if (auto* by = member(*a, "firing_by"); by != nullptr && by->IsArray())
      for (auto& x : by->GetArray())
        if (x.IsObject() && x.HasMember("count") && x["count"].IsNumber())
          out.add("optischema_alerts_firing", "gauge",
                  "Alerts firing now, by rule and severity",
                  {{"rule", str(x, "rule")}, {"severity", str(x, "severity")}},
                  x["count"].GetDouble());
  }
  if (auto* l = member(d, "llm")) {
    put_all(out, *l, llm_figures);
    if (auto* b = member(*l, "budget"))
      put_all(out, *b, llm_budget_figures);
  }
  if (auto* s = member(d, "sandbox"))
    per_target(out, d, *s, [&](const value& v, const labels& ls) {
      put_all(out, v, sandbox_figures, ls);
    });
  if (auto* a = member(d, "apply"))
    if (auto* ts = member(*a, "targets"))
      per_target(out, d, *ts, [&](const value& v, const labels& ls) {
        for (auto outcome : {"applied", "rolled_back", "unchanged", "failed"}) {
          auto l = ls;
          l.emplace_back("outcome", outcome);
          put(out, v, outcome, "optischema_applies_total", "counter",
              "Applies and rollbacks by outcome", l);
        }
      });
  return out.text();
}

} // namespace optischema::web
