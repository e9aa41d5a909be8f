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
