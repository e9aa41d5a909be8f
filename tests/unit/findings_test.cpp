// Findings: the data files in tests/data/findings (format at the top of
// plans.test) drive plan_findings() over the real plans of tests/data/plans
// and workload_findings() over small catalogs; the C++ cases below cover
// what a data file cannot say well (N+1 pairing, ordering, JSON).

#include "optischema/analysis/findings.hpp"

#include "data_file.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace optischema;

namespace {

using test::data_path;
using test::options;
using test::read_text;
using test::rest;
using test::split;
using test::words;

plan load_plan(const std::string& name) {
  auto p = parse_plan(read_text(data_path("plans") / (name + ".json")));
  REQUIRE(p);
  return *p;
}

std::pair<std::string, std::string> schema_table(const std::string& x) {
  auto dot = x.find('.');
  REQUIRE(dot != std::string::npos);
  return {x.substr(0, dot), x.substr(dot + 1)};
}

use_kind parse_use_kind(const std::string& x) {
  static const std::map<std::string, use_kind> kinds
    = {{"equality", use_kind::equality},
       {"range", use_kind::range},
       {"sort", use_kind::sort},
       {"group", use_kind::group},
       {"join", use_kind::join},
       {"pattern", use_kind::pattern},
       {"containment", use_kind::containment},
       {"projection", use_kind::projection}};
  auto i = kinds.find(x);
  REQUIRE(i != kinds.end());
  return i->second;
}

severity parse_severity(const std::string& x) {
  for (auto s : {severity::info, severity::low, severity::medium,
                 severity::high, severity::critical})
    if (x == to_string(s))
      return s;
  FAIL("unknown severity " << x);
  return severity::info;
}

table_info& table_for(catalog& cat, const std::string& qualified) {
  auto [schema, name] = schema_table(qualified);
  for (auto& t : cat.tables)
    if (t.schema == schema && t.name == name)
      return t;
  table_info t;
  t.schema = schema;
  t.name = name;
  t.last_analyzed_ms = 1'700'000'000'000; // analysed unless a case says not
  cat.tables.push_back(t);
  return cat.tables.back();
}

struct statement_line {
  statement_metrics metrics;
  statement_analysis analysis;
};

struct expectation {
  std::string kind;
  severity level = severity::info;
  std::string relation;
  std::optional<std::optional<int>> node;
  std::optional<std::vector<std::string>> columns;
  std::vector<std::string> mentions;
  std::vector<std::string> lacks;
};

struct none_expectation {
  std::string kind;
  std::optional<int> node;
};

struct test_case {
  std::string name;
  std::string file;
  int line_no = 0;
  std::string plan_name;
  catalog cat;
  statement_analysis stmt;
  std::vector<statement_line> statements;
  std::vector<expectation> expects;
  std::vector<none_expectation> nones;
  std::optional<size_t> count;
};

void catalog_line(catalog& cat, const std::string& line) {
  auto ws = words(line);
  if (ws[0] == "table") {
    REQUIRE(ws.size() >= 3);
    auto& t = table_for(cat, ws[1]);
    t.reltuples = std::stod(ws[2]);
    auto opts = options(ws, 3);
    if (opts.count("never"))
      t.last_analyzed_ms = 0;
    if (opts.count("mod"))
      t.n_mod_since_analyze = std::stoll(opts["mod"]);
    if (opts.count("live"))
      t.n_live_tup = std::stoll(opts["live"]);
    if (opts.count("deletes"))
      t.n_tup_del = std::stoll(opts["deletes"]);
    if (opts.count("kind"))
      t.kind = opts["kind"].at(0);
  } else if (ws[0] == "column") {
    REQUIRE(ws.size() >= 4);
    column_info c;
    c.name = ws[2];
    c.type = rest(line, 3);
    auto& t = table_for(cat, ws[1]);
    c.attnum = static_cast<int>(t.columns.size()) + 1;
    t.columns.push_back(c);
  } else if (ws[0] == "index") {
    REQUIRE(ws.size() >= 5);
    auto parts = split(rest(line, 4), '|');
    index_info ix;
    auto [schema, name] = schema_table(ws[1]);
    ix.schema = schema;
    ix.name = ws[2];
    ix.am = ws[3];
    ix.keys = split(parts[0], ',');
    for (size_t i = 1; i < parts.size(); ++i) {
      if (parts[i] == "primary")
        ix.primary = ix.unique = ix.constraint_backed = true;
      else if (parts[i] == "invalid")
        ix.valid = false;
      else if (parts[i].rfind("where ", 0) == 0)
        ix.predicate = parts[i].substr(6);
      else if (parts[i].rfind("ops ", 0) == 0)
        ix.opclasses = split(parts[i].substr(4), ',');
      else
        FAIL("unknown index option " << parts[i]);
    }
    table_for(cat, ws[1]).indexes.push_back(ix);
  } else if (ws[0] == "fk") {
    REQUIRE(ws.size() == 7);
    REQUIRE(ws[4] == "->");
    foreign_key_info fk;
    fk.name = ws[2];
    fk.columns = split(ws[3], ',');
    auto [rs, rt] = schema_table(ws[5]);
    fk.ref_schema = rs;
    fk.ref_table = rt;
    fk.ref_columns = split(ws[6], ',');
    table_for(cat, ws[1]).foreign_keys.push_back(fk);
  } else if (ws[0] == "work_mem") {
    cat.work_mem_kb = std::stoll(ws.at(1));
  } else if (ws[0] == "version") {
    cat.server_version = std::stoi(ws.at(1));
  } else if (ws[0] == "pg_trgm") {
    cat.pg_trgm_installed = ws.at(1) == "installed";
    cat.pg_trgm_available = ws.at(1) != "missing";
  } else {
    FAIL("unknown line: " << line);
  }
}

void load_catalog(catalog& cat, const std::string& name) {
  for (auto& b : test::read_blocks(data_path("findings") / (name + ".catalog")))
    for (auto& l : b.lines)
      catalog_line(cat, l.text);
}

column_use make_use(const std::string& qualified, const std::string& column,
                    const std::string& kind) {
  column_use u;
  auto [schema, name] = schema_table(qualified);
  u.schema = schema;
  u.table = name;
  u.column = column;
  u.kind = parse_use_kind(kind);
  return u;
}

statement_line& statement_named(test_case& tc, const std::string& fp) {
  for (auto& s : tc.statements)
    if (s.metrics.fingerprint == fp)
      return s;
  FAIL("no statement " << fp);
  return tc.statements.front();
}

void statement_line_of(test_case& tc, const std::vector<std::string>& ws) {
  statement_line s;
  s.metrics.fingerprint = ws.at(1);
  auto opts = options(ws, 2);
  s.metrics.total.calls = std::stoll(opts.at("calls"));
  s.metrics.total.rows = std::stoll(opts.at("rows"));
  s.metrics.total.exec_time_ms = std::stod(opts.at("time"));
  auto kind = opts.count("kind") ? opts["kind"] : "select";
  using k = statement_analysis::kind;
  s.analysis.what = kind == "select" ? k::select
    : kind == "insert"               ? k::insert
    : kind == "update"               ? k::update
                                     : k::delete_;
  s.metrics.query = kind + " …";
  tc.statements.push_back(s);
}

void expectation_line(test_case& tc, const std::string& line,
                      const std::vector<std::string>& ws) {
  if (ws[0] == "expect") {
    REQUIRE(ws.size() >= 4);
    expectation e;
    e.kind = ws[1];
    e.level = parse_severity(ws[2]);
    e.relation = ws[3] == "-" ? "" : ws[3];
    for (size_t i = 4; i < ws.size(); ++i) {
      if (ws[i].rfind("node=", 0) == 0) {
        auto v = ws[i].substr(5);
        e.node = v == "-" ? std::optional<int>{} : std::stoi(v);
      } else if (ws[i].rfind("columns=", 0) == 0) {
        // The rest of the line: keys may hold spaces ("amount DESC").
        e.columns = split(line.substr(line.find("columns=") + 8), ',');
        break;
      } else {
        FAIL("unknown expect option " << ws[i]);
      }
    }
    tc.expects.push_back(e);
  } else if (ws[0] == "mentions" || ws[0] == "lacks") {
    REQUIRE_FALSE(tc.expects.empty());
    (ws[0] == "mentions" ? tc.expects.back().mentions : tc.expects.back().lacks)
      .push_back(rest(line, 1));
  } else if (ws[0] == "none") {
    none_expectation n;
    n.kind = ws.at(1);
    if (ws.size() > 2 && ws[2].rfind("node=", 0) == 0)
      n.node = std::stoi(ws[2].substr(5));
    tc.nones.push_back(n);
  } else if (ws[0] == "count") {
    tc.count = std::stoul(ws.at(1));
  }
}

void case_line(test_case& tc, const std::string& line) {
  auto ws = words(line);
  static const std::set<std::string> expectation_words
    = {"expect", "mentions", "lacks", "none", "count"};
  if (expectation_words.count(ws[0])) {
    expectation_line(tc, line, ws);
  } else if (ws[0] == "plan") {
    tc.plan_name = ws.at(1);
  } else if (ws[0] == "with") {
    load_catalog(tc.cat, ws.at(1));
  } else if (ws[0] == "ref") {
    table_ref r;
    auto [schema, name] = schema_table(ws.at(1));
    r.schema = schema;
    r.table = name;
    if (ws.size() > 2)
      r.alias = ws[2];
    tc.stmt.tables.push_back(r);
  } else if (ws[0] == "use") {
    REQUIRE(ws.size() == 4);
    tc.stmt.uses.push_back(make_use(ws[1], ws[2], ws[3]));
  } else if (ws[0] == "note") {
    tc.stmt.notes.push_back(rest(line, 1));
  } else if (ws[0] == "statement") {
    statement_line_of(tc, ws);
  } else if (ws[0] == "stmt_use") {
    REQUIRE(ws.size() == 5);
    statement_named(tc, ws[1]).analysis.uses.push_back(
      make_use(ws[2], ws[3], ws[4]));
  } else {
    catalog_line(tc.cat, line);
  }
}

std::vector<test_case> read_cases(const std::filesystem::path& file) {
  std::vector<test_case> out;
  for (auto& b : test::read_blocks(file)) {
    auto& head = b.lines[0].text;
    INFO(b.where() << " " << head);
    REQUIRE(head.rfind("case ", 0) == 0);
    test_case tc;
    tc.name = head.substr(5);
    tc.file = b.file;
    tc.line_no = b.lines[0].no;
    for (size_t i = 1; i < b.lines.size(); ++i) {
      INFO(b.file << ":" << b.lines[i].no << " " << b.lines[i].text);
      case_line(tc, b.lines[i].text);
    }
    out.push_back(std::move(tc));
  }
  return out;
}

std::string describe(const finding& f) {
  return f.kind + " " + to_string(f.level) + " " + f.relation + " node="
    + (f.node_id ? std::to_string(*f.node_id) : "-") + " columns=" + [&] {
        std::string s;
        for (auto& c : f.columns)
          s += (s.empty() ? "" : ",") + c;
        return s;
      }();
}

bool matches(const finding& f, const expectation& e) {
  return f.kind == e.kind && f.level == e.level && f.relation == e.relation
    && (!e.node || f.node_id == *e.node)
    && (!e.columns || f.columns == *e.columns);
}

void check_case(const test_case& tc, const std::vector<finding>& found) {
  std::string all;
  for (auto& f : found)
    all += "\n  " + describe(f);
  INFO(tc.file << ":" << tc.line_no << " " << tc.name << "\nfound:" << all);
  REQUIRE((!tc.expects.empty() || !tc.nones.empty() || tc.count));
  for (auto& e : tc.expects) {
    auto i = std::find_if(found.begin(), found.end(),
                          [&](const finding& f) { return matches(f, e); });
    INFO("expected " << e.kind << " " << to_string(e.level) << " "
                     << e.relation);
    REQUIRE(i != found.end());
    auto text = i->title + "\n" + i->evidence + "\n" + i->suggestion;
    INFO(text);
    for (auto& m : e.mentions)
      CHECK(text.find(m) != std::string::npos);
    for (auto& m : e.lacks)
      CHECK(text.find(m) == std::string::npos);
    // Every finding says what, why and what to do.
    CHECK_FALSE(i->title.empty());
    CHECK_FALSE(i->evidence.empty());
    CHECK_FALSE(i->suggestion.empty());
  }
  for (auto& n : tc.nones) {
    INFO("expected no " << n.kind);
    CHECK(std::none_of(found.begin(), found.end(), [&](const finding& f) {
      return f.kind == n.kind && (!n.node || f.node_id == n.node);
    }));
  }
  if (tc.count)
    CHECK(found.size() == *tc.count);
}

std::vector<finding> run_case(const test_case& tc) {
  if (!tc.plan_name.empty())
    return plan_findings(load_plan(tc.plan_name), tc.stmt, tc.cat, "fp");
  std::vector<statement_metrics> metrics;
  std::vector<const statement_analysis*> analyses;
  for (auto& s : tc.statements) {
    metrics.push_back(s.metrics);
    analyses.push_back(&s.analysis);
  }
  return workload_findings(metrics, analyses, tc.cat);
}

statement_metrics stats(std::string fp, std::string query, int64_t calls,
                        int64_t rows, double total_ms) {
  statement_metrics m;
  m.fingerprint = std::move(fp);
  m.query = std::move(query);
  m.total.calls = calls;
  m.total.rows = rows;
  m.total.exec_time_ms = total_ms;
  return m;
}

std::vector<finding> of_kind(const std::vector<finding>& xs,
                             const std::string& kind) {
  std::vector<finding> out;
  for (auto& x : xs)
    if (x.kind == kind)
      out.push_back(x);
  return out;
}

} // namespace

TEST_CASE("findings data files", "[findings]") {
  size_t cases = 0;
  for (auto& entry :
       std::filesystem::directory_iterator(data_path("findings"))) {
    if (entry.path().extension() != ".test")
      continue;
    for (auto& tc : read_cases(entry.path())) {
      check_case(tc, run_case(tc));
      ++cases;
    }
  }
  CHECK(cases >= 60);
}

TEST_CASE("n+1: a child per parent row is found and paired", "[findings]") {
  // The parent lists 10 orders per call; the application then fetches each
  // order's customer: 100 × 10 = 1,000 lookups of 0.02 ms.
  std::vector<statement_metrics> xs{
    stats("parent", "SELECT * FROM orders WHERE status = $1 LIMIT $2", 100,
          1'000, 150),
    stats("child", "SELECT * FROM customers WHERE id = $1", 1'000, 1'000, 20),
    // Noise: a busy statement unrelated to either.
    stats("report", "SELECT count(*) FROM orders", 40, 40, 4'000),
  };
  std::vector<const statement_analysis*> none(xs.size(), nullptr);
  auto found = of_kind(workload_findings(xs, none, {}), "n_plus_one");
  REQUIRE(found.size() == 1);
  auto& f = found.front();
  CHECK(f.fingerprint == "child");
  CHECK(f.level == severity::low); // 20 ms in total
  CHECK(f.title.find("parent") != std::string::npos);
  CHECK(f.evidence.find("1,000 times") != std::string::npos);
  CHECK(f.evidence.find("100 times returning 10.0 rows") != std::string::npos);
  CHECK(f.evidence.find("0.020 ms mean") != std::string::npos);
  CHECK(f.suggestion.find("ANY($1)") != std::string::npos);
  CHECK(f.suggestion.find("parent") != std::string::npos);
  CHECK(f.suggestion.find("child") != std::string::npos);
  CHECK_FALSE(f.node_id);
}

TEST_CASE("n+1: severity follows the child's total time", "[findings]") {
  // 2,000 parent calls of 20 rows drive 40,000 lookups of 0.9 ms: 36 s.
  std::vector<statement_metrics> xs{
    stats("parent", "SELECT id FROM orders", 2'000, 40'000, 900),
    stats("child", "SELECT * FROM items WHERE order_id = $1", 40'000, 38'000,
          36'000),
  };
  std::vector<const statement_analysis*> none(xs.size(), nullptr);
  auto found = of_kind(workload_findings(xs, none, {}), "n_plus_one");
  REQUIRE(found.size() == 1);
  CHECK(found[0].level == severity::medium);
  // Twice the rows and lookups, 61 s in total: high.
  xs[0].total.rows = 80'000;
  xs[1].total.calls = 80'000;
  xs[1].total.exec_time_ms = 61'000;
  found = of_kind(workload_findings(xs, none, {}), "n_plus_one");
  REQUIRE(found.size() == 1);
  CHECK(found[0].level == severity::high);
  // A 1.5 ms mean is a slow query of its own, not a per-row lookup.
  xs[1].total.exec_time_ms = 120'000;
  CHECK(of_kind(workload_findings(xs, none, {}), "n_plus_one").empty());
}

TEST_CASE("n+1: a busy statement returning 50 rows per call is legitimate",
          "[findings]") {
  std::vector<statement_metrics> xs{
    stats("list", "SELECT * FROM orders WHERE customer_id = $1", 20'000,
          1'000'000, 8'000),
    stats("home", "SELECT * FROM customers WHERE id = $1", 400, 400, 10),
  };
  std::vector<const statement_analysis*> none(xs.size(), nullptr);
  CHECK(of_kind(workload_findings(xs, none, {}), "n_plus_one").empty());
}

TEST_CASE("n+1: rows per call far from the call ratio are not a pair",
          "[findings]") {
  // The child runs 10× per parent call, the parent returns 15 rows: off by
  // 50%, more than the 30% tolerance. 5,000 calls is not chatty either.
  std::vector<statement_metrics> xs{
    stats("parent", "SELECT * FROM orders", 500, 7'500, 100),
    stats("child", "SELECT * FROM customers WHERE id = $1", 5'000, 5'000, 50),
  };
  std::vector<const statement_analysis*> none(xs.size(), nullptr);
  CHECK(of_kind(workload_findings(xs, none, {}), "n_plus_one").empty());
  // Within 30%: 13 rows per call against a ratio of 10.
  xs[0].total.rows = 6'500;
  CHECK(of_kind(workload_findings(xs, none, {}), "n_plus_one").size() == 1);
}

TEST_CASE("n+1: the closest parent wins", "[findings]") {
  std::vector<statement_metrics> xs{
    stats("rough", "SELECT * FROM a", 100, 1'200, 10), // 12 per call
    stats("exact", "SELECT * FROM b", 100, 1'000, 10), // 10 per call
    stats("child", "SELECT * FROM c WHERE id = $1", 1'000, 900, 30),
  };
  std::vector<const statement_analysis*> none(xs.size(), nullptr);
  auto found = of_kind(workload_findings(xs, none, {}), "n_plus_one");
  REQUIRE(found.size() == 1);
  CHECK(found[0].title.find("exact") != std::string::npos);
  CHECK(found[0].title.find("rough") == std::string::npos);
}

TEST_CASE("n+1: a huge chatty lookup without a parent is reported lower",
          "[findings]") {
  std::vector<statement_metrics> xs{
    stats("chatty", "SELECT value FROM settings WHERE key = $1", 250'000,
          250'000, 5'000), // 0.02 ms mean, 5 s in total
  };
  std::vector<const statement_analysis*> none(xs.size(), nullptr);
  auto found = of_kind(workload_findings(xs, none, {}), "n_plus_one");
  REQUIRE(found.size() == 1);
  CHECK(found[0].level == severity::low); // medium by time, one lower
  CHECK(found[0].title.find("Chatty") != std::string::npos);
  xs[0].total.calls = 9'000; // not huge
  xs[0].total.rows = 9'000;
  CHECK(of_kind(workload_findings(xs, none, {}), "n_plus_one").empty());
}

TEST_CASE("n+1: writes are not lookups", "[findings]") {
  std::vector<statement_metrics> xs{
    stats("parent", "SELECT * FROM orders", 100, 1'000, 10),
    stats("insert", "INSERT INTO audit (order_id) VALUES ($1)", 1'000, 1'000,
          20),
  };
  std::vector<const statement_analysis*> none(xs.size(), nullptr);
  CHECK(of_kind(workload_findings(xs, none, {}), "n_plus_one").empty());
  // The analysis, when present, decides over the text.
  statement_analysis select;
  select.what = statement_analysis::kind::select;
  select.tables.push_back({"public", "audit", "", ""});
  column_use u;
  u.schema = "public";
  u.table = "audit";
  u.column = "order_id";
  u.kind = use_kind::equality;
  select.uses.push_back(u);
  std::vector<const statement_analysis*> analyses{nullptr, &select};
  auto found = of_kind(workload_findings(xs, analyses, {}), "n_plus_one");
  REQUIRE(found.size() == 1);
  CHECK(found[0].relation == "public.audit");
  CHECK(found[0].columns == std::vector<std::string>{"order_id"});
}

TEST_CASE("findings are deterministic and ordered", "[findings]") {
  catalog cat;
  load_catalog(cat, "shop");
  table_for(cat, "public.customers").last_analyzed_ms = 0;
  auto p = load_plan("nested_loop_seq_inner");
  statement_analysis stmt;
  stmt.notes.push_back("or_across_columns: city, email of public.customers");
  auto a = plan_findings(p, stmt, cat, "fp1");
  auto b = plan_findings(p, stmt, cat, "fp1");
  REQUIRE(a.size() >= 4);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].kind == b[i].kind);
    CHECK(a[i].node_id == b[i].node_id);
    CHECK(a[i].fingerprint == "fp1");
  }
  for (size_t i = 1; i < a.size(); ++i) {
    INFO(a[i - 1].kind << " before " << a[i].kind);
    CHECK(a[i - 1].level >= a[i].level);
    if (a[i - 1].level == a[i].level && a[i - 1].node_id && a[i].node_id)
      CHECK(*a[i - 1].node_id <= *a[i].node_id);
  }
  CHECK(a.front().kind == "nested_loop_large_inner");
  CHECK(a.front().level == severity::high);
}

TEST_CASE("a finding renders every field as JSON", "[findings]") {
  finding f;
  f.kind = "seq_scan_large_table";
  f.level = severity::high;
  f.title = "t \"quoted\"";
  f.evidence = "e";
  f.suggestion = "s";
  f.fingerprint = "abc";
  f.node_id = 3;
  f.relation = "public.orders";
  f.columns = {"customer_id", "created_at DESC"};
  auto render = [](const finding& x) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    write(w, x);
    rapidjson::Document d;
    d.Parse(buf.GetString());
    REQUIRE_FALSE(d.HasParseError());
    return d;
  };
  auto d = render(f);
  CHECK(std::string{d["kind"].GetString()} == "seq_scan_large_table");
  CHECK(std::string{d["severity"].GetString()} == "high");
  CHECK(std::string{d["title"].GetString()} == "t \"quoted\"");
  CHECK(std::string{d["evidence"].GetString()} == "e");
  CHECK(std::string{d["suggestion"].GetString()} == "s");
  CHECK(std::string{d["fingerprint"].GetString()} == "abc");
  CHECK(d["node_id"].GetInt() == 3);
  CHECK(std::string{d["relation"].GetString()} == "public.orders");
  REQUIRE(d["columns"].Size() == 2);
  CHECK(std::string{d["columns"][1].GetString()} == "created_at DESC");
  CHECK(d.MemberCount() == 9);
  f.node_id.reset();
  CHECK(render(f)["node_id"].IsNull());
}

TEST_CASE("severity names", "[findings]") {
  CHECK(std::string{to_string(severity::info)} == "info");
  CHECK(std::string{to_string(severity::low)} == "low");
  CHECK(std::string{to_string(severity::medium)} == "medium");
  CHECK(std::string{to_string(severity::high)} == "high");
  CHECK(std::string{to_string(severity::critical)} == "critical");
}

TEST_CASE("hand-built plans: one finding per kind and node", "[findings]") {
  // Two functions and two casts in one filter: one finding per kind, both
  // expressions listed.
  plan p;
  p.root.node_type = "Seq Scan";
  p.root.relation = "customers";
  p.root.alias = "customers";
  p.root.plan_rows = 10;
  p.root.filter = "((lower(last_name) = 'x'::text) AND (upper(city) = "
                  "'Y'::text) AND ((id)::text = '1'::text))";
  catalog cat;
  load_catalog(cat, "shop");
  auto found = plan_findings(p, {}, cat, "fp");
  auto fn = of_kind(found, "non_sargable_function");
  REQUIRE(fn.size() == 1);
  CHECK(fn[0].columns == std::vector<std::string>{"last_name", "city"});
  CHECK(fn[0].title.find("lower(last_name); upper(city)") != std::string::npos);
  CHECK(of_kind(found, "implicit_cast").size() == 1);
  CHECK(of_kind(found, "seq_scan_large_table").size() == 1);
  // A function of a parameter, and a column compared with a function of
  // constants, are sargable.
  p.root.filter = "((last_name = lower($1)) AND (created_at > (now() - "
                  "'1 day'::interval)))";
  found = plan_findings(p, {}, cat, "fp");
  CHECK(of_kind(found, "non_sargable_function").empty());
  CHECK(of_kind(found, "implicit_cast").empty());
  // The result of a function cast is not a column cast.
  p.root.filter = "((lower(last_name))::character varying = 'x'::text)";
  found = plan_findings(p, {}, cat, "fp");
  CHECK(of_kind(found, "implicit_cast").empty());
  CHECK(of_kind(found, "non_sargable_function").size() == 1);
  // IS NULL over a function is an operand too; a cast to the column's own
  // type (a domain's base type, say) is not a conversion.
  p.root.filter = "((lower(email) IS NULL) AND ((id)::integer = 1))";
  found = plan_findings(p, {}, cat, "fp");
  CHECK(of_kind(found, "non_sargable_function").size() == 1);
  CHECK(of_kind(found, "implicit_cast").empty());
  // An OR of the same column is an IN list, not an OR across columns; an OR
  // nested in an AND is found.
  p.root.filter = "((city = 'a'::text) OR (city = 'b'::text))";
  CHECK(of_kind(plan_findings(p, {}, cat, "fp"), "or_across_columns").empty());
  p.root.filter = "((created_at > now()) AND ((city = 'a'::text) OR "
                  "(email = 'b'::text)))";
  auto ors = of_kind(plan_findings(p, {}, cat, "fp"), "or_across_columns");
  REQUIRE(ors.size() == 1);
  CHECK(ors[0].columns == std::vector<std::string>{"city", "email"});
  // A literal containing " OR " and "(" is not an OR.
  p.root.filter = "(city = 'x OR (y'::text)";
  CHECK(of_kind(plan_findings(p, {}, cat, "fp"), "or_across_columns").empty());
  // ILIKE with a leading underscore, a LIKE with a prefix.
  p.root.filter = "((email ~~* '_ohn%'::text) AND (city ~~ 'Ber%'::text))";
  auto like = of_kind(plan_findings(p, {}, cat, "fp"), "leading_wildcard_like");
  REQUIRE(like.size() == 1);
  CHECK(like[0].columns == std::vector<std::string>{"email"});
}

TEST_CASE("nested loops through Materialize and Memoize", "[findings]") {
  catalog cat;
  load_catalog(cat, "shop");
  auto scan = [](std::string rel, std::string alias, double rows) {
    plan_node n;
    n.node_type = "Seq Scan";
    n.relation = std::move(rel);
    n.alias = std::move(alias);
    n.plan_rows = rows;
    return n;
  };
  plan p;
  p.root.node_type = "Nested Loop";
  p.root.join_filter = "(c.id = o.customer_id)";
  p.root.children.push_back(scan("customers", "c", 100));
  p.root.children[0].parent_relationship = "Outer";
  plan_node wrapper;
  wrapper.node_type = "Materialize";
  wrapper.parent_relationship = "Inner";
  wrapper.plan_rows = 200'000;
  wrapper.children.push_back(scan("orders", "o", 200'000));
  p.root.children.push_back(wrapper);
  auto run = [&] {
    return of_kind(plan_findings(p, {}, cat, "fp"), "nested_loop_large_inner");
  };
  // 200,000 materialised rows replayed 100 times.
  auto found = run();
  REQUIRE(found.size() == 1);
  CHECK(found[0].relation == "public.orders");
  CHECK(found[0].columns == std::vector<std::string>{"customer_id"});
  CHECK(found[0].title.find("re-reads rows of") != std::string::npos);
  CHECK(found[0].level == severity::high); // 20 million comparisons
  // Memoize runs the scan on every cache miss: the table's rows count.
  p.root.children[1].node_type = "Memoize";
  p.root.children[1].plan_rows = 1;
  found = run();
  REQUIRE(found.size() == 1);
  CHECK(found[0].title.find("scans public.orders (200,000 rows)")
        != std::string::npos);
  // An index condition on the inner scan is what a nested loop wants.
  p.root.children[1].children[0].node_type = "Index Scan";
  p.root.children[1].children[0].index_cond = "(customer_id = c.id)";
  CHECK(run().empty());
}

TEST_CASE("a self-join: one finding per node", "[findings]") {
  catalog cat;
  load_catalog(cat, "shop");
  plan p;
  p.root.node_type = "Hash Join";
  p.root.hash_cond = "(a.customer_id = b.customer_id)";
  for (auto alias : {"a", "b"}) {
    plan_node n;
    n.node_type = "Seq Scan";
    n.relation = "orders";
    n.alias = alias;
    n.plan_rows = 10;
    n.filter = std::string{"(lower("} + alias + ".status) = 'x'::text)";
    p.root.children.push_back(n);
  }
  p.root.children[0].id = 1;
  p.root.children[1].id = 2;
  auto found = plan_findings(p, {}, cat, "fp");
  auto seq = of_kind(found, "seq_scan_large_table");
  REQUIRE(seq.size() == 2);
  CHECK(seq[0].node_id == 1);
  CHECK(seq[1].node_id == 2);
  CHECK(of_kind(found, "non_sargable_function").size() == 2);
  // A note on the same table does not add a third.
  statement_analysis stmt;
  stmt.notes.push_back("non_sargable: lower(status) on public.orders");
  CHECK(
    of_kind(plan_findings(p, stmt, cat, "fp"), "non_sargable_function").size()
    == 2);
}

TEST_CASE("notes of analyze_statement() line up with the plan's findings",
          "[findings]") {
  // The contract between the two analysers: the parse tree's notes name the
  // same patterns the plan shows, and the cast noted twice (non_sargable and
  // implicit_cast) is reported once.
  catalog cat;
  load_catalog(cat, "shop");
  auto stmt = analyze_statement("SELECT * FROM orders WHERE id::text = $1",
                                cat);
  REQUIRE(stmt);
  auto found = plan_findings(load_plan("implicit_cast_text"), *stmt, cat, "fp");
  CHECK(of_kind(found, "implicit_cast").size() == 1);
  CHECK(of_kind(found, "non_sargable_function").empty());
  stmt = analyze_statement(
    "SELECT * FROM customers WHERE email = $1 OR last_name = $2", cat);
  REQUIRE(stmt);
  found = plan_findings(load_plan("or_across_columns"), *stmt, cat, "fp");
  auto ors = of_kind(found, "or_across_columns");
  REQUIRE(ors.size() == 1);
  CHECK(ors[0].node_id == 0);
  // Through an index scan the plan shows no filter: the note still tells.
  stmt = analyze_statement(
    "SELECT * FROM customers WHERE lower(last_name) = $1", cat);
  REQUIRE(stmt);
  found = plan_findings(load_plan("index_scan"), *stmt, cat, "fp");
  auto fn = of_kind(found, "non_sargable_function");
  REQUIRE(fn.size() == 1);
  CHECK(fn[0].relation == "public.customers");
  CHECK(fn[0].columns == std::vector<std::string>{"last_name"});
}
