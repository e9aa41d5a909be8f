// What the alert subscriber (`optischema alerts`) reads from NATS: anyone
// who can publish on optischema.<target>.alert writes these bytes
// (read_alert_event, analysis/src/alert_notice.cpp), and what it takes is
// rendered for stdout, a webhook, Slack and Alertmanager. The same reader
// takes back what the ALERTER stored of its firing alerts (read_stored_alerts),
// which alert_rules then restores and judges on.
//
// Input: the message (or the stored text).

#include "fuzz.hpp"

#include "optischema/analysis/alert_notice.hpp"
#include "optischema/util/json_parse.hpp"
#include "optischema/util/strings.hpp"

#include <algorithm>
#include <cmath>

using namespace optischema;

namespace {

/// `x` is UTF-8 and one JSON value of `type`.
void require_json(const std::string& x, rapidjson::Type type,
                  const char* what) {
  fuzz::require(valid_utf8(x), what);
  rapidjson::Document d;
  fuzz::require(static_cast<bool>(json::parse(d, x)) && d.GetType() == type,
                what);
}

/// `a` and `b` are the same alert; figures to JSON's parsing precision
/// (RapidJSON's default is within a few units of the last place).
bool same(alert a, alert b) {
  if (a.evidence.size() != b.evidence.size())
    return false;
  for (size_t i = 0; i < a.evidence.size(); ++i) {
    auto x = a.evidence[i].second, y = b.evidence[i].second;
    if (a.evidence[i].first != b.evidence[i].first
        || std::abs(x - y) > 1e-12 * std::max(std::abs(x), std::abs(y)))
      return false;
  }
  a.evidence.clear();
  b.evidence.clear();
  return a == b;
}

/// Stored alerts that read back are written back the same, and the rules
/// restore them and judge a poll after.
void stored(const std::string& x) {
  auto kept = read_stored_alerts(x);
  if (!kept)
    return;
  auto again = read_stored_alerts(stored_alerts_json(*kept));
  fuzz::require(again && again->firing.size() == kept->firing.size()
                  && std::equal(kept->firing.begin(), kept->firing.end(),
                                again->firing.begin(), same)
                  && again->grouped == kept->grouped
                  && again->held_back == kept->held_back,
                "stored alerts read back as they were written");
  alert_rules rules{kept->target, {}};
  rules.restore(kept->firing, kept->grouped);
  for (auto& [id, a] : rules.firing())
    fuzz::require(a.firing && a.target == kept->target && id == a.id,
                  "only firing alerts of the target are restored");
  metrics_snapshot snap;
  snap.target = kept->target;
  snap.ts_ms = 1'000'000;
  snap.interval_ms = 30'000;
  for (auto& a : kept->firing) {
    auto& s = snap.statements.emplace_back();
    s.fingerprint = a.fingerprint;
    s.query = a.query;
    s.interval.calls = 100;
    s.interval.exec_time_ms = 50;
  }
  rules.observe(snap);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto input = fuzz::text(data, size);
  stored(std::string{input});
  auto batch = read_alert_event(input);
  if (!batch)
    return 0;
  for (auto& a : batch->alerts)
    fuzz::require(!a.id.empty() && !a.rule.empty() && a.target == batch->target,
                  "a taken alert has an id, a rule and its event's target");
  auto text = alert_text(*batch);
  fuzz::require(valid_utf8(text), "text lines are UTF-8");
  require_json(alert_json(*batch), rapidjson::kObjectType,
               "a webhook body is a JSON object");
  require_json(slack_payload(*batch, "https://dash.example"),
               rapidjson::kObjectType, "a Slack message is a JSON object");
  require_json(alertmanager_payload(*batch, ""), rapidjson::kArrayType,
               "Alertmanager's body is a JSON array");
  return 0;
}
