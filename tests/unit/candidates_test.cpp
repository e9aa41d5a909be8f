// Index candidates: the data files in tests/data/candidates (format at the
// top of each file) and direct tests of served_by() and the DDL/key text.
// The same data files also carry statement-analysis expectations; their
// runner lives here and statement_test.cpp calls it for its part.

#include "optischema/analysis/candidates.hpp"
#include "optischema/analysis/statement.hpp"

#include "data_file.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

using namespace optischema;

namespace {

// -- reading the data files --------------------------------------------------

using test::option;
using test::split;
using test::trim;
using test::words;

bool starts(const std::string& x, const std::string& prefix) {
  return x.rfind(prefix, 0) == 0;
}

std::string after(const std::string& x, const std::string& prefix) {
  return trim(x.substr(prefix.size()));
}

// Splits "a, lower(b), c DESC" at top-level commas.
std::vector<std::string> split_keys(const std::string& x) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  bool quoted = false;
  for (char c : x) {
    if (c == '\'')
      quoted = !quoted;
    if (!quoted && c == '(')
      ++depth;
    if (!quoted && c == ')')
      --depth;
    if (!quoted && depth == 0 && c == ',') {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!trim(cur).empty())
    out.push_back(trim(cur));
  return out;
}

// The text inside the parenthesis opening at `open`; `end` past the close.
std::string parenthesised(const std::string& x, size_t open, size_t& end) {
  int depth = 0;
  for (auto i = open; i < x.size(); ++i) {
    if (x[i] == '(')
      ++depth;
    if (x[i] == ')' && --depth == 0) {
      end = i + 1;
      return x.substr(open + 1, i - open - 1);
    }
  }
  end = x.size();
  return x.substr(open + 1);
}

void apply_settings(catalog& cat, const std::vector<std::string>& ws) {
  if (auto sp = option(ws, "search_path"); !sp.empty())
    cat.search_path = split(sp, ',');
  if (auto v = option(ws, "version"); !v.empty())
    cat.server_version = std::stoi(v);
  if (auto trgm = option(ws, "pg_trgm"); !trgm.empty()) {
    cat.pg_trgm_installed = trgm == "installed";
    cat.pg_trgm_available = trgm == "installed" || trgm == "available";
  }
}

table_info parse_table(const std::vector<std::string>& ws) {
  table_info t;
  auto dot = ws.at(1).find('.');
  t.schema = ws[1].substr(0, dot);
  t.name = ws[1].substr(dot + 1);
  auto num = [&](const char* key) {
    auto v = option(ws, key);
    return v.empty() ? int64_t{0} : std::stoll(v);
  };
  t.reltuples = static_cast<double>(num("rows"));
  t.n_live_tup = num("rows");
  t.n_tup_ins = num("ins");
  t.n_tup_upd = num("upd");
  t.n_tup_del = num("del");
  if (auto k = option(ws, "kind"); !k.empty())
    t.kind = k[0];
  t.parent = option(ws, "parent");
  return t;
}

// col NAME TYPE WORDS… [: n_distinct=… null_frac=… avg_width=…
//                          correlation=… mcv=value:freq|value:freq]
column_info parse_column(const std::string& line, int attnum) {
  auto body = after(line, "col");
  std::string stats;
  if (auto colon = body.find(" :"); colon != std::string::npos) {
    stats = body.substr(colon + 2);
    body = body.substr(0, colon);
  }
  column_info c;
  auto ws = words(body);
  c.name = ws.at(0);
  c.attnum = attnum;
  for (size_t i = 1; i < ws.size(); ++i)
    c.type += (i > 1 ? " " : "") + ws[i];
  auto sw = words(stats);
  c.has_stats = !sw.empty();
  if (auto v = option(sw, "n_distinct"); !v.empty())
    c.n_distinct = std::stod(v);
  if (auto v = option(sw, "null_frac"); !v.empty())
    c.null_frac = std::stod(v);
  if (auto v = option(sw, "avg_width"); !v.empty())
    c.avg_width = std::stoi(v);
  if (auto v = option(sw, "correlation"); !v.empty())
    c.correlation = std::stod(v);
  if (auto v = option(sw, "mcv"); !v.empty())
    for (auto& pair : split(v, '|')) {
      auto colon = pair.rfind(':');
      c.most_common_vals.push_back(pair.substr(0, colon));
      c.most_common_freqs.push_back(std::stod(pair.substr(colon + 1)));
    }
  return c;
}

// index NAME AM (KEYS) [include (COLS)] [unique] [primary] [invalid]
//       [where PREDICATE]; a key's trailing *_ops word is its opclass, as
// the catalog reader stores it.
index_info parse_index(const std::string& line, const table_info& t) {
  index_info idx;
  auto ws = words(line);
  idx.schema = t.schema;
  idx.name = ws.at(1);
  idx.am = ws.at(2);
  size_t end = 0;
  auto keys = parenthesised(line, line.find('('), end);
  for (auto& k : split_keys(keys)) {
    auto kw = words(k);
    std::string opclass;
    for (size_t i = 1; i < kw.size(); ++i)
      if (kw[i].size() > 4 && kw[i].substr(kw[i].size() - 4) == "_ops") {
        opclass = kw[i];
        kw.erase(kw.begin() + static_cast<ptrdiff_t>(i));
        break;
      }
    std::string key;
    for (auto& w : kw)
      key += (key.empty() ? "" : " ") + w;
    idx.keys.push_back(key);
    idx.opclasses.push_back(opclass);
  }
  auto rest = line.substr(end);
  if (auto w = rest.find(" where "); w != std::string::npos) {
    idx.predicate = trim(rest.substr(w + 7));
    rest = rest.substr(0, w);
  }
  if (auto inc = rest.find("include ("); inc != std::string::npos) {
    size_t e = 0;
    idx.include = split_keys(parenthesised(rest, inc + 8, e));
  }
  auto rw = words(rest);
  auto has = [&](const char* x) {
    return std::find(rw.begin(), rw.end(), x) != rw.end();
  };
  idx.unique = has("unique") || has("primary");
  idx.primary = has("primary");
  idx.valid = !has("invalid");
  return idx;
}

struct data_block {
  std::string where;
  std::string sql;
  std::vector<std::string> expect;
  catalog cat;
};

std::vector<data_block> read_file(const std::filesystem::path& file) {
  std::vector<data_block> out;
  catalog cat;
  for (auto& block : test::read_blocks(file)) {
    auto& lines = block.lines;
    auto first = words(lines[0].text);
    auto where = block.where();
    if (first.at(0) == "catalog") {
      cat = catalog{};
      apply_settings(cat, first);
      for (size_t i = 1; i < lines.size(); ++i) {
        auto& l = lines[i].text;
        auto ws = words(l);
        if (ws[0] == "table") {
          cat.tables.push_back(parse_table(ws));
        } else if (ws[0] == "col") {
          auto& t = cat.tables.back();
          t.columns.push_back(
            parse_column(l, static_cast<int>(t.columns.size()) + 1));
        } else if (ws[0] == "index") {
          auto& t = cat.tables.back();
          t.indexes.push_back(parse_index(l, t));
        } else if (ws[0] == "view") {
          cat.tables.back().view_definition = after(l, "view");
        } else {
          FAIL(where << ": unknown catalog line: " << l);
        }
      }
    } else if (first[0] == "set") {
      apply_settings(cat, first);
    } else if (first[0] == "statement") {
      data_block b;
      b.where = where + " " + lines[0].text;
      b.cat = cat;
      size_t i = 1;
      for (; i < lines.size() && lines[i].text != "----"; ++i)
        b.sql += (b.sql.empty() ? "" : "\n") + lines[i].text;
      for (++i; i < lines.size(); ++i)
        b.expect.push_back(lines[i].text);
      out.push_back(std::move(b));
    } else {
      FAIL(where << ": unknown block: " << lines[0].text);
    }
  }
  return out;
}

// -- rendering results for comparison -----------------------------------------

std::string render(const column_use& u) {
  auto out = std::string{to_string(u.kind)} + " " + u.schema + "." + u.table
    + "." + u.column;
  if (!u.expression.empty())
    out += " expr(" + u.expression + ")";
  if (!u.op.empty())
    out += " op(" + u.op + ")";
  if (u.descending)
    out += " desc";
  if (!u.literal.empty())
    out += " lit(" + u.literal + ")";
  out += " g" + std::to_string(u.group);
  if (u.in_or)
    out += " or";
  return out;
}

std::string render(const table_ref& t) {
  auto out = t.schema + "." + t.table;
  if (!t.alias.empty())
    out += " alias=" + t.alias;
  if (!t.via.empty())
    out += " via=" + t.via;
  return out;
}

const char* kind_name(statement_analysis::kind k) {
  using kind = statement_analysis::kind;
  switch (k) {
    case kind::select: return "select";
    case kind::insert: return "insert";
    case kind::update: return "update";
    case kind::delete_: return "delete";
    case kind::utility: return "utility";
    default: return "other";
  }
}

bool contains(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

bool any_contains(const std::vector<std::string>& xs, const std::string& x) {
  return std::any_of(xs.begin(), xs.end(),
                     [&](auto& s) { return s.find(x) != std::string::npos; });
}

// OPTISCHEMA_TEST_DUMP=1 prints what each block produced (for writing tests).
void dump(const data_block& b, const statement_analysis& a,
          const std::vector<index_candidate>& cs,
          const std::vector<std::string>& skipped) {
  std::cout << "== " << b.where << "\nkind " << kind_name(a.what) << "\n";
  for (auto& t : a.tables)
    std::cout << "table " << render(t) << "\n";
  for (auto& u : a.uses)
    std::cout << "use " << render(u) << "\n";
  for (auto& n : a.notes)
    std::cout << "note " << n << "\n";
  for (auto& u : a.unresolved)
    std::cout << "unresolved " << u << "\n";
  for (auto& u : a.updated_columns)
    std::cout << "updated " << u << "\n";
  for (auto& c : cs) {
    std::cout << "candidate " << c.ddl() << "\n";
    for (auto& r : c.reasons)
      std::cout << "    reason " << r << "\n";
  }
  for (auto& s : skipped)
    std::cout << "skipped " << s << "\n";
}

void check_statement(const std::string& e, const statement_analysis& a) {
  std::vector<std::string> uses;
  for (auto& u : a.uses)
    uses.push_back(render(u));
  std::vector<std::string> tables;
  for (auto& t : a.tables)
    tables.push_back(render(t));
  INFO("uses:\n  " << [&] {
    std::string s;
    for (auto& u : uses)
      s += u + "\n  ";
    return s;
  }() << "notes: " << a.notes.size());
  if (starts(e, "use "))
    CHECK(contains(uses, after(e, "use")));
  else if (starts(e, "no use "))
    CHECK_FALSE(contains(uses, after(e, "no use")));
  else if (starts(e, "uses "))
    CHECK(uses.size() == std::stoul(after(e, "uses")));
  else if (starts(e, "note "))
    CHECK(contains(a.notes, after(e, "note")));
  else if (starts(e, "no note "))
    CHECK_FALSE(any_contains(a.notes, after(e, "no note")));
  else if (starts(e, "unresolved "))
    CHECK(contains(a.unresolved, after(e, "unresolved")));
  else if (e == "no unresolved")
    CHECK(a.unresolved.empty());
  else if (starts(e, "updated "))
    CHECK(contains(a.updated_columns, after(e, "updated")));
  else if (starts(e, "kind "))
    CHECK(kind_name(a.what) == after(e, "kind"));
  else if (e == "limit")
    CHECK(a.has_limit);
  else if (e == "no limit")
    CHECK_FALSE(a.has_limit);
  else if (starts(e, "table "))
    CHECK(contains(tables, after(e, "table")));
}

void check_candidates(const data_block& b, const statement_analysis& a) {
  std::vector<std::string> skipped;
  auto cs = generate_candidates(a, b.cat, &skipped);
  std::vector<std::string> ddl;
  std::vector<std::string> reasons;
  for (auto& c : cs) {
    ddl.push_back(c.ddl());
    reasons.insert(reasons.end(), c.reasons.begin(), c.reasons.end());
  }
  std::vector<std::string> expected;
  bool exact = false;
  for (auto& e : b.expect) {
    if (starts(e, "candidate ")) {
      expected.push_back(after(e, "candidate"));
      exact = true;
    } else if (e == "no candidates") {
      exact = true;
    }
  }
  INFO("candidates:\n  " << [&] {
    std::string s;
    for (auto& d : ddl)
      s += d + "\n  ";
    s += "skipped:\n  ";
    for (auto& x : skipped)
      s += x + "\n  ";
    return s;
  }());
  if (exact) {
    auto got = ddl;
    std::sort(got.begin(), got.end());
    std::sort(expected.begin(), expected.end());
    CHECK(got == expected);
  }
  for (auto& e : b.expect) {
    if (starts(e, "skipped "))
      CHECK(any_contains(skipped, after(e, "skipped")));
    else if (starts(e, "reason "))
      CHECK(any_contains(reasons, after(e, "reason")));
    else if (starts(e, "no reason "))
      CHECK_FALSE(any_contains(reasons, after(e, "no reason")));
    else if (starts(e, "trgm "))
      CHECK(std::any_of(cs.begin(), cs.end(), [&](auto& c) {
        return c.needs_pg_trgm && c.ddl() == after(e, "trgm");
      }));
  }
}

} // namespace

namespace optischema::test {

// Runs every block of tests/data/candidates/*.test; checks the statement
// analysis expectations or the candidate expectations. Returns the number of
// blocks run.
size_t run_candidate_data_files(bool statement_part) {
  auto dir = std::filesystem::path{OPTISCHEMA_SOURCE_DIR}
    / "tests/data/candidates";
  std::vector<std::filesystem::path> files;
  for (auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".test")
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  bool dumping = std::getenv("OPTISCHEMA_TEST_DUMP") != nullptr;
  size_t blocks = 0;
  for (auto& file : files) {
    for (auto& b : read_file(file)) {
      ++blocks;
      INFO(b.where << "\n" << b.sql);
      auto a = analyze_statement(b.sql, b.cat);
      auto wants_error
        = std::find_if(b.expect.begin(), b.expect.end(),
                       [](auto& e) { return starts(e, "error "); });
      if (wants_error != b.expect.end()) {
        REQUIRE_FALSE(a.has_value());
        CHECK(a.error().code == ec::parse_error);
        CHECK(a.error().message.find(after(*wants_error, "error"))
              != std::string::npos);
        continue;
      }
      if (!a) {
        FAIL_CHECK("analyze_statement failed: " << a.error().message);
        continue;
      }
      if (dumping && statement_part) {
        std::vector<std::string> skipped;
        auto cs = generate_candidates(*a, b.cat, &skipped);
        dump(b, *a, cs, skipped);
      }
      if (statement_part)
        for (auto& e : b.expect)
          check_statement(e, *a);
      else
        check_candidates(b, *a);
    }
  }
  return blocks;
}

} // namespace optischema::test

TEST_CASE("candidate data files", "[candidates]") {
  CHECK(optischema::test::run_candidate_data_files(false) > 0);
}

// -- direct tests -------------------------------------------------------------

namespace {

catalog one_table(std::vector<index_info> indexes) {
  catalog cat;
  table_info t;
  t.schema = "public";
  t.name = "t";
  t.reltuples = 100000;
  for (auto* name : {"a", "b", "c", "email", "doc", "title", "starts_at"}) {
    column_info c;
    c.name = name;
    c.type = "text";
    t.columns.push_back(std::move(c));
  }
  t.columns[4].type = "jsonb";
  for (auto& i : indexes)
    i.schema = "public";
  t.indexes = std::move(indexes);
  cat.tables.push_back(std::move(t));
  return cat;
}

index_info idx(std::string name, std::string am, std::vector<std::string> keys,
               std::vector<std::string> opclasses = {}) {
  index_info i;
  i.name = std::move(name);
  i.am = std::move(am);
  i.keys = std::move(keys);
  i.opclasses = std::move(opclasses);
  return i;
}

index_candidate cand(std::vector<std::string> keys,
                     std::string method = "btree",
                     std::vector<std::string> reasons = {}) {
  index_candidate c;
  c.schema = "public";
  c.table = "t";
  c.method = std::move(method);
  c.keys = std::move(keys);
  c.reasons = std::move(reasons);
  return c;
}

std::string served(const index_candidate& c, const catalog& cat) {
  auto* i = served_by(c, cat);
  return i != nullptr ? i->name : "";
}

} // namespace

TEST_CASE("served_by: btree prefixes and directions", "[candidates]") {
  auto cat = one_table({idx("t_a_b", "btree", {"a", "b DESC"})});
  CHECK(served(cand({"a"}), cat) == "t_a_b");
  CHECK(served(cand({"a", "b DESC"}), cat) == "t_a_b");
  // A backward scan: every direction reversed.
  CHECK(served(cand({"a DESC", "b"}), cat) == "t_a_b");
  // Mixed: one reversed, one not.
  CHECK(served(cand({"a", "b"}), cat).empty());
  // Not a prefix: a different leading column, or more keys than the index.
  CHECK(served(cand({"b"}), cat).empty());
  CHECK(served(cand({"a", "b DESC", "c"}), cat).empty());
  // NULLS FIRST is the default for DESC, so this is the same index.
  CHECK(served(cand({"a", "b DESC NULLS FIRST"}), cat) == "t_a_b");
  CHECK(served(cand({"a", "b DESC NULLS LAST"}), cat).empty());
}

TEST_CASE("served_by: invalid indexes serve nothing", "[candidates]") {
  auto i = idx("t_a", "btree", {"a"});
  i.valid = false;
  CHECK(served(cand({"a"}), one_table({i})).empty());
  i.valid = true;
  i.ready = false;
  CHECK(served(cand({"a"}), one_table({i})).empty());
}

TEST_CASE("served_by: expressions as pg_get_indexdef prints them",
          "[candidates]") {
  auto cat = one_table(
    {idx("t_lower", "btree", {"lower((email)::text)"}),
     idx("t_trunc", "btree", {"date_trunc('day'::text, starts_at)"}),
     idx("t_cast", "btree", {"((starts_at)::date)"})});
  CHECK(served(cand({"(lower(email))"}), cat) == "t_lower");
  CHECK(served(cand({"(LOWER( email ))"}), cat) == "t_lower");
  CHECK(served(cand({"(date_trunc('day', starts_at))"}), cat) == "t_trunc");
  CHECK(served(cand({"(starts_at::date)"}), cat) == "t_cast");
  // A plain column is not its expression, and vice versa.
  CHECK(served(cand({"email"}), cat).empty());
  CHECK(served(cand({"starts_at"}), cat).empty());
  CHECK(served(cand({"(upper(email))"}), cat).empty());
}

TEST_CASE("served_by: INCLUDE and partial predicates", "[candidates]") {
  auto full = idx("t_a", "btree", {"a", "b"});
  full.include = {"c"};
  auto partial = idx("t_a_open", "btree", {"a"});
  partial.predicate = "((b)::text = 'open'::text)";
  auto cat = one_table({full, partial});
  auto c = cand({"a"});
  c.include = {"b"};
  CHECK(served(c, cat) == "t_a"); // b is a key of t_a
  c.include = {"c"};
  CHECK(served(c, cat) == "t_a"); // c is included
  c.include = {"email"};
  CHECK(served(c, cat).empty());
  // A full index serves a partial candidate…
  auto p = cand({"a", "b"});
  p.predicate = "NOT c";
  CHECK(served(p, cat) == "t_a");
  // …a partial index only the same predicate.
  auto q = cand({"a"});
  q.predicate = "b = 'open'";
  auto only_partial = one_table({partial});
  CHECK(served(q, only_partial) == "t_a_open");
  q.predicate = "b = 'closed'";
  CHECK(served(q, only_partial).empty());
  // A literal's cast to any type (an enum here) is how pg_get_expr prints
  // the literal the statement wrote.
  auto enum_partial = idx("t_a_enum", "btree", {"a"});
  enum_partial.predicate = "(c = 'open'::ticket_state)";
  q.predicate = "c = 'open'";
  CHECK(served(q, one_table({enum_partial})) == "t_a_enum");
  // A cast of a column to another type is not a no-op.
  auto int_cast = idx("t_a_int", "btree", {"((a)::integer)"});
  CHECK(served(cand({"a"}), one_table({int_cast})).empty());
  CHECK(served(cand({"a"}), only_partial).empty());
}

TEST_CASE("served_by: other access methods", "[candidates]") {
  auto cat = one_table(
    {idx("t_doc", "gin", {"doc"}),
     idx("t_title_trgm", "gist", {"title"}, {"gist_trgm_ops"}),
     idx("t_b_hash", "hash", {"b"}), idx("t_starts", "btree", {"starts_at"})});
  // jsonb_ops (default) serves a jsonb_path_ops candidate, not vice versa.
  CHECK(served(cand({"doc jsonb_path_ops"}, "gin"), cat) == "t_doc");
  CHECK(served(cand({"doc"}, "gin"), cat) == "t_doc");
  auto path_only
    = one_table({idx("t_doc_path", "gin", {"doc"}, {"jsonb_path_ops"})});
  CHECK(served(cand({"doc"}, "gin"), path_only).empty());
  // A trigram GiST index serves a trigram GIN candidate.
  CHECK(served(cand({"title gin_trgm_ops"}, "gin"), cat) == "t_title_trgm");
  // …but not a plain btree candidate on the column.
  CHECK(served(cand({"title"}), cat).empty());
  // A hash index serves an equality-only single-column btree candidate.
  CHECK(served(cand({"b"}, "btree", {"equality on b"}), cat) == "t_b_hash");
  CHECK(served(cand({"b"}, "btree", {"range (<) on b"}), cat).empty());
  CHECK(served(cand({"b", "a"}, "btree", {"equality on b"}), cat).empty());
  // A btree on the column serves a BRIN candidate.
  CHECK(served(cand({"starts_at"}, "brin"), cat) == "t_starts");
  CHECK(served(cand({"a"}, "brin"), cat).empty());
}

TEST_CASE("served_by: opclass written in the key", "[candidates]") {
  // Some readers keep the opclass in the key text, as pg_get_indexdef does.
  auto cat = one_table({idx("t_title", "gin", {"title gin_trgm_ops"}),
                        idx("t_a_pattern", "btree", {"a text_pattern_ops"})});
  CHECK(served(cand({"title gin_trgm_ops"}, "gin"), cat) == "t_title");
  CHECK(served(cand({"a text_pattern_ops"}), cat) == "t_a_pattern");
  // A pattern-ops btree does not serve ordinary comparisons.
  CHECK(served(cand({"a"}), cat).empty());
}

TEST_CASE("index_candidate: DDL and key", "[candidates]") {
  index_candidate c;
  c.schema = "Sales";
  c.table = "order items";
  c.keys = {"\"CustomerId\"", "created_at DESC"};
  c.include = {"total"};
  c.predicate = "NOT paid";
  CHECK(c.ddl()
        == "CREATE INDEX ON \"Sales\".\"order items\" USING btree "
           "(\"CustomerId\", created_at DESC) INCLUDE (total) WHERE NOT paid");
  auto d = c;
  d.keys = {"\"CustomerId\"", "CREATED_AT desc"};
  d.predicate = "(not paid)";
  CHECK(c.key() == d.key());
  CHECK(c == d);
  d.include = {"total", "x"};
  CHECK(c.key() != d.key());
  auto e = c;
  e.keys = {"\"customerid\"", "created_at DESC"};
  CHECK(c.key() != e.key()); // quoted identifiers keep their case
  auto f = c;
  f.method = "hash";
  CHECK(c.key() != f.key());
  auto g = c;
  g.keys = {"\"CustomerId\"", "created_at"};
  CHECK(c.key() != g.key());
}

TEST_CASE("generate_candidates: nothing for statements without tables",
          "[candidates]") {
  catalog cat;
  std::vector<std::string> skipped;
  auto a = analyze_statement("SELECT 1", cat);
  REQUIRE(a);
  CHECK(generate_candidates(*a, cat, &skipped).empty());
  // Without a `skipped` vector it still works.
  auto b = analyze_statement("VACUUM", cat);
  REQUIRE(b);
  CHECK(generate_candidates(*b, cat).empty());
}
