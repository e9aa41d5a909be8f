#include "optischema/advice/parameter_samples.hpp"
#include "parameter_samples_internal.hpp"

#include "optischema/analysis/fingerprint.hpp"
#include "optischema/analysis/parse_tree.hpp"
#include "optischema/analysis/sql_quote.hpp"
#include "optischema/pg/rows.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string_view>
#include <utility>

// How it works: each $n of a statement is traced to the column it is
// compared with (through the FROM items and aliases of its SELECT, resolved
// in the catalog) or to LIMIT/OFFSET; its sample values come from that
// column's pg_stats or its own rows, and the statement is run with those
// values spliced in as typed literals at the ParamRef locations. The rewrite
// check compares rows on them, the sandbox times statements on them, and
// the advisor costs indexes on skewed values (skew_samples).

namespace optischema::parameter_samples_detail {

using parse_tree::integer;
using parse_tree::str;

// -- reading libpg_query's JSON -----------------------------------------------

const node* items(const node* list) {
  return list != nullptr && list->IsArray() ? list : nullptr;
}

std::optional<std::vector<std::string>> names(const node* list) {
  std::vector<std::string> out;
  if (items(list) == nullptr)
    return out;
  for (auto& x : list->GetArray()) {
    auto* s = get(&x, "String");
    if (s == nullptr)
      return std::nullopt;
    out.push_back(str(get(s, "sval")));
  }
  return out;
}

// -- one parsed statement -----------------------------------------------------

expected<statement> parse_one(const std::string& sql, const char* who) {
  // pg_stat_statements texts can hold `timestamptz $1`, which PostgreSQL
  // itself does not parse; everything after this sees `$1::timestamptz`.
  auto text = reparsable_sql(sql);
  auto parts = split_statements(text);
  if (!parts)
    return failure{ec::parse_error,
                   fmt::format("{} does not parse: {}", who,
                               parts.error().message)};
  if (parts->size() != 1)
    return failure{ec::parse_error,
                   fmt::format("{} holds {} statements, not one", who,
                               parts->size())};
  statement out;
  out.text = parts->front();
  auto type = single_statement_type(out.text);
  if (!type)
    return failure{ec::parse_error,
                   fmt::format("{} does not parse: {}", who,
                               type.error().message)};
  out.type = *type;
  auto tree = parse_tree::parse(out.text);
  if (tree)
    out.tree = std::move(*tree);
  if (!tree || out.body() == nullptr)
    return failure{ec::parse_error,
                   fmt::format("{} does not parse: libpg_query gave no tree",
                               who)};
  return out;
}

// -- parameters ---------------------------------------------------------------

namespace {

void collect_params(const node& n, std::vector<param_ref>& out) {
  if (n.IsArray()) {
    for (auto& x : n.GetArray())
      collect_params(x, out);
    return;
  }
  if (!n.IsObject())
    return;
  if (auto* p = get(&n, "ParamRef"))
    out.push_back({integer(get(p, "number")), integer(get(p, "location"))});
  for (auto& m : n.GetObject())
    collect_params(m.value, out);
}

} // namespace

std::vector<param_ref> params_of(const statement& st) {
  std::vector<param_ref> out;
  collect_params(st.tree, out);
  return out;
}

std::set<int> numbers(const std::vector<param_ref>& refs) {
  std::set<int> out;
  for (auto& r : refs)
    out.insert(r.number);
  return out;
}

// -- where sample values come from --------------------------------------------

namespace {

/// The parameter number of `$n` or `$n::type`.
std::optional<int> param_number(const node* n) {
  if (auto* tc = get(n, "TypeCast"))
    n = get(tc, "arg");
  if (auto* p = get(n, "ParamRef"))
    return integer(get(p, "number"));
  return std::nullopt;
}

/// Collects the ColumnRefs under `n` (stopping at subqueries).
void column_refs_under(const node* n, std::vector<const node*>& out) {
  if (n == nullptr)
    return;
  if (n->IsArray()) {
    for (auto& x : n->GetArray())
      column_refs_under(&x, out);
    return;
  }
  if (!n->IsObject() || n->HasMember("SubLink"))
    return;
  if (auto* c = get(n, "ColumnRef")) {
    out.push_back(c);
    return;
  }
  for (auto& m : n->GetObject())
    column_refs_under(&m.value, out);
}

/// The ColumnRef of `col`, `col::type`, or of an expression over exactly
/// one column (`region + 0`, `lower(email)`): that column's values are the
/// best samples there are for a parameter compared with it.
const node* column_ref(const node* n) {
  if (auto* tc = get(n, "TypeCast"))
    n = get(tc, "arg");
  if (auto* c = get(n, "ColumnRef"))
    return c;
  std::vector<const node*> refs;
  column_refs_under(n, refs);
  return refs.size() == 1 ? refs.front() : nullptr;
}

/// Traces every parameter of a statement to what it is compared with: a
/// column (resolved through the FROM items of the enclosing SELECTs, the
/// innermost first, as PostgreSQL resolves names) or LIMIT/OFFSET.
class binder {
public:
  explicit binder(const catalog& cat) : cat_(cat) {
    // nop
  }

  std::map<int, param_source> bind(const node& wrapped) {
    walk(wrapped);
    return std::move(out_);
  }

private:
  /// One FROM item: a table (or view) of the catalog, or something whose
  /// columns are not known here (a subquery, a CTE, a function).
  struct item {
    std::string schema;
    std::string name;
    std::string alias;
    const table_info* table = nullptr;
  };

  void walk(const node& n) {
    parse_tree::walk(n, [this](std::string_view key, const node& value) {
      if (key == "SelectStmt") {
        select(value);
        return false;
      }
      if (key == "InsertStmt" || key == "UpdateStmt" || key == "DeleteStmt") {
        modify(key, value);
        return false;
      }
      if (key == "A_Expr")
        expr(value);
      return true;
    });
  }

  void select(const node& body) {
    std::set<std::string> ctes;
    if (auto* list = items(get(get(&body, "withClause"), "ctes")))
      for (auto& c : list->GetArray())
        ctes.insert(str(get(get(&c, "CommonTableExpr"), "ctename")));
    ctes_.push_back(std::move(ctes));
    std::vector<item> scope;
    if (auto* from = get(&body, "fromClause"))
      add_items(*from, scope);
    scopes_.push_back(std::move(scope));
    limit(get(&body, "limitCount"), param_source::kind::limit);
    limit(get(&body, "limitOffset"), param_source::kind::offset);
    for (auto& m : body.GetObject()) {
      std::string_view key{m.name.GetString(), m.name.GetStringLength()};
      // The arms of UNION/INTERSECT/EXCEPT are SELECT bodies without the
      // type wrapper.
      if (key == "larg" || key == "rarg")
        select(m.value);
      else
        walk(m.value);
    }
    scopes_.pop_back();
    ctes_.pop_back();
  }

  /// INSERT, UPDATE, DELETE: their table is in scope for WHERE (and
  /// RETURNING); a value inserted or assigned to a column takes that
  /// column's values.
  void modify(std::string_view key, const node& body) {
    std::vector<item> scope;
    if (auto* rel = get(&body, "relation"))
      add_relation(*rel, scope);
    for (auto* from : {get(&body, "fromClause"), get(&body, "usingClause")})
      if (from != nullptr)
        add_items(*from, scope);
    auto* table = scope.empty() ? nullptr : scope.front().table;
    scopes_.push_back(std::move(scope));
    ctes_.emplace_back();
    if (table != nullptr && key == "InsertStmt") {
      std::vector<std::string> cols;
      if (auto* list = items(get(&body, "cols")))
        for (auto& c : list->GetArray())
          cols.push_back(str(get(get(&c, "ResTarget"), "name")));
      else
        for (auto& c : table->columns)
          cols.push_back(c.name);
      auto* values = items(
        get(get(get(&body, "selectStmt"), "SelectStmt"), "valuesLists"));
      if (values != nullptr)
        for (auto& row : values->GetArray())
          if (auto* vs = items(get(get(&row, "List"), "items")))
            for (rapidjson::SizeType i = 0; i < vs->Size() && i < cols.size();
                 ++i)
              assign(*table, cols[i], &(*vs)[i]);
    }
    if (table != nullptr && key == "UpdateStmt")
      if (auto* list = items(get(&body, "targetList")))
        for (auto& t : list->GetArray()) {
          auto* rt = get(&t, "ResTarget");
          assign(*table, str(get(rt, "name")), get(rt, "val"));
        }
    for (auto& m : body.GetObject())
      walk(m.value);
    ctes_.pop_back();
    scopes_.pop_back();
  }

  void add_relation(const node& rv, std::vector<item>& out) {
    item x{str(get(&rv, "schemaname")), str(get(&rv, "relname")),
           str(get(get(&rv, "alias"), "aliasname"))};
    x.table = cat_.find(x.schema, x.name);
    out.insert(out.begin(), std::move(x));
  }

  /// `col = $n` in SET or VALUES: $n takes values of col.
  void assign(const table_info& t, const std::string& col, const node* v) {
    auto p = param_number(v);
    auto* c = t.column(col);
    if (p && c != nullptr && !out_.contains(*p))
      out_[*p] = param_source{param_source::kind::column, &t, c, 0};
  }

  bool is_cte(const std::string& name) const {
    return std::any_of(ctes_.begin(), ctes_.end(),
                       [&](auto& names) { return names.contains(name); });
  }

  void add_items(const node& n, std::vector<item>& out) {
    if (n.IsArray()) {
      for (auto& x : n.GetArray())
        add_items(x, out);
      return;
    }
    if (auto* rv = get(&n, "RangeVar")) {
      item x{str(get(rv, "schemaname")), str(get(rv, "relname")),
             str(get(get(rv, "alias"), "aliasname"))};
      if (!x.schema.empty() || !is_cte(x.name))
        x.table = cat_.find(x.schema, x.name);
      out.push_back(std::move(x));
    } else if (auto* j = get(&n, "JoinExpr")) {
      if (auto* l = get(j, "larg"))
        add_items(*l, out);
      if (auto* r = get(j, "rarg"))
        add_items(*r, out);
    } else if (auto* sub = get(&n, "RangeSubselect")) {
      out.push_back({{}, {}, str(get(get(sub, "alias"), "aliasname"))});
    } else if (auto* fn = get(&n, "RangeFunction")) {
      out.push_back({{}, {}, str(get(get(fn, "alias"), "aliasname"))});
    }
  }

  /// The table and column a ColumnRef names, if they are in the catalog.
  std::optional<std::pair<const table_info*, const column_info*>>
  resolve(const node& ref) const {
    auto fields = names(get(&ref, "fields"));
    if (!fields || fields->empty())
      return std::nullopt;
    auto& col = fields->back();
    auto n = fields->size();
    auto qualifier = n >= 2 ? (*fields)[n - 2] : std::string{};
    auto schema = n >= 3 ? (*fields)[n - 3] : std::string{};
    for (auto scope = scopes_.rbegin(); scope != scopes_.rend(); ++scope) {
      for (auto& x : *scope) {
        if (qualifier.empty()) {
          if (x.table != nullptr && x.table->column(col) != nullptr)
            return std::pair{x.table, x.table->column(col)};
          continue;
        }
        auto named = x.alias.empty()
          ? x.name == qualifier && (schema.empty() || x.schema == schema)
          : x.alias == qualifier;
        if (!named)
          continue;
        // The FROM item the qualifier names: its column or nothing.
        if (x.table == nullptr || x.table->column(col) == nullptr)
          return std::nullopt;
        return std::pair{x.table, x.table->column(col)};
      }
    }
    return std::nullopt;
  }

  void limit(const node* n, param_source::kind k) {
    if (auto p = param_number(n); p && !out_.contains(*p))
      out_[*p] = param_source{k};
  }

  /// `col op $n` (or `$n op col`): $n takes values of col.
  void pair(const node* col, const node* param, int offset = 0,
            bool equality = false) {
    auto p = param_number(param);
    auto* ref = column_ref(col);
    if (!p || ref == nullptr || out_.contains(*p))
      return;
    if (auto c = resolve(*ref))
      out_[*p] = param_source{param_source::kind::column, c->first, c->second,
                              offset,
                              // the column itself, not an expression of it
                              equality && get(col, "ColumnRef") != nullptr};
  }

  /// The parameters of a pattern built with ||, e.g. '%' || $1 || '%'.
  void concatenated(const node* n, std::vector<const node*>& out) {
    if (param_number(n)) {
      out.push_back(n);
      return;
    }
    auto* e = get(n, "A_Expr");
    auto ops = names(get(e, "name"));
    if (e == nullptr || !ops || *ops != std::vector<std::string>{"||"})
      return;
    concatenated(get(e, "lexpr"), out);
    concatenated(get(e, "rexpr"), out);
  }

  void expr(const node& e) {
    auto kind = str(get(&e, "kind"));
    auto* l = get(&e, "lexpr");
    auto* r = get(&e, "rexpr");
    if (l == nullptr || r == nullptr)
      return;
    // IN (…) and BETWEEN … AND … hold their operands in a List.
    if (auto* list = items(get(get(r, "List"), "items"))) {
      int position = 0;
      for (auto& x : list->GetArray())
        pair(l, &x, kind == "AEXPR_IN" ? position++ : 0);
      return;
    }
    // (a, b) = ($1, $2)
    auto ops = names(get(&e, "name"));
    auto equality = kind == "AEXPR_OP" && ops
      && *ops == std::vector<std::string>{"="};
    auto* la = items(get(get(l, "RowExpr"), "args"));
    auto* ra = items(get(get(r, "RowExpr"), "args"));
    if (la != nullptr && ra != nullptr && la->Size() == ra->Size()) {
      for (rapidjson::SizeType i = 0; i < la->Size(); ++i) {
        pair(&(*la)[i], &(*ra)[i], 0, equality);
        pair(&(*ra)[i], &(*la)[i], 0, equality);
      }
      return;
    }
    pair(l, r, 0, equality);
    // `$1 = ANY(col)` compares $1 with the elements of an array column,
    // whose values (whole arrays) would not fit.
    if (kind != "AEXPR_OP_ANY" && kind != "AEXPR_OP_ALL")
      pair(r, l, 0, equality);
    if (kind == "AEXPR_LIKE" || kind == "AEXPR_ILIKE") {
      std::vector<const node*> pattern;
      concatenated(r, pattern);
      for (auto* p : pattern)
        pair(l, p);
    }
  }

  const catalog& cat_;
  std::vector<std::vector<item>> scopes_;
  std::vector<std::set<std::string>> ctes_;
  std::map<int, param_source> out_;
};

} // namespace

std::map<int, param_source> param_sources(const catalog& cat,
                                          const node& wrapped) {
  return binder{cat}.bind(wrapped);
}

// -- sample values ------------------------------------------------------------

namespace {

/// Up to `k` of the column's most common values, preferring those whose
/// estimated row count fits under `row_limit` (the most common value of a
/// status column can match more rows than are compared).
std::vector<std::string> pick_common(const table_info& t, const column_info& c,
                                     int k, int64_t row_limit) {
  auto rows_of = [&](size_t i) {
    return i < c.most_common_freqs.size() ? c.most_common_freqs[i] * t.rows()
                                          : 0.0;
  };
  std::vector<size_t> order(c.most_common_vals.size());
  std::iota(order.begin(), order.end(), size_t{0});
  auto fits = std::stable_partition(order.begin(), order.end(), [&](size_t i) {
    return rows_of(i) <= static_cast<double>(row_limit);
  });
  std::stable_sort(fits, order.end(),
                   [&](size_t a, size_t b) { return rows_of(a) < rows_of(b); });
  std::vector<std::string> out;
  for (auto i : order)
    if (static_cast<int>(out.size()) < k)
      out.push_back(c.most_common_vals[i]);
  return out;
}

std::string column_name(const table_info& t, const column_info& c) {
  return t.qualified() + "." + c.name;
}

/// Up to `k` distinct values of the column from its first rows: a bounded
/// read (at most 1000 rows), unlike a DISTINCT over the whole table.
expected<std::vector<std::string>>
read_values(pg::session& s, const table_info& t, const column_info& c, int k,
            const rewrite_check_options& opts) {
  auto col = quote_ident(c.name);
  auto sql = fmt::format("SELECT DISTINCT v FROM (SELECT {0} AS v FROM {1}.{2} "
                         "WHERE {0} IS NOT NULL LIMIT 1000) s LIMIT {3}",
                         col, quote_ident(t.schema), quote_ident(t.name), k);
  auto r = pg::fetch_rows(
    s, sql, {opts.statement_timeout, opts.explain.lock_timeout, k});
  if (!r)
    return r.error();
  std::vector<std::string> out;
  for (auto& x : r->rows)
    if (!x.empty() && x[0])
      out.push_back(*x[0]);
  return out;
}

} // namespace

sample_values values_for(pg::session& s, const param_source& src,
                         const rewrite_check_options& opts) {
  auto k = std::max(opts.samples, 1);
  switch (src.what) {
    case param_source::kind::limit: return {{"10"}, "LIMIT: 10"};
    case param_source::kind::offset: return {{"0"}, "OFFSET: 0"};
    case param_source::kind::none:
      return {{}, "compared with no column of a known table: NULL"};
    case param_source::kind::column: break;
  }
  auto& t = *src.table;
  auto& c = *src.column;
  auto name = column_name(t, c);
  if (!c.most_common_vals.empty()) {
    auto vs = pick_common(t, c, k, opts.row_limit);
    auto n = vs.size();
    return {std::move(vs),
            fmt::format("{} of the most common values of {} (pg_stats)", n,
                        name)};
  }
  auto vs = read_values(s, t, c, k, opts);
  if (!vs)
    return {{},
            fmt::format("cannot read values of {}: {}; NULL", name,
                        vs.error().message)};
  if (vs->empty())
    return {{}, fmt::format("{} holds no values: NULL", name)};
  auto n = vs->size();
  return {std::move(*vs), fmt::format("{} values read from {}", n, name)};
}

namespace {

/// Sample values for each of `params`, from what it is compared with.
std::map<int, sample_values>
values_of(pg::session& s, const std::set<int>& params,
          const std::map<int, param_source>& sources,
          const rewrite_check_options& opts) {
  std::map<int, sample_values> out;
  for (auto n : params) {
    auto i = sources.find(n);
    out[n] = values_for(s, i != sources.end() ? i->second : param_source{},
                        opts);
  }
  return out;
}

} // namespace

std::vector<sample> build_samples(const std::set<int>& params,
                                  const std::map<int, param_source>& sources,
                                  const std::map<int, sample_values>& values,
                                  int count) {
  std::vector<sample> out;
  for (int i = 0; i < std::max(count, 1); ++i) {
    sample x;
    for (auto n : params) {
      auto& vs = values.at(n).values;
      auto offset = sources.contains(n) ? sources.at(n).offset : 0;
      if (vs.empty())
        x[n] = std::nullopt;
      else
        x[n] = vs[static_cast<size_t>(i + offset) % vs.size()];
    }
    if (std::find(out.begin(), out.end(), x) == out.end())
      out.push_back(std::move(x));
  }
  return out;
}

// -- splicing values into the text --------------------------------------------

namespace {

/// {"x"}: one element, for `col = ANY($1)` with an array parameter.
std::string array_of(const std::string& x) {
  std::string out = "{\"";
  for (char c : x) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"}";
}

bool is_array_type(const std::string& type) {
  return type.size() > 2 && type.ends_with("[]");
}

/// The typed literal that replaces $n: ('value'::type) or (NULL::type).
std::string typed_value(const std::optional<std::string>& v,
                        const std::string& type, const param_source* src) {
  std::string value = "NULL";
  if (v) {
    auto element_of_array = src != nullptr && src->column != nullptr
      && is_array_type(type) && !is_array_type(src->column->type);
    value = quote_literal(element_of_array ? array_of(*v) : *v);
  }
  return "(" + value + (type.empty() ? "" : "::" + type) + ")";
}

} // namespace

std::string splice(std::string text, std::vector<param_ref> refs,
                   const std::map<int, std::string>& literals) {
  std::sort(refs.begin(), refs.end(),
            [](auto& a, auto& b) { return a.location > b.location; });
  auto last = -1;
  for (auto& r : refs) {
    auto token = "$" + std::to_string(r.number);
    auto at = static_cast<size_t>(r.location);
    auto i = literals.find(r.number);
    if (r.location == last || i == literals.end() || at >= text.size()
        || text.compare(at, token.size(), token) != 0)
      continue;
    last = r.location;
    text.replace(at, token.size(), i->second);
  }
  return text;
}

std::map<int, std::string>
literals_of(const sample& x, const std::vector<std::string>& types,
            const std::map<int, param_source>& sources) {
  std::map<int, std::string> out;
  for (auto& [n, v] : x) {
    auto type = n >= 1 && static_cast<size_t>(n) <= types.size()
      ? types[static_cast<size_t>(n) - 1]
      : std::string{};
    auto i = sources.find(n);
    out[n] = typed_value(v, type, i != sources.end() ? &i->second : nullptr);
  }
  return out;
}

} // namespace optischema::parameter_samples_detail

namespace optischema {

namespace {

// The pieces above, for the entry points below.
using namespace parameter_samples_detail;

} // namespace

namespace {

/// The literal of each parameter of `st` in each sample set (as the rows
/// check draws them), ready to splice into its text.
expected<std::vector<std::map<int, std::string>>>
literal_sets(pg::session& s, const catalog& cat, const statement& st,
             const std::set<int>& params, const rewrite_check_options& opts) {
  auto types = pg::parameter_types(s, st.text, opts.explain);
  if (!types)
    return types.error();
  auto sources = binder{cat}.bind(*st.wrapped());
  auto values = values_of(s, params, sources, opts);
  std::vector<std::map<int, std::string>> out;
  for (auto& x : build_samples(params, sources, values, opts.samples))
    out.push_back(literals_of(x, *types, sources));
  return out;
}

/// A statement to bind values to: parsed, its $n tokens and their numbers.
struct parameterised {
  statement st;
  std::vector<param_ref> refs;
  std::set<int> params;
};

expected<parameterised> parameterised_statement(const std::string& sql,
                                                const char* who) {
  auto st = parse_one(sql, who);
  if (!st)
    return st.error();
  parameterised out{std::move(*st), {}, {}};
  out.refs = params_of(out.st);
  out.params = numbers(out.refs);
  return out;
}

} // namespace

expected<std::vector<std::pair<std::string, std::string>>>
sample_pairs(pg::session& s, const catalog& cat, const std::string& original,
             const std::string& rewrite, const rewrite_check_options& opts) {
  try {
    auto a = parameterised_statement(original, "the original");
    if (!a)
      return a.error();
    auto b = parameterised_statement(rewrite, "the rewrite");
    if (!b)
      return b.error();
    if (a->params != b->params)
      return failure{ec::bad_request,
                     "the rewrite does not take the original's parameters"};
    if (a->params.empty())
      return std::vector<std::pair<std::string, std::string>>{
        {a->st.text, b->st.text}};
    auto sets = literal_sets(s, cat, a->st, a->params, opts);
    if (!sets)
      return sets.error();
    std::vector<std::pair<std::string, std::string>> out;
    for (auto& literals : *sets)
      out.emplace_back(splice(a->st.text, a->refs, literals),
                       splice(b->st.text, b->refs, literals));
    return out;
  } catch (const std::exception& e) {
    return failure{ec::internal,
                   std::string{"internal error while sampling: "} + e.what()};
  }
}

expected<std::vector<std::string>>
sample_executions(pg::session& s, const catalog& cat, const std::string& sql,
                  const rewrite_check_options& opts) {
  try {
    auto parsed = parameterised_statement(sql, "the statement");
    if (!parsed)
      return parsed.error();
    auto& [st, refs, params] = *parsed;
    if (params.empty())
      return std::vector<std::string>{st.text};
    auto sets = literal_sets(s, cat, st, params, opts);
    if (!sets)
      return sets.error();
    std::vector<std::string> out;
    for (auto& literals : *sets)
      out.push_back(splice(st.text, refs, literals));
    return out;
  } catch (const std::exception& e) {
    return failure{ec::internal,
                   std::string{"internal error while sampling: "} + e.what()};
  }
}

namespace {

/// How skewed a column's values are, from pg_stats: the share of rows of
/// its most common value, of a rare one, and of the average value (what a
/// generic plan assumes for `col = $n`).
struct value_skew {
  std::string frequent;
  double frequent_share = 0;
  std::string rare;
  double rare_share = 0;
  double average_share = 0;
  /// Whether frequent or rare values are far from the average: by 3×, an
  /// order of magnitude between them at the least.
  bool skewed() const {
    return frequent_share >= 3 * average_share
      || rare_share * 3 <= average_share;
  }
};

std::optional<value_skew> skew_of(const table_info& t, const column_info& c) {
  auto& vals = c.most_common_vals;
  auto& freqs = c.most_common_freqs;
  // An array column's "values" are whole arrays; equality on them is rare.
  if (vals.empty() || vals.size() != freqs.size() || c.type.ends_with("[]"))
    return std::nullopt;
  auto present = std::max(1.0 - c.null_frac, 0.0);
  auto distinct = std::max(c.distinct_values(t.rows()), 1.0);
  value_skew x;
  x.average_share = present / distinct;
  // pg_stats lists them most common first.
  x.frequent = vals.front();
  x.frequent_share = freqs.front();
  auto listed = static_cast<double>(vals.size());
  auto listed_share = std::accumulate(freqs.begin(), freqs.end(), 0.0);
  if (c.rare_value && distinct > listed + 0.5) {
    // Any value outside the list is estimated at the rest's average.
    x.rare = *c.rare_value;
    x.rare_share = std::max(present - listed_share, 0.0) / (distinct - listed);
  } else {
    x.rare = vals.back();
    x.rare_share = freqs.back();
  }
  return x;
}

std::string percent(double share) {
  return share >= 0.01 ? fmt::format("{:.0f}%", 100 * share)
                       : fmt::format("{:.2g}%", 100 * share);
}

} // namespace

expected<std::vector<skew_sample>>
skew_samples(const catalog& cat, const std::string& sql, double rows_per_call,
             const observed_values* seen) {
  try {
    auto parsed = parameterised_statement(sql, "the statement");
    if (!parsed)
      return parsed.error();
    auto& [st, refs, params] = *parsed;
    if (params.empty())
      return std::vector<skew_sample>{};
    auto sources = binder{cat}.bind(*st.wrapped());
    // Per parameter, the values to cost it on and how often each comes:
    // what pg_qualstats saw the workload use where one to three values make
    // up nearly all of it, else a skewed column's most common and a rare
    // value, as often as the rows hold them.
    struct choice {
      std::string value;
      double weight = 1;
      std::string label;
    };
    std::map<int, std::vector<choice>> varied;
    bool observed = false;
    std::map<int, std::string> fixed;
    for (auto& [n, src] : sources) {
      if (src.what != param_source::kind::column || !src.equality)
        continue;
      auto& t = *src.table;
      auto& c = *src.column;
      auto name = column_name(t, c);
      if (seen != nullptr) {
        if (auto d = seen->dominant(t.schema, t.name, c.name); !d.empty()) {
          observed = true;
          for (size_t i = 0; i < d.size(); ++i)
            varied[n].push_back(
              {d[i].value, d[i].share,
               fmt::format("the {} value the workload uses for {} ({} of its "
                           "calls, pg_qualstats)",
                           i == 0 ? "most frequent" : "next", name,
                           percent(d[i].share))});
          continue;
        }
      }
      if (auto x = skew_of(t, c); x && x->skewed()) {
        varied[n]
          = {{x->frequent, std::clamp(x->frequent_share, 0.0, 1.0),
              fmt::format("the most common value of {} ({} of the rows)", name,
                          percent(x->frequent_share))},
             {x->rare, 1 - std::clamp(x->frequent_share, 0.0, 1.0),
              fmt::format("a rare value of {} ({} of the rows)", name,
                          percent(x->rare_share))}};
        continue;
      }
      // Neither skewed nor dominated by a few values: where the workload's
      // values are known, its most frequent one stands for the rest.
      if (seen != nullptr)
        if (auto v = seen->most_common(t.schema, t.name, c.name))
          fixed[n] = *v;
    }
    if (varied.empty())
      return std::vector<skew_sample>{};
    // Every other parameter must have a value too (a bound statement gets
    // a custom plan): a LIMIT the rows it returned per call, an OFFSET 0.
    // A range or anything else leaves the generic plan alone.
    for (auto n : params) {
      if (varied.contains(n) || fixed.contains(n))
        continue;
      auto i = sources.find(n);
      auto what = i != sources.end() ? i->second.what
                                     : param_source::kind::none;
      // (At least 1: a statement that found nothing still asked for rows.)
      if (what == param_source::kind::limit && rows_per_call >= 0)
        fixed[n] = fmt::format("{:.0f}",
                               std::max(1.0, std::round(rows_per_call)));
      else if (what == param_source::kind::offset)
        fixed[n] = "0";
      else
        return std::vector<skew_sample>{};
    }
    // $1…$n must all be used (PostgreSQL types them from their places).
    if (*params.begin() != 1
        || *params.rbegin() != static_cast<int>(params.size()))
      return std::vector<skew_sample>{};
    // Every combination of the varied parameters' choices (independently),
    // at most 3 × 3 × 2: the weights multiply and add up to 1.
    std::vector<skew_sample> out(1);
    out[0].sql = st.text;
    out[0].weight = 1;
    out[0].observed = observed;
    out[0].values.resize(params.size());
    for (auto& [n, v] : fixed)
      out[0].values[static_cast<size_t>(n) - 1] = v;
    for (auto& [n, choices] : varied) {
      std::vector<skew_sample> next;
      for (auto& x : out)
        for (auto& c : choices) {
          auto y = x;
          y.values[static_cast<size_t>(n) - 1] = c.value;
          y.weight *= c.weight;
          // Never the value itself: reasons leave the engine.
          y.label += (y.label.empty() ? "" : ", ") + c.label;
          next.push_back(std::move(y));
        }
      out = std::move(next);
      if (out.size() > 18)
        return std::vector<skew_sample>{};
    }
    return out;
  } catch (const std::exception& e) {
    return failure{ec::internal,
                   std::string{"internal error while sampling: "} + e.what()};
  }
}

} // namespace optischema
