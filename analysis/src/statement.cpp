#include "optischema/analysis/statement.hpp"
#include "deparse.hpp"
#include "scope.hpp"

#include "optischema/analysis/parse_tree.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

// How it works: libpg_query turns the text into PostgreSQL's own raw parse
// tree (as JSON); an `analyzer` walks it with a chain of scopes that mirror
// the parser's range tables, so every column reference lands on the base
// table column PostgreSQL itself would read. Views, non-materialised CTEs and
// subqueries in FROM are analysed in place and expose their output columns
// as a map to base columns, which is what the planner does when it pulls
// them up; predicates on those outputs therefore count for the base table.

namespace optischema {

const char* to_string(use_kind x) {
  switch (x) {
    case use_kind::equality: return "equality";
    case use_kind::range: return "range";
    case use_kind::sort: return "sort";
    case use_kind::group: return "group";
    case use_kind::join: return "join";
    case use_kind::pattern: return "pattern";
    case use_kind::containment: return "containment";
    case use_kind::projection: return "projection";
    case use_kind::distance: return "distance";
  }
  return "projection";
}

namespace {

// -- reading libpg_query's JSON ----------------------------------------------

using parse_tree::as;
using parse_tree::flag;
using parse_tree::for_each;
using parse_tree::get;
using parse_tree::names;
using parse_tree::node;
using parse_tree::str;
using parse_tree::unwrap;

// Calls f for every ColumnRef body below n, not descending into sub-selects
// (their columns belong to their own scope).
template <class F>
void column_refs(const node& n, F&& f) {
  if (n.IsArray()) {
    for (auto& x : n.GetArray())
      column_refs(x, f);
    return;
  }
  if (!n.IsObject())
    return;
  auto [type, b] = unwrap(n);
  if (type == "ColumnRef") {
    f(*b);
    return;
  }
  if (type == "SubLink") {
    if (auto* t = get(*b, "testexpr"))
      column_refs(*t, f);
    return;
  }
  for (auto& m : n.GetObject())
    column_refs(m.value, f);
}

// The built-in aggregates: their result is not a value of a row, so no
// index can store or order by it.
bool is_aggregate(const node& funccall) {
  static constexpr std::string_view aggregates[] = {
    "array_agg",
    "avg",
    "bit_and",
    "bit_or",
    "bool_and",
    "bool_or",
    "count",
    "every",
    "json_agg",
    "jsonb_agg",
    "max",
    "min",
    "mode",
    "percentile_cont",
    "percentile_disc",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "string_agg",
    "sum",
    "var_pop",
    "var_samp",
    "variance",
    "xmlagg",
    "json_object_agg",
    "jsonb_object_agg",
  };
  auto fn = names(get(funccall, "funcname"));
  return !fn.empty()
    && std::find(std::begin(aggregates), std::end(aggregates), fn.back())
    != std::end(aggregates);
}

// Functions whose result changes between calls or transactions: an
// expression containing them cannot be indexed (nor is it a property of the
// row).
bool is_volatile(const node& funccall) {
  static constexpr std::string_view volatile_functions[] = {
    "clock_timestamp", "current_setting",
    "nextval",         "now",
    "random",          "statement_timestamp",
    "timeofday",       "transaction_timestamp",
    "gen_random_uuid",
  };
  auto fn = names(get(funccall, "funcname"));
  return !fn.empty()
    && std::find(std::begin(volatile_functions), std::end(volatile_functions),
                 fn.back())
    != std::end(volatile_functions);
}

// An expression over exactly one column and constants, made of functions,
// casts and operators: what an expression index can store. Parameters are
// excluded because an index expression cannot contain them.
bool one_column_expression(const node& n, int& columns) {
  auto [type, b] = unwrap(n);
  if (b == nullptr)
    return false;
  if (type == "ColumnRef") {
    ++columns;
    return as(&(*get(*b, "fields"))[0], "A_Star") == nullptr;
  }
  if (type == "A_Const")
    return true;
  auto all = [&](const node* list) {
    bool ok = true;
    for_each(list, [&](const node& x) {
      ok = ok && one_column_expression(x, columns);
    });
    return ok;
  };
  if (type == "TypeCast")
    return one_column_expression(*get(*b, "arg"), columns);
  if (type == "FuncCall")
    return !flag(get(*b, "agg_star")) && !flag(get(*b, "agg_distinct"))
      && get(*b, "over") == nullptr && !is_aggregate(*b) && !is_volatile(*b)
      && all(get(*b, "args"));
  if (type == "CoalesceExpr")
    return all(get(*b, "args"));
  if (type == "A_Expr") {
    if (str(get(*b, "kind")) != "AEXPR_OP")
      return false;
    auto* l = get(*b, "lexpr");
    auto* r = get(*b, "rexpr");
    return (l == nullptr || one_column_expression(*l, columns))
      && (r == nullptr || one_column_expression(*r, columns));
  }
  return false;
}

bool is_system_schema(std::string_view s) {
  return s == "pg_catalog" || s == "information_schema";
}

std::string commute(const std::string& op) {
  static constexpr std::pair<std::string_view, std::string_view> pairs[] = {
    {"<", ">"},       {">", "<"},         {"<=", ">="},       {">=", "<="},
    {"@>", "<@"},     {"<@", "@>"},       {"=", "="},         {"&&", "&&"},
    {"@@", "@@"},     {"%", "%"},         {"<%", "%>"},       {"%>", "<%"},
    {"<<%", "%>>"},   {"%>>", "<<%"},     {"<->", "<->"},     {"<<->", "<->>"},
    {"<->>", "<<->"}, {"<<<->", "<->>>"}, {"<->>>", "<<<->"},
  };
  for (auto& [from, to] : pairs)
    if (op == from)
      return std::string{to};
  return {};
}

bool is_btree_op(std::string_view op) {
  return op == "=" || op == "<" || op == "<=" || op == ">" || op == ">=";
}

/// pg_trgm's similarity operators (text % text, word similarity <% and
/// %>, strict word similarity <<% and %>>): only a trigram index serves
/// them. (`%` on numbers is modulo, never a condition by itself.)
bool is_similarity_op(const std::string& op) {
  return op == "%" || op == "<%" || op == "%>" || op == "<<%" || op == "%>>";
}

/// Distance operators a GiST index orders by: geometric and pg_trgm's
/// `<->`, pg_trgm's word distances `<<->`, `<->>`, `<<<->`, `<->>>`.
bool is_distance_op(const std::string& op) {
  return op == "<->" || op == "<<->" || op == "<->>" || op == "<<<->"
    || op == "<->>>";
}

bool is_containment_op(std::string_view op) {
  return op == "@>" || op == "<@" || op == "?" || op == "?|" || op == "?&"
    || op == "&&" || op == "@@" || op == "@?";
}

// -- scopes (scope.hpp) -------------------------------------------------------

using statement_detail::base_column;
using statement_detail::cte_info;
using statement_detail::entry_columns;
using statement_detail::found;
using statement_detail::lookup;
using statement_detail::output_column;
using statement_detail::range_entry;
using statement_detail::reference;
using statement_detail::rename;
using statement_detail::resolved;
using statement_detail::scope;

/// One side of a comparison, as far as indexing cares.
struct side {
  enum kind_t { free, column, expr, other } kind = other;
  std::optional<resolved> col;
  std::string expression;
  /// The column is directly under a cast (id::text = $1).
  bool cast = false;
  /// `other`: the FROM items its columns come from.
  std::set<int> entries;
};

bool indexable(const side& s) {
  return s.kind == side::column || s.kind == side::expr;
}

std::string qualified(const base_column& c) {
  return c.table->schema + "." + c.table->name;
}

// -- the analyzer -------------------------------------------------------------

class analyzer {
public:
  analyzer(const catalog& cat, statement_analysis& out) : cat_(cat), out_(out) {
    // nop
  }

  void run(const node& stmt);

private:
  using outputs_t = std::vector<output_column>;

  int new_group() {
    return next_group_++;
  }

  // -- statements --
  outputs_t select(const node& s, scope& sc, int group, bool top);
  outputs_t set_operation(const node& s, scope& sc, bool top);
  void insert(const node& s, const scope* parent);
  void update(const node& s, const scope* parent);
  void delete_(const node& s, const scope* parent);
  void dml(std::string_view type, const node& body, const scope* parent);
  void with(const node& w, scope& sc, int group);
  void limit(const node& s);

  // -- FROM --
  void from_item(const node& n, scope& sc, int group);
  void range_var(const node& rv, scope& sc, int group);
  void join_using(const node& list, scope& sc, size_t left_begin,
                  size_t right_begin, int group);
  std::optional<outputs_t> view(const table_info& v, int group);
  void add_table(const table_info& t, const std::string& alias);
  const cte_info* find_cte(const scope& sc, const std::string& name) const;
  int references(const std::string& name) const;

  // -- columns --
  reference locate(const node& colref, const scope& sc) const;
  std::optional<resolved> resolve(const node& colref, const scope& sc) const;
  outputs_t star(const node& colref, const scope& sc) const;
  outputs_t outputs(const node* targets, const scope& sc) const;
  const node* target_for(const node& item, const scope& sc, bool input_first);

  // -- expressions --
  void walk(const node& n, scope& sc, int group);
  void predicate(const node& n, scope& sc, int group, bool in_or, bool negated);
  void comparison(const node& b, scope& sc, int group, bool in_or,
                  bool negated);
  void compare(const std::string& op, const node& l, const node& r, scope& sc,
               int group, bool in_or);
  void like(const std::string& op, const node& l, const node& r, scope& sc,
            int group, bool in_or);
  void rows(const std::string& op, const node& l, const node& r, scope& sc,
            int group, bool in_or);
  void contain(const std::string& op, const node& l, const node& r, scope& sc,
               int group, bool in_or);
  void sublink(const node& b, scope& sc, int group, bool in_or, bool negated);
  void or_arms(const node& list, scope& sc);
  void sort_items(const node& list, scope& sc, int group);
  void group_items(const node& list, scope& sc, int group);
  side classify(const node& n, const scope& sc) const;

  // -- results --
  void add(const resolved& r, use_kind k, std::string op, int group, bool in_or,
           std::string literal = {}, std::string expression = {},
           bool descending = false);
  void add(const side& s, use_kind k, std::string op, int group, bool in_or,
           std::string literal = {});
  void note(std::string x);
  void unresolved(std::string name);

  const catalog& cat_;
  statement_analysis& out_;
  const node* root_ = nullptr;
  /// How often root_ names each relation unqualified: one walk, on first
  /// use, instead of one per CTE (a chain of 8,000 CTEs took 40 s).
  mutable std::optional<std::unordered_map<std::string, int>> root_refs_;
  int next_group_ = 0;
  int next_entry_ = 0;
  /// Views being expanded (guards against cycles and runaway nesting).
  std::vector<std::string> views_;
  /// The view or CTE the tables being added are reached through.
  std::string via_;
  /// Unqualified names in a view definition resolve in the view's schema
  /// when the search path does not find them.
  std::string fallback_schema_;
};

void analyzer::run(const node& stmt) {
  root_ = &stmt;
  auto [type, body] = unwrap(stmt);
  if (type == "SelectStmt") {
    out_.what = statement_analysis::kind::select;
    scope sc;
    select(*body, sc, new_group(), true);
  } else if (type == "InsertStmt") {
    out_.what = statement_analysis::kind::insert;
    insert(*body, nullptr);
  } else if (type == "UpdateStmt") {
    out_.what = statement_analysis::kind::update;
    update(*body, nullptr);
  } else if (type == "DeleteStmt") {
    out_.what = statement_analysis::kind::delete_;
    delete_(*body, nullptr);
  } else {
    out_.what = statement_analysis::kind::utility;
  }
}

// -- statements ---------------------------------------------------------------

analyzer::outputs_t analyzer::select(const node& s, scope& sc, int group,
                                     bool top) {
  if (auto* w = get(s, "withClause"))
    with(*w, sc, group);
  auto op = str(get(s, "op"));
  if (!op.empty() && op != "SETOP_NONE")
    return set_operation(s, sc, top);
  if (auto* values = get(s, "valuesLists")) {
    walk(*values, sc, group);
    outputs_t out;
    if (values->IsArray() && !values->Empty())
      if (auto* items = get(as(&(*values)[0], "List"), "items");
          items != nullptr && items->IsArray())
        for (size_t i = 1; i <= items->Size(); ++i)
          out.push_back({"column" + std::to_string(i), std::nullopt});
    return out;
  }
  for_each(get(s, "fromClause"),
           [&](const node& x) { from_item(x, sc, group); });
  sc.targets = get(s, "targetList");
  if (auto* where = get(s, "whereClause"))
    predicate(*where, sc, group, false, false);
  for_each(sc.targets, [&](const node& x) {
    if (auto* rt = as(&x, "ResTarget"))
      if (auto* val = get(*rt, "val"))
        walk(*val, sc, group);
  });
  if (auto* g = get(s, "groupClause"))
    group_items(*g, sc, group);
  if (auto* d = get(s, "distinctClause"); d != nullptr && d->IsArray()) {
    // Plain DISTINCT is [{}]: it groups by the whole target list.
    if (!d->Empty() && (*d)[0].IsObject() && (*d)[0].ObjectEmpty()) {
      if (sc.targets != nullptr)
        group_items(*sc.targets, sc, group);
    } else {
      group_items(*d, sc, group);
    }
  }
  for (auto* clause : {get(s, "havingClause"), get(s, "windowClause")})
    if (clause != nullptr)
      walk(*clause, sc, group);
  if (auto* sort = get(s, "sortClause"))
    sort_items(*sort, sc, group);
  if (top)
    limit(s);
  return outputs(sc.targets, sc);
}

// UNION / INTERSECT / EXCEPT: each arm is a query of its own; the outputs
// are no longer one base column each.
analyzer::outputs_t analyzer::set_operation(const node& s, scope& sc,
                                            bool top) {
  outputs_t out;
  for (auto* arm : {get(s, "larg"), get(s, "rarg")}) {
    if (arm == nullptr)
      continue;
    scope sub;
    sub.parent = &sc;
    auto o = select(*arm, sub, new_group(), false);
    if (out.empty())
      out = std::move(o);
  }
  for (auto& o : out)
    o.source.reset();
  if (top)
    limit(s);
  return out;
}

void analyzer::limit(const node& s) {
  auto* count = get(s, "limitCount");
  if (count == nullptr)
    return;
  // LIMIT ALL is a NULL constant: no limit.
  if (auto* c = as(count, "A_Const"); c != nullptr && flag(get(*c, "isnull")))
    return;
  out_.has_limit = true;
}

void analyzer::insert(const node& s, const scope* parent) {
  scope sc;
  sc.parent = parent;
  if (auto* w = get(s, "withClause"))
    with(*w, sc, new_group());
  if (auto* sel = as(get(s, "selectStmt"), "SelectStmt")) {
    scope sub;
    sub.parent = &sc;
    select(*sel, sub, new_group(), false);
  }
  auto* rel = get(s, "relation");
  if (rel == nullptr)
    return;
  scope target;
  target.parent = &sc;
  range_var(*rel, target, new_group());
  if (!target.entries.empty() && target.entries[0].table != nullptr)
    out_.written = target.entries[0].table->qualified();
  if (auto* oc = get(s, "onConflictClause")) {
    // ON CONFLICT DO UPDATE SET updates columns (HOT matters there too).
    auto* t = target.entries.empty() ? nullptr : target.entries[0].table;
    for_each(get(*oc, "targetList"), [&](const node& x) {
      if (auto* rt = as(&x, "ResTarget"); rt != nullptr && t != nullptr)
        out_.updated_columns.push_back(t->qualified() + "."
                                       + str(get(*rt, "name")));
    });
  }
  for_each(get(s, "returningList"),
           [&](const node& x) { walk(x, target, new_group()); });
}

void analyzer::update(const node& s, const scope* parent) {
  scope sc;
  sc.parent = parent;
  int group = new_group();
  if (auto* w = get(s, "withClause"))
    with(*w, sc, group);
  if (auto* rel = get(s, "relation"))
    range_var(*rel, sc, group);
  auto* t = sc.entries.empty() ? nullptr : sc.entries[0].table;
  if (t != nullptr)
    out_.written = t->qualified();
  for_each(get(s, "fromClause"),
           [&](const node& x) { from_item(x, sc, group); });
  if (auto* where = get(s, "whereClause"))
    predicate(*where, sc, group, false, false);
  for_each(get(s, "targetList"), [&](const node& x) {
    auto* rt = as(&x, "ResTarget");
    if (rt == nullptr)
      return;
    if (t != nullptr) {
      auto col = t->qualified() + "." + str(get(*rt, "name"));
      auto& u = out_.updated_columns;
      if (std::find(u.begin(), u.end(), col) == u.end())
        u.push_back(std::move(col));
    }
    if (auto* val = get(*rt, "val"))
      walk(*val, sc, group);
  });
  for_each(get(s, "returningList"), [&](const node& x) { walk(x, sc, group); });
}

void analyzer::delete_(const node& s, const scope* parent) {
  scope sc;
  sc.parent = parent;
  int group = new_group();
  if (auto* w = get(s, "withClause"))
    with(*w, sc, group);
  if (auto* rel = get(s, "relation"))
    range_var(*rel, sc, group);
  if (!sc.entries.empty() && sc.entries[0].table != nullptr)
    out_.written = sc.entries[0].table->qualified();
  for_each(get(s, "usingClause"),
           [&](const node& x) { from_item(x, sc, group); });
  if (auto* where = get(s, "whereClause"))
    predicate(*where, sc, group, false, false);
  for_each(get(s, "returningList"), [&](const node& x) { walk(x, sc, group); });
}

void analyzer::dml(std::string_view type, const node& body,
                   const scope* parent) {
  if (type == "InsertStmt")
    insert(body, parent);
  else if (type == "UpdateStmt")
    update(body, parent);
  else if (type == "DeleteStmt")
    delete_(body, parent);
}

// WITH: a CTE referenced once, not MATERIALIZED, not recursive and without
// side effects is inlined by the planner (PostgreSQL 12+), so its predicates
// and outputs count for its base tables within the referencing query's
// group. Any other CTE is computed once, on its own: its body is a separate
// group and its outputs map to nothing (an outer WHERE cannot use an index
// of the base table).
void analyzer::with(const node& w, scope& sc, int group) {
  bool recursive = flag(get(w, "recursive"));
  for_each(get(w, "ctes"), [&](const node& x) {
    auto* cte = as(&x, "CommonTableExpr");
    if (cte == nullptr)
      return;
    cte_info info;
    info.name = str(get(*cte, "ctename"));
    auto mat = str(get(*cte, "ctematerialized"));
    auto* query = get(*cte, "ctequery");
    auto [qtype, qbody] = query != nullptr
      ? unwrap(*query)
      : std::pair<std::string_view, const node*>{};
    bool inlined = !recursive && qtype == "SelectStmt"
      && mat != "CTEMaterializeAlways"
      && (mat == "CTEMaterializeNever" || references(info.name) <= 1);
    if (recursive)
      sc.ctes.push_back(info); // visible to its own body, as opaque
    auto saved_via = via_;
    if (via_.empty())
      via_ = info.name;
    scope sub;
    sub.parent = &sc;
    int g = inlined ? group : new_group();
    outputs_t outs;
    if (qtype == "SelectStmt")
      outs = select(*qbody, sub, g, false);
    else if (qbody != nullptr)
      dml(qtype, *qbody, &sc);
    via_ = saved_via;
    if (!inlined)
      for (auto& o : outs)
        o.source.reset();
    auto colnames = names(get(*cte, "aliascolnames"));
    for (size_t i = 0; i < colnames.size() && i < outs.size(); ++i)
      outs[i].name = colnames[i];
    info.outputs = std::move(outs);
    if (recursive)
      sc.ctes.back() = std::move(info);
    else
      sc.ctes.push_back(std::move(info));
  });
}

// -- FROM ---------------------------------------------------------------------

void analyzer::from_item(const node& n, scope& sc, int group) {
  auto [type, b] = unwrap(n);
  if (b == nullptr)
    return;
  if (type == "RangeVar") {
    range_var(*b, sc, group);
  } else if (type == "JoinExpr") {
    auto left = sc.entries.size();
    if (auto* l = get(*b, "larg"))
      from_item(*l, sc, group);
    auto right = sc.entries.size();
    if (auto* r = get(*b, "rarg"))
      from_item(*r, sc, group);
    if (auto* quals = get(*b, "quals"))
      predicate(*quals, sc, group, false, false);
    if (auto* using_ = get(*b, "usingClause"))
      join_using(*using_, sc, left, right, group);
  } else if (type == "RangeSubselect") {
    range_entry e;
    e.id = next_entry_++;
    e.name = str(get(get(*b, "alias"), "aliasname"));
    e.derived = true;
    if (auto* q = as(get(*b, "subquery"), "SelectStmt")) {
      scope sub;
      sub.parent = &sc; // LATERAL sees the items before it
      e.outputs = select(*q, sub, group, false);
    }
    rename(e, names(get(get(*b, "alias"), "colnames")));
    sc.entries.push_back(std::move(e));
  } else if (type == "RangeTableSample") {
    if (auto* rel = get(*b, "relation"))
      from_item(*rel, sc, group);
  } else {
    // Functions, XMLTABLE, JSON_TABLE: columns unknown to the catalog.
    if (type == "RangeFunction")
      walk(*get(*b, "functions"), sc, group);
    range_entry e;
    e.id = next_entry_++;
    e.name = str(get(get(*b, "alias"), "aliasname"));
    e.opaque = true;
    sc.entries.push_back(std::move(e));
  }
}

void analyzer::join_using(const node& list, scope& sc, size_t left_begin,
                          size_t right_begin, int group) {
  for (auto& col : names(&list)) {
    auto find_in = [&](size_t from, size_t to) -> std::optional<resolved> {
      for (auto i = from; i < to; ++i)
        if (auto [f, r] = lookup(sc.entries[i], col); f != found::no)
          return r;
      return std::nullopt;
    };
    auto l = find_in(left_begin, right_begin);
    auto r = find_in(right_begin, sc.entries.size());
    if (l && r) {
      add(*l, use_kind::join, "=", group, false);
      add(*r, use_kind::join, "=", group, false);
    }
  }
}

void analyzer::range_var(const node& rv, scope& sc, int group) {
  auto schema = str(get(rv, "schemaname"));
  auto name = str(get(rv, "relname"));
  auto* alias = get(rv, "alias");
  auto alias_name = str(get(alias, "aliasname"));
  range_entry e;
  e.id = next_entry_++;
  e.name = alias_name.empty() ? name : alias_name;
  e.schema = alias_name.empty() ? schema : std::string{};
  auto colnames = names(get(alias, "colnames"));
  auto push = [&] {
    rename(e, colnames);
    sc.entries.push_back(std::move(e));
  };
  if (schema.empty())
    if (auto* cte = find_cte(sc, name)) {
      e.derived = true;
      e.outputs = cte->outputs;
      return push();
    }
  if (is_system_schema(schema)) {
    e.opaque = true;
    return push();
  }
  auto* t = cat_.find(schema, name);
  if (t == nullptr && schema.empty() && !fallback_schema_.empty())
    t = cat_.find(fallback_schema_, name);
  if (t == nullptr || is_system_schema(t->schema)) {
    // pg_class, pg_stat_activity…: catalogs, silently not ours to index.
    if (t == nullptr && !(schema.empty() && name.starts_with("pg_")))
      unresolved(schema.empty() ? name : schema + "." + name);
    e.opaque = true;
    return push();
  }
  if (t->kind == 'v') {
    if (auto outs = view(*t, group)) {
      e.derived = true;
      e.outputs = std::move(*outs);
    } else {
      e.opaque = true;
    }
    return push();
  }
  add_table(*t, alias_name);
  e.table = t;
  push();
}

// A view is its definition in place (the rewriter inlines it): its tables
// and predicates are the statement's, its outputs map to base columns.
std::optional<analyzer::outputs_t> analyzer::view(const table_info& v,
                                                  int group) {
  auto q = v.qualified();
  if (v.view_definition.empty() || views_.size() >= 16
      || std::find(views_.begin(), views_.end(), q) != views_.end()) {
    note("unexpanded_view: " + q);
    return std::nullopt;
  }
  auto doc = parse_tree::parse(v.view_definition);
  bool parsed_ok = static_cast<bool>(doc);
  const node* body = nullptr;
  if (parsed_ok)
    if (auto* stmts = get(*doc, "stmts");
        stmts != nullptr && stmts->IsArray() && !stmts->Empty())
      body = as(get((*stmts)[0], "stmt"), "SelectStmt");
  if (body == nullptr) {
    note("unexpanded_view: " + q);
    return std::nullopt;
  }
  views_.push_back(q);
  auto saved_via = via_;
  auto saved_schema = fallback_schema_;
  auto saved_root = root_;
  auto saved_refs = std::move(root_refs_);
  if (via_.empty())
    via_ = q;
  fallback_schema_ = v.schema;
  root_ = &*doc;
  root_refs_.reset();
  scope sc; // a view sees nothing of the query that uses it
  auto out = select(*body, sc, group, false);
  root_ = saved_root;
  root_refs_ = std::move(saved_refs);
  fallback_schema_ = saved_schema;
  via_ = saved_via;
  views_.pop_back();
  return out;
}

void analyzer::add_table(const table_info& t, const std::string& alias) {
  table_ref ref{t.schema, t.name, alias, via_};
  auto same = [&](const table_ref& x) {
    return x.schema == ref.schema && x.table == ref.table
      && x.alias == ref.alias && x.via == ref.via;
  };
  if (std::none_of(out_.tables.begin(), out_.tables.end(), same))
    out_.tables.push_back(std::move(ref));
}

const cte_info* analyzer::find_cte(const scope& sc,
                                   const std::string& name) const {
  for (auto* s = &sc; s != nullptr; s = s->parent)
    for (auto i = s->ctes.rbegin(); i != s->ctes.rend(); ++i)
      if (i->name == name)
        return &*i;
  return nullptr;
}

namespace {

/// Counts every relation `n` names unqualified (a RangeVar without schema).
void count_relations(const node& n, std::unordered_map<std::string, int>& out) {
  if (n.IsArray()) {
    for (auto& x : n.GetArray())
      count_relations(x, out);
  } else if (n.IsObject()) {
    if (auto* rv = as(&n, "RangeVar")) {
      if (get(*rv, "schemaname") == nullptr)
        ++out[str(get(*rv, "relname"))];
      return;
    }
    for (auto& m : n.GetObject())
      count_relations(m.value, out);
  }
}

} // namespace

// How often the statement names `name` as an unqualified relation: a CTE
// referenced more than once is materialised.
int analyzer::references(const std::string& name) const {
  if (!root_refs_) {
    root_refs_.emplace();
    if (root_ != nullptr)
      count_relations(*root_, *root_refs_);
  }
  auto i = root_refs_->find(name);
  return i == root_refs_->end() ? 0 : i->second;
}

// -- columns ------------------------------------------------------------------

// The FROM item a ColumnRef reads and, when it passes one through, the
// base column: following aliases, derived tables and outer scopes
// (correlated subqueries). `col` is empty for computed, unknown or system
// columns; `entry` is empty when not even the item is known.
reference analyzer::locate(const node& colref, const scope& sc) const {
  std::vector<std::string> parts;
  bool star = false;
  for_each(get(colref, "fields"), [&](const node& f) {
    if (auto* s = as(&f, "String"))
      parts.push_back(str(get(*s, "sval")));
    else
      star = true;
  });
  if (star || parts.empty())
    return {};
  auto& col = parts.back();
  for (auto* s = &sc; s != nullptr; s = s->parent) {
    const range_entry* maybe = nullptr;
    for (auto& e : s->entries) {
      if (parts.size() >= 2) {
        auto& qual = parts[parts.size() - 2];
        auto schema = parts.size() >= 3 ? parts[parts.size() - 3] : "";
        if (e.name != qual
            || (!schema.empty() && e.schema != schema
                && (e.table == nullptr || e.table->schema != schema)))
          continue;
        auto [f, r] = lookup(e, col);
        return {f == found::no ? std::nullopt : r, e.id};
      }
      auto [f, r] = lookup(e, col);
      if (f == found::yes)
        return {r, e.id};
      if (f == found::maybe && maybe == nullptr)
        maybe = &e;
    }
    // Not a known column of this level: it belongs to an item whose
    // columns the catalog does not know (a function, an unknown table).
    if (maybe != nullptr)
      return {std::nullopt, maybe->id};
  }
  return {};
}

std::optional<resolved> analyzer::resolve(const node& colref,
                                          const scope& sc) const {
  return locate(colref, sc).col;
}

// The columns `*` or `t.*` expands to.
analyzer::outputs_t analyzer::star(const node& colref, const scope& sc) const {
  auto parts = names(get(colref, "fields"));
  outputs_t out;
  for (auto& e : sc.entries) {
    if (!parts.empty() && e.name != parts.back())
      continue;
    auto cols = entry_columns(e);
    out.insert(out.end(), cols.begin(), cols.end());
  }
  return out;
}

analyzer::outputs_t analyzer::outputs(const node* targets,
                                      const scope& sc) const {
  outputs_t out;
  for_each(targets, [&](const node& x) {
    auto* rt = as(&x, "ResTarget");
    if (rt == nullptr)
      return;
    auto* val = get(*rt, "val");
    auto* ref = as(val, "ColumnRef");
    if (ref != nullptr && deparse(*val) == "*") {
      auto cols = star(*ref, sc);
      out.insert(out.end(), cols.begin(), cols.end());
      return;
    }
    output_column o;
    o.name = str(get(*rt, "name"));
    if (ref != nullptr) {
      auto parts = names(get(*ref, "fields"));
      if (o.name.empty() && !parts.empty())
        o.name = parts.back();
      if (auto r = resolve(*ref, sc))
        o.source = r->col;
    } else if (auto* fn = as(val, "FuncCall");
               fn != nullptr && o.name.empty()) {
      auto fname = names(get(*fn, "funcname"));
      o.name = fname.empty() ? "?column?" : fname.back();
    } else if (o.name.empty()) {
      o.name = "?column?";
    }
    out.push_back(std::move(o));
  });
  return out;
}

// ORDER BY / GROUP BY items may name an output column (by alias or
// position) instead of an input column: returns the expression they mean.
const node* analyzer::target_for(const node& item, const scope& sc,
                                 bool input_first) {
  std::vector<const node*> vals;
  std::vector<std::string> aliases;
  for_each(sc.targets, [&](const node& x) {
    auto* rt = as(&x, "ResTarget");
    vals.push_back(rt != nullptr ? get(*rt, "val") : nullptr);
    aliases.push_back(rt != nullptr ? str(get(*rt, "name")) : "");
  });
  if (auto* c = as(&item, "A_Const")) {
    auto* iv = get(get(*c, "ival"), "ival");
    if (iv != nullptr && iv->IsInt()) {
      auto i = static_cast<size_t>(iv->GetInt());
      if (i >= 1 && i <= vals.size() && vals[i - 1] != nullptr)
        return vals[i - 1];
    }
    return &item;
  }
  auto* ref = as(&item, "ColumnRef");
  if (ref == nullptr)
    return &item;
  auto parts = names(get(*ref, "fields"));
  if (parts.size() != 1 || (input_first && resolve(*ref, sc)))
    return &item;
  for (size_t i = 0; i < aliases.size(); ++i)
    if (aliases[i] == parts[0] && vals[i] != nullptr)
      return vals[i];
  return &item;
}

// -- expressions --------------------------------------------------------------

// Anything that is not a predicate an index can serve: every column read
// is a projection use; sub-selects are analysed as queries of their own.
void analyzer::walk(const node& n, scope& sc, int group) {
  if (n.IsArray()) {
    for (auto& x : n.GetArray())
      walk(x, sc, group);
    return;
  }
  if (!n.IsObject())
    return;
  auto [type, b] = unwrap(n);
  if (type == "ColumnRef") {
    if (deparse(n) == "*") {
      for (auto& c : star(*b, sc))
        if (c.source)
          add(resolved{*c.source, 0}, use_kind::projection, {}, group, false);
    } else if (auto r = resolve(*b, sc)) {
      add(*r, use_kind::projection, {}, group, false);
    }
    return;
  }
  if (type == "SubLink") {
    sublink(*b, sc, group, false, true);
    return;
  }
  if (type == "SelectStmt")
    return;
  for (auto& m : n.GetObject())
    walk(m.value, sc, group);
}

// A WHERE / ON / HAVING-like condition. AND-ed conditions share `group`;
// each OR arm gets a group of its own. Under NOT nothing is indexable
// except the negation of a boolean column or of IS NULL.
void analyzer::predicate(const node& n, scope& sc, int group, bool in_or,
                         bool negated) {
  auto [type, b] = unwrap(n);
  if (b == nullptr)
    return walk(n, sc, group);
  if (type == "BoolExpr") {
    auto op = str(get(*b, "boolop"));
    auto* args = get(*b, "args");
    if (op == "NOT_EXPR") {
      for_each(args, [&](const node& x) {
        predicate(x, sc, group, in_or, !negated);
      });
    } else if (op == "AND_EXPR" && !negated) {
      for_each(args,
               [&](const node& x) { predicate(x, sc, group, in_or, false); });
    } else if (op == "OR_EXPR" && !negated) {
      or_arms(*args, sc);
    } else {
      walk(n, sc, group);
    }
    return;
  }
  if (type == "ColumnRef") {
    // A bare boolean column: `paid` is paid = true, `NOT paid` is false.
    if (auto r = resolve(*b, sc))
      add(*r, use_kind::equality, "=", group, in_or,
          negated ? "false" : "true");
    return;
  }
  if (type == "BooleanTest") {
    auto test = str(get(*b, "booltesttype"));
    auto s = classify(*get(*b, "arg"), sc);
    if (!negated && indexable(s) && (test == "IS_TRUE" || test == "IS_FALSE"))
      return add(s, use_kind::equality, "=", group, in_or,
                 test == "IS_TRUE" ? "true" : "false");
    return walk(n, sc, group);
  }
  if (type == "NullTest") {
    bool is_null = (str(get(*b, "nulltesttype")) == "IS_NULL") != negated;
    auto s = classify(*get(*b, "arg"), sc);
    if (!indexable(s))
      return walk(n, sc, group);
    // IS NOT NULL keeps a btree range (all non-null keys), IS NULL is an
    // equality btree supports.
    return is_null ? add(s, use_kind::equality, "IS NULL", group, in_or)
                   : add(s, use_kind::range, "IS NOT NULL", group, in_or);
  }
  if (type == "A_Expr")
    return comparison(*b, sc, group, in_or, negated);
  if (type == "SubLink")
    return sublink(*b, sc, group, in_or, negated);
  walk(n, sc, group);
}

void analyzer::or_arms(const node& list, scope& sc) {
  // Which columns each arm filters on: arms on different columns cannot
  // share one index scan (a BitmapOr needs an index per column).
  std::vector<std::set<std::pair<std::string, std::string>>> arms;
  std::vector<std::pair<std::string, std::string>> order; // table, column
  for_each(&list, [&](const node& x) {
    auto before = out_.uses.size();
    predicate(x, sc, new_group(), true, false);
    std::set<std::pair<std::string, std::string>> cols;
    for (auto i = before; i < out_.uses.size(); ++i) {
      auto& u = out_.uses[i];
      if (u.kind == use_kind::projection)
        continue;
      std::pair key{u.schema + "." + u.table,
                    u.expression.empty() ? u.column : u.expression};
      if (cols.insert(key).second
          && std::find(order.begin(), order.end(), key) == order.end())
        order.push_back(key);
    }
    arms.push_back(std::move(cols));
  });
  bool differ = std::any_of(arms.begin(), arms.end(),
                            [&](auto& a) { return a != arms.front(); });
  if (!differ || order.size() < 2)
    return;
  std::string detail;
  for (size_t i = 0; i < order.size();) {
    auto& table = order[i].first;
    std::string cols;
    for (auto j = i; j < order.size(); ++j)
      if (order[j].first == table)
        cols += (cols.empty() ? "" : ", ") + order[j].second;
    detail += (detail.empty() ? "" : "; ") + cols + " of " + table;
    while (i < order.size() && order[i].first == table)
      ++i;
  }
  note("or_across_columns: " + detail);
}

void analyzer::comparison(const node& b, scope& sc, int group, bool in_or,
                          bool negated) {
  auto kind = str(get(b, "kind"));
  auto ops = names(get(b, "name"));
  auto op = ops.empty() ? std::string{} : ops.back();
  auto* l = get(b, "lexpr");
  auto* r = get(b, "rexpr");
  if (negated || l == nullptr || r == nullptr)
    return walk(b, sc, group);
  if (kind == "AEXPR_OP" && as(l, "RowExpr") != nullptr
      && as(r, "RowExpr") != nullptr)
    return rows(op, *l, *r, sc, group, in_or);
  if (kind == "AEXPR_OP" && is_btree_op(op))
    return compare(op, *l, *r, sc, group, in_or);
  if (kind == "AEXPR_OP" && is_containment_op(op))
    return contain(op, *l, *r, sc, group, in_or);
  if (kind == "AEXPR_OP"
      && (op == "~" || op == "~*" || op == "~~" || op == "~~*"
          || is_similarity_op(op)))
    return like(op, *l, *r, sc, group, in_or);

  if ((kind == "AEXPR_LIKE" || kind == "AEXPR_ILIKE")
      && (op == "~~" || op == "~~*"))
    return like(op, *l, *r, sc, group, in_or);
  if ((kind == "AEXPR_IN" || kind == "AEXPR_OP_ANY") && op == "=") {
    // col IN (…) and col = ANY(…) are equalities (ScalarArrayOpExpr).
    auto s = classify(*l, sc);
    auto v = classify(*r, sc);
    if (indexable(s) && v.kind == side::free) {
      add(s, use_kind::equality, "=", group, in_or);
      return walk(*r, sc, group);
    }
    return walk(b, sc, group);
  }
  if (kind == "AEXPR_BETWEEN" || kind == "AEXPR_BETWEEN_SYM") {
    auto s = classify(*l, sc);
    auto v = classify(*r, sc);
    if (indexable(s) && v.kind == side::free) {
      add(s, use_kind::range, "BETWEEN", group, in_or);
      return walk(*r, sc, group);
    }
  }
  walk(b, sc, group);
}

// The literal text of a constant operand ('open', 42, '2024-01-01'::date).
std::string literal_of(const node& n) {
  if (as(&n, "A_Const") != nullptr)
    return deparse(n);
  if (auto* tc = as(&n, "TypeCast");
      tc != nullptr && as(get(*tc, "arg"), "A_Const"))
    return deparse(n);
  return {};
}

void analyzer::compare(const std::string& op, const node& l, const node& r,
                       scope& sc, int group, bool in_or) {
  auto ls = classify(l, sc);
  auto rs = classify(r, sc);
  auto kind = op == "=" ? use_kind::equality : use_kind::range;
  if (indexable(ls) && rs.kind == side::free) {
    add(ls, kind, op, group, in_or, literal_of(r));
    return walk(r, sc, group);
  }
  if (indexable(rs) && ls.kind == side::free) {
    add(rs, kind, commute(op), group, in_or, literal_of(l));
    return walk(l, sc, group);
  }
  // Columns of two FROM items: a join (or a join filter for <, >…).
  auto join_kind = op == "=" ? use_kind::join : use_kind::range;
  if (ls.kind == side::column && rs.kind == side::column
      && ls.col->entry != rs.col->entry) {
    add(ls, join_kind, op, group, in_or);
    add(rs, join_kind, commute(op), group, in_or);
    return;
  }
  auto other_items = [](const side& col, const side& rest) {
    return rest.kind == side::other && !rest.entries.empty()
      && !rest.entries.contains(col.col->entry);
  };
  if (indexable(ls) && other_items(ls, rs)) {
    add(ls, join_kind, op, group, in_or);
    return walk(r, sc, group);
  }
  if (indexable(rs) && other_items(rs, ls)) {
    add(rs, join_kind, commute(op), group, in_or);
    return walk(l, sc, group);
  }
  walk(l, sc, group);
  walk(r, sc, group);
}

// Row values: (a, b) = (x, y) is a = x AND b = y; (a, b) < (x, y), the
// keyset-pagination idiom, is a btree range whose leading column is a.
void analyzer::rows(const std::string& op, const node& l, const node& r,
                    scope& sc, int group, bool in_or) {
  auto* la = get(*as(&l, "RowExpr"), "args");
  auto* ra = get(*as(&r, "RowExpr"), "args");
  if (la == nullptr || ra == nullptr || !la->IsArray() || !ra->IsArray()
      || la->Size() != ra->Size() || la->Empty()) {
    walk(l, sc, group);
    return walk(r, sc, group);
  }
  if (op == "=") {
    for (rapidjson::SizeType i = 0; i < la->Size(); ++i)
      compare(op, (*la)[i], (*ra)[i], sc, group, in_or);
    return;
  }
  if (is_btree_op(op)) {
    compare(op, (*la)[0], (*ra)[0], sc, group, in_or);
    for (rapidjson::SizeType i = 1; i < la->Size(); ++i) {
      walk((*la)[i], sc, group);
      walk((*ra)[i], sc, group);
    }
    return;
  }
  walk(l, sc, group);
  walk(r, sc, group);
}

// LIKE / ILIKE / regular expressions. A pattern with a literal prefix is a
// btree range; one that starts with a wildcard, or is unknown until run
// time ($1), needs a trigram index.
void analyzer::like(const std::string& op, const node& l, const node& r,
                    scope& sc, int group, bool in_or) {
  auto s = classify(l, sc);
  auto p = classify(r, sc);
  // 'needle' <% col: word similarity with the column on the right.
  if (is_similarity_op(op) && !indexable(s) && s.kind == side::free
      && indexable(p))
    return like(commute(op), r, l, sc, group, in_or);
  if (!indexable(s) || p.kind != side::free) {
    walk(l, sc, group);
    return walk(r, sc, group);
  }
  walk(r, sc, group);
  // The first piece of the pattern: 'abc%', or the left end of '%' || $1
  // (LIKE … ESCAPE wraps the pattern in like_escape()).
  const node* first = &r;
  if (auto* fn = as(first, "FuncCall"); fn != nullptr
      && !names(get(*fn, "funcname")).empty()
      && names(get(*fn, "funcname")).back() == "like_escape")
    if (auto* args = get(*fn, "args");
        args != nullptr && args->IsArray() && !args->Empty())
      first = &(*args)[0];
  while (true) {
    auto* e = as(first, "A_Expr");
    if (e == nullptr || names(get(*e, "name")) != std::vector<std::string>{"||"}
        || get(*e, "lexpr") == nullptr)
      break;
    first = get(*e, "lexpr");
  }
  std::string prefix;
  bool literal_start = false;
  if (auto* c = as(first, "A_Const"); c != nullptr && get(*c, "sval")) {
    prefix = str(get(get(*c, "sval"), "sval"));
    literal_start = !prefix.empty();
  }
  // A regular expression or a similarity is never a btree range, whatever
  // it starts with.
  bool regex = op == "~" || op == "~*" || is_similarity_op(op);
  bool wildcard = literal_start && (prefix[0] == '%' || prefix[0] == '_');
  if (literal_start && !regex && !wildcard)
    return add(s, use_kind::range, op, group, in_or, literal_of(r));
  add(s, use_kind::pattern, op, group, in_or, literal_of(r));
  if (wildcard) {
    auto what = s.kind == side::expr ? s.expression
                                     : quote_ident(s.col->col.column);
    auto pattern = deparse(r);
    note("leading_wildcard: " + what + " " + op + " "
         + (pattern.empty() ? quote_literal(prefix) + " || …" : pattern)
         + " on " + qualified(s.col->col));
  }
}

void analyzer::contain(const std::string& op, const node& l, const node& r,
                       scope& sc, int group, bool in_or) {
  auto ls = classify(l, sc);
  auto rs = classify(r, sc);
  if (indexable(ls) && rs.kind == side::free) {
    add(ls, use_kind::containment, op, group, in_or, literal_of(r));
    return walk(r, sc, group);
  }
  if (auto c = commute(op);
      !c.empty() && indexable(rs) && ls.kind == side::free) {
    add(rs, use_kind::containment, c, group, in_or, literal_of(l));
    return walk(l, sc, group);
  }
  walk(l, sc, group);
  walk(r, sc, group);
}

// EXISTS / IN / ANY / scalar sub-selects: the sub-select is a query of its
// own (a new group) whose correlation predicates are join uses; `x IN
// (SELECT y …)` joins x with y.
void analyzer::sublink(const node& b, scope& sc, int group, bool in_or,
                       bool negated) {
  scope sub;
  sub.parent = &sc;
  int inner = new_group();
  outputs_t outs;
  if (auto* sel = as(get(b, "subselect"), "SelectStmt"))
    outs = select(*sel, sub, inner, false);
  auto* test = get(b, "testexpr");
  if (test == nullptr)
    return;
  auto type = str(get(b, "subLinkType"));
  auto op = names(get(b, "operName"));
  if (!negated && type == "ANY_SUBLINK"
      && (op.empty() || op == std::vector<std::string>{"="})) {
    auto s = classify(*test, sc);
    if (indexable(s)) {
      if (!outs.empty() && outs[0].source) {
        add(s, use_kind::join, "=", group, in_or);
        add(resolved{*outs[0].source, -1}, use_kind::join, "=", inner, false);
      } else {
        add(s, use_kind::equality, "=", group, in_or);
      }
      return;
    }
  }
  walk(*test, sc, group);
}

void analyzer::sort_items(const node& list, scope& sc, int group) {
  for_each(&list, [&](const node& x) {
    auto* sb = as(&x, "SortBy");
    if (sb == nullptr)
      return;
    bool desc = str(get(*sb, "sortby_dir")) == "SORTBY_DESC";
    auto* item = target_for(*get(*sb, "node"), sc, false);
    // ORDER BY col <-> x: nearest first, which a GiST index serves.
    if (auto* e = as(item, "A_Expr");
        e != nullptr && !desc && str(get(*e, "kind")) == "AEXPR_OP") {
      auto ops = names(get(*e, "name"));
      auto op = ops.empty() ? std::string{} : ops.back();
      auto* l = get(*e, "lexpr");
      auto* r = get(*e, "rexpr");
      if (is_distance_op(op) && l != nullptr && r != nullptr) {
        auto a = classify(*l, sc);
        auto b = classify(*r, sc);
        if (a.kind == side::column && b.kind == side::free)
          return add(*a.col, use_kind::distance, op, group, false);
        if (b.kind == side::column && a.kind == side::free)
          return add(*b.col, use_kind::distance, commute(op), group, false);
      }
    }
    auto s = classify(*item, sc);
    if (s.kind == side::column)
      return add(*s.col, use_kind::sort, {}, group, false, {}, {}, desc);
    if (s.kind == side::expr)
      return add(*s.col, use_kind::sort, {}, group, false, {}, s.expression,
                 desc);
    // The order cannot come from an index of one table.
    auto text = deparse(*item);
    note("unindexable_sort: "
         + (text.empty() ? std::string{"expression"} : text));
    walk(*item, sc, group);
  });
}

void analyzer::group_items(const node& list, scope& sc, int group) {
  for_each(&list, [&](const node& x) {
    const node* item = &x;
    if (auto* rt = as(&x, "ResTarget"))
      item = get(*rt, "val");
    if (item == nullptr)
      return;
    item = target_for(*item, sc, true);
    auto s = classify(*item, sc);
    if (s.kind == side::column)
      return add(*s.col, use_kind::group, {}, group, false);
    if (s.kind == side::expr)
      return add(*s.col, use_kind::group, {}, group, false, {}, s.expression);
    walk(*item, sc, group);
  });
}

side analyzer::classify(const node& n, const scope& sc) const {
  side s;
  std::vector<const node*> refs;
  column_refs(n, [&](const node& ref) { refs.push_back(&ref); });
  if (refs.empty()) {
    s.kind = side::free;
    return s;
  }
  if (auto* ref = as(&n, "ColumnRef")) {
    auto r = locate(*ref, sc);
    s.col = r.col;
    s.kind = s.col ? side::column : side::other;
    if (!s.col && r.entry)
      s.entries.insert(*r.entry);
    return s;
  }
  int columns = 0;
  if (refs.size() == 1 && one_column_expression(n, columns) && columns == 1) {
    s.col = resolve(*refs[0], sc);
    s.expression = deparse(n);
    if (s.col && !s.expression.empty()) {
      s.kind = side::expr;
      auto* tc = as(&n, "TypeCast");
      s.cast = tc != nullptr && as(get(*tc, "arg"), "ColumnRef") != nullptr;
      return s;
    }
  }
  s.kind = side::other;
  s.col.reset();
  for (auto* ref : refs)
    if (auto r = locate(*ref, sc); r.entry)
      s.entries.insert(*r.entry);
  return s;
}

// -- results ------------------------------------------------------------------

void analyzer::add(const resolved& r, use_kind k, std::string op, int group,
                   bool in_or, std::string literal, std::string expression,
                   bool descending) {
  column_use u;
  u.schema = r.col.table->schema;
  u.table = r.col.table->name;
  u.column = r.col.column;
  u.expression = std::move(expression);
  u.kind = k;
  u.op = std::move(op);
  u.descending = descending;
  u.group = group;
  u.in_or = in_or;
  u.literal = std::move(literal);
  auto& uses = out_.uses;
  auto dup = [&](const column_use& x) {
    if (k == use_kind::projection)
      return x.kind == k && x.schema == u.schema && x.table == u.table
        && x.column == u.column && x.expression == u.expression;
    return x == u;
  };
  if (std::none_of(uses.begin(), uses.end(), dup))
    uses.push_back(std::move(u));
}

void analyzer::add(const side& s, use_kind k, std::string op, int group,
                   bool in_or, std::string literal) {
  if (s.kind == side::column)
    return add(*s.col, k, std::move(op), group, in_or, std::move(literal));
  auto where = " on " + qualified(s.col->col);
  // A plain index on the column cannot serve a predicate on an expression
  // of it: the planner only matches index expressions verbatim.
  if (k != use_kind::projection) {
    note("non_sargable: " + s.expression + where);
    if (s.cast)
      note("implicit_cast: " + s.expression + where);
  }
  add(*s.col, k, std::move(op), group, in_or, std::move(literal), s.expression);
}

void analyzer::note(std::string x) {
  if (std::find(out_.notes.begin(), out_.notes.end(), x) == out_.notes.end())
    out_.notes.push_back(std::move(x));
}

void analyzer::unresolved(std::string name) {
  auto& u = out_.unresolved;
  if (std::find(u.begin(), u.end(), name) == u.end())
    u.push_back(std::move(name));
}

} // namespace

expected<statement_analysis> analyze_statement(std::string_view sql,
                                               const catalog& cat) {
  std::string text{sql};
  auto doc = parse_tree::parse(
    text,
    {.syntax = "libpg_query cannot parse the statement: ",
     .too_deep = "the statement nests expressions, subqueries or "
                 "parentheses too deeply to analyse"});
  if (!doc)
    return doc.error();
  statement_analysis out;
  auto* stmts = get(*doc, "stmts");
  if (stmts == nullptr || !stmts->IsArray() || stmts->Empty())
    return out; // an empty text or only comments: kind::other
  if (stmts->Size() > 1)
    out.notes.push_back("multiple_statements: " + std::to_string(stmts->Size())
                        + " statements, only the first one is analysed");
  if (auto* stmt = get((*stmts)[0], "stmt"))
    analyzer{cat, out}.run(*stmt);
  return out;
}

} // namespace optischema
