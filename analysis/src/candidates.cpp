#include "optischema/analysis/candidates.hpp"
#include "optischema/util/strings.hpp"
#include "index_match.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

// Index candidates are proposals, not decisions: the later what-if stage
// (HypoPG, cost, write overhead) picks among them. So the rules below aim to
// always include the index a careful DBA would write for the statement, and
// to stay few enough that costing them all is cheap: one multi-column order
// per AND-group (most selective equality first) instead of every
// permutation (Dexter, Postgres MCP), plus the specialised forms btree
// cannot replace (GIN, trigram, BRIN, partial, expression).

namespace optischema {

namespace {

using index_match::index_elements;
using index_match::is_text_type;

// -- thresholds (each one is a judgement; see where it is used) --------------

/// Below this, a sequential scan reads the table about as fast as an index
/// (PgHero uses 500 rows; a few pages either way).
constexpr double min_rows = 1000;
/// Equality columns in one composite: beyond three, each extra column
/// rarely narrows the scan enough to pay for the wider index.
constexpr size_t max_equality_keys = 3;
/// INCLUDE at most this many columns of at most this many bytes together:
/// enough for an index-only scan of a typical lookup, small enough that the
/// index stays much narrower than the heap.
constexpr size_t max_include_columns = 3;
constexpr int max_include_width = 64;
/// A boolean/NULL predicate is worth a partial index when it keeps at most
/// this share of the rows (pg_qualstats' advisor uses 30 % selectivity).
constexpr double max_partial_share = 0.30;
/// A low-cardinality column (at most this many values) filtered on a rare
/// literal (at most this share of rows) is better as a partial predicate.
constexpr double max_partial_distinct = 20;
constexpr double max_partial_literal_share = 0.20;
/// BRIN pays off on big tables stored in the column's order and rarely
/// changed in place (updates and deletes scatter the ranges).
constexpr double min_brin_rows = 1'000'000;
constexpr double min_brin_correlation = 0.95;
constexpr double max_brin_churn = 0.01;
/// A hash index stores a 4-byte hash code per row whatever the key: for a
/// key this wide on average, a b-tree entry is about twice its size or
/// more. Mostly-distinct values only: b-tree deduplication (PostgreSQL 13)
/// shrinks repeated keys, hash does not.
constexpr int min_hash_width = 24;
constexpr double min_hash_distinct_share = 0.5;
/// INCLUDE exists since PostgreSQL 11.
constexpr int min_include_version = 110000;

// -- small helpers ------------------------------------------------------------

std::string percent(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%%", x * 100);
  return buf;
}

bool is_array_type(std::string_view type) {
  return type.ends_with("[]");
}

// Types without a btree operator class (or, for jsonb, whose values easily
// exceed the btree row limit of about 2.7 kB: index an expression instead).
bool btree_able(std::string_view type) {
  static constexpr std::string_view none[] = {
    "json",   "jsonb", "xml",  "point",    "polygon", "box",
    "circle", "line",  "lseg", "tsvector", "tsquery", "path",
  };
  return std::find(std::begin(none), std::end(none), type) == std::end(none);
}

// Wide values make an INCLUDE index nearly as big as the table.
bool wide_type(std::string_view type) {
  return !btree_able(type) || type == "bytea" || is_array_type(type);
}

// The opclass that lets a btree serve LIKE 'abc%' under any collation
// (a default-opclass btree only does under the C collation).
std::string pattern_opclass(std::string_view type) {
  if (type == "text")
    return "text_pattern_ops";
  if (type.starts_with("character varying"))
    return "varchar_pattern_ops";
  if (type.starts_with("character"))
    return "bpchar_pattern_ops";
  return {};
}

// -- statistics ---------------------------------------------------------------

std::string unquote_literal(std::string_view lit) {
  if (lit.size() >= 2 && lit.front() == '\'') {
    auto end = lit.rfind('\'');
    std::string out;
    for (size_t i = 1; i < end; ++i) {
      out += lit[i];
      if (lit[i] == '\'' && i + 1 < end && lit[i + 1] == '\'')
        ++i;
    }
    return out;
  }
  return std::string{lit};
}

bool same_value(std::string_view mcv, std::string_view value) {
  if (mcv == value)
    return true;
  // pg_stats prints booleans as t/f.
  return (value == "true" && mcv == "t") || (value == "false" && mcv == "f");
}

// The share of rows whose column equals `value`: its MCV frequency, else
// the rest spread evenly over the other distinct values.
double value_share(const column_info& c, std::string_view value, double rows) {
  double mcv_sum = 0;
  for (size_t i = 0; i < c.most_common_vals.size(); ++i) {
    auto f = i < c.most_common_freqs.size() ? c.most_common_freqs[i] : 0.0;
    if (same_value(c.most_common_vals[i], value))
      return f;
    mcv_sum += f;
  }
  double rest = std::max(0.0, 1.0 - c.null_frac - mcv_sum);
  double others = c.distinct_values(rows)
    - static_cast<double>(c.most_common_vals.size());
  return others >= 1 ? rest / others : rest;
}

// -- uses ---------------------------------------------------------------------

bool is_boolean_literal(std::string_view x) {
  return x == "true" || x == "false";
}

// `paid`, `NOT paid`, `x IS NULL`, `x IS NOT NULL`: predicates without a
// parameter, the same on every execution, hence usable as a partial
// index's WHERE.
bool constant_predicate(const column_use& u, const table_info& t) {
  if (!u.expression.empty())
    return false;
  if (u.op == "IS NULL" || u.op == "IS NOT NULL")
    return true;
  auto* c = t.column(u.column);
  return u.kind == use_kind::equality && u.op == "="
    && is_boolean_literal(u.literal) && c != nullptr && c->type == "boolean";
}

std::string predicate_text(const column_use& u) {
  auto col = quote_ident(u.column);
  if (u.op == "IS NULL" || u.op == "IS NOT NULL")
    return col + " " + u.op;
  return u.literal == "true" ? col : "NOT " + col;
}

std::optional<double> predicate_share(const column_use& u, const table_info& t,
                                      double rows) {
  auto* c = t.column(u.column);
  if (c == nullptr || !c->has_stats)
    return std::nullopt;
  if (u.op == "IS NULL")
    return c->null_frac;
  if (u.op == "IS NOT NULL")
    return 1 - c->null_frac;
  return value_share(*c, u.literal, rows);
}

std::string column_text(const column_use& u) {
  return u.expression.empty() ? quote_ident(u.column) : u.expression;
}

// Expressions an index cannot store: functions that are only STABLE for
// these types because they depend on the TimeZone or DateStyle setting.
bool immutable(const column_use& u, const table_info& t) {
  auto* c = t.column(u.column);
  if (c == nullptr)
    return true;
  auto e = lower(u.expression);
  auto has = [&](std::string_view x) { return e.find(x) != std::string::npos; };
  if (c->type == "timestamp with time zone")
    return !(has("date_trunc(") || has("date_part(") || has("extract(")
             || has("to_char(") || has("::date") || has("::timestamp")
             || has("::time") || has("::text") || has("age("));
  if (c->type == "date" || c->type.starts_with("timestamp")
      || c->type.starts_with("time"))
    return !(has("::text") || has("to_char("));
  return true;
}

/// One index key derived from a use.
struct element {
  /// As written in CREATE INDEX, without direction: "a", "(lower(a))",
  /// "a text_pattern_ops".
  std::string key;
  std::string column;
  std::string expression;
  bool descending = false;
  std::string reason;

  std::string with_direction() const {
    return descending ? key + " DESC" : key;
  }
};

std::string describe(const column_use& u) {
  auto what = column_text(u);
  switch (u.kind) {
    case use_kind::equality: return "equality on " + what;
    case use_kind::join: return "join on " + what;
    case use_kind::range:
      if (u.op == "~~" || u.op == "~~*")
        return "LIKE " + (u.literal.empty() ? std::string{"prefix"} : u.literal)
          + " on " + what;
      return "range (" + u.op + ") on " + what;
    case use_kind::sort:
      return "ORDER BY " + what + (u.descending ? " DESC" : "");
    case use_kind::group: return "GROUP BY " + what;
    default: return std::string{to_string(u.kind)} + " on " + what;
  }
}

/// An index of `method` on one plain column of `t`.
index_candidate column_candidate(const table_info& t, std::string method,
                                 const std::string& column) {
  index_candidate x;
  x.schema = t.schema;
  x.table = t.name;
  x.method = std::move(method);
  x.keys = {quote_ident(column)};
  return x;
}

// -- the generator ------------------------------------------------------------

class generator {
public:
  generator(const statement_analysis& stmt, const catalog& cat,
            std::vector<std::string>* skipped)
    : stmt_(stmt), cat_(cat), skipped_(skipped) {
    // nop
  }

  std::vector<index_candidate> run();

private:
  using uses_t = std::vector<const column_use*>;

  void table(const table_info& t, const uses_t& uses);
  void group(const table_info& t, const uses_t& uses, const uses_t& all);
  std::optional<element> make(const table_info& t, const column_use& u);
  std::vector<element> composites(const table_info& t, std::vector<element> eq,
                                  const std::vector<element>& range,
                                  const std::vector<element>& sort);
  const index_info* unique_index(const table_info& t, const uses_t& uses,
                                 bool joins) const;
  double table_rows(const table_info& t) const;
  bool whole_order_by_on(const table_info& t, int group) const;
  void covering(const table_info& t, const std::vector<element>& best,
                const uses_t& all);
  void partial_constant(const table_info& t, const std::vector<element>& best,
                        const uses_t& uses);
  void partial_literal(const table_info& t, const std::vector<element>& best,
                       const uses_t& uses);
  void containment(const table_info& t, const uses_t& all);
  void trigram(const table_info& t, const uses_t& all);
  void nearest(const table_info& t, const uses_t& all);
  void brin(const table_info& t, const uses_t& all);
  void hash(const table_info& t, const uses_t& all);

  index_candidate make_candidate(const table_info& t,
                                 const std::vector<element>& keys,
                                 bool directions) const;
  void emit(index_candidate c);
  void skip(std::string x);

  const statement_analysis& stmt_;
  const catalog& cat_;
  std::vector<std::string>* skipped_;
  std::vector<index_candidate> out_;
};

std::vector<index_candidate> generator::run() {
  using kind = statement_analysis::kind;
  if (stmt_.what == kind::utility || stmt_.what == kind::other) {
    skip("not a query (utility statement): no index can make it faster");
    return {};
  }
  bool filtered
    = std::any_of(stmt_.uses.begin(), stmt_.uses.end(),
                  [](auto& u) { return u.kind != use_kind::projection; });
  if (stmt_.what == kind::insert && !filtered) {
    skip("INSERT … VALUES reads no rows: an index only slows it down");
    return {};
  }
  // Tables in the order the statement names them, then any left.
  std::vector<std::pair<std::string, std::string>> tables;
  auto add_table = [&](const std::string& s, const std::string& n) {
    std::pair key{s, n};
    if (std::find(tables.begin(), tables.end(), key) == tables.end())
      tables.push_back(key);
  };
  for (auto& t : stmt_.tables)
    add_table(t.schema, t.table);
  for (auto& u : stmt_.uses)
    add_table(u.schema, u.table);
  for (auto& [schema, name] : tables) {
    auto* t = cat_.find(schema, name);
    if (t == nullptr)
      continue;
    uses_t uses;
    for (auto& u : stmt_.uses)
      if (u.schema == schema && u.table == name)
        uses.push_back(&u);
    table(*t, uses);
  }
  // Never propose what an existing index already does.
  std::vector<index_candidate> out;
  for (auto& c : out_) {
    if (auto* idx = served_by(c, cat_))
      skip(c.ddl() + ": already served by " + idx->name);
    else
      out.push_back(std::move(c));
  }
  return out;
}

void generator::table(const table_info& t, const uses_t& uses) {
  auto name = t.qualified();
  if (t.kind == 'f') {
    skip(name + " is a foreign table: PostgreSQL cannot index it");
    return;
  }
  bool filtered = std::any_of(uses.begin(), uses.end(), [](auto* u) {
    return u->kind != use_kind::projection;
  });
  if (!filtered) {
    skip(name + ": the statement neither filters, joins, groups nor sorts it"
         + ", so no index can help");
    return;
  }
  if (table_rows(t) < min_rows) {
    skip(name + " has " + std::to_string(static_cast<int64_t>(table_rows(t)))
         + " rows (< 1000): a sequential scan reads it as fast as an index");
    return;
  }
  std::vector<int> groups;
  for (auto* u : uses)
    if (std::find(groups.begin(), groups.end(), u->group) == groups.end())
      groups.push_back(u->group);
  for (int g : groups) {
    uses_t in_group;
    for (auto* u : uses)
      if (u->group == g)
        in_group.push_back(u);
    group(t, in_group, uses);
  }
  containment(t, uses);
  trigram(t, uses);
  nearest(t, uses);
  brin(t, uses);
  hash(t, uses);
}

// One AND-group of one table: the conditions one index scan can apply
// together.
void generator::group(const table_info& t, const uses_t& uses,
                      const uses_t& all) {
  // In a self-join the group mixes the uses of several aliases of the
  // table: a lookup that one alias does by a unique key says nothing about
  // how the other alias is joined.
  bool self_join = std::count_if(stmt_.tables.begin(), stmt_.tables.end(),
                                 [&](auto& x) {
                                   return x.schema == t.schema
                                     && x.table == t.name;
                                 })
    > 1;
  auto* unique = unique_index(t, uses, false);
  if (unique != nullptr) {
    skip(t.qualified() + ": equality on " + join(unique->keys, ", ")
         + " finds at most one row through unique index " + unique->name);
    if (!self_join)
      return;
  }
  std::vector<element> eq;
  std::vector<element> joins;
  std::vector<element> range;
  std::vector<element> sort;
  std::vector<element> grouping;
  bool sort_ok = !uses.empty() && whole_order_by_on(t, uses.front()->group);
  auto push = [](std::vector<element>& xs, element e) {
    auto same = [&](const element& x) {
      return x.key == e.key && x.descending == e.descending;
    };
    if (std::none_of(xs.begin(), xs.end(), same))
      xs.push_back(std::move(e));
  };
  for (auto* u : uses) {
    if (constant_predicate(*u, t))
      continue; // a partial index predicate, not a key (partial_constant)
    bool wanted = u->kind == use_kind::equality || u->kind == use_kind::join
      || u->kind == use_kind::group || (u->kind == use_kind::sort && sort_ok)
      || (u->kind == use_kind::range && u->op != "~~*");
    if (!wanted)
      continue;
    auto e = make(t, *u);
    if (!e)
      continue;
    switch (u->kind) {
      case use_kind::equality: push(eq, std::move(*e)); break;
      case use_kind::join: push(joins, std::move(*e)); break;
      case use_kind::range: push(range, std::move(*e)); break;
      case use_kind::sort: push(sort, std::move(*e)); break;
      default: push(grouping, std::move(*e)); break;
    }
  }
  // Rule 1: one single-column btree per column (the what-if stage often
  // prefers these: small, shared by many statements, combinable by
  // BitmapAnd). Direction is irrelevant for one column.
  for (auto* xs : {&eq, &joins, &range, &sort, &grouping})
    if (unique == nullptr || xs == &joins)
      for (auto& e : *xs)
        emit(make_candidate(t, {e}, false));
  // Rule 2: composites, for each role the table can play. As the inner
  // side of a join it is looked up by the join columns, which then count
  // as equalities (unless a unique index already finds the one row); as
  // the driving side only its own equalities narrow the scan.
  std::vector<element> best;
  if (!joins.empty() && unique_index(t, uses, true) == nullptr) {
    auto inner = eq;
    for (auto& j : joins)
      push(inner, j);
    best = composites(t, std::move(inner), range, sort);
  }
  if (unique == nullptr) {
    auto outer = composites(t, eq, range, sort);
    if (best.empty())
      best = std::move(outer);
  }
  covering(t, best, all);
  // Without other keys, a partial index on the GROUP BY columns still
  // feeds a sorted aggregate from the few rows the predicate keeps.
  partial_constant(t, best.empty() ? grouping : best, uses);
  partial_literal(t, best, uses);
}

// Equality columns first, the most selective first (each narrows the
// scan; one order is enough, a permutation would only serve other
// statements sharing its prefix), then ONE range column, or the ORDER BY
// columns with their directions (rows come out sorted: no Sort node, and
// LIMIT stops early). Emits the composites, returns the one the statement
// benefits most from (empty when there is none).
std::vector<element> generator::composites(const table_info& t,
                                           std::vector<element> eq,
                                           const std::vector<element>& range,
                                           const std::vector<element>& sort) {
  auto rows = table_rows(t);
  auto distinct = [&](const element& e) {
    auto* c = t.column(e.column);
    return c != nullptr ? c->distinct_values(rows) : rows;
  };
  std::stable_sort(eq.begin(), eq.end(),
                   [&](auto& x, auto& y) { return distinct(x) > distinct(y); });
  if (eq.size() > max_equality_keys)
    eq.resize(max_equality_keys);
  auto in_eq = [&](const element& e) {
    return std::any_of(eq.begin(), eq.end(),
                       [&](auto& x) { return x.key == e.key; });
  };
  std::vector<std::vector<element>> out;
  std::vector<element> tail;
  for (auto& s : sort)
    if (!in_eq(s)) // equal to one value: already in order
      tail.push_back(s);
  bool sorted = !tail.empty();
  if (sorted) {
    auto keys = eq;
    keys.insert(keys.end(), tail.begin(), tail.end());
    out.push_back(std::move(keys));
  }
  for (auto& r : range) {
    if (in_eq(r) || (sorted && tail[0].key == r.key))
      continue; // the sorted variant already ends with it
    auto keys = eq;
    keys.push_back(r);
    out.push_back(std::move(keys));
  }
  if (out.empty() && !eq.empty())
    out.push_back(eq);
  for (auto& keys : out)
    if (keys.size() >= 2)
      emit(make_candidate(t, keys, true));
  if (out.empty())
    return {};
  // With LIMIT the sorted variant wins (it stops early); without, the one
  // that narrows the scan most.
  if (sorted && !stmt_.has_limit && out.size() > 1)
    return out[1];
  return out[0];
}

std::optional<element> generator::make(const table_info& t,
                                       const column_use& u) {
  element e;
  e.column = u.column;
  e.expression = u.expression;
  e.descending = u.kind == use_kind::sort && u.descending;
  e.reason = describe(u);
  auto where = t.qualified() + "." + column_text(u);
  if (!u.expression.empty()) {
    if (!immutable(u, t)) {
      skip("no index can store " + u.expression + " on " + t.qualified()
           + ": it depends on the session's TimeZone/DateStyle (not "
             "IMMUTABLE); compare "
           + quote_ident(u.column) + " with a range instead");
      return std::nullopt;
    }
    e.key = "(" + u.expression + ")";
    // LIKE applies to text: the pattern opclass lets a btree serve it.
    if (u.kind == use_kind::range && u.op == "~~")
      e.key += " text_pattern_ops";
    return e;
  }
  auto* c = t.column(u.column);
  if (c == nullptr)
    return std::nullopt;
  if (!btree_able(c->type)) {
    skip("no btree on " + where + ": type " + c->type
         + " has no usable btree operator class");
    return std::nullopt;
  }
  e.key = quote_ident(u.column);
  if (u.kind == use_kind::range && u.op == "~~")
    if (auto ops = pattern_opclass(c->type); !ops.empty())
      e.key += " " + ops;
  return e;
}

// A unique index whose every column the group compares with a value (and,
// with `joins`, with a join column) finds at most one row: no candidate can
// do better for that access.
const index_info* generator::unique_index(const table_info& t,
                                          const uses_t& uses,
                                          bool joins) const {
  std::set<std::string> eq;
  for (auto* u : uses)
    if (u->expression.empty()
        && ((u->kind == use_kind::equality && u->op == "=")
            || (joins && u->kind == use_kind::join)))
      eq.insert(quote_ident(u->column));
  for (auto& idx : t.indexes) {
    if (!(idx.unique || idx.primary) || !idx.valid || !idx.ready
        || !idx.predicate.empty() || idx.keys.empty())
      continue;
    auto keys = index_elements(idx, &t);
    if (std::all_of(keys.begin(), keys.end(),
                    [&](auto& k) { return eq.contains(k.expr); }))
      return &idx;
  }
  return nullptr;
}

// Partitioned parents have no rows of their own: their partitions' count.
double generator::table_rows(const table_info& t) const {
  if (t.kind != 'p')
    return t.rows();
  double sum = 0;
  for (auto& x : cat_.tables)
    if (x.parent == t.qualified())
      sum += table_rows(x);
  return std::max(sum, t.rows());
}

bool generator::whole_order_by_on(const table_info& t, int group) const {
  for (auto& n : stmt_.notes)
    if (n.starts_with("unindexable_sort:"))
      return false;
  return std::all_of(stmt_.uses.begin(), stmt_.uses.end(), [&](auto& u) {
    return u.kind != use_kind::sort || u.group != group
      || (u.schema == t.schema && u.table == t.name);
  });
}

// Rule 3: covering. When the statement reads only a few narrow columns
// besides the keys, INCLUDE them so an index-only scan never visits the
// heap. Only for SELECT: UPDATE/DELETE must visit the row anyway.
void generator::covering(const table_info& t, const std::vector<element>& best,
                         const uses_t& all) {
  if (best.empty() || stmt_.what != statement_analysis::kind::select
      || cat_.server_version < min_include_version)
    return;
  std::set<std::string> in_keys;
  for (auto& e : best)
    if (e.expression.empty())
      in_keys.insert(e.column);
  std::vector<std::string> extra;
  for (auto* u : all)
    if (!in_keys.contains(u->column)
        && std::find(extra.begin(), extra.end(), u->column) == extra.end())
      extra.push_back(u->column);
  if (extra.empty() || extra.size() > max_include_columns)
    return;
  int width = 0;
  bool all_stats = true;
  for (auto& x : extra) {
    auto* c = t.column(x);
    if (c == nullptr || wide_type(c->type))
      return;
    all_stats = all_stats && c->has_stats;
    width += c->avg_width;
  }
  if (all_stats && width > max_include_width)
    return;
  auto c = make_candidate(t, best, true);
  for (auto& x : extra)
    c.include.push_back(quote_ident(x));
  c.reasons.push_back("INCLUDE " + join(c.include, ", ")
                      + ": an index-only scan answers the statement without "
                        "reading the table");
  emit(std::move(c));
}

// Rule 4a: a predicate without parameters (NOT paid, deleted_at IS NULL)
// that keeps few rows becomes the WHERE of a partial index on the other
// keys: smaller, and never updated for the rows it leaves out.
void generator::partial_constant(const table_info& t,
                                 const std::vector<element>& best,
                                 const uses_t& uses) {
  std::vector<std::string> preds;
  std::vector<std::string> why;
  std::string first_column;
  for (auto* u : uses) {
    if (!constant_predicate(*u, t))
      continue;
    auto share = predicate_share(*u, t, table_rows(t));
    if (share && *share > max_partial_share)
      continue; // most rows qualify: the partial index is hardly smaller
    auto text = predicate_text(*u);
    if (std::find(preds.begin(), preds.end(), text) != preds.end())
      continue;
    preds.push_back(text);
    why.push_back(share ? text + " keeps " + percent(*share) + " of the rows"
                        : text + " (no statistics: ANALYZE to confirm)");
    if (first_column.empty())
      first_column = u->column;
  }
  if (preds.empty())
    return;
  index_candidate c;
  if (!best.empty()) {
    c = make_candidate(t, best, true);
  } else {
    // Nothing else to key on: the predicate's own column keeps it small.
    element e;
    e.key = quote_ident(first_column);
    e.column = first_column;
    c = make_candidate(t, {e}, false);
    c.reasons.clear();
  }
  c.predicate = join(preds, " AND ");
  c.reasons.push_back("partial: " + join(why, ", "));
  emit(std::move(c));
}

// Rule 4b: an equality with a literal on a low-cardinality column, for a
// rare value (status = 'failed'): a partial index on the other keys holds
// only those rows.
void generator::partial_literal(const table_info& t,
                                const std::vector<element>& best,
                                const uses_t& uses) {
  for (auto* u : uses) {
    if (u->kind != use_kind::equality || u->op != "=" || u->literal.empty()
        || !u->expression.empty() || constant_predicate(*u, t))
      continue;
    auto* c = t.column(u->column);
    if (c == nullptr || !c->has_stats
        || c->distinct_values(table_rows(t)) > max_partial_distinct)
      continue;
    auto share = value_share(*c, unquote_literal(u->literal), table_rows(t));
    if (share > max_partial_literal_share)
      continue;
    std::vector<element> others;
    for (auto& e : best)
      if (!(e.expression.empty() && e.column == u->column))
        others.push_back(e);
    if (others.empty())
      continue;
    auto cand = make_candidate(t, others, true);
    cand.predicate = quote_ident(u->column) + " = " + u->literal;
    cand.reasons.push_back("partial: " + cand.predicate + " keeps "
                           + percent(share) + " of the rows");
    emit(std::move(cand));
  }
}

// Rule 5: GIN for jsonb/array containment (jsonb_path_ops when only @>-like
// operators are used: a third of the size, faster), GiST for ranges and
// geometry, GIN for full-text @@.
void generator::containment(const table_info& t, const uses_t& all) {
  std::vector<std::pair<const column_use*, std::set<std::string>>> targets;
  for (auto* u : all) {
    if (u->kind != use_kind::containment)
      continue;
    auto i = std::find_if(targets.begin(), targets.end(), [&](auto& x) {
      return x.first->column == u->column
        && x.first->expression == u->expression;
    });
    if (i == targets.end())
      targets.push_back({u, {u->op}});
    else
      i->second.insert(u->op);
  }
  auto subset = [](const std::set<std::string>& ops,
                   std::initializer_list<std::string_view> allowed) {
    return std::all_of(ops.begin(), ops.end(), [&](auto& op) {
      return std::find(allowed.begin(), allowed.end(), op) != allowed.end();
    });
  };
  for (auto& [u, ops] : targets) {
    auto* c = t.column(u->column);
    auto what = column_text(*u);
    auto op_list = join(std::vector<std::string>(ops.begin(), ops.end()), ", ");
    auto cand = [&](std::string method, std::string key, std::string why) {
      index_candidate x;
      x.schema = t.schema;
      x.table = t.name;
      x.method = std::move(method);
      x.keys = {std::move(key)};
      x.reasons = {std::move(why)};
      emit(std::move(x));
    };
    auto key = u->expression.empty() ? quote_ident(u->column)
                                     : "(" + u->expression + ")";
    auto type = c != nullptr && u->expression.empty() ? c->type : "";
    bool jsonb = type == "jsonb"
      || (type.empty() && c != nullptr && c->type == "jsonb"
          && u->expression.find("->>") == std::string::npos
          && u->expression.find("->") != std::string::npos);
    if (jsonb && subset(ops, {"@>", "@?", "@@"}))
      cand("gin", key + " jsonb_path_ops",
           op_list + " on " + what
             + ": GIN jsonb_path_ops (smaller than jsonb_ops, serves @>)");
    else if (jsonb && subset(ops, {"@>", "?", "?|", "?&", "@?", "@@"}))
      cand("gin", key,
           op_list + " on " + what + ": GIN jsonb_ops (serves key existence)");
    else if (is_array_type(type) && subset(ops, {"@>", "<@", "&&"}))
      cand("gin", key, op_list + " on " + what + ": GIN on the array");
    else if ((type == "tsvector" || (type.empty() && !jsonb))
             && subset(ops, {"@@"}))
      cand("gin", key, "full-text @@ on " + what + ": GIN");
    else if ((type.find("range") != std::string::npos || type == "box"
              || type == "polygon" || type == "circle" || type == "point"
              || type == "inet" || type == "cidr")
             && subset(ops, {"@>", "<@", "&&"}))
      cand("gist", key, op_list + " on " + what + ": GiST");
    else
      skip("no index serves " + op_list + " on " + t.qualified() + "." + what
           + (type.empty() ? std::string{} : " (" + type + ")"));
  }
}

// Rule 6: trigram GIN for LIKE/ILIKE/regex patterns a btree cannot serve
// (leading wildcard, case-insensitive, unknown until run time).
void generator::trigram(const table_info& t, const uses_t& all) {
  std::vector<const column_use*> targets;
  for (auto* u : all) {
    bool wanted = u->kind == use_kind::pattern
      || (u->kind == use_kind::range && u->op == "~~*");
    bool seen = std::any_of(targets.begin(), targets.end(), [&](auto* x) {
      return x->column == u->column && x->expression == u->expression;
    });
    if (wanted && !seen)
      targets.push_back(u);
  }
  for (auto* u : targets) {
    auto what = column_text(*u);
    auto pattern = u->literal.empty()
      ? std::string{"a pattern given at run time"}
      : u->literal;
    auto use = what + " " + u->op + " " + pattern + " on " + t.qualified();
    auto* c = t.column(u->column);
    if (u->expression.empty() && (c == nullptr || !is_text_type(c->type))) {
      skip("no index serves " + use + ": trigram indexes need a text column");
      continue;
    }
    if (!cat_.pg_trgm_installed && !cat_.pg_trgm_available) {
      skip("no index serves " + use
           + ": a btree cannot, and pg_trgm (trigram GIN) is not available "
             "on the server");
      continue;
    }
    index_candidate x;
    x.schema = t.schema;
    x.table = t.name;
    x.method = "gin";
    x.keys = {(u->expression.empty() ? quote_ident(u->column)
                                     : "(" + u->expression + ")")
              + " gin_trgm_ops"};
    x.needs_pg_trgm = true;
    // LIKE's wildcards are ~~; a % in the operator is pg_trgm's similarity.
    auto similarity = u->op.find('%') != std::string::npos;
    x.reasons = {(similarity ? "similarity " : "pattern ") + u->op + " "
                 + pattern + " on " + what
                 + ": a btree cannot serve it, a trigram GIN index can"};
    if (!cat_.pg_trgm_installed)
      x.reasons.push_back("requires CREATE EXTENSION pg_trgm");
    emit(std::move(x));
  }
}

// Rule 6b: GiST for ORDER BY col <-> x LIMIT n (nearest first): a GiST index
// returns rows in distance order, so the LIMIT stops after n rows instead
// of computing and sorting a distance for every row. Text takes pg_trgm's
// gist_trgm_ops (GIN cannot order); geometry its default operator class.
void generator::nearest(const table_info& t, const uses_t& all) {
  std::set<std::string> done;
  for (auto* u : all) {
    if (u->kind != use_kind::distance || !u->expression.empty()
        || !done.insert(u->column).second)
      continue;
    auto* c = t.column(u->column);
    auto type = c != nullptr ? c->type : std::string{};
    auto use = "ORDER BY " + quote_ident(u->column) + " " + u->op + " … on "
      + t.qualified();
    index_candidate x;
    x.schema = t.schema;
    x.table = t.name;
    x.method = "gist";
    if (is_text_type(type)) {
      if (!cat_.pg_trgm_installed && !cat_.pg_trgm_available) {
        skip("no index serves " + use
             + ": only a trigram GiST index orders by similarity, and pg_trgm "
               "is not available on the server");
        continue;
      }
      x.keys = {quote_ident(u->column) + " gist_trgm_ops"};
      x.needs_pg_trgm = true;
    } else if (type == "point" || type == "box" || type == "circle"
               || type == "polygon") {
      x.keys = {quote_ident(u->column)};
    } else {
      skip("no index serves " + use + " (" + type + ")");
      continue;
    }
    x.reasons = {"nearest first, " + use
                 + ": a GiST index returns rows in distance order, so a "
                   "LIMIT stops after its rows instead of sorting them all"};
    if (x.needs_pg_trgm && !cat_.pg_trgm_installed)
      x.reasons.push_back("requires CREATE EXTENSION pg_trgm");
    emit(std::move(x));
  }
}

// Rule 7: BRIN for ranges on a huge table stored in the column's order and
// append-mostly (logs, events, measurements): kilobytes instead of
// gigabytes, nearly free to maintain.
void generator::brin(const table_info& t, const uses_t& all) {
  if (table_rows(t) < min_brin_rows || t.n_tup_ins <= 0
      || static_cast<double>(t.n_tup_upd + t.n_tup_del)
        > max_brin_churn * static_cast<double>(t.n_tup_ins))
    return;
  std::set<std::string> done;
  for (auto* u : all) {
    if (u->kind != use_kind::range || !u->expression.empty() || u->op == "~~"
        || u->op == "~~*" || u->op == "IS NOT NULL"
        || !done.insert(u->column).second)
      continue;
    auto* c = t.column(u->column);
    if (c == nullptr || !c->has_stats
        || std::abs(c->correlation) < min_brin_correlation)
      continue;
    auto x = column_candidate(t, "brin", u->column);
    char corr[16];
    std::snprintf(corr, sizeof(corr), "%.3f", c->correlation);
    x.reasons = {"range on " + quote_ident(u->column)
                 + ": rows are stored in its order (correlation " + corr
                 + ") and the table is append-mostly: BRIN is tiny"};
    emit(std::move(x));
  }
}

index_candidate generator::make_candidate(const table_info& t,
                                          const std::vector<element>& keys,
                                          bool directions) const {
  index_candidate c;
  c.schema = t.schema;
  c.table = t.name;
  // One key scans equally well both ways: no direction.
  bool directed = directions && keys.size() > 1;
  for (auto& e : keys) {
    c.keys.push_back(directed ? e.with_direction() : e.key);
    if (!e.reason.empty()
        && std::find(c.reasons.begin(), c.reasons.end(), e.reason)
          == c.reasons.end())
      c.reasons.push_back(e.reason);
  }
  return c;
}

// Rule 8: hash for a wide key the statement only compares with = (URLs,
// tokens, e-mail addresses): a fraction of the b-tree's size, the same
// lookup. The b-tree stays a candidate too; selection keeps whichever the
// workload needs (a range or ORDER BY elsewhere needs the b-tree) and, when
// both serve as well, the smaller.
void generator::hash(const table_info& t, const uses_t& all) {
  auto rows = table_rows(t);
  std::set<std::string> done;
  for (auto* u : all) {
    bool lookup = (u->kind == use_kind::equality && u->op == "=")
      || u->kind == use_kind::join;
    if (!lookup || !u->expression.empty() || !done.insert(u->column).second)
      continue;
    // Any other use of the column in this statement (a range, a sort, a
    // group, IS NULL) is something hash cannot do.
    bool only_equality = std::all_of(all.begin(), all.end(), [&](auto* v) {
      return v->column != u->column || !v->expression.empty()
        || v->kind == use_kind::projection
        || (v->kind == use_kind::equality && v->op == "=")
        || v->kind == use_kind::join;
    });
    auto* c = t.column(u->column);
    if (!only_equality || c == nullptr || !c->has_stats
        || !(is_text_type(c->type) || c->type == "bytea")
        || c->avg_width < min_hash_width
        || c->distinct_values(rows) < min_hash_distinct_share * rows)
      continue;
    auto x = column_candidate(t, "hash", u->column);
    x.reasons = {describe(*u) + ": only compared with =, and its values are "
                 + std::to_string(c->avg_width)
                 + " bytes wide on average: a hash index stores 4-byte hash "
                   "codes, a fraction of a b-tree's size"};
    emit(std::move(x));
  }
}

void generator::emit(index_candidate c) {
  auto k = c.key();
  auto i = std::find_if(out_.begin(), out_.end(),
                        [&](auto& x) { return x.key() == k; });
  if (i == out_.end()) {
    out_.push_back(std::move(c));
    return;
  }
  for (auto& r : c.reasons)
    if (std::find(i->reasons.begin(), i->reasons.end(), r) == i->reasons.end())
      i->reasons.push_back(r);
}

void generator::skip(std::string x) {
  if (skipped_ != nullptr
      && std::find(skipped_->begin(), skipped_->end(), x) == skipped_->end())
    skipped_->push_back(std::move(x));
}

} // namespace

std::string index_candidate::ddl() const {
  auto out = "CREATE INDEX ON " + quote_ident(schema) + "." + quote_ident(table)
    + " USING " + method + " (" + join(keys, ", ") + ")";
  if (!include.empty())
    out += " INCLUDE (" + join(include, ", ") + ")";
  if (!predicate.empty())
    out += " WHERE " + predicate;
  return out;
}

std::vector<index_candidate>
generate_candidates(const statement_analysis& stmt, const catalog& cat,
                    std::vector<std::string>* skipped) {
  return generator{stmt, cat, skipped}.run();
}

} // namespace optischema
