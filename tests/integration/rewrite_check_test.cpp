// Rewrite verification against PostgreSQL 15: each scenario is a pair
// (original, rewrite) and what the check must conclude, with the step that
// decides it. Parse, parameters and cost are checked on the target (EXPLAIN
// only); the rows on the sandbox's copy of it, in a second cluster, as the
// unprivileged sandbox role. The data are deterministic (setseed, full
// statistics), so costs and rows are the same on every run.

#include "optischema/advice/rewrite_check.hpp"
#include "optischema/pg/catalog_reader.hpp"
#include "optischema/pg/conninfo.hpp"
#include "optischema/pg/session.hpp"
#include "optischema/sandbox/sandbox.hpp"

#include "harness.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <mutex>

using namespace optischema;
using namespace optischema::test;
using namespace std::string_literals;

namespace {

/// orders (50k rows) of customers (5k); made once per test process.
const std::string& rewrite_db() {
  return harness::shared().shared_database("rewrite", R"sql(
      SELECT setseed(0.42);
      CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL,
                              country text NOT NULL);
      INSERT INTO customers SELECT g, 'customer ' || g,
             (ARRAY['de','fr','us','jp','br','in','it','es','uk','ca'])
               [1 + floor(random() * 10)::int]
        FROM generate_series(1, 5000) g;
      CREATE TABLE orders (id bigint PRIMARY KEY,
                           customer_id int NOT NULL REFERENCES customers(id),
                           status text NOT NULL, created_at timestamptz NOT NULL,
                           total numeric(10,2) NOT NULL);
      INSERT INTO orders SELECT g, 1 + floor(random() * 5000)::int,
             (ARRAY['new','paid','shipped','cancelled'])[1 + floor(random() * 4)::int],
             timestamptz '2024-01-01' + random() * interval '365 days',
             round((random() * 500)::numeric, 2)
        FROM generate_series(1, 50000) g;
      CREATE INDEX orders_customer_id_idx ON orders (customer_id);
      CREATE INDEX customers_country_idx ON customers (country);
    )sql",
                                           true);
}

/// The sandbox's copy of rewrite_db() in a cluster of its own, made once
/// per test process: the only place rows are compared.
const pg::conninfo& rewrite_copy() {
  static std::unique_ptr<harness> cluster;
  static pg::conninfo db;
  static std::once_flag once;
  std::call_once(once, [] {
    cluster = harness::start_private({.nats = false});
    auto source = pg::parse_conninfo(harness::shared().dsn(rewrite_db()));
    auto server = pg::parse_conninfo(cluster->sandbox_dsn());
    REQUIRE(source);
    REQUIRE(server);
    auto made = sandbox::prepare(*source, *server, "rewrite_copy", {});
    INFO((made ? std::string{} : made.error().message));
    REQUIRE(made);
    // The target's statistics target, so the copy has the same common
    // values.
    cluster->exec("rewrite_copy",
                  "ALTER DATABASE rewrite_copy SET "
                  "default_statistics_target = 1000");
    cluster->exec("rewrite_copy", "ANALYZE");
    auto copy = sandbox::database_conninfo(*server, "rewrite_copy");
    REQUIRE(copy);
    db = *copy;
  });
  return db;
}

/// A session on the test database (plans only), one on its copy (rows)
/// and the copy's catalog.
struct target {
  pg::session session;
  pg::session copy;
  catalog cat;

  target() : session(connect_info()), copy(rewrite_copy()) {
    auto c = pg::read_catalog(copy);
    REQUIRE(c);
    cat = std::move(*c);
  }

  static pg::conninfo connect_info() {
    auto info = pg::parse_conninfo(harness::shared().dsn(rewrite_db()));
    REQUIRE(info);
    return *info;
  }

  /// The whole check: the target's steps, then the rows on the copy.
  rewrite_check check(const std::string& original, const std::string& rewrite,
                      const rewrite_check_options& opts = {}) {
    auto r = check_rewrite(session, original, rewrite, opts);
    if (r.rows_pending)
      complete(r, compare_rows(copy, cat, original, rewrite, opts));
    return r;
  }
};

/// The outcome for failure messages.
std::string show(const rewrite_check& r) {
  auto out = "reason: " + r.reason;
  for (auto& s : r.steps)
    out += "\nstep: " + s;
  return out;
}

bool starts_with(const std::string& x, const std::string& prefix) {
  return x.rfind(prefix, 0) == 0;
}

bool contains(const std::string& x, const std::string& part) {
  return x.find(part) != std::string::npos;
}

bool has_step(const rewrite_check& r, const std::string& prefix) {
  return std::any_of(r.steps.begin(), r.steps.end(),
                     [&](auto& s) { return starts_with(s, prefix); });
}

// A self-join through the primary key: the same rows as the plain filter,
// at about three times the cost.
const auto self_join
  = "SELECT * FROM orders WHERE id IN (SELECT id FROM orders WHERE "
    "customer_id = $1)"s;
const auto plain = "SELECT * FROM orders WHERE customer_id = $1"s;

} // namespace

TEST_CASE("a cheaper rewrite that returns the same rows is verified",
          "[rewrite]") {
  target t;
  SECTION("values from pg_stats") {
    auto r = t.check(self_join, plain);
    INFO(show(r));
    CHECK(r.verified);
    CHECK(starts_with(r.reason, "verified: parses, keeps $1, cost "));
    CHECK(contains(r.reason, "same rows on 3 samples (unordered"));
    CHECK(r.cost_after < r.cost_before);
    CHECK(r.cost_after > 0);
    CHECK(r.samples_compared == 3);
    CHECK(r.rows_compared > 0);
    CHECK(has_step(r, "parses: yes"));
    CHECK(has_step(r, "parameters: $1 kept"));
    CHECK(has_step(r,
                   "sample $1: 3 of the most common values of "
                   "public.orders.customer_id (pg_stats)"));
  }
  SECTION("values read from the table when pg_stats has none") {
    // The advisor's catalog can lack statistics (never analysed, no
    // privilege): the values then come from the table itself.
    for (auto& tab : t.cat.tables)
      for (auto& col : tab.columns) {
        col.most_common_vals.clear();
        col.most_common_freqs.clear();
      }
    auto r = t.check(self_join, plain);
    INFO(show(r));
    CHECK(r.verified);
    CHECK(has_step(r,
                   "sample $1: 3 values read from "
                   "public.orders.customer_id"));
    CHECK(r.rows_compared > 0);
  }
  SECTION("pg_stat_statements text with a typed parameter") {
    // `timestamptz $2` is how pg_stat_statements normalises a typed literal;
    // created_at has no common values, so they are read from the table.
    auto r = t.check("SELECT id, total FROM orders WHERE id IN (SELECT id FROM "
                     "orders WHERE customer_id = $1) AND created_at >= "
                     "timestamptz $2",
                     "SELECT id, total FROM orders WHERE customer_id = $1 AND "
                     "created_at >= $2::timestamptz");
    INFO(show(r));
    CHECK(r.verified);
    CHECK(contains(r.reason, "keeps $1..$2"));
    CHECK(
      has_step(r, "sample $2: 3 values read from public.orders.created_at"));
  }
  SECTION("ordered, with a LIMIT parameter") {
    auto r = t.check("SELECT id, total FROM orders WHERE id IN (SELECT id FROM "
                     "orders WHERE status = $1) ORDER BY id LIMIT $2",
                     "SELECT id, total FROM orders WHERE status = $1 ORDER BY "
                     "id LIMIT $2");
    INFO(show(r));
    CHECK(r.verified);
    CHECK(contains(r.reason, "(ordered, "));
    CHECK(has_step(r, "sample $2: LIMIT: 10"));
    // Four statuses: three samples, ten rows each.
    CHECK(r.samples_compared == 3);
    CHECK(r.rows_compared == 30);
  }
  SECTION("parameters traced through aliases, IN lists and BETWEEN") {
    // The original only adds a join that filters nothing.
    auto r = t.check(
      "SELECT o.id, o.total FROM orders o JOIN customers c ON c.id = "
      "o.customer_id WHERE c.country = $1 AND o.status IN ($2, $3) AND "
      "o.total BETWEEN $4 AND $5 AND coalesce($6::int, 0) = 0 AND o.id IN "
      "(SELECT id FROM orders)",
      "SELECT o.id, o.total FROM orders o JOIN customers c ON c.id = "
      "o.customer_id WHERE c.country = $1 AND o.status IN ($2, $3) AND "
      "o.total BETWEEN $4 AND $5 AND coalesce($6::int, 0) = 0");
    INFO(show(r));
    CHECK(r.verified);
    CHECK(has_step(r,
                   "sample $1: 3 of the most common values of "
                   "public.customers.country"));
    CHECK(has_step(r,
                   "sample $2: 3 of the most common values of "
                   "public.orders.status"));
    CHECK(has_step(r,
                   "sample $3: 3 of the most common values of "
                   "public.orders.status"));
    CHECK(has_step(r,
                   "sample $5: 3 of the most common values of "
                   "public.orders.total"));
    CHECK(has_step(r, "sample $6: compared with no column"));
    // BETWEEN takes one value for both ends: the samples match rows.
    CHECK(r.rows_compared > 0);
  }
  SECTION("without parameters") {
    auto r = t.check("SELECT count(*) FROM orders WHERE id IN (SELECT id FROM "
                     "orders WHERE status = 'new')",
                     "SELECT count(*) FROM orders WHERE status = 'new'");
    INFO(show(r));
    CHECK(r.verified);
    CHECK(contains(r.reason, "no parameters"));
    CHECK(r.samples_compared == 1);
    CHECK(r.rows_compared == 1);
  }
}

TEST_CASE("a rewrite that changes the rows is not verified", "[rewrite]") {
  target t;
  // Drops `status = $2` but keeps $2 so that only the rows tell.
  auto r = t.check("SELECT * FROM orders WHERE id IN (SELECT id FROM orders "
                   "WHERE customer_id = $1) AND status = $2",
                   "SELECT * FROM orders WHERE customer_id = $1 AND $2::text "
                   "IS NOT NULL");
  INFO(show(r));
  CHECK_FALSE(r.verified);
  CHECK(starts_with(r.reason, "rows differ: "));
  CHECK(contains(r.reason, "only in the rewrite"));
  // Which check failed and how many rows, never the rows or the sample
  // values (they are data).
  CHECK(contains(r.reason, "(sample 1 of 3)"));
  CHECK_FALSE(contains(r.reason, "$1 ="));
  CHECK_FALSE(contains(r.reason, "paid"));
  CHECK(r.cost_after < r.cost_before); // it got as far as the rows
  CHECK(has_step(r, "rows: differ"));
}

TEST_CASE("rows are never compared on the target", "[rewrite]") {
  target t;
  auto& h = harness::shared();
  auto cursors = [&] {
    return h.exec(rewrite_db(),
                  "SELECT count(*) FROM pg_stat_statements WHERE dbid = "
                  "(SELECT oid FROM pg_database WHERE datname = "
                  "current_database()) AND query LIKE '%DECLARE%'")[0][0];
  };
  auto before = cursors();
  auto r = check_rewrite(t.session, self_join, plain);
  INFO(show(r));
  CHECK_FALSE(r.verified);
  CHECK(r.rows_pending);
  CHECK(starts_with(r.reason,
                    "unverified: the rows are compared on the "
                    "sandbox's copy only"));
  CHECK_FALSE(has_step(r, "rows:"));
  not_compared(r, "no sandbox to compare the rows on");
  CHECK(starts_with(r.reason, "unverified: no sandbox"));
  CHECK(has_step(r, "rows: not compared"));
  CHECK(cursors() == before);
}

TEST_CASE("a rewrite that is not cheaper is not verified", "[rewrite]") {
  target t;
  SECTION("slower") {
    // customer_id + 0 cannot use the index.
    auto r = t.check(plain, "SELECT * FROM orders WHERE customer_id + 0 = $1");
    INFO(show(r));
    CHECK_FALSE(r.verified);
    CHECK(starts_with(r.reason, "slower: cost "));
    CHECK(r.cost_after > r.cost_before);
    CHECK_FALSE(has_step(r, "rows:"));
  }
  SECTION("the same plan") {
    // IN over a unique key and the JOIN plan alike.
    auto r = t.check("SELECT o.* FROM orders o WHERE o.customer_id IN (SELECT "
                     "id FROM customers WHERE country = $1)",
                     "SELECT o.* FROM orders o JOIN customers c ON c.id = "
                     "o.customer_id WHERE c.country = $1");
    INFO(show(r));
    CHECK_FALSE(r.verified);
    CHECK(starts_with(r.reason, "slower: cost "));
    CHECK(contains(r.reason, "(not cheaper)"));
  }
}

TEST_CASE("a rewrite must keep the parameters", "[rewrite]") {
  target t;
  auto original = "SELECT * FROM orders WHERE id IN (SELECT id FROM orders "
                  "WHERE customer_id = $1) AND status = $2"s;
  SECTION("adds one") {
    auto r = t.check(original,
                     "SELECT * FROM orders WHERE customer_id = $1 "
                     "AND status = $2 AND total > $3");
    INFO(show(r));
    CHECK_FALSE(r.verified);
    CHECK(r.reason == "parameters differ: the rewrite adds $3");
    CHECK_FALSE(has_step(r, "rows:"));
  }
  SECTION("drops one") {
    auto r = t.check(original, "SELECT * FROM orders WHERE customer_id = $1");
    INFO(show(r));
    CHECK_FALSE(r.verified);
    CHECK(r.reason == "parameters differ: the rewrite drops $2");
  }
}

TEST_CASE("a rewrite must be one statement of the same kind", "[rewrite]") {
  target t;
  SECTION("does not parse") {
    auto r = t.check(plain, "SELEC * FROM orders WHERE customer_id = $1");
    INFO(show(r));
    CHECK_FALSE(r.verified);
    CHECK(starts_with(r.reason, "the rewrite does not parse: "));
    CHECK(r.steps == std::vector<std::string>{"parses: no"});
  }
  SECTION("two statements") {
    auto r = t.check(plain,
                     "SELECT * FROM orders WHERE customer_id = $1; "
                     "DELETE FROM orders");
    INFO(show(r));
    CHECK_FALSE(r.verified);
    CHECK(r.reason == "the rewrite holds 2 statements, not one");
  }
  SECTION("another kind") {
    auto r = t.check(plain, "DELETE FROM orders WHERE customer_id = $1");
    INFO(show(r));
    CHECK_FALSE(r.verified);
    CHECK(r.reason == "the rewrite is a DELETE, the original a SELECT");
  }
  auto left = harness::shared().exec(rewrite_db(),
                                     "SELECT count(*) FROM orders");
  CHECK(left.at(0).at(0) == "50000");
}

TEST_CASE("a rewrite that writes is never run", "[rewrite]") {
  target t;
  SECTION("an UPDATE") {
    auto r
      = t.check("UPDATE orders SET status = 'archived' WHERE id IN (SELECT "
                "id FROM orders WHERE customer_id = $1)",
                "UPDATE orders SET status = 'archived' WHERE customer_id = "
                "$1");
    CHECK_FALSE(r.verified);
    CHECK(r.reason
          == "not verifiable: only SELECT rewrites are checked by their "
             "results; an UPDATE/DELETE/INSERT rewrite is never executed");
    CHECK(has_step(r, "parses: yes, one UpdateStmt"));
    CHECK(has_step(r, "parameters: $1 kept"));
    CHECK(has_step(r, "cost: "));
    CHECK(r.cost_after < r.cost_before);
    CHECK_FALSE(has_step(r, "rows:"));
    auto archived = harness::shared().exec(
      rewrite_db(), "SELECT count(*) FROM orders WHERE status = 'archived'");
    CHECK(archived.at(0).at(0) == "0");
  }
  SECTION("a SELECT with a DELETE in WITH") {
    // A SELECT by its parse node, and cheaper: only the read-only
    // transaction (and PostgreSQL's refusal to run it in a cursor) keeps
    // the rows.
    auto r = t.check(self_join,
                     "WITH gone AS (DELETE FROM orders WHERE "
                     "customer_id = $1 RETURNING *) SELECT * FROM "
                     "gone");
    INFO(show(r));
    CHECK_FALSE(r.verified);
    CHECK(r.cost_after < r.cost_before);
    CHECK(has_step(r, "rows: not compared"));
  }
  auto left = harness::shared().exec(rewrite_db(),
                                     "SELECT count(*) FROM orders");
  CHECK(left.at(0).at(0) == "50000");
}

TEST_CASE("an ordered original needs the same order", "[rewrite]") {
  target t;
  SECTION("another order") {
    auto r = t.check("SELECT id, total FROM orders WHERE id IN (SELECT id FROM "
                     "orders WHERE customer_id = $1) ORDER BY total DESC, id",
                     "SELECT id, total FROM orders WHERE customer_id = $1 "
                     "ORDER BY total, id");
    INFO(show(r));
    CHECK_FALSE(r.verified);
    CHECK(starts_with(r.reason, "rows in another order"));
  }
  SECTION("rows that tie on the ORDER BY keys may come in any order") {
    // Every row of one customer ties on customer_id.
    auto r = t.check("SELECT id, customer_id, total FROM orders WHERE id IN "
                     "(SELECT id FROM orders WHERE customer_id = $1) ORDER BY "
                     "customer_id",
                     "SELECT id, customer_id, total FROM orders WHERE "
                     "customer_id = $1 ORDER BY customer_id, id DESC");
    INFO(show(r));
    CHECK(r.verified);
    CHECK(contains(r.reason,
                   "rows that tie on the ORDER BY keys come in "
                   "another order"));
  }
}

TEST_CASE("too many rows are not compared", "[rewrite]") {
  target t;
  rewrite_check_options opts;
  opts.row_limit = 100;
  auto r = t.check("SELECT * FROM orders WHERE id IN (SELECT id FROM orders "
                   "WHERE status = $1)",
                   "SELECT * FROM orders WHERE status = $1", opts);
  INFO(show(r));
  CHECK_FALSE(r.verified);
  CHECK(starts_with(r.reason, "too many rows to compare (> 100)"));
  CHECK(r.samples_compared == 0);
}

TEST_CASE("a rewrite that runs too long is stopped", "[rewrite]") {
  target t;
  rewrite_check_options opts;
  opts.statement_timeout = std::chrono::milliseconds{300};
  auto started = std::chrono::steady_clock::now();
  // A recursive CTE the planner thinks cheap that counts to 50 million.
  auto r = t.check(self_join,
                   "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 "
                   "FROM r WHERE n < 50000000) SELECT o.* FROM orders o WHERE "
                   "o.customer_id = $1 AND NOT EXISTS (SELECT 1 FROM r WHERE "
                   "n = 0)",
                   opts);
  INFO(show(r));
  CHECK_FALSE(r.verified);
  CHECK(starts_with(r.reason, "timed out while running the rewrite"));
  CHECK(contains(r.reason, "statement timeout"));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds{4});
  // The same session checks the next rewrite.
  auto next = t.check(self_join, plain, opts);
  INFO(show(next));
  CHECK(next.verified);
}

TEST_CASE("statements get sample values from the columns their parameters "
          "meet",
          "[rewrite]") {
  target t;
  auto texts = [&](const std::string& sql) {
    auto x = sample_executions(t.session, t.cat, sql);
    INFO(sql);
    REQUIRE(x);
    return *x;
  };
  // No NULL where a column's values fit: each text runs and finds rows.
  for (auto& sql :
       {"SELECT id FROM orders WHERE customer_id = $1",
        "UPDATE orders SET status = $1 WHERE customer_id = $2",
        "DELETE FROM orders o WHERE o.customer_id = $1 AND status = $2",
        "INSERT INTO orders (id, customer_id, status, created_at, total) "
        "VALUES (-1, $1, $2, now(), $3)"}) {
    auto xs = texts(sql);
    REQUIRE_FALSE(xs.empty());
    for (auto& x : xs) {
      CHECK(x.find('$') == std::string::npos);
      CHECK(x.find("NULL") == std::string::npos);
    }
  }
  // An INSERT of those values satisfies the foreign key and NOT NULL.
  auto insert = texts("INSERT INTO orders (id, customer_id, status, "
                      "created_at, total) VALUES (-1, $1, $2, $3, $4)");
  auto& h = harness::shared();
  CHECK_NOTHROW(
    h.exec(rewrite_db(), "BEGIN; " + insert.front() + "; ROLLBACK"));
  // Without a column to draw from, NULL stands in.
  auto unbound = texts("SELECT $1::int + 1");
  CHECK(unbound.front().find("NULL") != std::string::npos);
}
