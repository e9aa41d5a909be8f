// The engine end to end: a real PostgreSQL 15 (harness), the real binary,
// real HTTP, WebSocket and NATS clients.

#include "engine_process.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "nats_process.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>
#include <nats/nats.h>
#include <pqxx/pqxx>

#include <atomic>
#include <mutex>
#include <vector>

using namespace optischema::test;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> engine_args(const std::string& dsn,
                                     const temp_dir& data,
                                     std::vector<std::string> extra = {},
                                     const std::string& interval = "300ms") {
  std::vector<std::string> args{"serve",    "--dsn",           dsn,
                                "--listen", "127.0.0.1:0",     "--data-dir",
                                data.str(), "--poll-interval", interval};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

int64_t polls(const std::string& url) {
  auto doc = parse_json(http_get(url, "/api/status").body);
  return doc["targets"][0]["polls"].GetInt64();
}

void wait_polls(const std::string& url, int64_t n) {
  REQUIRE(eventually([&] { return polls(url) >= n; }, 15s));
}

void seed_items(harness& h, const std::string& db) {
  h.exec(db,
         "CREATE TABLE items (id int PRIMARY KEY, cat int, name text);"
         "INSERT INTO items SELECT g, g % 10, 'n' || g "
         "FROM generate_series(1, 2000) g");
}

/// Statements of /api/metrics/hot whose text contains `needle`.
std::vector<rapidjson::Document> hot_matching(const std::string& url,
                                              const std::string& query,
                                              const std::string& needle) {
  auto doc
    = parse_json(http_get(url, "/api/metrics/hot?limit=100" + query).body);
  std::vector<rapidjson::Document> out;
  for (auto& st : doc["statements"].GetArray()) {
    std::string text = st["query"].GetString();
    if (text.find(needle) != std::string::npos) {
      auto& d = out.emplace_back();
      d.CopyFrom(st, d.GetAllocator());
    }
  }
  return out;
}

} // namespace

TEST_CASE("a known workload shows in /api/metrics/hot with exact call counts",
          "[engine]") {
  auto& h = harness::shared();
  auto db = h.create_database("hot");
  seed_items(h, db);
  temp_dir data;
  engine_process e{engine_args(h.dsn(db), data)};
  auto url = e.wait_ready();
  wait_polls(url, 1);
  {
    pqxx::connection c{h.dsn(db)};
    pqxx::nontransaction tx{c};
    for (int i = 0; i < 10; ++i)
      tx.exec("SELECT name FROM items WHERE cat = " + std::to_string(i));
    // Two queryids (IN lists of different lengths), one fingerprint.
    tx.exec("SELECT count(*) FROM items WHERE id IN (1, 2)");
    tx.exec("SELECT count(*) FROM items WHERE id IN (3, 4)");
    tx.exec("SELECT count(*) FROM items WHERE id IN (1, 2, 3)");
  }
  std::vector<rapidjson::Document> cat, in_list;
  REQUIRE(eventually(
    [&] {
      cat = hot_matching(url, "", "FROM items WHERE cat");
      in_list = hot_matching(url, "", "FROM items WHERE id IN");
      return cat.size() == 1 && cat[0]["calls"].GetInt64() == 10
        && in_list.size() == 1 && in_list[0]["calls"].GetInt64() == 3;
    },
    10s));
  auto& st = cat[0];
  CHECK(std::string{st["query"].GetString()}
        == "SELECT name FROM items WHERE cat = $1");
  CHECK(st["rows"].GetInt64() == 2000);
  CHECK(st["mean_time_ms"].GetDouble()
        == Approx(st["total_time_ms"].GetDouble() / 10));
  CHECK(st["share_of_total_time"].GetDouble() > 0);
  CHECK(st["share_of_total_time"].GetDouble() <= 1);
  CHECK(st["cache_hit_ratio"].GetDouble() > 0.5);
  CHECK(std::string{st["fingerprint"].GetString()}.size() == 16);
  CHECK(in_list[0]["queryids"].Size() == 2);
  // The engine's own statements are not part of the workload it reports.
  CHECK(hot_matching(url, "", "optischema").empty());
  CHECK(hot_matching(url, "", "pg_stat_statements(").empty());
  // Sorting by calls puts the ten-call statement above the three-call one.
  auto by_calls
    = parse_json(http_get(url, "/api/metrics/hot?sort=calls&limit=2").body);
  REQUIRE(by_calls["statements"].Size() == 2);
  CHECK(by_calls["statements"][0]["calls"].GetInt64() == 10);
  // Summary and raw agree with hot.
  auto summary = parse_json(http_get(url, "/api/metrics/summary").body);
  auto& t = summary["targets"][0];
  CHECK(std::string{t["target"].GetString()} == db);
  CHECK(t["summary"]["statements"].GetUint() >= 2);
  CHECK(t["database"]["cache_hit_ratio"].GetDouble() > 0);
  CHECK(t["database"]["connections"].GetInt64() >= 1);
  auto raw = parse_json(http_get(url, "/api/metrics/raw").body);
  CHECK(raw["total"].GetUint() == t["summary"]["statements"].GetUint());
  // History of the statement sums to the calls made after the baseline.
  auto fp = std::string{st["fingerprint"].GetString()};
  auto hist = parse_json(
    http_get(url, "/api/metrics/history?range=1h&fingerprint=" + fp).body);
  int64_t calls = 0;
  for (auto& p : hist["points"].GetArray())
    calls += p["calls"].GetInt64();
  CHECK(calls == 10);
  CHECK(std::string{hist["query"].GetString()}
        == "SELECT name FROM items WHERE cat = $1");
  CHECK(e.stop() == 0);
}

TEST_CASE("a WebSocket client receives the metrics event within one poll",
          "[engine][ws]") {
  auto& h = harness::shared();
  auto db = h.create_database("ws");
  seed_items(h, db);
  temp_dir data;
  engine_process e{engine_args(h.dsn(db), data, {}, "500ms")};
  auto url = e.wait_ready();
  wait_polls(url, 1);
  ws_client ws{url};
  auto hello = ws.read(5s);
  REQUIRE(hello);
  CHECK(parse_json(*hello)["type"] == "hello");
  // Frames broadcast before the subscription is confirmed are skipped.
  REQUIRE(subscribe(ws,
                    R"({"type":"subscribe","targets":[")" + db
                      + R"("],"topics":["metrics"]})"));
  {
    pqxx::connection c{h.dsn(db)};
    pqxx::nontransaction tx{c};
    tx.exec("SELECT max(name) FROM items WHERE cat = 3");
  }
  auto sent = std::chrono::steady_clock::now();
  bool seen = false;
  while (!seen && std::chrono::steady_clock::now() - sent < 5s) {
    auto frame = ws.read(5s);
    REQUIRE(frame);
    auto ev = parse_json(*frame);
    REQUIRE(ev["type"] == "metrics"); // subscribed to metrics only
    CHECK(std::string{ev["target"].GetString()} == db);
    CHECK(ev["ts"].GetInt64() > 0);
    for (auto& st : ev["payload"]["statements"].GetArray())
      if (std::string{st["query"].GetString()}.find("max(name)")
          != std::string::npos)
        seen = st["calls"].GetInt64() == 1; // calls of the interval
  }
  CHECK(seen);
  // One poll interval (500 ms) plus the poll itself; generous for CI noise.
  CHECK(std::chrono::steady_clock::now() - sent < 2500ms);
}

TEST_CASE("a NATS subscriber receives metrics events as JSON",
          "[engine][nats]") {
  auto& h = harness::shared();
  auto db = h.create_database("natsev");
  temp_dir data;
  nats_inbox got{h.nats_url(), "optischema." + db + ".>"};
  engine_process e{engine_args(h.dsn(db), data, {"--nats", h.nats_url()})};
  auto url = e.wait_ready();
  auto metrics = "optischema." + db + ".metrics";
  REQUIRE(eventually([&] { return got.first(metrics).has_value(); }, 10s));
  auto ev = parse_json(*got.first(metrics));
  CHECK(ev["type"] == "metrics");
  CHECK(std::string{ev["target"].GetString()} == db);
  CHECK(ev["payload"].HasMember("summary"));
  CHECK(ev["payload"].HasMember("database"));
  // The status event arrives on its own subject (just after the metrics).
  CHECK(eventually(
    [&] { return got.first("optischema." + db + ".status").has_value(); }, 5s));
  // The status is read a moment later than the events flow: allow for it.
  CHECK(eventually(
    [&] {
      auto status = parse_json(http_get(url, "/api/status").body);
      return status["nats"]["connection"] == "connected"
        && status["nats"]["published"].GetUint64() >= 2;
    },
    5s));
}

TEST_CASE("history survives kill -9 and no interval is lost",
          "[engine][store]") {
  auto& h = harness::shared();
  auto db = h.create_database("restart");
  seed_items(h, db);
  temp_dir data;
  auto run = [&](int n) {
    pqxx::connection c{h.dsn(db)};
    pqxx::nontransaction tx{c};
    for (int i = 0; i < n; ++i)
      tx.exec("SELECT name FROM items WHERE id = " + std::to_string(i + 1));
  };
  auto history_calls = [&](const std::string& url, const std::string& fp) {
    auto doc = parse_json(
      http_get(url, "/api/metrics/history?range=1h&fingerprint=" + fp).body);
    int64_t calls = 0;
    for (auto& p : doc["points"].GetArray())
      calls += p["calls"].GetInt64();
    return calls;
  };
  std::string fp;
  {
    engine_process e{engine_args(h.dsn(db), data)};
    auto url = e.wait_ready();
    wait_polls(url, 1);
    run(7);
    REQUIRE(eventually(
      [&] {
        auto xs = hot_matching(url, "", "FROM items WHERE id =");
        if (xs.size() != 1 || xs[0]["calls"].GetInt64() != 7)
          return false;
        fp = xs[0]["fingerprint"].GetString();
        return history_calls(url, fp) == 7;
      },
      10s));
    e.kill9();
  }
  // Calls while the engine is down belong to the first interval after it.
  run(5);
  engine_process e{engine_args(h.dsn(db), data)};
  auto url = e.wait_ready();
  // The last snapshot is served at once, before any poll.
  auto xs = hot_matching(url, "", "FROM items WHERE id =");
  REQUIRE(xs.size() == 1);
  CHECK(xs[0]["calls"].GetInt64() >= 7);
  CHECK(history_calls(url, fp) >= 7);
  REQUIRE(eventually([&] { return history_calls(url, fp) == 12; }, 10s));
  CHECK(e.stop() == 0);
}

TEST_CASE("several targets: listed, merged, and named in errors", "[engine]") {
  auto& h = harness::shared();
  auto a = h.create_database("multi_a");
  auto b = h.create_database("multi_b");
  temp_dir data;
  engine_process e{{"serve", "--target", "alpha=" + h.dsn(a), "--dsn", h.dsn(b),
                    "--listen", "127.0.0.1:0", "--data-dir", data.str(),
                    "--poll-interval", "300ms"}};
  auto url = e.wait_ready();
  auto targets = parse_json(http_get(url, "/api/targets").body);
  REQUIRE(targets["targets"].Size() == 2);
  CHECK(targets["targets"][0] == "alpha");
  CHECK(std::string{targets["targets"][1].GetString()} == b);
  REQUIRE(eventually(
    [&] {
      auto s = parse_json(http_get(url, "/api/status").body);
      return s["targets"].Size() == 2 && s["targets"][0]["polls"].GetInt64() > 0
        && s["targets"][1]["polls"].GetInt64() > 0;
    },
    10s));
  auto hist = http_get(url, "/api/metrics/history?range=1h");
  CHECK(hist.status == 400);
  CHECK_THAT(hist.body, Catch::Contains("target"));
  CHECK(http_get(url, "/api/metrics/history?range=1h&target=alpha").status
        == 200);
  CHECK(http_get(url, "/api/metrics/hot?target=nope").status == 404);
  auto polled
    = parse_json(http_get(url, "/api/metrics/hot").body)["polled"].GetObject();
  CHECK(polled.MemberCount() == 2);
  auto collect = http_request(url, "POST", "/api/collect?target=alpha");
  CHECK(collect.status == 200);
  CHECK(parse_json(collect.body)["statements"].GetInt64() >= 0);
}
