#include "optischema/analysis/alert_notice.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/util/json_parse.hpp"
#include "optischema/util/strings.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

namespace optischema {

namespace {

using value = rapidjson::Value;

// Sizes no engine writes: beyond them an event is not one of ours.
constexpr size_t max_alerts = 20'000;
constexpr size_t max_short = 512;      // ids, names, rules
constexpr size_t max_text = 64 * 1024; // summaries, actions, query texts
constexpr size_t max_evidence = 32;

/// How long Alertmanager holds a firing alert that was not resolved.
constexpr int64_t firing_for_ms = 7 * 24 * 3600 * 1000LL;

const value* member(const value& v, const char* k) {
  if (!v.IsObject())
    return nullptr;
  auto i = v.FindMember(k);
  return i == v.MemberEnd() ? nullptr : &i->value;
}

bool text(const value& v, const char* k, std::string& out, size_t max,
          bool required = true) {
  auto* m = member(v, k);
  if (m == nullptr)
    return !required;
  if (!m->IsString() || m->GetStringLength() > max)
    return false;
  out.assign(m->GetString(), m->GetStringLength());
  return true;
}

bool stamp(const value& v, const char* k, int64_t& out, bool required = true) {
  auto* m = member(v, k);
  if (m == nullptr)
    return !required;
  if (!m->IsInt64() || m->GetInt64() < 0)
    return false;
  out = m->GetInt64();
  return true;
}

expected<alert> read_alert(const value& v, const std::string& target) {
  auto bad = [](const std::string& why) {
    return failure{ec::bad_request, "alert not taken: " + why};
  };
  if (!v.IsObject())
    return bad("not an object");
  alert a;
  std::string severity, state;
  if (!text(v, "id", a.id, max_short) || a.id.empty()
      || !text(v, "rule", a.rule, max_short) || a.rule.empty()
      || !text(v, "target", a.target, max_short)
      || !text(v, "fingerprint", a.fingerprint, max_short, false)
      || !text(v, "query", a.query, max_text, false)
      || !text(v, "severity", severity, max_short)
      || !text(v, "state", state, max_short)
      || !text(v, "summary", a.summary, max_text)
      || !text(v, "action", a.action, max_text)
      || !text(v, "plan_before", a.plan_before, max_text, false)
      || !text(v, "plan_after", a.plan_after, max_text, false)
      || !stamp(v, "since", a.since_ms)
      || !stamp(v, "resolved", a.resolved_ms, false)
      || !stamp(v, "acknowledged", a.acknowledged_ms, false)
      || !text(v, "acknowledged_by", a.acknowledged_by, max_short, false))
    return bad("a field missing or of the wrong type or size");
  if (a.target != target)
    return bad("an alert of another target");
  auto sev = parse_alert_severity(severity);
  if (!sev)
    return bad("severity is not info, warning or critical");
  a.severity = *sev;
  if (state != "firing" && state != "resolved")
    return bad("state is not firing or resolved");
  a.firing = state == "firing";
  // As to_json() writes them: an end only once resolved, a name only with
  // the time it was acknowledged.
  if (a.firing)
    a.resolved_ms = 0;
  if (a.acknowledged_ms == 0)
    a.acknowledged_by.clear();
  if (auto* ev = member(v, "evidence"); ev != nullptr) {
    if (!ev->IsObject() || ev->MemberCount() > max_evidence)
      return bad("evidence is not an object of figures");
    for (auto& m : ev->GetObject()) {
      if (!m.value.IsNumber() || m.name.GetStringLength() > max_short)
        return bad("evidence is not an object of figures");
      a.evidence.emplace_back(std::string{m.name.GetString(),
                                          m.name.GetStringLength()},
                              m.value.GetDouble());
    }
  }
  return a;
}

const char* state_of(const alert& a) {
  return a.firing ? "FIRING" : "RESOLVED";
}

std::string link(const std::string& dashboard_url, const alert& a) {
  if (dashboard_url.empty())
    return {};
  auto base = dashboard_url;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  // The target is percent-encoded: a name is anyone's bytes on NATS, and a
  // `&`, `|` or `>` in it would add a parameter or end Slack's <url|text>.
  std::string target;
  for (unsigned char c : a.target) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      target += static_cast<char>(c);
    else
      target += fmt::format("%{:02X}", c);
  }
  return fmt::format("{}/alerts?target={}", base, target);
}

/// Slack's mrkdwn treats &, < and > as markup: escaped as it asks.
std::string slack_escape(std::string_view x) {
  std::string out;
  for (auto c : x) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else
      out += c;
  }
  return out;
}

/// Slack refuses a section text over 3,000 characters.
std::string clip(std::string x, size_t max) {
  if (x.size() <= max)
    return x;
  x.resize(max);
  // Not inside a UTF-8 sequence.
  while (!x.empty() && (static_cast<unsigned char>(x.back()) & 0xC0) == 0x80)
    x.pop_back();
  if (!x.empty() && static_cast<unsigned char>(x.back()) >= 0xC0)
    x.pop_back();
  return x + "…";
}

/// Parses bytes from outside (UTF-8, one JSON value) into `d`: why not,
/// or nothing.
std::optional<std::string>
parse_outside(rapidjson::Document& d, std::string_view json, const char* what) {
  if (!valid_utf8(json))
    return "not UTF-8";
  if (auto parsed = json::parse(d, json, what); !parsed)
    return parsed.error().message;
  return std::nullopt;
}

/// A list of alerts no longer than an engine writes.
bool alert_list(const value* xs) {
  return xs != nullptr && xs->IsArray() && xs->Size() <= max_alerts;
}

/// Reads the alerts of `target` in `xs` (an alert_list) into `out`; fails
/// on the first that does not read.
expected<ok> read_alerts(const value& xs, const std::string& target,
                         std::vector<alert>& out) {
  for (auto& x : xs.GetArray()) {
    auto a = read_alert(x, target);
    if (!a)
      return a.error();
    out.push_back(std::move(*a));
  }
  return ok{};
}

} // namespace

expected<alert_batch> read_alert_event(std::string_view json) {
  auto bad = [](const std::string& why) {
    return failure{ec::bad_request, "alert event not taken: " + why};
  };
  rapidjson::Document d;
  if (auto why = parse_outside(d, json, "the alert event"))
    return bad(*why);
  std::string type;
  alert_batch b;
  if (!d.IsObject() || !text(d, "type", type, max_short) || type != "alert"
      || !text(d, "target", b.target, max_short) || b.target.empty())
    return bad("not an alert event of a target");
  auto* p = member(d, "payload");
  std::string target;
  if (p == nullptr || !p->IsObject() || !text(*p, "target", target, max_short)
      || target != b.target || !stamp(*p, "ts", b.ts_ms))
    return bad("its payload is not its target's alerts");
  auto* xs = member(*p, "alerts");
  if (!alert_list(xs))
    return bad("its payload has no list of alerts");
  if (auto r = read_alerts(*xs, b.target, b.alerts); !r)
    return r.error();
  return b;
}

std::string stored_alerts_json(const stored_alerts& x) {
  return json::object([&](json::writer& w) {
    json::field(w, "target", x.target);
    json::key(w, "firing");
    w.StartArray();
    for (auto& a : x.firing) {
      auto j = to_json(a);
      w.RawValue(j.data(), j.size(), rapidjson::kObjectType);
    }
    w.EndArray();
    for (auto [k, ids] :
         {std::pair{"grouped", &x.grouped}, {"held_back", &x.held_back}}) {
      json::key(w, k);
      w.StartArray();
      for (auto& id : *ids)
        json::str(w, id);
      w.EndArray();
    }
  });
}

expected<stored_alerts> read_stored_alerts(std::string_view json) {
  auto bad = [](const std::string& why) {
    return failure{ec::bad_request, "stored alerts not taken: " + why};
  };
  rapidjson::Document d;
  if (auto why = parse_outside(d, json, "the stored alerts"))
    return bad(*why);
  stored_alerts x;
  if (!d.IsObject() || !text(d, "target", x.target, max_short)
      || x.target.empty())
    return bad("not the alerts of a target");
  auto* xs = member(d, "firing");
  if (!alert_list(xs))
    return bad("no list of firing alerts");
  if (auto r = read_alerts(*xs, x.target, x.firing); !r)
    return r.error();
  for (auto [k, ids] :
       {std::pair{"grouped", &x.grouped}, {"held_back", &x.held_back}}) {
    auto* m = member(d, k);
    if (m == nullptr)
      continue;
    if (!m->IsArray() || m->Size() > max_alerts)
      return bad(std::string{k} + " is not a list of ids");
    for (auto& id : m->GetArray()) {
      if (!id.IsString() || id.GetStringLength() > max_short)
        return bad(std::string{k} + " is not a list of ids");
      ids->emplace_back(id.GetString(), id.GetStringLength());
    }
  }
  return x;
}

bool alert_filter::passes(const alert& a) const {
  auto in = [](const std::vector<std::string>& xs, const std::string& x) {
    return xs.empty() || std::find(xs.begin(), xs.end(), x) != xs.end();
  };
  return in(targets, a.target) && in(rules, a.rule)
    && static_cast<int>(a.severity) >= static_cast<int>(min_severity);
}

alert_batch filtered(alert_batch batch, const alert_filter& f) {
  std::erase_if(batch.alerts, [&](const alert& a) { return !f.passes(a); });
  return batch;
}

std::string alert_text(const alert_batch& batch) {
  std::string out;
  for (auto& a : batch.alerts)
    out += fmt::format("{} {} {} {} {}: {} ({})\n", iso8601(batch.ts_ms),
                       state_of(a), to_string(a.severity), a.target, a.rule,
                       a.summary, a.id);
  return out;
}

std::string alert_json(const alert_batch& batch) {
  return json::object([&](json::writer& w) {
    json::field(w, "target", batch.target);
    json::field(w, "ts", batch.ts_ms);
    json::key(w, "alerts");
    w.StartArray();
    for (auto& a : batch.alerts) {
      auto j = to_json(a);
      w.RawValue(j.data(), j.size(), rapidjson::kObjectType);
    }
    w.EndArray();
  });
}

std::string slack_payload(const alert_batch& batch,
                          const std::string& dashboard_url) {
  auto firing = std::count_if(batch.alerts.begin(), batch.alerts.end(),
                              [](const alert& a) { return a.firing; });
  auto headline
    = fmt::format("{}: {} alert(s) firing, {} resolved", batch.target, firing,
                  static_cast<int64_t>(batch.alerts.size()) - firing);
  return json::object([&](json::writer& w) {
    // The notification's own text (and what clients without blocks show).
    json::field(w, "text", headline);
    json::key(w, "blocks");
    w.StartArray();
    w.StartObject();
    json::field(w, "type", "header");
    json::key(w, "text");
    w.StartObject();
    json::field(w, "type", "plain_text");
    json::field(w, "text", clip(headline, 150));
    w.EndObject();
    w.EndObject();
    // Slack takes at most 50 blocks in a message.
    size_t shown = 0;
    for (auto& a : batch.alerts) {
      if (++shown > 48)
        break;
      auto body = fmt::format("*{}* `{}` {}\n{}\n_{}_", state_of(a),
                              to_string(a.severity), slack_escape(a.rule),
                              slack_escape(a.summary), slack_escape(a.action));
      if (!a.plan_after.empty())
        body += fmt::format("\n```before:\n{}now:\n{}```",
                            slack_escape(clip(a.plan_before, 1000)),
                            slack_escape(clip(a.plan_after, 1000)));
      if (auto l = link(dashboard_url, a); !l.empty())
        body += fmt::format("\n<{}|Open in OptiSchema>", l);
      w.StartObject();
      json::field(w, "type", "section");
      json::key(w, "text");
      w.StartObject();
      json::field(w, "type", "mrkdwn");
      json::field(w, "text", clip(body, 2900));
      w.EndObject();
      w.EndObject();
    }
    if (batch.alerts.size() > 48) {
      w.StartObject();
      json::field(w, "type", "context");
      json::key(w, "elements");
      w.StartArray();
      w.StartObject();
      json::field(w, "type", "mrkdwn");
      json::field(w, "text",
                  fmt::format("and {} more: GET /api/alerts",
                              batch.alerts.size() - 48));
      w.EndObject();
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
  });
}

std::string alertmanager_payload(const alert_batch& batch,
                                 const std::string& dashboard_url) {
  rapidjson::StringBuffer buf;
  json::writer w{buf};
  w.StartArray();
  for (auto& a : batch.alerts) {
    w.StartObject();
    json::key(w, "labels");
    w.StartObject();
    json::field(w, "alertname", "optischema_" + a.rule);
    json::field(w, "target", a.target);
    json::field(w, "rule", a.rule);
    json::field(w, "severity", to_string(a.severity));
    if (!a.fingerprint.empty())
      json::field(w, "fingerprint", a.fingerprint);
    json::field(w, "alert_id", a.id);
    w.EndObject();
    json::key(w, "annotations");
    w.StartObject();
    json::field(w, "summary", a.summary);
    json::field(w, "action", a.action);
    if (!a.query.empty())
      json::field(w, "query", a.query);
    if (!a.plan_after.empty()) {
      json::field(w, "plan_before", a.plan_before);
      json::field(w, "plan_after", a.plan_after);
    }
    w.EndObject();
    json::field(w, "startsAt", iso8601(a.since_ms));
    // A resolved alert ends when it resolved; Alertmanager then resolves
    // it. Alertmanager also resolves an alert without endsAt by itself
    // after its resolve_timeout (5 min) unless the alert is sent again, as
    // Prometheus does every minute; the engines send each change once, so
    // a firing alert says it lasts until its resolved event ends it (a
    // week at most, should that event never come).
    json::field(w, "endsAt",
                iso8601(a.firing ? batch.ts_ms + firing_for_ms
                                 : a.resolved_ms));
    if (auto l = link(dashboard_url, a); !l.empty())
      json::field(w, "generatorURL", l);
    w.EndObject();
  }
  w.EndArray();
  return json::text(buf);
}

} // namespace optischema
