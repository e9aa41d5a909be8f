// What a statement names that PostgreSQL may run while planning or
// executing it, read off libpg_query's parse tree (pg/safety.cpp resolves
// the names in a target's catalog).

#include "optischema/analysis/references.hpp"

#include <catch2/catch.hpp>

using namespace optischema;

namespace {

statement_references refs(const std::string& sql) {
  auto r = collect_references(sql);
  INFO(sql);
  REQUIRE(r);
  return *r;
}

bool has(const std::set<qualified_name>& xs, const std::string& schema,
         const std::string& name) {
  return xs.contains({schema, name});
}

} // namespace

TEST_CASE("references: functions, qualified or not, wherever they are "
          "called",
          "[references]") {
  auto r = refs("SELECT lower(a), public.f(b) FROM t, generate_series(1, 3) g "
                "WHERE b = ANY (SELECT g2() FROM u) ORDER BY count(*)");
  CHECK(r.type == "SelectStmt");
  CHECK(has(r.functions, "", "lower"));
  CHECK(has(r.functions, "public", "f"));
  CHECK(has(r.functions, "", "generate_series"));
  CHECK(has(r.functions, "", "g2"));
  CHECK(has(r.functions, "", "count"));
  CHECK(has(r.relations, "", "t"));
  CHECK(has(r.relations, "", "u"));
  // SQL syntax that is a function underneath comes qualified.
  CHECK(has(refs("SELECT extract(year FROM d) FROM t").functions, "pg_catalog",
            "extract"));
}

TEST_CASE("references: operators, also those the syntax implies",
          "[references]") {
  auto r = refs("SELECT * FROM t WHERE a === 1 AND b BETWEEN 1 AND 2 AND c "
                "LIKE 'x%' AND d IN (1, 2) AND e IN (SELECT e FROM u) AND f "
                "OPERATOR(myschema.<<<) 3");
  CHECK(has(r.operators, "", "==="));
  CHECK(has(r.operators, "", ">="));
  CHECK(has(r.operators, "", "<="));
  CHECK(has(r.operators, "", "~~"));
  CHECK(has(r.operators, "", "="));
  CHECK(has(r.operators, "myschema", "<<<"));
}

TEST_CASE("references: casts, locks, SELECT INTO, INSERT targets",
          "[references]") {
  auto r = refs("SELECT x::public.mytype, y::int FROM t FOR UPDATE");
  CHECK(has(r.casts, "public", "mytype"));
  CHECK(has(r.casts, "pg_catalog", "int4"));
  REQUIRE(r.locks.size() == 1);
  CHECK(r.locks.front() == "FOR UPDATE");
  CHECK(refs("SELECT * INTO copy FROM t").select_into);
  auto ins = refs("INSERT INTO app.orders (id) VALUES ($1)");
  CHECK(ins.type == "InsertStmt");
  REQUIRE(ins.insert_target);
  CHECK(ins.insert_target->text() == "app.orders");
  // pg_stat_statements' `timestamptz $1` reads as a cast.
  CHECK(has(refs("SELECT * FROM t WHERE c > timestamptz $1").casts, "",
            "timestamptz"));
}

TEST_CASE("references: one statement only, and expressions", "[references]") {
  CHECK_FALSE(collect_references("SELECT 1; SELECT 2"));
  CHECK_FALSE(collect_references("SELEC 1"));
  auto d = expression_references("nextval('t_id_seq'::regclass)");
  REQUIRE(d);
  CHECK(has(d->functions, "", "nextval"));
  CHECK(has(d->casts, "", "regclass"));
  CHECK(refs("COPY t TO PROGRAM 'x'").type == "CopyStmt");
  // What the planner folds in an index or CHECK expression: calls and
  // operators over constants, not over columns.
  auto folded = expression_references("f(a) = g(2) AND h() === 1", true);
  REQUIRE(folded);
  CHECK_FALSE(has(folded->functions, "", "f"));
  CHECK(has(folded->functions, "", "g"));
  CHECK(has(folded->functions, "", "h"));
  CHECK(has(folded->operators, "", "==="));
  CHECK_FALSE(has(folded->operators, "", "="));
}

TEST_CASE("references: an index's expressions and predicate, not its table",
          "[references]") {
  auto r = index_expression_references(
    "CREATE INDEX ON public.t USING btree ((norm(owner)), id) WHERE status = "
    "'open'");
  REQUIRE(r);
  CHECK(has(r->functions, "", "norm"));
  CHECK(has(r->operators, "", "="));
  CHECK(r->relations.empty());
  auto plain = index_expression_references("CREATE INDEX ON t (a, b DESC)");
  REQUIRE(plain);
  CHECK(plain->functions.empty());
  CHECK(plain->operators.empty());
  CHECK_FALSE(index_expression_references("DROP INDEX x"));
}
