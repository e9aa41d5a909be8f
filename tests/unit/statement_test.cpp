// Statement analysis: the statement expectations of the data files in
// tests/data/candidates (run by candidates_test.cpp's runner) and direct
// tests of quote_ident() and of what the data format cannot express.

#include "optischema/analysis/statement.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

using namespace optischema;

namespace optischema::test {
size_t run_candidate_data_files(bool statement_part);
} // namespace optischema::test

TEST_CASE("statement expectations of the candidate data files", "[statement]") {
  CHECK(optischema::test::run_candidate_data_files(true) > 0);
}

TEST_CASE("quote_ident follows PostgreSQL's rules", "[statement]") {
  CHECK(quote_ident("patients") == "patients");
  CHECK(quote_ident("_x1$") == "_x1$");
  CHECK(quote_ident("starts_at") == "starts_at");
  // Upper case, leading digit or dollar, spaces, other characters: quoted.
  CHECK(quote_ident("CustomerId") == "\"CustomerId\"");
  CHECK(quote_ident("1abc") == "\"1abc\"");
  CHECK(quote_ident("$x") == "\"$x\"");
  CHECK(quote_ident("order items") == "\"order items\"");
  CHECK(quote_ident("a-b") == "\"a-b\"");
  CHECK(quote_ident("é") == "\"é\"");
  // Embedded double quotes are doubled.
  CHECK(quote_ident("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(quote_ident("") == "\"\"");
  // Reserved, column-name and type/function-name keywords are quoted…
  for (auto* kw : {"select", "from", "where", "order", "group", "user", "table",
                   "limit", "desc", "between", "int", "timestamp", "values",
                   "left", "join", "like", "is", "verbose"})
    CHECK(quote_ident(kw) == std::string{"\""} + kw + "\"");
  // …unreserved ones are not.
  for (auto* kw : {"name", "type", "status", "data", "key", "value", "action",
                   "comment", "day", "year", "text", "date"})
    CHECK(quote_ident(kw) == kw);
}

namespace {

catalog small_catalog() {
  catalog cat;
  table_info t;
  t.schema = "public";
  t.name = "orders";
  t.reltuples = 10000;
  int n = 0;
  for (auto* name : {"id", "customer_id", "status", "total", "paid"}) {
    column_info c;
    c.name = name;
    c.type = "integer";
    c.attnum = ++n;
    t.columns.push_back(std::move(c));
  }
  t.columns[2].type = "text";
  t.columns[4].type = "boolean";
  cat.tables.push_back(t);
  return cat;
}

bool has_use(const statement_analysis& a, const std::string& column,
             use_kind k) {
  return std::any_of(a.uses.begin(), a.uses.end(), [&](auto& u) {
    return u.column == column && u.kind == k;
  });
}

} // namespace

TEST_CASE("parse errors carry libpg_query's message", "[statement]") {
  auto a = analyze_statement("SELEC * FROM orders", small_catalog());
  REQUIRE_FALSE(a);
  CHECK(a.error().code == ec::parse_error);
  CHECK(a.error().message
        == "libpg_query cannot parse the statement: syntax error at or near "
           "\"SELEC\"");
}

TEST_CASE("empty text and several statements", "[statement]") {
  auto empty = analyze_statement("  -- nothing\n", small_catalog());
  REQUIRE(empty);
  CHECK(empty->what == statement_analysis::kind::other);
  CHECK(empty->uses.empty());
  auto two = analyze_statement(
    "SELECT * FROM orders WHERE status = $1; DELETE FROM orders",
    small_catalog());
  REQUIRE(two);
  CHECK(two->what == statement_analysis::kind::select);
  CHECK(has_use(*two, "status", use_kind::equality));
  CHECK(std::any_of(two->notes.begin(), two->notes.end(), [](auto& n) {
    return n.starts_with("multiple_statements: 2");
  }));
}

TEST_CASE("column_use fields for a typical lookup", "[statement]") {
  auto a = analyze_statement("SELECT o.total FROM public.orders AS o "
                             "WHERE o.customer_id = $1 AND o.status = 'open' "
                             "ORDER BY o.id DESC LIMIT 5",
                             small_catalog());
  REQUIRE(a);
  REQUIRE(a->tables.size() == 1);
  CHECK(a->tables[0].alias == "o");
  CHECK(a->tables[0].via.empty());
  CHECK(a->has_limit);
  auto find = [&](const std::string& col, use_kind k) {
    return *std::find_if(a->uses.begin(), a->uses.end(), [&](auto& u) {
      return u.column == col && u.kind == k;
    });
  };
  auto cust = find("customer_id", use_kind::equality);
  CHECK(cust.schema == "public");
  CHECK(cust.table == "orders");
  CHECK(cust.op == "=");
  CHECK(cust.literal.empty()); // a parameter
  CHECK_FALSE(cust.in_or);
  auto status = find("status", use_kind::equality);
  CHECK(status.literal == "'open'");
  CHECK(status.group == cust.group);
  auto id = find("id", use_kind::sort);
  CHECK(id.descending);
  CHECK(has_use(*a, "total", use_kind::projection));
  CHECK_FALSE(has_use(*a, "paid", use_kind::projection));
}

TEST_CASE("SELECT * reads every column", "[statement]") {
  auto a = analyze_statement("SELECT * FROM orders WHERE id = 1",
                             small_catalog());
  REQUIRE(a);
  for (auto* c : {"id", "customer_id", "status", "total", "paid"})
    CHECK(has_use(*a, c, use_kind::projection));
}

TEST_CASE("utility statements are not analysed", "[statement]") {
  for (auto* sql :
       {"CREATE INDEX ON orders (status)", "SET work_mem = '64MB'",
        "VACUUM ANALYZE orders", "COPY orders FROM STDIN", "BEGIN",
        "EXPLAIN SELECT * FROM orders WHERE status = $1",
        "CREATE TABLE x AS SELECT * FROM orders WHERE status = 'a'"}) {
    INFO(sql);
    auto a = analyze_statement(sql, small_catalog());
    REQUIRE(a);
    CHECK(a->what == statement_analysis::kind::utility);
    CHECK(a->uses.empty());
  }
}

TEST_CASE("to_string(use_kind)", "[statement]") {
  CHECK(std::string{to_string(use_kind::equality)} == "equality");
  CHECK(std::string{to_string(use_kind::containment)} == "containment");
  CHECK(std::string{to_string(use_kind::projection)} == "projection");
}

TEST_CASE("volatile functions make no expression use", "[statement]") {
  auto a = analyze_statement(
    "SELECT id FROM orders WHERE total - random() > $1", small_catalog());
  REQUIRE(a);
  CHECK(std::none_of(a->uses.begin(), a->uses.end(),
                     [](auto& u) { return !u.expression.empty(); }));
  CHECK(has_use(*a, "total", use_kind::projection));
  // An immutable function over the column is one.
  auto b = analyze_statement("SELECT id FROM orders WHERE abs(total) > $1",
                             small_catalog());
  REQUIRE(b);
  CHECK(std::any_of(b->uses.begin(), b->uses.end(), [](auto& u) {
    return u.expression == "abs(total)" && u.kind == use_kind::range;
  }));
}

TEST_CASE("a CTE shadows a table of the same name", "[statement]") {
  auto a = analyze_statement("WITH orders AS MATERIALIZED (SELECT 1 AS status) "
                             "SELECT * FROM orders WHERE status = $1",
                             small_catalog());
  REQUIRE(a);
  CHECK(a->uses.empty());
  CHECK(a->tables.empty());
  CHECK(a->unresolved.empty());
}

TEST_CASE("views that cannot be expanded are noted, not followed",
          "[statement]") {
  auto cat = small_catalog();
  table_info loop;
  loop.schema = "public";
  loop.name = "loop_view";
  loop.kind = 'v';
  loop.view_definition = "SELECT * FROM loop_view";
  cat.tables.push_back(loop);
  table_info broken = loop;
  broken.name = "broken_view";
  broken.view_definition = "SELEC nonsense";
  cat.tables.push_back(broken);
  table_info fine = loop;
  fine.name = "open_orders";
  fine.view_definition = " SELECT o.id, o.customer_id AS cust\n   FROM orders o"
                         "\n  WHERE (o.status = 'open'::text);";
  cat.tables.push_back(fine);
  auto a = analyze_statement("SELECT * FROM loop_view", cat);
  REQUIRE(a);
  CHECK(std::find(a->notes.begin(), a->notes.end(),
                  "unexpanded_view: public.loop_view")
        != a->notes.end());
  auto b = analyze_statement("SELECT * FROM broken_view WHERE x = 1", cat);
  REQUIRE(b);
  CHECK(b->uses.empty());
  CHECK(std::find(b->notes.begin(), b->notes.end(),
                  "unexpanded_view: public.broken_view")
        != b->notes.end());
  // A renamed output column maps back to its base column.
  auto c = analyze_statement("SELECT id FROM open_orders WHERE cust = $1", cat);
  REQUIRE(c);
  CHECK(has_use(*c, "customer_id", use_kind::equality));
  CHECK(has_use(*c, "status", use_kind::equality));
  REQUIRE(c->tables.size() == 1);
  CHECK(c->tables[0].via == "public.open_orders");
  CHECK(c->tables[0].alias == "o");
}

TEST_CASE("three-part names and quoted aliases", "[statement]") {
  auto a = analyze_statement(
    "SELECT \"O\".id FROM public.orders \"O\" WHERE \"O\".status = $1 "
    "AND public.orders.total > 0",
    small_catalog());
  REQUIRE(a);
  CHECK(has_use(*a, "status", use_kind::equality));
  // public.orders is not visible under its own name once aliased.
  CHECK_FALSE(has_use(*a, "total", use_kind::range));
  auto b = analyze_statement(
    "SELECT 1 FROM public.orders WHERE public.orders.total > 0",
    small_catalog());
  REQUIRE(b);
  CHECK(has_use(*b, "total", use_kind::range));
}
