// What the alert subscriber (`optischema alerts`) reads from NATS: anyone
// who can publish on optischema.<target>.alert writes these bytes
// (read_alert_event, analysis/src/alert_notice.cpp), and what it takes is
// rendered for stdout, a webhook, Slack and Alertmanager.
//
// Input: the message.

#include "fuzz.hpp"

#include "optischema/analysis/alert_notice.hpp"
#include "optischema/util/json_parse.hpp"
#include "optischema/util/strings.hpp"

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

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto batch = read_alert_event(fuzz::text(data, size));
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
