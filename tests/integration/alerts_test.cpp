// Alerts against a real PostgreSQL and NATS: an index dropped under a running
// workload fires the regression and plan-change alerts within two polls and
// they resolve when the index is back; a target that stops fires "down" and
// resolves when it returns. Read from the API and from NATS
// (optischema.<target>.alert), as a subscriber sees them.

#include "alerts_api.hpp"
#include "engine_process.hpp"
#include "fleet_api.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "nats_process.hpp"
#include "test_util.hpp"

#include "optischema/analysis/fingerprint.hpp"
#include "optischema/store/history_db.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace optischema::test;
using namespace std::chrono_literals;

namespace {

/// Runs one statement over and over on its own connection until stopped.
class workload {
public:
  workload(std::string dsn, std::string sql)
    : thread_{[this, dsn = std::move(dsn), sql = std::move(sql)] {
        pqxx::connection c{dsn};
        pqxx::nontransaction tx{c};
        for (int i = 0; !stop_; ++i) {
          tx.exec(sql + std::to_string(i % 5000));
          std::this_thread::sleep_for(2ms);
        }
      }} {}
  ~workload() {
    stop_ = true;
    thread_.join();
  }

private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

/// A table `items` of `rows` rows whose statements filter on `k` (5,000
/// values), with the index items_k on it or not.
std::string items_sql(int rows, bool index) {
  return "CREATE TABLE items (id int PRIMARY KEY, k int, pad text);"
         "INSERT INTO items SELECT g, g % 5000, repeat('x', 80) "
         "FROM generate_series(1, "
    + std::to_string(rows) + ") g;"
    + (index ? "CREATE INDEX items_k ON items (k);" : "");
}

/// Times the alert `id` was announced on NATS in `state` ("firing",
/// "resolved"), as a subscriber counts them.
int announced(nats_inbox& inbox, const std::string& id, const char* state) {
  int n = 0;
  for (auto& m : inbox.messages()) {
    auto doc = parse_json(m.body);
    for (auto& a : doc["payload"]["alerts"].GetArray())
      if (a["id"].GetString() == id
          && std::string{a["state"].GetString()} == state)
        ++n;
  }
  return n;
}

} // namespace

TEST_CASE("an index dropped under a running workload fires the regression "
          "and plan-change alerts within two polls and resolves them when it "
          "is back",
          "[alerts]") {
  auto& h = harness::shared();
  auto db = h.loaded_database("alerting", items_sql(300000, true));
  temp_dir data;
  engine_process e{{"serve", "--dsn", h.dsn(db), "--listen", "127.0.0.1:0",
                    "--data-dir", data.str(), "--poll-interval", "1s",
                    "--analysis-interval", "1h", "--nats", h.nats_url()}};
  auto url = e.wait_ready();
  nats_inbox inbox{h.nats_url(), "optischema.*.alert"};
  workload w{h.dsn(db), "SELECT count(pad) FROM items WHERE k = "};
  // A baseline: six polls with calls at least, and a margin.
  auto start = polls(url);
  REQUIRE(eventually([&] { return polls(url) >= start + 9; }, 30s));
  CHECK(alert_ids(url, "firing", "statement_regression").empty());

  h.exec(db, "DROP INDEX items_k");
  auto dropped_at = polls(url);
  std::vector<std::string> fired, flipped;
  REQUIRE(eventually(
    [&] {
      fired = alert_ids(url, "firing", "statement_regression");
      flipped = alert_ids(url, "firing", "plan_change");
      return !fired.empty() && !flipped.empty();
    },
    20s, 50ms));
  auto fired_at = polls(url);
  INFO("dropped at poll " << dropped_at << ", fired by poll " << fired_at);
  // The poll in progress when the index went, then two slow ones at most.
  CHECK(fired_at - dropped_at <= 3);
  REQUIRE(fired.size() == 1);
  // The plan changed too: the same statement, both plans kept.
  REQUIRE(flipped.size() == 1);
  CHECK(flipped[0].substr(flipped[0].rfind(':'))
        == fired[0].substr(fired[0].rfind(':')));
  CHECK(fired[0].rfind("statement_regression:" + db + ":", 0) == 0);
  {
    auto doc = parse_json(http_get(url, "/api/alerts").body);
    REQUIRE(doc["firing"].Size() == 2);
    for (auto& a : doc["firing"].GetArray()) {
      std::string rule = a["rule"].GetString();
      CHECK(std::string{a["query"].GetString()}
            == "SELECT count(pad) FROM items WHERE k = $1");
      CHECK(std::string{a["state"].GetString()} == "firing");
      CHECK(std::string{a["action"].GetString()}.find("plan")
            != std::string::npos);
      if (rule == "statement_regression") {
        CHECK(a["evidence"]["mean_ms_now"].GetDouble()
              > 2 * a["evidence"]["mean_ms_baseline"].GetDouble());
      } else {
        REQUIRE(rule == "plan_change");
        std::string before = a["plan_before"].GetString(),
                    after = a["plan_after"].GetString();
        INFO(before << " -> " << after);
        CHECK(before.find("Index Scan using items_k") != std::string::npos);
        CHECK(after.find("Seq Scan on items") != std::string::npos);
        CHECK(a["evidence"]["cost_now"].GetDouble()
              > a["evidence"]["cost_before"].GetDouble());
      }
    }
  }
  // Prometheus sees it too, for teams whose alerting is Prometheus rules.
  auto prom = http_get(url, "/metrics").body;
  auto gauge
    = prom.find(R"(optischema_alerts_firing{rule="statement_regression")");
  REQUIRE(gauge != std::string::npos);
  CHECK(prom.substr(prom.find('}', gauge), 4) == "} 1\n");
  // The same alert went out on NATS, once, in an event of its target.
  REQUIRE(eventually(
    [&] {
      for (auto& m : inbox.messages())
        if (m.body.find(fired[0]) != std::string::npos)
          return true;
      return false;
    },
    5s));

  h.exec(db, "CREATE INDEX items_k ON items (k)");
  REQUIRE(eventually(
    [&] {
      return alert_ids(url, "firing", "statement_regression").empty()
        && alert_ids(url, "resolved", "statement_regression") == fired
        && alert_ids(url, "resolved", "plan_change") == flipped;
    },
    20s, 50ms));
  int firing_events = 0, resolved_events = 0;
  REQUIRE(eventually(
    [&] {
      firing_events = resolved_events = 0;
      for (auto& m : inbox.messages()) {
        auto doc = parse_json(m.body);
        for (auto& a : doc["payload"]["alerts"].GetArray())
          if (a["id"].GetString() == fired[0])
            ++(std::string{a["state"].GetString()} == "firing"
                 ? firing_events
                 : resolved_events);
      }
      return resolved_events == 1;
    },
    5s));
  CHECK(firing_events == 1);
  // Nothing else fired meanwhile: not the one-off CREATE INDEX that took
  // most of its interval, nor the workload's calls coming back.
  auto doc = parse_json(http_get(url, "/api/alerts").body);
  CHECK(doc["firing"].Size() == 0);
}

TEST_CASE("after a restart a statement's stored hours are its baseline: a "
          "regression fires within two polls",
          "[alerts]") {
  auto& h = harness::shared();
  // Its index went while the engine was away.
  auto db = h.loaded_database("alert_restart", items_sql(100000, false));
  const std::string text = "SELECT count(pad) FROM items WHERE k = $1";
  // What the engine kept before it stopped: four hours of the statement
  // at 0.05 ms a call, as it ran with its index.
  temp_dir data;
  {
    constexpr int64_t hour = 3'600'000, step = 600'000;
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
    optischema::store_options o;
    o.dir = data.str();
    auto store = optischema::history_db::open(o);
    REQUIRE(store);
    for (auto ts = (now / hour - 4) * hour + step; ts <= now / hour * hour;
         ts += step) {
      optischema::metrics_snapshot s;
      s.target = db;
      s.ts_ms = ts;
      s.interval_ms = step;
      auto& st = s.statements.emplace_back();
      st.fingerprint = optischema::fingerprint_statement(text).fingerprint;
      st.query = text;
      st.queryids = {1};
      st.total.calls = 100'000;
      st.interval.calls = 600;
      st.interval.exec_time_ms = 30;
      REQUIRE((*store)->put_snapshot(s));
    }
  }
  engine_process e{{"serve", "--dsn", h.dsn(db), "--listen", "127.0.0.1:0",
                    "--data-dir", data.str(), "--poll-interval", "1s",
                    "--analysis-interval", "1h"}};
  auto url = e.wait_ready();
  workload w{h.dsn(db), "SELECT count(pad) FROM items WHERE k = "};
  std::vector<std::string> fired;
  REQUIRE(eventually(
    [&] {
      fired = alert_ids(url, "firing", "statement_regression");
      return !fired.empty();
    },
    20s, 50ms));
  // The first poll only counts; then two slow ones (and one for a poll
  // under way when the workload began). Without its stored hours it would
  // need six polls for a baseline, and that baseline would be slow.
  CHECK(polls(url) <= 5);
  auto doc = parse_json(http_get(url, "/api/alerts").body);
  REQUIRE(doc["firing"].Size() >= 1);
  auto& ev = doc["firing"][0]["evidence"];
  INFO(http_get(url, "/api/alerts").body);
  CHECK(ev["baseline_hours"].GetDouble() >= 3);
  CHECK(ev["mean_ms_baseline"].GetDouble() == Approx(0.05));
  CHECK(ev["mean_ms_now"].GetDouble() > 1);
}

TEST_CASE("a target that stops fires down and resolves when it is back",
          "[alerts]") {
  auto pg = harness::start_private({.nats = false});
  auto db = pg->create_database("downs");
  temp_dir data;
  engine_process e{{"serve", "--dsn", pg->dsn(db), "--listen", "127.0.0.1:0",
                    "--data-dir", data.str(), "--poll-interval", "1s",
                    "--analysis-interval", "1h"}};
  auto url = e.wait_ready();
  REQUIRE(eventually([&] { return polls(url) >= 2; }, 15s));
  CHECK(alert_ids(url, "firing", "target_down").empty());
  pg->pg_stop();
  REQUIRE(eventually(
    [&] { return alert_ids(url, "firing", "target_down").size() == 1; }, 20s));
  auto doc = parse_json(http_get(url, "/api/alerts?target=" + db).body);
  REQUIRE(doc["firing"].Size() == 1);
  CHECK(std::string{doc["firing"][0]["severity"].GetString()} == "critical");
  CHECK(std::string{doc["firing"][0]["id"].GetString()} == "target_down:" + db);
  pg->pg_start();
  REQUIRE(eventually(
    [&] {
      return alert_ids(url, "firing", "target_down").empty()
        && alert_ids(url, "resolved", "target_down").size() == 1;
    },
    30s));
  CHECK(http_get(url, "/api/alerts?target=nope").status == 404);
}

TEST_CASE("a silenced alert is listed but announced only when its silence "
          "ends and an acknowledged one says who is on it",
          "[alerts]") {
  auto pg = harness::start_private();
  auto db = pg->create_database("quiet");
  temp_dir data;
  const std::string token = "alerts-token-0123456789";
  engine_process e{{"serve", "--dsn", pg->dsn(db), "--listen", "127.0.0.1:0",
                    "--data-dir", data.str(), "--poll-interval", "1s",
                    "--analysis-interval", "1h", "--nats", pg->nats_url(),
                    "--api-token", token}};
  auto url = e.wait_ready();
  nats_inbox inbox{pg->nats_url(), "optischema.*.alert"};
  auto post = [&](const std::string& path, const std::string& body) {
    return http_request(url, "POST", path, body,
                        {{"Authorization", "Bearer " + token}});
  };
  auto down = "target_down:" + db;
  // What is not a silence is refused, and without the token nothing is.
  CHECK(post("/api/alerts/silence", R"({"hours": 1})").status == 400);
  CHECK(post("/api/alerts/silence", R"({"rule": "target_down", "hours": 9999})")
          .status
        == 400);
  CHECK(post("/api/alerts/silence",
             R"({"rule": "target_down", "hours": 1, "sql": "DROP TABLE t"})")
          .status
        == 400);
  CHECK(post("/api/alerts/silence", R"({"target": "nope", "hours": 1})").status
        == 404);
  CHECK(http_request(url, "POST", "/api/alerts/silence",
                     R"({"rule": "target_down", "hours": 1})")
          .status
        == 401);
  auto made = post("/api/alerts/silence",
                   R"({"rule": "target_down", "target": ")" + db
                     + R"(", "hours": 1, "comment": "maintenance"})");
  REQUIRE(made.status == 200);
  std::string silence = parse_json(made.body)["id"].GetString();
  {
    auto doc = parse_json(http_get(url, "/api/alerts").body);
    REQUIRE(doc["silences"].Size() == 1);
    CHECK(std::string{doc["silences"][0]["comment"].GetString()}
          == "maintenance");
  }
  REQUIRE(eventually([&] { return polls(url) >= 2; }, 15s));
  pg->pg_stop();
  // Judged and listed, marked with its silence...
  REQUIRE(eventually(
    [&] { return alert_ids(url, "firing", "target_down").size() == 1; }, 20s));
  auto doc = parse_json(http_get(url, "/api/alerts").body);
  CHECK(std::string{doc["firing"][0]["silenced_by"].GetString()} == silence);
  // ...but not announced, however many polls fail.
  std::this_thread::sleep_for(2s);
  CHECK(announced(inbox, down, "firing") == 0);

  auto ack = post("/api/alerts/ack", R"({"id": ")" + down + R"("})");
  REQUIRE(ack.status == 200);
  CHECK(parse_json(ack.body)["acknowledged"].GetInt64() > 0);
  CHECK(
    std::string{parse_json(ack.body)["acknowledged_by"].GetString()}.find("api")
    == 0);
  CHECK(post("/api/alerts/ack", R"({"id": "target_down:nope"})").status == 404);
  CHECK(post("/api/alerts/ack", R"({"id": "x", "sql": "1"})").status == 400);

  // The silence ends: the alert still fires, so it is announced now, once.
  REQUIRE(
    post("/api/alerts/unsilence", R"({"id": ")" + silence + R"("})").status
    == 200);
  CHECK(post("/api/alerts/unsilence", R"({"id": ")" + silence + R"("})").status
        == 404);
  REQUIRE(
    eventually([&] { return announced(inbox, down, "firing") == 1; }, 10s));
  pg->pg_start();
  REQUIRE(
    eventually([&] { return announced(inbox, down, "resolved") == 1; }, 30s));
  CHECK(announced(inbox, down, "firing") == 1);
  auto after = parse_json(http_get(url, "/api/alerts").body);
  CHECK(after["silences"].Size() == 0);
  CHECK(after["firing"].Size() == 0);
}

TEST_CASE("a silence outlives a restart of the engine and so does its end",
          "[alerts]") {
  auto& h = harness::shared();
  auto db = h.create_database("silence_kept");
  temp_dir data;
  const std::string token = "alerts-token-0123456789";
  std::vector<std::string> args{
    "serve",       "--dsn",       h.dsn(db),  "--listen",
    "127.0.0.1:0", "--data-dir",  data.str(), "--analysis-interval",
    "1h",          "--api-token", token};
  auto silences = [](const std::string& url) {
    std::vector<std::string> out;
    auto doc = parse_json(http_get(url, "/api/alerts").body);
    for (auto& s : doc["silences"].GetArray())
      out.push_back(std::string{s["id"].GetString()} + " "
                    + s["comment"].GetString() + " "
                    + std::to_string(s["until"].GetInt64()));
    return out;
  };
  std::vector<std::string> made;
  std::string id;
  {
    engine_process e{args};
    auto url = e.wait_ready();
    auto r = http_request(url, "POST", "/api/alerts/silence",
                          R"({"rule": "target_down", "target": ")" + db
                            + R"(", "hours": 2, "comment": "the migration"})",
                          {{"Authorization", "Bearer " + token}});
    REQUIRE(r.status == 200);
    id = parse_json(r.body)["id"].GetString();
    made = silences(url);
    REQUIRE(made.size() == 1);
    CHECK(e.stop() == 0);
  }
  {
    engine_process e{args};
    auto url = e.wait_ready();
    // The same silence, until the same time.
    CHECK(eventually([&] { return silences(url) == made; }, 5s));
    REQUIRE(http_request(url, "POST", "/api/alerts/unsilence",
                         R"({"id": ")" + id + R"("})",
                         {{"Authorization", "Bearer " + token}})
              .status
            == 200);
    CHECK(e.stop() == 0);
  }
  engine_process e{args};
  auto url = e.wait_ready();
  std::this_thread::sleep_for(500ms);
  CHECK(silences(url).empty());
}

TEST_CASE("firing alerts outlive a restart of the engine: not announced "
          "again, and their end is",
          "[alerts]") {
  auto& h = harness::shared();
  auto db = h.loaded_database("alert_kept", items_sql(300000, true));
  temp_dir data;
  const std::string token = "alerts-token-0123456789";
  std::vector<std::string> args{"serve",       "--dsn",
                                h.dsn(db),     "--listen",
                                "127.0.0.1:0", "--data-dir",
                                data.str(),    "--poll-interval",
                                "1s",          "--analysis-interval",
                                "1h",          "--nats",
                                h.nats_url(),  "--api-token",
                                token};
  nats_inbox inbox{h.nats_url(), "optischema." + db + ".alert"};
  workload w{h.dsn(db), "SELECT count(pad) FROM items WHERE k = "};
  std::string regression, flip;
  // The regression as the API listed it: since, acknowledged, baseline.
  int64_t since = 0, acked = 0;
  double baseline = 0;
  {
    engine_process e{args};
    auto url = e.wait_ready();
    REQUIRE(eventually([&] { return polls(url) >= 9; }, 30s));
    h.exec(db, "DROP INDEX items_k");
    REQUIRE(eventually(
      [&] {
        auto r = alert_ids(url, "firing", "statement_regression");
        auto p = alert_ids(url, "firing", "plan_change");
        if (r.size() != 1 || p.size() != 1)
          return false;
        regression = r[0];
        flip = p[0];
        return true;
      },
      20s, 50ms));
    REQUIRE(http_request(url, "POST", "/api/alerts/ack",
                         R"({"id": ")" + regression + R"("})",
                         {{"Authorization", "Bearer " + token}})
              .status
            == 200);
    REQUIRE(eventually(
      [&] { return announced(inbox, regression, "firing") == 1; }, 5s));
    auto doc = parse_json(http_get(url, "/api/alerts").body);
    for (auto& a : doc["firing"].GetArray())
      if (a["id"].GetString() == regression) {
        since = a["since"].GetInt64();
        acked = a["acknowledged"].GetInt64();
        baseline = a["evidence"]["mean_ms_baseline"].GetDouble();
      }
    CHECK(e.stop() == 0);
  }
  REQUIRE(acked > 0);
  engine_process e{args};
  auto url = e.wait_ready();
  // Still slow past a baseline's six polls: the same alerts fire, since
  // the same time, still acknowledged, and nobody is told twice.
  REQUIRE(eventually([&] { return polls(url) >= 8; }, 30s));
  CHECK(parse_json(http_get(url, "/api/status").body)["alerts"]["restored"]
          .GetInt64()
        == 2);
  CHECK(alert_ids(url, "firing", "statement_regression")
        == std::vector<std::string>{regression});
  CHECK(alert_ids(url, "firing", "plan_change")
        == std::vector<std::string>{flip});
  {
    auto doc = parse_json(http_get(url, "/api/alerts").body);
    for (auto& a : doc["firing"].GetArray())
      if (a["id"].GetString() == regression) {
        CHECK(a["since"].GetInt64() == since);
        CHECK(a["acknowledged"].GetInt64() == acked);
        CHECK(a["evidence"]["mean_ms_baseline"].GetDouble() == baseline);
      }
  }
  CHECK(announced(inbox, regression, "firing") == 1);
  CHECK(announced(inbox, flip, "firing") == 1);
  // The index is back: both end, and that is announced, once each.
  h.exec(db, "CREATE INDEX items_k ON items (k)");
  REQUIRE(eventually(
    [&] {
      return announced(inbox, regression, "resolved") == 1
        && announced(inbox, flip, "resolved") == 1;
    },
    20s, 50ms));
  INFO(http_get(url, "/api/alerts").body);
  CHECK(alert_ids(url, "firing").empty());
}

TEST_CASE("firing alerts follow their target to the engine that takes it "
          "over: not announced again, and their end is",
          "[alerts][fleet]") {
  auto pg = harness::start_private();
  auto db = pg->create_database("alert_fleet");
  pg->exec(db, items_sql(300000, true));
  pg->exec(db, "VACUUM (ANALYZE)");
  temp_dir data_a, data_b;
  auto args = [&](const std::string& id, const temp_dir& data) {
    return std::vector<std::string>{"serve",
                                    "--fleet",
                                    "alerting",
                                    "--engine-id",
                                    id,
                                    "--nats",
                                    pg->nats_url(),
                                    "--listen",
                                    "127.0.0.1:0",
                                    "--data-dir",
                                    data.str(),
                                    "--poll-interval",
                                    "1s",
                                    "--analysis-interval",
                                    "1h",
                                    "--target",
                                    "t=" + pg->dsn(db)};
  };
  nats_inbox inbox{pg->nats_url(), "optischema.t.alert"};
  auto [engines, urls, owner, other] = start_pair(args, data_a, data_b);
  auto& uo = urls[owner];
  auto& ux = urls[other];
  INFO("engine " << owner << " polls t first, then " << other);
  workload w{pg->dsn(db), "SELECT count(pad) FROM items WHERE k = "};
  auto polled = [&](const std::string& url) {
    auto d = parse_json(http_get(url, "/api/status").body);
    for (auto& t : d["targets"].GetArray())
      if (t["name"].GetString() == std::string{"t"})
        return t["polls"].GetInt64();
    return int64_t{0};
  };
  REQUIRE(eventually([&] { return polled(uo) >= 9; }, 30s));
  pg->exec(db, "DROP INDEX items_k");
  std::string regression;
  int64_t since = 0;
  REQUIRE(eventually(
    [&] {
      auto r = alert_ids(uo, "firing", "statement_regression");
      if (r.size() != 1)
        return false;
      regression = r[0];
      return announced(inbox, regression, "firing") == 1;
    },
    20s, 50ms));
  auto fired = parse_json(http_get(uo, "/api/alerts").body);
  for (auto& a : fired["firing"].GetArray())
    if (a["id"].GetString() == regression)
      since = a["since"].GetInt64();
  // Stored in the fleet's bucket, then the owner stops: the other engine
  // polls t at once.
  REQUIRE(eventually([&] { return decisions_stored(uo); }, 10s));
  CHECK(engines[owner]->stop() == 0);
  REQUIRE(eventually([&] { return owner_of(ux, "t") == other; }, 10s));
  // Still slow there, long past a baseline's six polls: the same alert,
  // since the same time, never announced again.
  auto start = polled(ux);
  REQUIRE(eventually([&] { return polled(ux) >= start + 8; }, 30s));
  auto listed = parse_json(http_get(ux, "/api/alerts").body);
  std::vector<int64_t> sinces;
  for (auto& a : listed["firing"].GetArray())
    if (a["id"].GetString() == regression)
      sinces.push_back(a["since"].GetInt64());
  CHECK(sinces == std::vector<int64_t>{since});
  CHECK(announced(inbox, regression, "firing") == 1);
  // The index is back: the new owner announces the end, once.
  pg->exec(db, "CREATE INDEX items_k ON items (k)");
  REQUIRE(eventually(
    [&] { return announced(inbox, regression, "resolved") == 1; }, 20s, 50ms));
  CHECK(announced(inbox, regression, "firing") == 1);
}
