// Reading pg_stat_statements against PostgreSQL 15: texts move once per
// queryid, the engine's own statements stay out either way, and the counters
// match a read with texts.

#include "optischema/pg/conninfo.hpp"
#include "optischema/pg/session.hpp"
#include "optischema/pg/stats_reader.hpp"

#include "harness.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <map>
#include <set>

using namespace optischema;
using namespace optischema::test;

namespace {

/// Calls and text by queryid.
std::map<int64_t, std::pair<int64_t, std::string>>
by_queryid(const raw_sample& s) {
  std::map<int64_t, std::pair<int64_t, std::string>> out;
  for (auto& r : s.rows) {
    auto& [calls, text] = out[r.key.queryid];
    calls += r.total.calls;
    text = r.query;
  }
  return out;
}

} // namespace

TEST_CASE("pg_stat_statements texts are read once per queryid", "[pg][stats]") {
  auto& h = harness::shared();
  auto db = h.create_database("texts");
  h.exec(db,
         "CREATE TABLE t (id int PRIMARY KEY, v text);"
         "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g");
  auto run = [&](const std::string& sql, int times) {
    pqxx::connection c{h.dsn(db)};
    pqxx::nontransaction tx{c};
    for (int i = 0; i < times; ++i)
      tx.exec(sql);
  };
  run("SELECT v FROM t WHERE id = 1", 3);
  run("SELECT count(*) FROM t WHERE v LIKE 'v1%'", 2);
  auto ci = pg::parse_conninfo(h.dsn(db));
  REQUIRE(ci.has_value());
  pg::session s{*ci};

  // A read without `known` carries every text.
  auto full = pg::read_sample(s);
  REQUIRE(full.has_value());
  auto first = by_queryid(*full);
  std::set<int64_t> seen;
  for (auto& [id, row] : first) {
    CHECK_FALSE(row.second.empty());
    seen.insert(id);
  }

  // Known queryids come without text; a statement run since comes with its
  // own, and nothing the engine itself sent (this read's text fetch
  // included) shows up, by text or by queryid.
  run("SELECT v FROM t WHERE id = 2", 4); // same queryid as id = 1
  run("SELECT max(id) FROM t", 1);        // new
  auto known = [&](int64_t id) { return seen.count(id) != 0; };
  auto part = pg::read_sample(s, known);
  REQUIRE(part.has_value());
  auto second = by_queryid(*part);
  int new_ones = 0;
  for (auto& [id, row] : second) {
    if (seen.count(id) != 0) {
      CHECK(row.second.empty());
      continue;
    }
    ++new_ones;
    CHECK(row.second.find("optischema") == std::string::npos);
    CHECK(row.second.find("pg_stat_statements") == std::string::npos);
    CHECK(row.second == "SELECT max(id) FROM t");
  }
  CHECK(new_ones == 1);
  for (auto& [id, row] : first)
    if (row.second == "SELECT v FROM t WHERE id = $1")
      CHECK(second.at(id).first == row.first + 4);

  // Once more with every queryid known: the same rows and counters as a
  // read with texts right after.
  for (auto& [id, row] : second)
    seen.insert(id);
  auto quiet = pg::read_sample(s, known);
  auto again = pg::read_sample(s);
  REQUIRE(quiet.has_value());
  REQUIRE(again.has_value());
  auto a = by_queryid(*quiet);
  auto b = by_queryid(*again);
  std::set<int64_t> ids_a, ids_b;
  for (auto& [id, row] : a)
    ids_a.insert(id);
  for (auto& [id, row] : b)
    ids_b.insert(id);
  CHECK(ids_a == ids_b);
  for (auto& [id, row] : a) {
    CHECK(row.second.empty());
    if (b.count(id) != 0)
      CHECK(row.first == b.at(id).first);
  }
}

TEST_CASE("targets of one server share one read of pg_stat_statements",
          "[pg][stats]") {
  auto& h = harness::shared();
  auto alpha = h.create_database("shared_alpha");
  auto beta = h.create_database("shared_beta");
  // No pg_stat_statements of its own: read through the others' connection.
  auto gamma = h.create_database("shared_gamma");
  h.exec(gamma, "DROP EXTENSION pg_stat_statements");
  for (auto& db : {alpha, beta, gamma})
    h.exec(db,
           "CREATE TABLE t (id int PRIMARY KEY, v text);"
           "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 50) g");
  auto run = [&](const std::string& db, const std::string& sql, int times) {
    pqxx::connection c{h.dsn(db)};
    pqxx::nontransaction tx{c};
    for (int i = 0; i < times; ++i)
      tx.exec(sql);
  };
  run(alpha, "SELECT v FROM t WHERE id = 1", 3);
  run(beta, "SELECT v FROM t WHERE id = 1", 5);
  run(beta, "SELECT count(*) FROM t", 2);
  run(gamma, "SELECT max(id) FROM t", 7);
  auto info = [&](const std::string& db) {
    auto ci = pg::parse_conninfo(h.dsn(db));
    REQUIRE(ci.has_value());
    return *ci;
  };
  auto a = info(alpha), b = info(beta), g = info(gamma);
  // Same role and settings, another database: the same server.
  REQUIRE(pg::server_key(a).has_value());
  CHECK(*pg::server_key(a) == *pg::server_key(b));
  auto other = pg::parse_conninfo(h.dsn(alpha) + " sslmode=disable");
  REQUIRE(other.has_value());
  CHECK(*pg::server_key(*other) != *pg::server_key(a));

  pg::server_reader reader{std::chrono::seconds{60}};
  std::set<int64_t> seen;
  auto known = [&](int64_t id) { return seen.count(id) != 0; };
  auto ra = reader.read(a, known);
  auto rb = reader.read(b, known);
  auto rg = reader.read(g, known);
  REQUIRE(ra.has_value());
  REQUIRE(rb.has_value());
  REQUIRE(rg.has_value());
  // One server-wide read served all three.
  CHECK(reader.server_reads() == 1);
  REQUIRE(reader.facts().has_value());
  CHECK(reader.facts()->database == alpha);

  // Each target gets its own database's rows, with their texts and the
  // same counters as a read of its own connection; none of the engine's.
  auto own = [&](const pg::conninfo& ci) {
    pg::session s{ci};
    auto out = pg::read_sample(s);
    REQUIRE(out.has_value());
    return by_queryid(*out);
  };
  auto check_same
    = [&](const raw_sample& shared,
          const std::map<int64_t, std::pair<int64_t, std::string>>& alone) {
        auto mine = by_queryid(shared);
        for (auto& [id, row] : mine) {
          CHECK(row.second.find("optischema") == std::string::npos);
          CHECK(row.second.find("pg_database") == std::string::npos);
          REQUIRE(alone.count(id) != 0);
          CHECK(alone.at(id).first == row.first);
          CHECK(alone.at(id).second == row.second);
        }
        return mine;
      };
  auto in_a = check_same(*ra, own(a));
  auto in_b = check_same(*rb, own(b));
  auto calls_of = [](auto& m, const std::string& text) {
    for (auto& [id, row] : m)
      if (row.second == text)
        return row.first;
    return int64_t{-1};
  };
  CHECK(calls_of(in_a, "SELECT v FROM t WHERE id = $1") == 3);
  CHECK(calls_of(in_b, "SELECT v FROM t WHERE id = $1") == 5);
  CHECK(calls_of(in_b, "SELECT count(*) FROM t") == 2);
  CHECK(calls_of(in_a, "SELECT count(*) FROM t") == -1);
  // gamma has no extension to read through, yet its statements are counted.
  auto in_g = by_queryid(*rg);
  CHECK(calls_of(in_g, "SELECT max(id) FROM t") == 7);
  for (auto& r : rg->rows)
    CHECK(r.key.dbid != ra->rows.front().key.dbid);
  CHECK(rg->db.xact_commit > 0);

  // Known queryids come without text. A target is never served the same
  // read twice, however fresh: its samples move forward.
  for (auto& [id, row] : in_b)
    seen.insert(id);
  auto again = reader.read(b, known);
  REQUIRE(again.has_value());
  for (auto& r : again->rows)
    CHECK(r.query.empty());
  CHECK(reader.server_reads() == 2);
  CHECK(again->ts_ms >= rb->ts_ms);
  CHECK(reader.read(a, known).has_value());
  CHECK(reader.server_reads() == 2);

  pg::server_reader quick{std::chrono::milliseconds{0}};
  run(beta, "SELECT v FROM t WHERE id = 9", 1);
  auto fresh = quick.read(b, known);
  REQUIRE(fresh.has_value());
  int64_t id_calls = 0;
  for (auto& r : fresh->rows)
    if (in_b.count(r.key.queryid) != 0
        && in_b.at(r.key.queryid).second == "SELECT v FROM t WHERE id = $1")
      id_calls += r.total.calls;
  CHECK(id_calls == 6);

  // A database gone from the server: its target says so, the others read on.
  auto missing = pg::parse_conninfo(h.dsn("no_such_database_here"));
  REQUIRE(missing.has_value());
  auto refused = quick.read(*missing, known);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message.find("no_such_database_here")
        != std::string::npos);
  CHECK(refused.error().message.find("does not exist") != std::string::npos);
  CHECK(quick.read(a, known).has_value());
}
