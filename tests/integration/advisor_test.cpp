// The advisor end to end: the real `optischema advise` and the engine's
// analysis API against PostgreSQL 15 with hypopg (data-driven: one scenario
// per statement shape, each with the index it must get, or why not).

#include "engine_process.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <pqxx/pqxx>

using namespace optischema::test;
using namespace std::chrono_literals;

namespace {

/// A database with tables big enough for indexes to matter; made once per
/// test process (it takes a second or two).
const std::string& advise_db() {
  return harness::shared().shared_database("advise", R"sql(
      CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, name text NOT NULL,
                              country text NOT NULL);
      INSERT INTO customers SELECT g, 'User' || g || '@Example.com', 'name ' || g,
             (ARRAY['de','fr','us','jp'])[1 + g % 4] FROM generate_series(1, 50000) g;
      CREATE INDEX customers_name_idx ON customers (name);
      CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id),
                           shop int NOT NULL, status text NOT NULL, paid boolean NOT NULL,
                           created_at timestamptz NOT NULL, total numeric(10,2) NOT NULL,
                           note text);
      INSERT INTO orders SELECT g, 1 + (g * 7919) % 50000, g % 100,
             CASE WHEN g % 50 = 0 THEN 'open' WHEN g % 3 = 0 THEN 'done' ELSE 'shipped' END,
             g % 31 <> 0, timestamptz '2024-01-01' + (g * 97 % 525600) * interval '1 minute',
             (g % 1000) / 10.0, repeat('x', 40)
        FROM generate_series(1, 200000) g;
      CREATE VIEW active_orders AS SELECT * FROM orders WHERE status <> 'done';
      CREATE TABLE small (id int PRIMARY KEY, x int);
      INSERT INTO small SELECT g, g FROM generate_series(1, 100) g;
      CREATE TABLE measurements (ts timestamptz NOT NULL, device int NOT NULL, value float8)
        PARTITION BY RANGE (ts);
      CREATE TABLE measurements_2024 PARTITION OF measurements
        FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
      CREATE TABLE measurements_2025 PARTITION OF measurements
        FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
      INSERT INTO measurements SELECT timestamptz '2024-01-01' + g * interval '5 minutes',
             g % 500, g FROM generate_series(1, 200000) g;
    )sql",
                                           true);
}

struct advice {
  rapidjson::Document doc;
  std::string log;
};

advice advise(std::vector<std::string> statements,
              std::vector<std::string> extra = {}) {
  auto& h = harness::shared();
  std::vector<std::string> args{"advise", "--dsn", h.dsn(advise_db()),
                                "--format", "json"};
  for (auto& s : statements) {
    args.push_back("--statement");
    args.push_back(s);
  }
  args.insert(args.end(), extra.begin(), extra.end());
  engine_process p{args};
  auto rc = p.wait_exit(120s);
  REQUIRE(rc);
  INFO(p.log());
  REQUIRE(*rc == 0);
  auto log = p.log();
  auto start = log.find('{');
  REQUIRE(start != std::string::npos);
  return {parse_json(log.substr(start)), log};
}

/// The create_index actions as "table(col, col) include(…) where …".
std::vector<std::string> creates(const rapidjson::Document& d) {
  std::vector<std::string> out;
  for (auto& a : d["actions"].GetArray()) {
    if (std::string{a["kind"].GetString()} != "create_index")
      continue;
    std::string s = std::string{a["table"].GetString()} + "(";
    for (size_t i = 0; i < a["columns"].Size(); ++i)
      s += (i ? ", " : "") + std::string{a["columns"][i].GetString()};
    s += ")";
    if (a["include"].Size() > 0) {
      s += " include(";
      for (size_t i = 0; i < a["include"].Size(); ++i)
        s += (i ? ", " : "") + std::string{a["include"][i].GetString()};
      s += ")";
    }
    if (std::string{a["where"].GetString()}.size() > 0)
      s += std::string{" where "} + a["where"].GetString();
    if (std::string{a["using"].GetString()} != "btree")
      s += std::string{" using "} + a["using"].GetString();
    out.push_back(s);
  }
  return out;
}

std::string skipped_reason(const rapidjson::Document& d) {
  REQUIRE(d["skipped"].Size() >= 1);
  return d["skipped"][0]["reason"].GetString();
}

bool starts(const std::string& x, const std::string& prefix) {
  return x.rfind(prefix, 0) == 0;
}

} // namespace

TEST_CASE("advise: the index each statement shape needs", "[advisor]") {
  struct scenario {
    const char* name;
    const char* sql;
    /// The first create action must start with this.
    const char* expect;
  };
  std::vector<scenario> scenarios = {
    {"single column", "SELECT * FROM orders WHERE customer_id = $1",
     "orders(customer_id"},
    // 2,000 orders per shop: the range column narrows them (with four
    // orders per customer, the customer column alone would do, rightly).
    {"equality before range",
     "SELECT id, total FROM orders WHERE shop = $1 AND created_at >= $2",
     "orders(shop, created_at"},
    // 2,000 orders per shop: sorting them for ten rows is what the
    // composite saves (with 4 per customer the single column would do).
    {"order by … limit with direction",
     "SELECT * FROM orders WHERE shop = $1 ORDER BY created_at DESC LIMIT 10",
     "orders(shop, created_at DESC"},
    {"covering",
     "SELECT total FROM orders WHERE created_at >= $1 AND created_at < $1 + "
     "interval '1 day'",
     "orders(created_at) include(total"},
    {"partial on a rare boolean",
     "SELECT * FROM orders WHERE NOT paid AND created_at < $1 ORDER BY "
     "created_at LIMIT 50",
     "orders(created_at"},
    {"expression", "SELECT id FROM customers WHERE lower(email) = lower($1)",
     "customers((lower(email))"},
    {"join",
     "SELECT c.name, o.total FROM customers c JOIN orders o ON o.customer_id = "
     "c.id WHERE c.id = $1",
     "orders(customer_id"},
    {"view", "SELECT * FROM active_orders WHERE customer_id = $1",
     "orders(customer_id"},
    {"non-materialised CTE",
     "WITH mine AS (SELECT * FROM orders WHERE customer_id = $1) SELECT "
     "count(*) FROM mine",
     "orders(customer_id"},
    {"partitioned table",
     "SELECT avg(value) FROM measurements WHERE device = $1",
     "measurements(device"},
    {"literal constants", "SELECT * FROM orders WHERE customer_id = 42",
     "orders(customer_id"},
  };
  for (auto& s : scenarios) {
    SECTION(s.name) {
      auto a = advise({s.sql});
      auto xs = creates(a.doc);
      INFO(s.sql);
      INFO(a.log);
      REQUIRE_FALSE(xs.empty());
      CHECK(starts(xs[0], s.expect));
      auto& act = a.doc["actions"][0];
      CHECK(act["cost_after"].GetDouble() < act["cost_before"].GetDouble());
      CHECK(act["confidence"].GetDouble() >= 0.5);
      CHECK(act["reasons"].Size() >= 1);
      CHECK(act["statements"].Size() == 1);
      CHECK(act["benefit_ms_per_day"].GetDouble() > 0);
      CHECK(act["size_bytes"].GetInt64() > 0);
      std::string ddl = act["ddl"].GetString();
      std::string rollback = act["rollback_ddl"].GetString();
      CHECK(starts(ddl, "CREATE INDEX "));
      CHECK(starts(rollback, "DROP INDEX "));
      // CONCURRENTLY, except where PostgreSQL forbids it.
      auto partitioned = std::string{s.name} == "partitioned table";
      CHECK((ddl.find("CONCURRENTLY") != std::string::npos) == !partitioned);
    }
  }
}

TEST_CASE("advise: the partial index for a rare boolean predicate",
          "[advisor]") {
  // SELECT *: no covering index competes; a plain (created_at) would walk
  // ~30 unpaid-or-not rows per unpaid one.
  auto a = advise({"SELECT * FROM orders WHERE NOT paid AND created_at < $1 "
                   "ORDER BY created_at LIMIT 50"});
  auto xs = creates(a.doc);
  REQUIRE_FALSE(xs.empty());
  CHECK_THAT(xs[0], Catch::Contains("where NOT paid"));
}

TEST_CASE("advise: statements that need no index say why", "[advisor]") {
  struct scenario {
    const char* name;
    const char* sql;
    const char* reason;
  };
  std::vector<scenario> scenarios = {
    {"already indexed", "SELECT * FROM customers WHERE name = $1",
     "customers_name_idx"},
    {"primary key", "SELECT * FROM orders WHERE id = $1", ""},
    {"tiny table", "SELECT * FROM small WHERE x = $1", ""},
    {"no predicate", "SELECT count(*) FROM orders", ""},
    {"parse error", "SELEC * FRM orders", "parse"},
    {"missing table", "SELECT * FROM no_such_table WHERE a = 1",
     "no_such_table"},
    {"utility", "VACUUM orders", "utility"},
  };
  for (auto& s : scenarios) {
    SECTION(s.name) {
      auto a = advise({s.sql});
      INFO(a.log);
      CHECK(creates(a.doc).empty());
      auto reason = skipped_reason(a.doc);
      CHECK_FALSE(reason.empty());
      CHECK_THAT(reason, Catch::Contains(s.reason));
    }
  }
}

TEST_CASE("advise --pg-stat-statements: workload weights, drops and skips",
          "[advisor]") {
  auto& h = harness::shared();
  auto db = h.create_database("workload");
  h.exec(db, R"sql(
    CREATE TABLE items (id int PRIMARY KEY, shop int NOT NULL, sku text NOT NULL, price int);
    INSERT INTO items SELECT g, g % 300, 'sku' || g, g % 997 FROM generate_series(1, 150000) g;
    CREATE INDEX items_price_idx ON items (price);
    CREATE INDEX items_price_copy_idx ON items (price);
    CREATE INDEX items_shop_sku_idx ON items (shop, sku);
    CREATE INDEX items_shop_idx ON items (shop);
  )sql");
  h.exec(db, "VACUUM ANALYZE");
  // This database's statements only: tests run in parallel on the cluster.
  h.reset_statements(db, true);
  {
    pqxx::connection c{h.dsn(db)};
    pqxx::nontransaction tx{c};
    for (int i = 0; i < 30; ++i)
      tx.exec("SELECT id FROM items WHERE sku = 'sku" + std::to_string(i * 31)
              + "'");
    for (int i = 0; i < 200; ++i)
      tx.exec("SELECT price FROM items WHERE id = " + std::to_string(i + 1));
  }
  engine_process p{
    {"advise", "--dsn", h.dsn(db), "--pg-stat-statements", "--format", "json"}};
  auto rc = p.wait_exit(120s);
  REQUIRE(rc);
  INFO(p.log());
  REQUIRE(*rc == 0);
  auto log = p.log();
  auto d = parse_json(log.substr(log.find('{')));
  auto xs = creates(d);
  REQUIRE(xs.size() == 1);
  CHECK(starts(xs[0], "items(sku"));
  std::vector<std::string> drops;
  for (auto& a : d["actions"].GetArray())
    if (std::string{a["kind"].GetString()} == "drop_index")
      drops.emplace_back(a["index_name"].GetString());
  // The duplicate goes (the older twin stays), the prefix of (shop, sku) too.
  CHECK(std::find(drops.begin(), drops.end(), "items_price_copy_idx")
        != drops.end());
  CHECK(std::find(drops.begin(), drops.end(), "items_price_idx")
        == drops.end());
  CHECK(std::find(drops.begin(), drops.end(), "items_shop_idx") != drops.end());
  CHECK(std::find(drops.begin(), drops.end(), "items_pkey") == drops.end());
  for (auto& a : d["actions"].GetArray())
    if (std::string{a["kind"].GetString()} == "drop_index") {
      CHECK(starts(a["ddl"].GetString(), "DROP INDEX CONCURRENTLY"));
      CHECK(starts(a["rollback_ddl"].GetString(), "CREATE INDEX CONCURRENTLY"));
    }
  // The primary-key lookup needs nothing and says so.
  bool pk_skipped = false;
  for (auto& s : d["skipped"].GetArray())
    if (std::string{s["statement"].GetString()}.find("WHERE id =")
        != std::string::npos)
      pk_skipped = true;
  CHECK(pk_skipped);
  // The engine's own statements are not advised on.
  for (auto& s : d["statements"].GetArray())
    CHECK(std::string{s["query"].GetString()}.find("optischema")
          == std::string::npos);
}

TEST_CASE("advise on a workload of hundreds of statements lists the costly "
          "ones and counts the rest",
          "[advisor]") {
  // 300 distinct statements (ten shapes on each of 30 tables), one call
  // each: all below --min-calls. The report names the 200 most expensive
  // and counts the others with their time, rather than carrying every text.
  auto& h = harness::shared();
  auto db = h.create_database("many");
  // Letters: libpg_query's fingerprint takes tables named alike but for
  // their digits (partitions, shards) as one.
  auto table = [](int t) {
    return std::string{"w_"} + static_cast<char>('a' + t / 26)
      + static_cast<char>('a' + t % 26);
  };
  std::string ddl;
  for (int t = 0; t < 30; ++t)
    ddl += "CREATE TABLE " + table(t) + " (a int, b int, c text);";
  h.exec(db, ddl);
  h.reset_statements(db, true);
  {
    pqxx::connection c{h.dsn(db)};
    pqxx::nontransaction tx{c};
    const char* shapes[] = {
      "SELECT a FROM {} WHERE a = 1",
      "SELECT a, b FROM {} WHERE b = 2",
      "SELECT count(*) FROM {} WHERE c LIKE 'x%'",
      "SELECT * FROM {} ORDER BY a DESC LIMIT 10",
      "SELECT b, count(*) FROM {} GROUP BY b",
      "UPDATE {} SET b = b + 1 WHERE a = 3",
      "DELETE FROM {} WHERE a = 4",
      "INSERT INTO {} (a, b) VALUES (5, 6)",
      "SELECT a FROM {} WHERE a IN (1, 2, 3) AND b > 0",
      "SELECT max(a) FROM {} WHERE c = 'y' AND a < 9",
    };
    for (int t = 0; t < 30; ++t)
      for (auto* shape : shapes)
        tx.exec(fmt::format(fmt::runtime(shape), table(t)));
  }
  engine_process p{{"advise", "--dsn", h.dsn(db), "--pg-stat-statements",
                    "--min-calls", "2", "--format", "json"}};
  auto rc = p.wait_exit(120s);
  REQUIRE(rc);
  REQUIRE(*rc == 0);
  auto log = p.log();
  auto d = parse_json(log.substr(log.find('{')));
  CHECK(d["skipped"].Size() == 200);
  CHECK(d["statements"].Size() == 200);
  CHECK(d["unlisted"]["statements"].GetInt64() >= 100);
  CHECK(d["unlisted"]["ms_per_day"].GetDouble() > 0);
  for (auto& s : d["skipped"].GetArray())
    CHECK_THAT(s["reason"].GetString(), Catch::Contains("--min-calls"));
}

TEST_CASE("the engine analyses, stores and announces recommendations",
          "[advisor][engine]") {
  auto& h = harness::shared();
  auto db = h.create_database("engadv");
  h.exec(db, R"sql(
    CREATE TABLE tickets (id int PRIMARY KEY, assignee int NOT NULL, state text NOT NULL);
    INSERT INTO tickets SELECT g, g % 2000, 'open' FROM generate_series(1, 120000) g;
  )sql");
  h.exec(db, "VACUUM ANALYZE");
  {
    pqxx::connection c{h.dsn(db)};
    pqxx::nontransaction tx{c};
    for (int i = 0; i < 20; ++i)
      tx.exec("SELECT id FROM tickets WHERE assignee = " + std::to_string(i));
  }
  temp_dir data;
  engine_process e{{"serve", "--dsn", h.dsn(db), "--listen", "127.0.0.1:0",
                    "--data-dir", data.str(), "--poll-interval", "500ms",
                    "--analysis-interval", "0"}};
  auto url = e.wait_ready();
  ws_client ws{url};
  REQUIRE(subscribe(ws, R"({"type":"subscribe","topics":["recommendation"]})"));
  auto run = http_request(url, "POST", "/api/analysis/run", "", {}, 120s);
  INFO(run.body);
  REQUIRE(run.status == 200);
  CHECK(parse_json(run.body)["actions"].GetUint() >= 1);
  auto latest = parse_json(http_get(url, "/api/suggestions/latest").body);
  REQUIRE(latest["suggestions"].Size() >= 1);
  auto& first = latest["suggestions"][0];
  CHECK(std::string{first["kind"].GetString()} == "create_index");
  CHECK(std::string{first["table"].GetString()} == "tickets");
  CHECK(std::string{first["columns"][0].GetString()} == "assignee");
  CHECK(std::string{first["status"].GetString()} == "new");
  std::string id = first["id"].GetString();
  auto one = http_get(url, "/api/suggestions/" + id);
  CHECK(one.status == 200);
  CHECK(parse_json(one.body)["id"] == id.c_str());
  CHECK(http_get(url, "/api/suggestions/doesnotexist").status == 404);
  auto frame = ws.read(10s);
  REQUIRE(frame);
  auto ev = parse_json(*frame);
  CHECK(ev["type"] == "recommendation");
  CHECK(std::string{ev["payload"]["id"].GetString()} == id);
  // Re-analysis updates, never duplicates.
  REQUIRE(http_request(url, "POST", "/api/analysis/run", "", {}, 120s).status
          == 200);
  auto again = parse_json(http_get(url, "/api/suggestions/latest").body);
  CHECK(again["suggestions"].Size() == latest["suggestions"].Size());
  auto status = parse_json(http_get(url, "/api/analysis/status").body);
  CHECK(status["advisors"][db.c_str()]["runs"].GetUint64() == 2);
}

TEST_CASE(
  "POST /api/analysis/query: plan, findings and advice for one statement",
  "[advisor][engine]") {
  auto& h = harness::shared();
  auto db = advise_db();
  temp_dir data;
  engine_process e{{"serve", "--dsn", h.dsn(db), "--listen", "127.0.0.1:0",
                    "--data-dir", data.str(), "--analysis-interval", "0"}};
  auto url = e.wait_ready();
  auto ok = http_request(
    url, "POST", "/api/analysis/query",
    R"({"sql": "SELECT * FROM orders WHERE customer_id = $1"})", {}, 120s);
  INFO(ok.body);
  REQUIRE(ok.status == 200);
  auto d = parse_json(ok.body);
  REQUIRE(d["statements"].Size() == 1);
  auto& st = d["statements"][0];
  CHECK(
    std::string{st["plan_before"]["root"]["node_type"].GetString()}.find("Scan")
    != std::string::npos);
  CHECK(st["plan_after"].IsObject());
  CHECK(d["findings"].IsArray());
  REQUIRE(d["actions"].Size() >= 1);
  CHECK(std::string{d["actions"][0]["columns"][0].GetString()}
        == "customer_id");
  struct bad {
    const char* body;
    unsigned status;
    const char* says;
  };
  for (auto& b : std::vector<bad>{
         {"not json", 400, "JSON object"},
         {R"({"query": "SELECT 1"})", 400, "is required"},
         {R"({"sql": "SELECT 1; SELECT 2"})", 400, "exactly one statement"},
         {R"({"sql": "DROP TABLE orders"})", 400, "only SELECT"},
         {R"({"sql": "SELEC 1"})", 400, "parse"},
         {R"({"sql": "SELECT 1", "target": "nope"})", 404, "no target"},
       }) {
    auto r = http_request(url, "POST", "/api/analysis/query", b.body);
    INFO(b.body);
    CHECK(r.status == b.status);
    CHECK_THAT(r.body, Catch::Contains(b.says));
  }
  // Nothing was executed: the table is intact.
  CHECK(h.exec(db, "SELECT count(*) FROM orders")[0][0] == "200000");
}

TEST_CASE(
  "advise without hypopg: says how to install it, marks advice uncosted",
  "[advisor]") {
  auto& h = harness::shared();
  auto db = h.create_database("nohypo");
  h.exec(
    db,
    "DROP EXTENSION hypopg; CREATE TABLE logs (id int PRIMARY KEY, host int, "
    "msg text); INSERT INTO logs SELECT g, g % 500, 'm' FROM "
    "generate_series(1, 100000) g");
  h.exec(db, "VACUUM ANALYZE");
  engine_process p{{"advise", "--dsn", h.dsn(db), "--statement",
                    "SELECT * FROM logs WHERE host = $1", "--format", "json"}};
  auto rc = p.wait_exit(60s);
  REQUIRE(rc);
  INFO(p.log());
  REQUIRE(*rc == 0);
  auto log = p.log();
  auto d = parse_json(log.substr(log.find('{')));
  REQUIRE(d["warnings"].Size() >= 1);
  CHECK_THAT(std::string{d["warnings"][0].GetString()},
             Catch::Contains("CREATE EXTENSION hypopg"));
  // Not costed: not an action, an idea with low confidence.
  CHECK(creates(d).empty());
  bool idea = false;
  for (auto& r : d["other"].GetArray())
    if (std::string{r["kind"].GetString()} == "create_index") {
      idea = std::string{r["columns"][0].GetString()} == "host";
      CHECK(r["confidence"].GetDouble() < 0.5);
    }
  CHECK(idea);
}

TEST_CASE("GET /api/analysis/plan: the plan of a statement the target ran",
          "[advisor][engine]") {
  auto& h = harness::shared();
  auto db = h.create_database("plans");
  h.exec(db,
         "CREATE TABLE visits (id int PRIMARY KEY, page int NOT NULL, at "
         "timestamptz NOT NULL); INSERT INTO visits SELECT g, g % 1000, now() "
         "FROM generate_series(1, 100000) g");
  h.exec(db, "VACUUM ANALYZE");
  temp_dir data;
  engine_process e{{"serve", "--dsn", h.dsn(db), "--listen", "127.0.0.1:0",
                    "--data-dir", data.str(), "--poll-interval", "300ms",
                    "--analysis-interval", "0"}};
  auto url = e.wait_ready();
  {
    pqxx::connection c{h.dsn(db)};
    pqxx::nontransaction tx{c};
    tx.exec("SELECT count(*) FROM visits WHERE page = 7");
  }
  std::string fp;
  REQUIRE(eventually(
    [&] {
      auto hot = parse_json(http_get(url, "/api/metrics/hot?limit=50").body);
      for (auto& st : hot["statements"].GetArray())
        if (std::string{st["query"].GetString()}.find("FROM visits")
            != std::string::npos)
          fp = st["fingerprint"].GetString();
      return !fp.empty();
    },
    10s));
  auto r = http_get(url, "/api/analysis/plan?fingerprint=" + fp, 60s);
  INFO(r.body);
  REQUIRE(r.status == 200);
  auto d = parse_json(r.body);
  CHECK(d["query"] == "SELECT count(*) FROM visits WHERE page = $1");
  // Aggregate over a scan of the 100,000 rows with the page filter.
  std::string plan = r.body;
  CHECK_THAT(plan, Catch::Contains("Seq Scan"));
  bool seq_finding = false;
  for (auto& f : d["findings"].GetArray())
    seq_finding = seq_finding || f["kind"] == "seq_scan_large_table";
  CHECK(seq_finding);
  CHECK(http_get(url, "/api/analysis/plan?fingerprint=0123456789abcdef").status
        == 404);
  CHECK(http_get(url, "/api/analysis/plan").status == 400);
}
