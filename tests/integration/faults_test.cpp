// Bad input and faults: each says what is wrong, the engine keeps running
// (or, for its own resources, exits non-zero with a clear message).

#include "engine_process.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <fstream>

using namespace optischema::test;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> engine_args(const std::string& dsn,
                                     const temp_dir& data,
                                     std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"serve",    "--dsn",           dsn,
                                "--listen", "127.0.0.1:0",     "--data-dir",
                                data.str(), "--poll-interval", "300ms"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

rapidjson::Document status(const std::string& url) {
  return parse_json(http_get(url, "/api/status").body);
}

std::string target_field(const std::string& url, const char* field) {
  auto doc = status(url);
  auto& t = doc["targets"][0];
  if (std::string{field} == "error.code")
    return t["error"].IsNull() ? "" : t["error"]["code"].GetString();
  if (std::string{field} == "error.message")
    return t["error"].IsNull() ? "" : t["error"]["message"].GetString();
  return t[field].GetString();
}

/// A loopback port nobody listens on.

} // namespace

TEST_CASE("a target unreachable at start: the engine serves and says why",
          "[faults]") {
  temp_dir data;
  auto dsn = "host=127.0.0.1 port=" + std::to_string(closed_port())
    + " user=postgres dbname=app password=Hunter2Secret";
  engine_process e{engine_args(dsn, data)};
  auto url = e.wait_ready();
  REQUIRE(
    eventually([&] { return target_field(url, "state") == "down"; }, 10s));
  CHECK(target_field(url, "error.code") == "db_unreachable");
  CHECK_THAT(target_field(url, "error.message"),
             Catch::Contains("cannot reach"));
  CHECK(status(url)["state"] == "degraded");
  CHECK(http_get(url, "/health").status == 200);
  auto hot = http_get(url, "/api/metrics/hot");
  CHECK(hot.status == 200);
  CHECK(parse_json(hot.body)["statements"].Size() == 0);
  auto summary = parse_json(http_get(url, "/api/metrics/summary").body);
  CHECK(summary["targets"][0]["polled"].IsNull());
  // Retries continue with backoff rather than giving up.
  auto failures = status(url)["targets"][0]["failures"].GetUint64();
  REQUIRE(eventually(
    [&] {
      return status(url)["targets"][0]["failures"].GetUint64() > failures;
    },
    10s));
  auto collect = http_request(url, "POST", "/api/collect");
  CHECK(collect.status == 503);
  CHECK_THAT(collect.body, Catch::Contains("db_unreachable"));
  // The password never leaves the process.
  CHECK(e.stop() == 0);
  CHECK(e.log().find("Hunter2Secret") == std::string::npos);
}

TEST_CASE("PostgreSQL stopped and started mid-run: collection resumes",
          "[faults]") {
  auto h = harness::start_private({.nats = false});
  auto db = h->create_database("bounce");
  temp_dir data;
  engine_process e{engine_args(h->dsn(db), data)};
  auto url = e.wait_ready();
  REQUIRE(eventually(
    [&] {
      return target_field(url, "state") == "ok"
        || target_field(url, "state") == "degraded";
    },
    10s));
  h->pg_stop();
  REQUIRE(
    eventually([&] { return target_field(url, "state") == "down"; }, 10s));
  CHECK(target_field(url, "error.code") == "db_unreachable");
  CHECK(http_get(url, "/health").status == 200);
  h->pg_start();
  REQUIRE(
    eventually([&] { return target_field(url, "state") != "down"; }, 15s));
  {
    pqxx::connection c{h->dsn(db)};
    pqxx::nontransaction tx{c};
    tx.exec("SELECT 42 AS after_restart");
  }
  REQUIRE(eventually(
    [&] {
      auto hot = http_get(url, "/api/metrics/hot?limit=100").body;
      return hot.find("after_restart") != std::string::npos;
    },
    10s));
  CHECK(e.stop() == 0);
}

TEST_CASE("pg_stat_statements not installed: says which statement to run",
          "[faults]") {
  auto& h = harness::shared();
  auto db = "noext_" + std::to_string(getpid());
  h.exec("postgres", "DROP DATABASE IF EXISTS " + db);
  h.exec("postgres", "CREATE DATABASE " + db);
  temp_dir data;
  engine_process e{engine_args(h.dsn(db), data)};
  auto url = e.wait_ready();
  REQUIRE(
    eventually([&] { return target_field(url, "state") == "down"; }, 10s));
  CHECK(target_field(url, "error.code") == "missing_extension");
  CHECK_THAT(target_field(url, "error.message"),
             Catch::Contains("CREATE EXTENSION pg_stat_statements"));
  // Fixing it while the engine runs is noticed at the next poll.
  h.exec(db, "CREATE EXTENSION pg_stat_statements");
  REQUIRE(
    eventually([&] { return target_field(url, "state") != "down"; }, 10s));
}

TEST_CASE(
  "pg_stat_statements not preloaded: says what to put in postgresql.conf",
  "[faults]") {
  auto h = harness::start_private({.nats = false, .preload = false});
  auto db = h->create_database("nopreload");
  temp_dir data;
  engine_process e{engine_args(h->dsn(db), data)};
  auto url = e.wait_ready();
  REQUIRE(
    eventually([&] { return target_field(url, "state") == "down"; }, 10s));
  CHECK(target_field(url, "error.code") == "missing_extension");
  CHECK_THAT(target_field(url, "error.message"),
             Catch::Contains("shared_preload_libraries"));
}

TEST_CASE("permission problems name the GRANT that fixes them", "[faults]") {
  auto& h = harness::shared();
  auto db = h.create_database("perm");
  auto role = "mon_" + std::to_string(getpid());
  h.exec(db,
         "DROP ROLE IF EXISTS " + role + "; CREATE ROLE " + role
           + " LOGIN; REVOKE CONNECT ON DATABASE " + db + " FROM PUBLIC");
  auto dsn = h.dsn(db);
  dsn.replace(dsn.find("user=postgres"), 13, "user=" + role);
  temp_dir data;
  engine_process e{engine_args(dsn, data)};
  auto url = e.wait_ready();
  REQUIRE(
    eventually([&] { return target_field(url, "state") == "down"; }, 10s));
  CHECK(target_field(url, "error.code") == "permission_denied");
  CHECK_THAT(target_field(url, "error.message"),
             Catch::Contains("GRANT CONNECT"));
  // With CONNECT but without pg_read_all_stats, other roles' statements are
  // hidden: collection works, degraded, and the warning names the GRANT.
  h.exec(db, "GRANT CONNECT ON DATABASE " + db + " TO " + role);
  h.exec(db, "SELECT count(*) FROM pg_class"); // a statement of postgres
  REQUIRE(
    eventually([&] { return target_field(url, "state") == "degraded"; }, 10s));
  auto doc = status(url);
  auto& t = doc["targets"][0];
  CHECK(t["hidden_rows"].GetInt64() > 0);
  REQUIRE(t["warnings"].Size() >= 1);
  CHECK_THAT(std::string{t["warnings"][0].GetString()},
             Catch::Contains("GRANT pg_read_all_stats TO " + role));
  // The least-privilege role is not told to give up privileges.
  CHECK(t["advice"].Size() == 0);
}

TEST_CASE("a stats reset between polls: detected, no negative figures",
          "[faults]") {
  // A cluster of its own: a reset is cluster-wide and would wipe the
  // workload of tests running in parallel on the shared one.
  auto own = harness::start_private({.nats = false});
  auto& h = *own;
  auto db = h.create_database("reset");
  h.exec(
    db, "CREATE TABLE r (a int); INSERT INTO r SELECT generate_series(1, 100)");
  temp_dir data;
  engine_process e{engine_args(h.dsn(db), data)};
  auto url = e.wait_ready();
  auto run = [&](int n) {
    pqxx::connection c{h.dsn(db)};
    pqxx::nontransaction tx{c};
    for (int i = 0; i < n; ++i)
      tx.exec("SELECT count(*) FROM r WHERE a > " + std::to_string(i));
  };
  auto calls = [&]() -> int64_t {
    auto doc = parse_json(http_get(url, "/api/metrics/hot?limit=100").body);
    for (auto& st : doc["statements"].GetArray())
      if (std::string{st["query"].GetString()}.find("FROM r WHERE")
          != std::string::npos)
        return st["calls"].GetInt64();
    return -1;
  };
  REQUIRE(eventually(
    [&] { return status(url)["targets"][0]["polls"].GetInt64() >= 1; }, 10s));
  run(10);
  REQUIRE(eventually([&] { return calls() == 10; }, 10s));
  h.exec(db, "SELECT pg_stat_statements_reset()");
  run(2);
  REQUIRE(eventually([&] { return calls() == 2; }, 10s));
  auto doc = status(url);
  CHECK(doc["targets"][0]["resets_detected"].GetUint64() >= 1);
  auto hot = parse_json(http_get(url, "/api/metrics/hot?limit=100").body);
  std::string fp;
  for (auto& st : hot["statements"].GetArray()) {
    CHECK(st["calls"].GetInt64() >= 0);
    CHECK(st["interval"]["calls"].GetInt64() >= 0);
    CHECK(st["total_time_ms"].GetDouble() >= 0);
    if (std::string{st["query"].GetString()}.find("FROM r WHERE")
        != std::string::npos)
      fp = st["fingerprint"].GetString();
  }
  REQUIRE_FALSE(fp.empty());
  auto hist = parse_json(
    http_get(url, "/api/metrics/history?range=1h&fingerprint=" + fp).body);
  int64_t sum = 0;
  for (auto& p : hist["points"].GetArray()) {
    CHECK(p["calls"].GetInt64() >= 0);
    sum += p["calls"].GetInt64();
  }
  CHECK(sum == 12);
}

TEST_CASE("NATS going away and coming back is survived and counted",
          "[faults][nats]") {
  auto h = harness::start_private();
  auto db = h->create_database("natsdown");
  temp_dir data;
  engine_process e{engine_args(h->dsn(db), data, {"--nats", h->nats_url()})};
  auto url = e.wait_ready();
  auto conn = [&] {
    auto doc = status(url);
    return std::string{doc["nats"]["connection"].GetString()};
  };
  REQUIRE(eventually([&] { return conn() == "connected"; }, 10s));
  h->nats_stop();
  REQUIRE(eventually([&] { return conn() == "disconnected"; }, 10s));
  auto doc = status(url);
  CHECK(doc["nats"]["disconnects"].GetUint64() >= 1);
  CHECK(doc["state"] == "degraded");
  // Collection goes on while NATS is away.
  auto polls = doc["targets"][0]["polls"].GetInt64();
  REQUIRE(eventually(
    [&] { return status(url)["targets"][0]["polls"].GetInt64() > polls + 2; },
    10s));
  REQUIRE(eventually(
    [&] { return status(url)["nats"]["buffered"].GetUint64() > 0; }, 10s));
  h->nats_start();
  REQUIRE(eventually([&] { return conn() == "connected"; }, 15s));
  doc = status(url);
  CHECK(doc["nats"]["reconnects"].GetUint64() >= 1);
  REQUIRE(eventually(
    [&] { return status(url)["nats"]["buffered"].GetUint64() == 0; }, 10s));
}

TEST_CASE("a data dir in use or corrupt: clear error, non-zero exit",
          "[faults][store]") {
  auto& h = harness::shared();
  auto db = h.create_database("datadir");
  temp_dir data;
  {
    engine_process first{engine_args(h.dsn(db), data)};
    first.wait_ready();
    engine_process second{engine_args(h.dsn(db), data)};
    auto rc = second.wait_exit(15s);
    REQUIRE(rc);
    CHECK(*rc != 0);
    CHECK_THAT(second.log(), Catch::Contains("in use by another process"));
    CHECK(first.stop() == 0);
  }
  {
    std::ofstream out{data.path / "CURRENT", std::ios::trunc};
    out << "MANIFEST-999999\n";
  }
  engine_process broken{engine_args(h.dsn(db), data)};
  auto rc = broken.wait_exit(15s);
  REQUIRE(rc);
  CHECK(*rc != 0);
  CHECK_THAT(broken.log(), Catch::Contains(data.str()));
  CHECK_THAT(broken.log(), Catch::Contains("--data-dir"));
}

TEST_CASE("malformed API requests and unknown routes get JSON errors",
          "[faults][api]") {
  auto& h = harness::shared();
  auto db = h.create_database("api");
  temp_dir data;
  engine_process e{engine_args(h.dsn(db), data)};
  auto url = e.wait_ready();
  auto expect_error = [&](const http_result& r, unsigned status,
                          const char* code) {
    CHECK(r.status == status);
    auto doc = parse_json(r.body);
    REQUIRE(doc.HasMember("error"));
    CHECK(std::string{doc["error"]["code"].GetString()} == code);
    CHECK(std::string{doc["error"]["message"].GetString()}.size() > 10);
  };
  expect_error(http_get(url, "/api/nope"), 404, "not_found");
  expect_error(http_get(url, "/api/metrics/hot?limit=abc"), 400, "bad_request");
  expect_error(http_get(url, "/api/metrics/hot?sort=%27;DROP"), 400,
               "bad_request");
  expect_error(http_get(url, "/api/metrics/history?fingerprint=xyz"), 400,
               "bad_request");
  expect_error(http_get(url, "/api/metrics/history?range=forever"), 400,
               "bad_request");
  auto wrong = http_request(url, "POST", "/api/metrics/hot", "{}");
  expect_error(wrong, 405, "bad_request");
  CHECK(wrong.headers["allow"] == "GET");
  auto big = http_request(url, "POST", "/api/collect",
                          std::string(2 << 20, 'x'));
  CHECK(big.status == 413);
  auto garbage = raw_request(url, "NOT HTTP AT ALL\r\n\r\n");
  CHECK_THAT(garbage, Catch::Contains("400"));
  // Still serving after all of it.
  CHECK(http_get(url, "/health").status == 200);
  auto doc = parse_json(http_get(url, "/api/openapi.json").body);
  CHECK(doc["openapi"] == "3.0.3");
  CHECK(e.stop() == 0);
}

TEST_CASE("secrets never appear in logs or API answers", "[faults][secrets]") {
  auto& h = harness::shared();
  auto db = h.create_database("secret");
  temp_dir data;
  // Trust authentication ignores the password, so the engine connects.
  auto kv = h.dsn(db) + " password=KvSecret42";
  auto uri = "postgresql://postgres:UriSecret42@127.0.0.1:"
    + std::to_string(h.port()) + "/" + db;
  engine_process e{{"serve", "--dsn", kv, "--target", "second=" + uri,
                    "--listen", "127.0.0.1:0", "--data-dir", data.str(),
                    "--poll-interval", "300ms", "--log-level", "debug"}};
  auto url = e.wait_ready();
  REQUIRE(eventually(
    [&] {
      auto s = status(url);
      return s["targets"][0]["polls"].GetInt64() > 1
        && s["targets"][1]["polls"].GetInt64() > 1;
    },
    10s));
  std::string answers;
  for (auto* path : {"/api/status", "/api/targets", "/api/metrics/hot",
                     "/api/metrics/summary", "/api/metrics/raw"})
    answers += http_get(url, path).body;
  CHECK_THAT(answers, Catch::Contains("postgres@127.0.0.1:"));
  CHECK(e.stop() == 0);
  for (auto* secret : {"KvSecret42", "UriSecret42"}) {
    CHECK(answers.find(secret) == std::string::npos);
    CHECK(e.log().find(secret) == std::string::npos);
  }
}

TEST_CASE("bad configuration ends the engine with a message",
          "[faults][config]") {
  temp_dir data;
  struct bad {
    std::vector<std::string> args;
    const char* says;
  };
  std::vector<bad> cases = {
    {{"serve", "--dsn", "host=x bogus=1", "--data-dir", data.str()}, "bogus"},
    {{"serve", "--dsn", "host=x", "--poll-interval", "10x", "--data-dir",
      data.str()},
     "--poll-interval"},
    {{"serve", "--target", "no-equals-sign", "--data-dir", data.str()},
     "NAME=DSN"},
    {{"serve", "--dsn", "host=x", "--listen", "not-an-address", "--data-dir",
      data.str()},
     "not-an-address"},
    {{"serve", "--dsn", "host=x", "--nats", "http://wrong", "--data-dir",
      data.str()},
     "nats://"},
  };
  for (auto& c : cases) {
    engine_process e{c.args};
    auto rc = e.wait_exit(10s);
    REQUIRE(rc);
    CHECK(*rc == 2);
    CHECK_THAT(e.log(), Catch::Contains(c.says));
  }
}
