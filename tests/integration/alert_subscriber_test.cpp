// `optischema alerts`, the subscriber, against a real engine, PostgreSQL
// and NATS JetStream: what fires while it is stopped comes when it is back,
// once; a webhook that fails is retried until it takes the alert; Slack and
// Alertmanager receivers (local, over real HTTP) get their payloads, and the
// resolved alert after the firing one. Each test has its own cluster and
// NATS server, so its stream holds its own alerts only.

#include "alerts_api.hpp"
#include "engine_process.hpp"
#include "fake_openai.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace optischema::test;
using namespace std::chrono_literals;

namespace {

/// How many alerts with `id` in `state` the subscriber printed as JSON
/// lines (--format json) so far.
int printed(const engine_process& sub, const std::string& id,
            const std::string& state) {
  std::istringstream lines{sub.log()};
  int n = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(R"({"target":)", 0) != 0)
      continue;
    auto doc = parse_json(line);
    for (auto& a : doc["alerts"].GetArray())
      if (a["id"].GetString() == id && a["state"].GetString() == state)
        ++n;
  }
  return n;
}

bool following(const engine_process& sub) {
  return sub.log().find("alerts: following stream") != std::string::npos;
}

bool has(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

/// An engine polling `db` every second and publishing to the cluster's
/// NATS.
std::unique_ptr<engine_process> engine_of(harness& pg, const std::string& db,
                                          const temp_dir& data) {
  return std::make_unique<engine_process>(std::vector<std::string>{
    "serve", "--dsn", pg.dsn(db), "--listen", "127.0.0.1:0", "--data-dir",
    data.str(), "--poll-interval", "1s", "--analysis-interval", "1h", "--nats",
    pg.nats_url()});
}

/// A local receiver that answers 2xx to every POST, whatever its path.
struct receiver {
  fake_openai server;
  receiver() {
    server.accept_every_path();
    server.set_handler([](auto&) { return fake_openai::reply{200, "{}"}; });
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server.port()) + path;
  }
};

} // namespace

TEST_CASE("the alert subscriber stopped while alerts fire receives each of "
          "them once when it is back",
          "[alerts][subscriber]") {
  auto pg = harness::start_private();
  auto db = pg->create_database("oncall");
  temp_dir data;
  auto e = engine_of(*pg, db, data);
  auto url = e->wait_ready();
  // A batch taken but not acknowledged comes again after 2 s: the checks
  // below wait longer than that.
  const std::vector<std::string> args{"alerts",    "--nats",     pg->nats_url(),
                                      "--durable", "oncall",     "--format",
                                      "json",      "--ack-wait", "2s"};
  {
    // The first start makes the durable consumer; from then on the server
    // keeps what it has not acknowledged.
    engine_process sub{args};
    REQUIRE(eventually([&] { return following(sub); }, 20s));
    CHECK(sub.stop() == 0);
  }
  auto down = "target_down:" + db;
  pg->pg_stop();
  REQUIRE(eventually([&] { return has(alert_ids(url, "firing"), down); }, 20s));
  pg->pg_start();
  REQUIRE(
    eventually([&] { return has(alert_ids(url, "resolved"), down); }, 30s));

  {
    engine_process sub{args};
    REQUIRE(eventually(
      [&] {
        return printed(sub, down, "firing") >= 1
          && printed(sub, down, "resolved") >= 1;
      },
      20s));
    // Past the ack wait: nothing comes twice.
    std::this_thread::sleep_for(3s);
    CHECK(printed(sub, down, "firing") == 1);
    CHECK(printed(sub, down, "resolved") == 1);
    CHECK(sub.stop() == 0);
  }
  // Acknowledged means done: the next start has nothing of it.
  engine_process sub{args};
  REQUIRE(eventually([&] { return following(sub); }, 20s));
  std::this_thread::sleep_for(3s);
  INFO(sub.log());
  CHECK(sub.log().find(down) == std::string::npos);
  // Another consumer name is another subscriber: with --replay it gets
  // every alert the stream holds, from the start.
  engine_process other{{"alerts", "--nats", pg->nats_url(), "--durable",
                        "audit", "--replay", "--format", "json"}};
  REQUIRE(
    eventually([&] { return printed(other, down, "resolved") == 1; }, 20s));
  CHECK(printed(other, down, "firing") == 1);
}

TEST_CASE("a webhook answering 500 gets retries then the alert and slack "
          "and alertmanager receive theirs",
          "[alerts][subscriber]") {
  auto pg = harness::start_private();
  auto db = pg->create_database("sinks");
  temp_dir data;
  auto e = engine_of(*pg, db, data);
  auto url = e->wait_ready();
  receiver hook, slack, am;
  hook.server.push({500, "boom"});
  hook.server.push({503, "busy"});
  engine_process sub{{"alerts",
                      "--nats",
                      pg->nats_url(),
                      "--durable",
                      "sinks",
                      "--rule",
                      "target_down",
                      "--format",
                      "none",
                      "--webhook",
                      hook.url("/hooks/dba"),
                      "--slack",
                      slack.url("/services/T0/B0/secret"),
                      "--alertmanager",
                      am.url(""),
                      "--dashboard-url",
                      "http://dash:8080",
                      "--retry-wait",
                      "200ms",
                      "--attempts",
                      "5"}};
  REQUIRE(eventually([&] { return following(sub); }, 20s));
  auto down = "target_down:" + db;
  pg->pg_stop();
  REQUIRE(eventually(
    [&] {
      return hook.server.calls() == 3 && slack.server.calls() == 1
        && am.server.calls() == 1;
    },
    30s));
  {
    auto reqs = hook.server.requests();
    // The same body each time, retried after a pause that doubles.
    CHECK(reqs[0].body == reqs[2].body);
    CHECK(reqs[1].body == reqs[2].body);
    CHECK(reqs[1].received - reqs[0].received >= 200ms);
    CHECK(reqs[2].received - reqs[1].received >= 400ms);
    CHECK(reqs[2].path == "/hooks/dba");
    CHECK(reqs[2].headers["content-type"].find("application/json") == 0);
    auto doc = parse_json(reqs[2].body);
    CHECK(std::string{doc["target"].GetString()} == db);
    REQUIRE(doc["alerts"].Size() == 1);
    CHECK(std::string{doc["alerts"][0]["id"].GetString()} == down);
    CHECK(std::string{doc["alerts"][0]["state"].GetString()} == "firing");
    CHECK(std::string{doc["alerts"][0]["severity"].GetString()} == "critical");
  }
  {
    auto req = slack.server.requests().at(0);
    CHECK(req.path == "/services/T0/B0/secret");
    auto doc = parse_json(req.body);
    CHECK(std::string{doc["text"].GetString()}
          == db + ": 1 alert(s) firing, 0 resolved");
    std::string section = doc["blocks"][1]["text"]["text"].GetString();
    CHECK(section.find("*FIRING* `critical` target_down") == 0);
    CHECK(section.find("<http://dash:8080/alerts?target=" + db
                       + "|Open in OptiSchema>")
          != std::string::npos);
  }
  {
    auto req = am.server.requests().at(0);
    CHECK(req.path == "/api/v2/alerts");
    auto doc = parse_json(req.body);
    REQUIRE(doc.Size() == 1);
    CHECK(std::string{doc[0]["labels"]["alertname"].GetString()}
          == "optischema_target_down");
    CHECK(std::string{doc[0]["labels"]["target"].GetString()} == db);
    CHECK(doc[0].HasMember("startsAt"));
  }
  // The Slack URL is a secret: the log names the host only.
  CHECK(sub.log().find("secret") == std::string::npos);
  CHECK(sub.log().find("refused the alerts of " + db
                       + " (HTTP 500), try 1 "
                         "of 5")
        != std::string::npos);

  pg->pg_start();
  REQUIRE(eventually(
    [&] {
      return hook.server.calls() == 4 && slack.server.calls() == 2
        && am.server.calls() == 2;
    },
    30s));
  auto resolved = parse_json(hook.server.requests()[3].body);
  CHECK(std::string{resolved["alerts"][0]["state"].GetString()} == "resolved");
  auto ended = parse_json(am.server.requests()[1].body);
  CHECK(std::string{ended[0]["labels"]["alert_id"].GetString()} == down);
  CHECK(std::string{ended[0]["endsAt"].GetString()} < std::string{
          parse_json(am.server.requests()[0].body)[0]["endsAt"].GetString()});
  auto note = parse_json(slack.server.requests()[1].body);
  CHECK(std::string{note["text"].GetString()}
        == db + ": 0 alert(s) firing, 1 resolved");
  CHECK(has(alert_ids(url, "resolved"), down));
}
