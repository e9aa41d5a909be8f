// Advice beyond b-tree equality, end to end against PostgreSQL 15: GIN for
// jsonb (jsonb_path_ops or jsonb_ops from the operators used) and arrays,
// trigram GIN with its extension as an explicit step, partial indexes from
// IS NOT NULL or from the value pg_qualstats saw a parameter take, hash for
// wide keys only compared with =, and no index where the predicate keeps
// every row. GIN is costed by the model (hypopg cannot simulate it) and
// says so.

#include "engine_process.hpp"
#include "harness.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <set>

using namespace optischema::test;
using namespace std::chrono_literals;

namespace {

/// 300,000 tickets: big enough that a scan costs and an index pays.
const std::string& shapes_db() {
  return harness::shared().shared_database("shapes", R"sql(
      CREATE TABLE tickets (id int PRIMARY KEY, tenant int NOT NULL, attrs jsonb NOT NULL,
                            meta jsonb NOT NULL, tags text[] NOT NULL, subject text NOT NULL,
                            deleted_at timestamptz, score int NOT NULL);
      INSERT INTO tickets SELECT g, g % 1000,
        jsonb_build_object('prio', (ARRAY['low','mid','high','urgent'])[1 + g % 4],
                           'src', 'web' || (g % 500)),
        CASE WHEN g % 200 = 0 THEN '{"escalated": true}'::jsonb
             ELSE jsonb_build_object('n', g % 10) END,
        ARRAY['t' || (g % 300), 'k' || (g % 7)],
        'subject ' || md5(g::text),
        CASE WHEN g % 50 = 0 THEN timestamptz '2024-01-01' + g * interval '1 minute' END,
        g % 100
      FROM generate_series(1, 300000) g;
    )sql",
                                           true);
}

/// Empties pg_stat_statements of database `db` and runs `also` (another
/// reset), so what the advisor reads is the workload the test runs next.
void forget_workload(const std::string& db, const std::string& also) {
  harness::shared().exec(
    db,
    "SELECT " + also
      + ", pg_stat_statements_reset(0, (SELECT oid FROM pg_database "
        "WHERE datname = current_database()), 0)");
}

struct advice {
  rapidjson::Document doc;
  std::string log;
};

/// `optischema advise --format json ARGS` on database `db`.
advice advise_on(const std::string& db, std::vector<std::string> args) {
  auto& h = harness::shared();
  args.insert(args.begin(), {"advise", "--dsn", h.dsn(db), "--format", "json"});
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

advice advise(const std::string& sql) {
  return advise_on(shapes_db(), {"--statement", sql});
}

std::string str(const rapidjson::Value& v, const char* key) {
  return v[key].GetString();
}

bool has(const rapidjson::Value& list, const std::string& needle) {
  for (auto& x : list.GetArray())
    if (std::string{x.GetString()}.find(needle) != std::string::npos)
      return true;
  return false;
}

} // namespace

TEST_CASE("advise: GIN for jsonb, arrays and patterns, costed by the model",
          "[advisor][shapes]") {
  struct scenario {
    const char* name;
    const char* sql;
    /// The DDL's USING clause and key list.
    const char* ddl;
    bool needs_pg_trgm;
  };
  std::vector<scenario> scenarios = {
    // Only @>: the smaller operator class that serves it.
    {"jsonb containment",
     R"(SELECT id FROM tickets WHERE attrs @> '{"src": "web42"}')",
     "USING gin (attrs jsonb_path_ops)", false},
    // Key existence needs the default jsonb_ops.
    {"jsonb key existence", "SELECT id FROM tickets WHERE meta ? 'escalated'",
     "USING gin (meta)", false},
    {"array containment",
     "SELECT id FROM tickets WHERE tags @> ARRAY['t42']::text[]",
     "USING gin (tags)", false},
    {"leading wildcard", "SELECT id FROM tickets WHERE subject ILIKE '%abc12%'",
     "USING gin (subject gin_trgm_ops)", true},
  };
  for (auto& s : scenarios) {
    SECTION(s.name) {
      auto a = advise(s.sql);
      INFO(a.log);
      REQUIRE(a.doc["actions"].Size() >= 1);
      auto& act = a.doc["actions"][0];
      CHECK(str(act, "kind") == "create_index");
      CHECK_THAT(str(act, "ddl"), Catch::EndsWith(s.ddl));
      CHECK(str(act, "benefit_source") == "model");
      CHECK(has(act["reasons"], "cost model (hypopg cannot simulate gin)"));
      CHECK(act["cost_after"].GetDouble()
            <= 0.7 * act["cost_before"].GetDouble());
      CHECK(act["confidence"].GetDouble() >= 0.5);
      // The extension is a step of its own, never folded into the DDL.
      if (s.needs_pg_trgm) {
        REQUIRE(act["prerequisites"].Size() == 1);
        CHECK(std::string{act["prerequisites"][0].GetString()}
              == "CREATE EXTENSION IF NOT EXISTS pg_trgm");
      } else {
        CHECK(act["prerequisites"].Size() == 0);
      }
    }
  }
}

TEST_CASE("advise --sandbox-dsn measures what the model estimated, on a "
          "copy, and nothing runs on the target",
          "[advisor][shapes][sandbox]") {
  auto& h = harness::shared();
  // The sandbox is a PostgreSQL of its own, never the target's.
  auto sandbox = harness::start_private({.nats = false});
  auto a = advise_on(
    shapes_db(),
    {"--statement",
     R"(SELECT id FROM tickets WHERE attrs @> '{"src": "web42"}')",
     "--statement", "SELECT id FROM tickets WHERE subject ILIKE '%abc12%'",
     "--sandbox-dsn", sandbox->sandbox_dsn(), "--sandbox-runs", "3"});
  INFO(a.log);
  std::set<std::string> measured;
  for (auto& act : a.doc["actions"].GetArray()) {
    auto ddl = str(act, "ddl");
    INFO(ddl);
    CHECK(str(act, "benefit_source") == "measured");
    CHECK(has(act["reasons"], "measured in the sandbox: "));
    REQUIRE(act["sandbox"].IsObject());
    CHECK(str(act["sandbox"], "verdict") == "faster");
    CHECK(act["measured_speedup"].GetDouble() >= 1.3);
    if (ddl.ends_with("USING gin (attrs jsonb_path_ops)"))
      measured.insert("jsonb");
    // Measured with pg_trgm created on the copy, in a transaction rolled
    // back; on the target it is still a person's step.
    if (ddl.ends_with("USING gin (subject gin_trgm_ops)")) {
      measured.insert("trigram");
      REQUIRE(act["prerequisites"].Size() == 1);
    }
  }
  CHECK(measured == std::set<std::string>{"jsonb", "trigram"});
  CHECK(h.exec(shapes_db(),
               "SELECT count(*) FROM pg_extension WHERE "
               "extname = 'pg_trgm'")[0][0]
        == "0");
  CHECK(h.exec(shapes_db(),
               "SELECT count(*) FROM pg_indexes WHERE "
               "tablename = 'tickets'")[0][0]
        == "1");
}

TEST_CASE("advise --sandbox-dsn: pg_trgm similarity gets a trigram index, "
          "proven on the copy",
          "[advisor][shapes][sandbox]") {
  // The planner's default guess for % (1% of the rows) leaves the model no
  // clear gain; the sandbox times the scan that computes a similarity for
  // every row against the index, and the measurement decides.
  auto db = harness::shared().loaded_database("similar", R"sql(
    CREATE EXTENSION pg_trgm;
    CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO people SELECT g,
      (ARRAY['Olga','Mia','Noah','Liam','Emma','Ava','Lucas','Mateo','Sofia','Yuki'])[1 + g % 10]
      || ' ' || (ARRAY['Smith','Nguyen','Garcia','Rossi','Kowalski','Tanaka','Silva','Dubois',
                       'Jensen','Okafor'])[1 + (g / 10) % 10]
      || ' ' || substr(md5(g::text), 1, 8)
    FROM generate_series(1, 200000) g;
  )sql");
  auto sandbox = harness::start_private({.nats = false});
  auto a = advise_on(
    db,
    {"--statement", "SELECT id FROM people WHERE name % 'Olga Smyth'",
     "--sandbox-dsn", sandbox->sandbox_dsn(), "--sandbox-runs", "3"});
  INFO(a.log);
  const rapidjson::Value* trigram = nullptr;
  for (auto& act : a.doc["actions"].GetArray())
    if (str(act, "ddl").ends_with("USING gin (name gin_trgm_ops)"))
      trigram = &act;
  REQUIRE(trigram != nullptr);
  CHECK(str(*trigram, "benefit_source") == "measured");
  CHECK(has((*trigram)["reasons"], "similarity % 'Olga Smyth' on name"));
  CHECK(has((*trigram)["reasons"], "measured in the sandbox: "));
  CHECK((*trigram)["prerequisites"].Size() == 0);
  CHECK((*trigram)["measured_speedup"].GetDouble() >= 1.3);
}

TEST_CASE("advise: nearest first (ORDER BY … <-> … LIMIT) gets a GiST index, "
          "by trigram only as an idea until measured",
          "[advisor][shapes]") {
  auto db = harness::shared().loaded_database("nearest", R"sql(
    CREATE EXTENSION pg_trgm;
    CREATE TABLE places (id int PRIMARY KEY, name text NOT NULL, loc point NOT NULL);
    INSERT INTO places SELECT g, 'place ' || md5(g::text),
           point((g::bigint * 7919) % 1000, (g::bigint * 104729) % 1000)
      FROM generate_series(1, 200000) g;
  )sql");
  auto a = advise_on(db,
                     {"--statement",
                      "SELECT id FROM places ORDER BY loc <-> point(500, 500) "
                      "LIMIT 10",
                      "--statement",
                      "SELECT id FROM places ORDER BY name <-> 'place 4a7' "
                      "LIMIT 10"});
  INFO(a.log);
  // A point's distance is exact: the model's estimate makes it an action.
  const rapidjson::Value* point = nullptr;
  for (auto& act : a.doc["actions"].GetArray())
    if (str(act, "ddl").ends_with("USING gist (loc)"))
      point = &act;
  REQUIRE(point != nullptr);
  CHECK(str(*point, "benefit_source") == "model");
  CHECK(has((*point)["reasons"], "nearest first, ORDER BY loc <-> …"));
  CHECK(has((*point)["reasons"], "returns the 10 rows of the LIMIT"));
  // Trigram signatures are lossy: an idea, said why, for the sandbox.
  const rapidjson::Value* trigram = nullptr;
  for (auto& idea : a.doc["other"].GetArray())
    if (str(idea, "ddl").ends_with("USING gist (name gist_trgm_ops)"))
      trigram = &idea;
  REQUIRE(trigram != nullptr);
  CHECK((*trigram)["confidence"].GetDouble() < 0.5);
  CHECK(has((*trigram)["reasons"], "lossy signatures"));
}

TEST_CASE("advise --sandbox-dsn refuses the target's own server and keeps "
          "the estimates",
          "[advisor][shapes][sandbox]") {
  auto& h = harness::shared();
  engine_process p{{"advise", "--dsn", h.dsn(shapes_db()), "--format", "json",
                    "--statement",
                    "SELECT id FROM tickets WHERE tags @> ARRAY['t42']::text[]",
                    "--sandbox-dsn", h.dsn(shapes_db())}};
  auto rc = p.wait_exit(120s);
  REQUIRE(rc);
  INFO(p.log());
  CHECK(*rc == 1);
  auto log = p.log();
  auto d = parse_json(log.substr(log.find('{')));
  REQUIRE(d["actions"].Size() >= 1);
  CHECK(str(d["actions"][0], "benefit_source") == "model");
  CHECK(has(d["warnings"], "not measured in the sandbox: "));
  CHECK(has(d["warnings"], "give a separate PostgreSQL with --sandbox-dsn"));
}

TEST_CASE("advise: a partial index where the text keeps IS NOT NULL",
          "[advisor][shapes]") {
  auto a = advise("SELECT id, subject FROM tickets WHERE deleted_at IS NOT "
                  "NULL AND tenant = $1");
  INFO(a.log);
  REQUIRE(a.doc["actions"].Size() >= 1);
  auto& act = a.doc["actions"][0];
  CHECK_THAT(str(act, "ddl"),
             Catch::EndsWith("(tenant) WHERE (deleted_at IS NOT NULL)")
               || Catch::EndsWith("(tenant) WHERE deleted_at IS NOT NULL"));
  CHECK(str(act, "benefit_source") == "hypopg");
  CHECK(has(act["reasons"], "partial"));
}

TEST_CASE("advise: a partial index where the text keeps a rare IS NULL",
          "[advisor][shapes]") {
  // A job queue: 2% of the jobs are not processed yet; workers take the
  // oldest of their queue. The index holds only those.
  auto db = harness::shared().loaded_database("queue", R"sql(
    CREATE TABLE jobs (id int PRIMARY KEY, queue int NOT NULL, created_at timestamptz NOT NULL,
                       processed_at timestamptz, body text);
    INSERT INTO jobs SELECT g, g % 20, timestamptz '2024-01-01' + g * interval '1 second',
           CASE WHEN g % 50 <> 0 THEN timestamptz '2024-01-02' END, repeat('x', 50)
      FROM generate_series(1, 300000) g;
  )sql",
                                              true);
  auto a = advise_on(db,
                     {"--statement",
                      "SELECT id, body FROM jobs WHERE processed_at IS NULL "
                      "AND queue = $1 ORDER BY created_at LIMIT 10"});
  INFO(a.log);
  REQUIRE(a.doc["actions"].Size() >= 1);
  auto& act = a.doc["actions"][0];
  CHECK_THAT(
    str(act, "ddl"),
    Catch::EndsWith("(queue, created_at) WHERE (processed_at IS NULL)")
      || Catch::EndsWith("(queue, created_at) WHERE processed_at IS NULL"));
  // 2%: statistics from every row, not a sample that may say 1.9%.
  CHECK(has(act["reasons"], "partial: processed_at IS NULL keeps 2."));
}

TEST_CASE("advise: no index for a predicate that keeps every row",
          "[advisor][shapes]") {
  auto a = advise("SELECT count(*) FROM tickets WHERE score >= 0");
  INFO(a.log);
  CHECK(a.doc["actions"].Size() == 0);
  REQUIRE(a.doc["skipped"].Size() >= 1);
  CHECK_THAT(std::string{a.doc["skipped"][0]["reason"].GetString()},
             Catch::Contains("keeps ~100% of the rows of public.tickets"));
}

TEST_CASE("advise: an index that would stop HOT updates is charged for them",
          "[advisor][shapes]") {
  // A session table touched on every request (UPDATE … SET seen_at), and a
  // rare report by tenant and seen_at: the tenant column alone serves the
  // report; seen_at in the index would make every touch maintain every
  // index of the table.
  auto& h = harness::shared();
  auto db = harness::shared().loaded_database("hot", R"sql(
    CREATE TABLE sessions (id int PRIMARY KEY, tenant int NOT NULL,
                           seen_at timestamptz NOT NULL, data text)
      WITH (fillfactor = 80);
    INSERT INTO sessions SELECT g, g % 2000, timestamptz '2024-01-01' + g * interval '1 second',
           repeat('x', 40) FROM generate_series(1, 200000) g;
  )sql");
  forget_workload(db, "pg_stat_reset()");
  {
    pqxx::connection c{h.dsn(db)};
    pqxx::nontransaction tx{c};
    for (int i = 0; i < 3000; ++i)
      tx.exec("UPDATE sessions SET seen_at = now() WHERE id = "
              + std::to_string(1 + (i * 7919) % 200000));
    for (int i = 0; i < 5; ++i)
      tx.exec("SELECT count(*) FROM sessions WHERE tenant = "
              + std::to_string(i * 17)
              + " AND seen_at < timestamptz '2024-01-02'");
  }
  // The counters the HOT share comes from reach pg_stat_user_tables.
  h.exec(db, "SELECT pg_stat_force_next_flush()");
  auto advised = advise_on(db, {"--pg-stat-statements"});
  INFO(advised.log);
  auto& d = advised.doc;
  for (auto& a : d["actions"].GetArray()) {
    if (str(a, "kind") != "create_index")
      continue;
    // Never seen_at: the touches would stop being HOT.
    for (auto& col : a["columns"].GetArray())
      CHECK(std::string{col.GetString()}.find("seen_at") == std::string::npos);
    for (auto& col : a["include"].GetArray())
      CHECK(std::string{col.GetString()}.find("seen_at") == std::string::npos);
  }
  // The report is still served, by the tenant column.
  bool served = false;
  for (auto& a : d["actions"].GetArray())
    served = served
      || (str(a, "kind") == "create_index" && a["columns"].Size() >= 1
          && std::string{a["columns"][0].GetString()} == "tenant");
  CHECK(served);
}

TEST_CASE("advise: equality + ORDER BY … LIMIT is costed across a skewed "
          "column's values",
          "[advisor][shapes]") {
  // 90% of the jobs are done, 0.1% open. The generic plan assumes the
  // average state (a quarter of the rows): walking (created_at) alone until
  // 20 match looks as cheap as the composite. For an open job it walks a
  // thousand rows per match; costed on the most common and a rare value as
  // well, the composite wins.
  auto& h = harness::shared();
  auto db = harness::shared().loaded_database("skew", R"sql(
    CREATE TABLE jobs (id int PRIMARY KEY, state text NOT NULL,
                       created_at timestamptz NOT NULL, body text);
    INSERT INTO jobs SELECT g,
           CASE WHEN g % 1000 = 0 THEN 'open' WHEN g % 1000 < 40 THEN 'failed'
                WHEN g % 1000 < 100 THEN 'retry' ELSE 'done' END,
           timestamptz '2024-01-01' + g * interval '1 second', repeat('x', 60)
      FROM generate_series(1, 300000) g;
  )sql",
                                              true);
  auto a = advise_on(db,
                     {"--statement",
                      "SELECT id, created_at FROM jobs WHERE state = $1 "
                      "ORDER BY created_at DESC LIMIT 20"});
  INFO(a.log);
  auto& d = a.doc;
  REQUIRE(d["actions"].Size() >= 1);
  auto& act = d["actions"][0];
  CHECK_THAT(str(act, "ddl"), Catch::Contains("(state, created_at DESC)"));
  CHECK(has(act["reasons"],
            "costed across values: half on the generic plan (any value "
            "alike), half on values as often as rows hold them: the most "
            "common value of public.jobs.state (90% of the rows) and a rare "
            "value of public.jobs.state"));
  // Reasons leave the engine: they name columns and shares, never values.
  for (auto& r : act["reasons"].GetArray())
    CHECK(std::string{r.GetString()}.find("open") == std::string::npos);
  // Nor does the target keep them: the values were bound, not written into
  // the texts pg_stat_statements records (EXPLAIN, PREPARE).
  CHECK(h.exec(db,
               "SELECT count(*) FROM pg_stat_statements WHERE query "
               "LIKE '%optischema%' AND query ~ '(open|done)'")[0][0]
        == "0");
  CHECK(h.exec(db,
               "SELECT count(*) FROM pg_stat_statements WHERE query "
               "LIKE '%optischema%' AND query LIKE '%FROM jobs%'")[0][0]
        != "0");
}

TEST_CASE("advise: a wide key only compared with = gets a hash index, one "
          "also ranged or sorted keeps the b-tree",
          "[advisor][shapes]") {
  // Short links looked up by their 70-byte URL: a hash index holds a
  // 4-byte code per row, a quarter of the b-tree, and finds a row as fast.
  // A range over the URLs needs the b-tree's order: then it is the b-tree.
  auto db = harness::shared().loaded_database("links", R"sql(
    CREATE TABLE links (id int PRIMARY KEY, url text NOT NULL, clicks int NOT NULL);
    INSERT INTO links SELECT g, 'https://example.com/articles/2024/' || md5(g::text) || '/view',
           g % 1000 FROM generate_series(1, 300000) g;
  )sql");
  auto lookup = "SELECT id, clicks FROM links WHERE url = $1";
  auto a = advise_on(db, {"--statement", lookup});
  INFO(a.log);
  REQUIRE(a.doc["actions"].Size() == 1);
  auto& act = a.doc["actions"][0];
  CHECK_THAT(str(act, "ddl"), Catch::EndsWith("USING hash (url)"));
  CHECK(has(act["reasons"], "only compared with =, and its values are 7"));
  CHECK(str(act, "benefit_source") == "hypopg");

  auto b = advise_on(db,
                     {"--statement", lookup, "--statement",
                      "SELECT url FROM links WHERE url >= $1 ORDER BY url "
                      "LIMIT 20"});
  INFO(b.log);
  REQUIRE(b.doc["actions"].Size() == 1);
  CHECK_THAT(str(b.doc["actions"][0], "ddl"),
             Catch::EndsWith("USING btree (url)"));
}

TEST_CASE("advise: with pg_qualstats, the value a parameter always takes "
          "becomes a partial index",
          "[advisor][shapes][qualstats]") {
  // The shipping screen asks for a shop's paid orders (2% of them), oldest
  // first. pg_stat_statements shows `status = $2`; pg_qualstats saw 'paid'
  // on every call: the index holds only the paid orders.
  auto& h = harness::shared();
  auto db = harness::shared().loaded_database("qualstats", R"sql(
    CREATE TABLE orders (id int PRIMARY KEY, shop int NOT NULL, status text NOT NULL,
                         created_at timestamptz NOT NULL, total numeric NOT NULL);
    INSERT INTO orders SELECT g, g % 400,
           CASE WHEN (g / 400) % 50 = 0 THEN 'paid' WHEN (g / 400) % 50 < 5 THEN 'cancelled'
                ELSE 'shipped' END,
           timestamptz '2024-01-01' + g * interval '1 minute', g % 1000
      FROM generate_series(1, 300000) g;
  )sql");
  // Preloaded by the harness when postgresql-15-pg-qualstats is installed
  // (scripts/install-deps.sh installs it).
  REQUIRE_NOTHROW(h.exec(db, "CREATE EXTENSION pg_qualstats"));
  forget_workload(db, "pg_qualstats_reset()");
  {
    pqxx::connection c{h.dsn(db)};
    pqxx::nontransaction tx{c};
    for (int i = 0; i < 40; ++i)
      tx.exec("SELECT id, total FROM orders WHERE shop = "
              + std::to_string((i * 37) % 400)
              + " AND status = 'paid' ORDER BY created_at LIMIT 20");
  }
  auto a = advise_on(db, {"--pg-stat-statements"});
  INFO(a.log);
  REQUIRE(a.doc["actions"].Size() >= 1);
  auto& act = a.doc["actions"][0];
  auto ddl = str(act, "ddl");
  CHECK_THAT(ddl, Catch::Contains("(shop, created_at) WHERE"));
  CHECK_THAT(ddl, Catch::Contains("status = 'paid'"));
  // ~2% by ANALYZE's sample.
  CHECK(has(act["reasons"], "partial: status = 'paid' keeps "));
  CHECK(has(act["reasons"],
            "costed on the values the workload uses, as often as it uses "
            "them: the most frequent value the workload uses for "
            "public.orders.status (100% of its calls, pg_qualstats)"));
  // The target keeps no engine statement with the value bound for costing.
  CHECK(h.exec(db,
               "SELECT count(*) FROM pg_stat_statements WHERE query "
               "LIKE '%optischema%' AND query LIKE '%paid%'")[0][0]
        == "0");
}

TEST_CASE("advise --create leaves an index that needs an extension to a person",
          "[advisor][shapes]") {
  auto& h = harness::shared();
  engine_process p{{"advise", "--dsn", h.dsn(shapes_db()), "--create",
                    "--statement",
                    "SELECT id FROM tickets WHERE subject ILIKE '%cafe%'"}};
  auto rc = p.wait_exit(120s);
  REQUIRE(rc);
  INFO(p.log());
  // Refused, with the step to take; the extension and the index not made.
  CHECK(*rc == 1);
  CHECK_THAT(p.log(), Catch::Contains("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                        && Catch::Contains("then apply again"));
  CHECK(h.exec(shapes_db(),
               "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")[0][0]
        == "0");
  CHECK(h.exec(shapes_db(), "SELECT count(*) FROM pg_indexes WHERE indexdef "
                            "LIKE '%gin_trgm_ops%'")[0][0]
        == "0");
}
