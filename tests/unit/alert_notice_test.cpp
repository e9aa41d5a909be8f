// What the alert subscriber does with the bytes NATS hands it: an engine's
// alert event reads back as it was written; anything else (another type,
// another target's alerts, wrong types, sizes no engine writes, bytes that
// are not UTF-8) is refused with why; filters keep what a subscriber asked
// for; Slack and Alertmanager get the shapes their APIs take.

#include "optischema/analysis/alert_notice.hpp"
#include "optischema/analysis/json.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <string>

using namespace optischema;

namespace {

alert make(std::string rule, alert_severity sev, bool firing,
           std::string fp = {}) {
  alert a;
  a.rule = std::move(rule);
  a.target = "shop";
  a.fingerprint = std::move(fp);
  a.id = a.rule + ":shop" + (a.fingerprint.empty() ? "" : ":" + a.fingerprint);
  if (!a.fingerprint.empty())
    a.query = "SELECT * FROM t WHERE a < $1 AND b > $2";
  a.severity = sev;
  a.firing = firing;
  a.since_ms = 1'700'000'000'000;
  a.resolved_ms = firing ? 0 : a.since_ms + 60'000;
  a.summary = "mean 40 ms against 2 ms & <usual>";
  a.action = "compare the plans";
  a.evidence = {{"mean_ms_now", 40.0}, {"mean_ms_baseline", 2.0}};
  return a;
}

/// The event as the engine publishes it for `b`.
std::string event_of(const alert_batch& b) {
  return json::object([&](json::writer& w) {
    json::field(w, "type", "alert");
    json::field(w, "target", b.target);
    json::field(w, "ts", b.ts_ms);
    json::key(w, "payload");
    auto p = alert_json(b);
    w.RawValue(p.data(), p.size(), rapidjson::kObjectType);
  });
}

alert_batch sample() {
  alert_batch b;
  b.target = "shop";
  b.ts_ms = 1'700'000'060'000;
  b.alerts = {make("statement_regression", alert_severity::warning, true,
                   "00ab00cd00ef0011"),
              make("target_down", alert_severity::critical, false),
              make("plan_change", alert_severity::info, true, "77")};
  b.alerts[2].plan_before = "Index Scan using t_a on t\n";
  b.alerts[2].plan_after = "Seq Scan on t  (Filter: (a < $1))\n";
  return b;
}

rapidjson::Document parse(const std::string& x) {
  rapidjson::Document d;
  d.Parse(x.data(), x.size());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

} // namespace

TEST_CASE("an engine's alert event reads back as it was written",
          "[alert_notice]") {
  auto b = sample();
  auto read = read_alert_event(event_of(b));
  REQUIRE(read);
  CHECK(read->target == "shop");
  CHECK(read->ts_ms == b.ts_ms);
  REQUIRE(read->alerts == b.alerts);
}

TEST_CASE("events that are not an engine's alerts are refused with why",
          "[alert_notice]") {
  auto good = event_of(sample());
  auto refused = [](const std::string& x) {
    auto r = read_alert_event(x);
    return r ? std::string{} : r.error().message;
  };
  REQUIRE(refused(good).empty());
  auto swap = [&](const std::string& from, const std::string& to) {
    auto x = good;
    auto at = x.find(from);
    REQUIRE(at != std::string::npos);
    return x.replace(at, from.size(), to);
  };
  CHECK(refused("").find("alert event not taken") != std::string::npos);
  CHECK_FALSE(refused("[1,2]").empty());
  CHECK_FALSE(refused(R"({"type":"metrics","target":"shop"})").empty());
  CHECK_FALSE(
    refused(swap(R"("type":"alert")", R"("type":"metrics")")).empty());
  // An alert of another target inside shop's event.
  CHECK(refused(swap(R"("target":"shop","fingerprint")",
                     R"("target":"bank","fingerprint")"))
          .find("another target")
        != std::string::npos);
  // The payload of another target.
  CHECK_FALSE(
    refused(swap(R"("payload":{"target":"shop")", R"("payload":{"target":"x")"))
      .empty());
  CHECK(refused(swap(R"("severity":"warning")", R"("severity":"urgent")"))
          .find("severity")
        != std::string::npos);
  CHECK_FALSE(
    refused(swap(R"("state":"firing")", R"("state":"gone")")).empty());
  CHECK_FALSE(refused(swap(R"("since":)", R"("since":-)")).empty());
  CHECK_FALSE(
    refused(swap(R"("mean_ms_now":40.0)", R"("mean_ms_now":"40")")).empty());
  CHECK_FALSE(refused(swap(R"("alerts":[)", R"("alerts":{"x":[)")).empty());
  // A summary no engine writes, and bytes that are not UTF-8.
  CHECK_FALSE(
    refused(swap("compare the plans", std::string(70'000, 'x'))).empty());
  CHECK(refused(swap("compare the plans", "compare \xff\xfe")).find("UTF-8")
        != std::string::npos);
  // Truncated anywhere: never taken, never a crash.
  for (size_t n = 0; n < good.size(); n += 7)
    CHECK_FALSE(refused(good.substr(0, n)).empty());
}

TEST_CASE("filters keep the targets rules and severities asked for",
          "[alert_notice]") {
  alert_filter f;
  CHECK(filtered(sample(), f).alerts.size() == 3);
  f.min_severity = alert_severity::critical;
  auto kept = filtered(sample(), f);
  REQUIRE(kept.alerts.size() == 1);
  CHECK(kept.alerts[0].rule == "target_down");
  f = {};
  f.rules = {"statement_regression", "calls_jump"};
  kept = filtered(sample(), f);
  REQUIRE(kept.alerts.size() == 1);
  CHECK(kept.alerts[0].rule == "statement_regression");
  f = {};
  f.targets = {"bank"};
  CHECK(filtered(sample(), f).alerts.empty());
  f.targets = {"bank", "shop"};
  CHECK(filtered(sample(), f).alerts.size() == 3);
}

TEST_CASE("text lines say the state severity target rule and id",
          "[alert_notice]") {
  auto text = alert_text(sample());
  CHECK(text.find("FIRING warning shop statement_regression: ")
        != std::string::npos);
  CHECK(text.find("(statement_regression:shop:00ab00cd00ef0011)\n")
        != std::string::npos);
  CHECK(text.find("RESOLVED critical shop target_down") != std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 3);
}

TEST_CASE("slack gets one message per batch with escaped sections and a "
          "link",
          "[alert_notice]") {
  auto d = parse(slack_payload(sample(), "https://optischema.example/"));
  CHECK(std::string{d["text"].GetString()}
        == "shop: 2 alert(s) firing, 1 resolved");
  auto& blocks = d["blocks"];
  REQUIRE(blocks.Size() == 4);
  CHECK(std::string{blocks[0]["type"].GetString()} == "header");
  CHECK(std::string{blocks[0]["text"]["type"].GetString()} == "plain_text");
  std::string first = blocks[1]["text"]["text"].GetString();
  CHECK(std::string{blocks[1]["text"]["type"].GetString()} == "mrkdwn");
  CHECK(first.find("*FIRING* `warning` statement_regression")
        != std::string::npos);
  // Slack's markup characters arrive escaped, the link is Slack's own.
  CHECK(first.find("2 ms &amp; &lt;usual&gt;") != std::string::npos);
  CHECK(first.find("<https://optischema.example/alerts?target=shop|Open in "
                   "OptiSchema>")
        != std::string::npos);
  // A plan change shows both plans.
  CHECK(std::string{blocks[3]["text"]["text"].GetString()}.find(
          "```before:\nIndex Scan using t_a on t\nnow:\nSeq Scan on t  "
          "(Filter: (a &lt; $1))\n```")
        != std::string::npos);

  // 1,000 statements at once: still one message within Slack's 50 blocks,
  // every section under its 3,000 characters.
  alert_batch many;
  many.target = "shop";
  many.ts_ms = 1;
  for (int i = 0; i < 1000; ++i) {
    auto a = make("statement_regression", alert_severity::warning, true,
                  std::to_string(i));
    a.summary = std::string(5000, 'y');
    many.alerts.push_back(a);
  }
  auto m = parse(slack_payload(many, ""));
  REQUIRE(m["blocks"].Size() <= 50);
  for (auto& b : m["blocks"].GetArray())
    if (b.HasMember("text"))
      CHECK(b["text"]["text"].GetStringLength() <= 3000);
  auto& last = m["blocks"][m["blocks"].Size() - 1];
  CHECK(std::string{last["type"].GetString()} == "context");
  CHECK(std::string{last["elements"][0]["text"].GetString()}.find("952 more")
        != std::string::npos);

  // A target name is anyone's bytes: it cannot end the link or add to it.
  alert_batch odd;
  odd.target = "a|b>c&x=1";
  odd.ts_ms = 1;
  auto a = make("target_down", alert_severity::critical, true);
  a.target = odd.target;
  odd.alerts = {a};
  auto o = parse(slack_payload(odd, "https://dash"));
  CHECK(std::string{o["blocks"][1]["text"]["text"].GetString()}.find(
          "<https://dash/alerts?target=a%7Cb%3Ec%26x%3D1|Open in OptiSchema>")
        != std::string::npos);
}

TEST_CASE("alertmanager gets labelled alerts that end when resolved",
          "[alert_notice]") {
  auto d = parse(alertmanager_payload(sample(), "http://dash:8080"));
  REQUIRE(d.IsArray());
  REQUIRE(d.Size() == 3);
  CHECK(std::string{d[2]["annotations"]["plan_after"].GetString()}
        == "Seq Scan on t  (Filter: (a < $1))\n");
  auto& firing = d[0];
  CHECK(std::string{firing["labels"]["alertname"].GetString()}
        == "optischema_statement_regression");
  CHECK(std::string{firing["labels"]["target"].GetString()} == "shop");
  CHECK(std::string{firing["labels"]["severity"].GetString()} == "warning");
  CHECK(std::string{firing["labels"]["fingerprint"].GetString()}
        == "00ab00cd00ef0011");
  CHECK(std::string{firing["annotations"]["query"].GetString()}
        == "SELECT * FROM t WHERE a < $1 AND b > $2");
  CHECK(std::string{firing["startsAt"].GetString()}
        == "2023-11-14T22:13:20.000Z");
  // A firing alert outlasts Alertmanager's resolve timeout: its end lies a
  // week after the batch, the resolved event ends it.
  CHECK(std::string{firing["endsAt"].GetString()}
        == "2023-11-21T22:14:20.000Z");
  CHECK(std::string{firing["generatorURL"].GetString()}
        == "http://dash:8080/alerts?target=shop");
  auto& resolved = d[1];
  CHECK_FALSE(resolved["labels"].HasMember("fingerprint"));
  CHECK(std::string{resolved["labels"]["alertname"].GetString()}
        == "optischema_target_down");
  CHECK(std::string{resolved["endsAt"].GetString()}
        == "2023-11-14T22:14:20.000Z");
}
