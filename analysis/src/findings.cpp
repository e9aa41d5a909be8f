#include "optischema/analysis/findings.hpp"
#include "optischema/util/strings.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/analysis/sql_quote.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <string_view>
#include <tuple>

// Rules that read a plan, a statement's analysis, the catalog and the
// workload's statistics, and say what is wrong and what to do. Every
// threshold below carries the reason for its value; anchors.md (sections
// 2.2, 2.5, 2.8 and 4) is the research they cite.

namespace optischema {

const char* to_string(severity x) {
  switch (x) {
    case severity::info: return "info";
    case severity::low: return "low";
    case severity::medium: return "medium";
    case severity::high: return "high";
    case severity::critical: return "critical";
  }
  return "info";
}

namespace {

// -- thresholds ---------------------------------------------------------------

/// Below ~10,000 rows (a few hundred 8 kB pages) a sequential scan costs about
/// what an index descent plus heap fetches cost, so it is not worth a
/// finding. PgHero suggests no index below 500 rows; we report later because
/// a finding should point at time actually lost.
constexpr double large_table_rows = 10'000;
/// A scan of a million rows or more takes tens to hundreds of milliseconds
/// per execution even fully cached: worth a DBA's attention first.
constexpr double huge_table_rows = 1'000'000;
/// A filter keeping at most 10% of the rows is where an index (or bitmap)
/// scan usually beats reading everything: PostgreSQL's own cost model flips
/// from index to sequential scans somewhere between a few and ~20% on
/// uncorrelated data, and pg_qualstats' advisor wants quals filtering at
/// least 30% (anchors 2.4); 10% is well inside that band.
constexpr double selective_fraction = 0.10;
/// pganalyze's Query Advisor example (anchors 2.5, 4) is 949,508 rows
/// removed; 10,000 rows discarded per execution is the point where the
/// wasted reads show in the statement's mean time (and it matches the large
/// table threshold above).
constexpr double rows_removed_min = 10'000;
/// At least 90% of what the node read was thrown away: the mirror image of
/// `selective_fraction`.
constexpr double rows_removed_share = 0.90;
/// From 100,000 rows discarded per execution the cost is tens of ms per call.
constexpr double rows_removed_high = 100'000;
/// Sorting fewer rows than this to return a LIMIT is cheap (top-N heapsort
/// in memory); above it the scan and the sort dominate the query.
constexpr double sort_input_rows = 10'000;
/// The inner side of a nested loop runs once per outer row; a sequential
/// scan there is only tolerable for small tables (same bar as above).
constexpr double nested_inner_rows = 10'000;
/// Outer rows × inner rows compared; 10 million comparisons is ~0.1 s of
/// CPU at ~10 ns per join-filter evaluation.
constexpr double nested_high_comparisons = 10'000'000;
/// PgHero makes no index suggestion for tables under 500 rows (anchors 2.2,
/// 4): the planner rightly reads such tables whole, so a non-indexable
/// predicate there is not a finding.
constexpr double tiny_table_rows = 500;
/// Statistics matter once a table has a few pages: under 1,000 rows any plan
/// is cheap whatever the estimates (pg_qualstats' min_filter is also 1,000).
constexpr double stale_min_rows = 1'000;
/// autovacuum_analyze_scale_factor defaults to 0.1: more than 10% of the rows
/// changed since the last ANALYZE means autoanalyze is behind or off.
constexpr double stale_mod_fraction = 0.10;
/// Foreign keys on tables under 1,000 rows are checked cheaply without an
/// index (a handful of pages per lookup).
constexpr double fk_min_rows = 1'000;
/// A per-row lookup shows up as at least 1,000 calls before it matters.
constexpr int64_t n_plus_one_min_calls = 1'000;
/// Single-row lookups by key take well under a millisecond; a slower
/// statement is a query worth tuning on its own, not an N+1 child.
constexpr double n_plus_one_max_mean_ms = 1.0;
/// One parent call must drive at least 3 child calls to be a loop at all.
constexpr double n_plus_one_min_ratio = 3;
/// Parent rows per call and child calls per parent call agree within 30%:
/// applications skip some children (nulls, cache hits) and the two entries'
/// counters are read at slightly different moments.
constexpr double n_plus_one_tolerance = 0.30;
/// Without a parent, a lookup must be very chatty to be reported.
constexpr int64_t chatty_min_calls = 10'000;
/// Child total time that makes an N+1 medium / high: a second of database
/// time (round trips come on top), a minute.
constexpr double n_plus_one_medium_ms = 1'000;
constexpr double n_plus_one_high_ms = 60'000;
/// Per-tuple memory of a sort or hash table beyond the data itself: the
/// SortTuple (24 B), the MinimalTuple header (16 B) and the allocator's
/// chunk header and alignment (~24 B). Used to say how much work_mem would
/// fit, so the advice actually avoids the spill.
constexpr double tuple_overhead_bytes = 64;

// -- text ---------------------------------------------------------------------

std::string count_text(double x) {
  auto digits = fmt::format("{:.0f}", std::max(0.0, std::round(x)));
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

/// "1 row", "~5 rows".
std::string rows_text(double x) {
  auto n = count_text(x);
  return n == "1" ? "1 row" : n + " rows";
}

std::string percent_text(double fraction) {
  auto p = fraction * 100;
  if (p > 0 && p < 0.1)
    return "<0.1%";
  return fmt::format("{:.1f}%", p);
}

std::string bytes_text(double bytes) {
  if (bytes >= 1024.0 * 1024 * 1024)
    return fmt::format("{:.1f} GB", bytes / (1024.0 * 1024 * 1024));
  if (bytes >= 1024.0 * 1024)
    return fmt::format("{:.1f} MB", bytes / (1024.0 * 1024));
  return fmt::format("{:.0f} kB", std::ceil(bytes / 1024));
}

/// A work_mem value (as SET accepts it) that holds `bytes`, rounded up.
std::string work_mem_text(double bytes) {
  auto mb = std::ceil(bytes / (1024.0 * 1024));
  if (mb <= 1)
    return fmt::format("{:.0f}kB", std::ceil(bytes / 1024));
  return fmt::format("{:.0f}MB", mb);
}

bool starts_with(std::string_view x, std::string_view prefix) {
  return x.substr(0, prefix.size()) == prefix;
}

void add_unique(std::vector<std::string>& xs, const std::string& x) {
  if (!x.empty() && std::find(xs.begin(), xs.end(), x) == xs.end())
    xs.push_back(x);
}

bool is_ident_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}

bool is_ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}

std::string quoted_relation(const std::string& qualified) {
  auto dot = qualified.find('.');
  if (dot == std::string::npos)
    return quote_ident(qualified);
  return quote_ident(qualified.substr(0, dot)) + "."
    + quote_ident(qualified.substr(dot + 1));
}

std::string column_list(const std::vector<std::string>& cols) {
  std::vector<std::string> quoted;
  for (auto& c : cols)
    quoted.push_back(quote_ident(c));
  return join(quoted, ", ");
}

// -- expression text ----------------------------------------------------------
//
// EXPLAIN prints filters as deparsed expressions: fully parenthesised,
// keywords upper case, literals quoted and cast ('x'::text), column casts as
// (col)::type, function calls as name(args). The scanners below read that
// canonical form, never SQL as users write it.

/// Index just past the string literal or quoted identifier starting at `i`.
size_t skip_quoted(std::string_view x, size_t i) {
  auto q = x[i];
  for (++i; i < x.size(); ++i) {
    if (x[i] != q)
      continue;
    if (i + 1 < x.size() && x[i + 1] == q) {
      ++i; // doubled quote inside
      continue;
    }
    return i + 1;
  }
  return x.size();
}

/// Index of the parenthesis closing the one at `open`, or npos.
size_t matching_paren(std::string_view x, size_t open) {
  int depth = 0;
  for (size_t i = open; i < x.size();) {
    auto c = x[i];
    if (c == '\'' || c == '"') {
      i = skip_quoted(x, i);
      continue;
    }
    if (c == '(')
      ++depth;
    else if (c == ')' && --depth == 0)
      return i;
    ++i;
  }
  return std::string_view::npos;
}

/// Index of the parenthesis opening the one at `close`, or npos. (Walks
/// backwards, so it cannot skip literals; a parenthesis inside a literal
/// between the two is the rare case it gets wrong.)
size_t matching_open(std::string_view x, size_t close) {
  int depth = 0;
  for (auto i = close + 1; i-- > 0;) {
    if (x[i] == ')')
      ++depth;
    else if (x[i] == '(' && --depth == 0)
      return i;
  }
  return std::string_view::npos;
}

size_t skip_spaces(std::string_view x, size_t i) {
  while (i < x.size() && x[i] == ' ')
    ++i;
  return i;
}

/// Reads an identifier (plain or quoted) at `i`; returns it unquoted and
/// moves `i` past it.
std::string read_ident(std::string_view x, size_t& i) {
  if (x[i] == '"') {
    auto end = skip_quoted(x, i);
    std::string out;
    for (auto j = i + 1; j + 1 < end; ++j) {
      out += x[j];
      if (x[j] == '"')
        ++j;
    }
    i = end;
    return out;
  }
  auto start = i;
  while (i < x.size() && is_ident_char(x[i]))
    ++i;
  return std::string{x.substr(start, i - start)};
}

/// Words a type name may continue with ("timestamp with time zone",
/// "character varying", "double precision").
bool type_word(std::string_view w) {
  return w == "with" || w == "without" || w == "time" || w == "zone"
    || w == "varying" || w == "precision";
}

/// Reads the type after "::" at `i` ("text", "timestamp with time zone",
/// "character varying(20)", "integer[]").
std::string read_type(std::string_view x, size_t& i) {
  std::string out;
  i = skip_spaces(x, i);
  while (i < x.size() && (is_ident_start(x[i]) || x[i] == '"')) {
    auto save = i;
    auto word = read_ident(x, i);
    if (!out.empty() && !type_word(word)) {
      i = save;
      break;
    }
    if (i < x.size() && x[i] == '.') { // schema-qualified type
      ++i;
      word += "." + read_ident(x, i);
    }
    if (!out.empty())
      out += ' ';
    out += word;
    if (i < x.size() && x[i] == ' ' && i + 1 < x.size()
        && is_ident_start(x[i + 1]))
      ++i;
    else
      break;
  }
  if (i < x.size() && x[i] == '(') {
    auto close = matching_paren(x, i);
    i = close == std::string_view::npos ? x.size() : close + 1;
  }
  while (i + 1 < x.size() && x[i] == '[' && x[i + 1] == ']') {
    out += "[]";
    i += 2;
  }
  return out;
}

/// Upper-case keywords and the few lower-case words EXPLAIN prints that are
/// not columns.
bool keyword(const std::string& w) {
  static const std::set<std::string> words
    = {"and",     "or",       "not",    "is",      "null",     "true",
       "false",   "any",      "all",    "array",   "in",       "like",
       "ilike",   "case",     "when",   "then",    "else",     "end",
       "subplan", "initplan", "hashed", "from",    "distinct", "between",
       "unknown", "row",      "exists", "collate", "similar",  "escape",
       "some",    "at",       "zone",   "interval"};
  return words.count(lower(w)) > 0;
}

struct column_ref {
  std::string qualifier;
  std::string name;
};

/// Column references of an expression, in order of appearance: skips
/// literals, parameters, numbers, type names after "::", function names and
/// keywords.
std::vector<column_ref> column_refs(std::string_view x) {
  std::vector<column_ref> out;
  for (size_t i = 0; i < x.size();) {
    auto c = x[i];
    if (c == '\'') {
      i = skip_quoted(x, i);
    } else if (c == ':' && i + 1 < x.size() && x[i + 1] == ':') {
      i += 2;
      read_type(x, i);
    } else if (c == '$' || std::isdigit(static_cast<unsigned char>(c))) {
      ++i;
      while (i < x.size() && (is_ident_char(x[i]) || x[i] == '.'))
        ++i;
    } else if (is_ident_start(c) || c == '"') {
      bool quoted = c == '"';
      std::vector<std::string> parts{read_ident(x, i)};
      while (i + 1 < x.size() && x[i] == '.'
             && (is_ident_start(x[i + 1]) || x[i + 1] == '"')) {
        ++i;
        parts.push_back(read_ident(x, i));
      }
      if (i < x.size() && x[i] == '(')
        continue; // a function name
      if (parts.size() == 1 && !quoted && keyword(parts[0]))
        continue;
      column_ref r;
      r.name = parts.back();
      if (parts.size() >= 2)
        r.qualifier = parts[parts.size() - 2];
      out.push_back(std::move(r));
    } else {
      ++i;
    }
  }
  return out;
}

/// Splits `x` (the inside of one parenthesised group) at `sep` where `sep`
/// is outside any nested parentheses and literals.
std::vector<std::string_view> split_top(std::string_view x,
                                        std::string_view sep) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < x.size();) {
    auto c = x[i];
    if (c == '\'' || c == '"') {
      i = skip_quoted(x, i);
      continue;
    }
    if (c == '(')
      ++depth;
    else if (c == ')')
      --depth;
    else if (depth == 0 && x.substr(i, sep.size()) == sep) {
      out.push_back(x.substr(start, i - start));
      i += sep.size();
      start = i;
      continue;
    }
    ++i;
  }
  out.push_back(x.substr(start));
  return out;
}

/// Removes one pair of parentheses enclosing the whole of `x`.
std::string_view strip_parens(std::string_view x) {
  while (x.size() >= 2 && x.front() == '('
         && matching_paren(x, 0) == x.size() - 1)
    x = x.substr(1, x.size() - 2);
  return x;
}

// -- the plan and the catalog -------------------------------------------------

struct context {
  const plan& p;
  const statement_analysis& stmt;
  const catalog& cat;
  const std::string& fingerprint;
  /// Pre-order; `parent[i]` is the position of node i's parent (-1: root).
  std::vector<const plan_node*> nodes;
  std::vector<int> parent;
  std::vector<finding> out;
};

void index_nodes(const plan_node& n, int parent_pos, context& c) {
  auto pos = static_cast<int>(c.nodes.size());
  c.nodes.push_back(&n);
  c.parent.push_back(parent_pos);
  for (auto& child : n.children)
    index_nodes(child, pos, c);
}

bool is_scan(const plan_node& n) {
  return !n.relation.empty() && n.node_type.find("Scan") != std::string::npos;
}

const plan_node* first_child(const plan_node& n) {
  return n.children.empty() ? nullptr : &n.children.front();
}

/// The table a scan reads. Without VERBOSE the plan omits the schema; the
/// statement analysis knows where the name resolved, else the search_path.
const table_info* table_of(const context& c, const plan_node& n) {
  if (n.relation.empty())
    return nullptr;
  if (!n.schema.empty())
    return c.cat.find(n.schema, n.relation);
  for (auto& t : c.stmt.tables)
    if (t.table == n.relation
        && (t.alias.empty() || n.alias.empty() || t.alias == n.alias
            || n.alias == n.relation))
      if (auto* x = c.cat.find(t.schema, t.table))
        return x;
  return c.cat.find("", n.relation);
}

std::string relation_of(const context& c, const plan_node& n) {
  if (auto* t = table_of(c, n))
    return t->qualified();
  if (!n.schema.empty())
    return n.schema + "." + n.relation;
  for (auto& t : c.stmt.tables)
    if (t.table == n.relation && !t.schema.empty())
      return t.schema + "." + t.table;
  return n.relation;
}

/// Plan rows of nodes under a Gather are per worker; the Gather's estimate
/// over its child's is the planner's parallel divisor (2.4 for two workers
/// with a participating leader). Approximate until the plan model keeps
/// "Parallel Aware" and "Workers Planned".
double parallel_factor(const context& c, int pos) {
  for (auto a = c.parent[static_cast<size_t>(pos)]; a >= 0;
       a = c.parent[static_cast<size_t>(a)]) {
    auto& g = *c.nodes[static_cast<size_t>(a)];
    if (g.node_type != "Gather" && g.node_type != "Gather Merge")
      continue;
    auto* child = first_child(g);
    if (child == nullptr || child->plan_rows <= 0)
      return 1;
    return std::max(1.0, g.plan_rows / child->plan_rows);
  }
  return 1;
}

/// Estimated rows a node returns over all workers.
double estimated_rows(const context& c, int pos) {
  return c.nodes[static_cast<size_t>(pos)]->plan_rows * parallel_factor(c, pos);
}

double loops_of(const plan_node& n) {
  return std::max(1.0, n.actual_loops.value_or(1));
}

/// Rows a scan read (EXPLAIN ANALYZE): kept plus removed, over all loops.
std::optional<double> measured_rows_read(const plan_node& n) {
  if (!n.actual_rows)
    return std::nullopt;
  return (*n.actual_rows + n.rows_removed_by_filter.value_or(0)) * loops_of(n);
}

/// Rows of the table a scan reads: the catalog's estimate, else what ANALYZE
/// measured, else (for a scan without a filter) the scan's own estimate.
std::optional<double> table_rows(const context& c, const plan_node& n) {
  if (auto* t = table_of(c, n))
    return t->rows();
  if (auto read = measured_rows_read(n))
    return read;
  if (n.filter.empty() && n.node_type == "Seq Scan")
    return n.plan_rows;
  return std::nullopt;
}

/// Does a column reference belong to the relation scanned by `n`?
bool belongs(const column_ref& r, const plan_node& n, const table_info* t) {
  if (!r.qualifier.empty() && r.qualifier != n.alias
      && r.qualifier != n.relation)
    return false;
  return t == nullptr || t->column(r.name) != nullptr;
}

std::vector<std::string> columns_in(std::string_view expr, const plan_node& n,
                                    const table_info* t) {
  std::vector<std::string> out;
  for (auto& r : column_refs(expr))
    if (belongs(r, n, t))
      add_unique(out, r.name);
  return out;
}

bool same_table(const column_use& u, const table_info* t, const plan_node& n) {
  if (t != nullptr)
    return u.schema == t->schema && u.table == t->name;
  return u.table == n.relation;
}

/// Columns of a scan's filter: the statement analysis's uses of the table
/// (equality first, then ranges: the order an index would want), restricted
/// to columns the filter shows; else the filter's own column references.
std::vector<std::string> filter_columns(const context& c, const plan_node& n,
                                        const table_info* t) {
  auto shown = columns_in(n.filter, n, t);
  std::vector<std::string> out;
  for (auto kind : {use_kind::equality, use_kind::range, use_kind::pattern,
                    use_kind::containment, use_kind::join})
    for (auto& u : c.stmt.uses)
      if (u.kind == kind && same_table(u, t, n)
          && std::find(shown.begin(), shown.end(), u.column) != shown.end())
        add_unique(out, u.column);
  for (auto& col : shown)
    add_unique(out, col);
  return out;
}

/// Columns compared with "=" in a filter's top-level AND.
std::vector<std::string> equality_columns(std::string_view filter,
                                          const plan_node& n,
                                          const table_info* t) {
  std::vector<std::string> out;
  for (auto pred : split_top(strip_parens(filter), " AND ")) {
    auto sides = split_top(strip_parens(pred), " = ");
    if (sides.size() != 2)
      continue;
    auto refs = column_refs(strip_parens(sides[0]));
    if (refs.size() == 1 && belongs(refs[0], n, t))
      add_unique(out, refs[0].name);
  }
  return out;
}

/// Removes the alias qualifier of a sort key ("o.amount DESC" -> "amount
/// DESC") when it names the scanned relation.
std::string unqualified_key(const std::string& key, const plan_node& scan) {
  for (auto& q : {scan.alias, scan.relation})
    if (!q.empty() && starts_with(key, q + "."))
      return key.substr(q.size() + 1);
  return key;
}

// -- findings bookkeeping -----------------------------------------------------

finding make_finding(const context& c, std::string kind, severity level,
                     const plan_node* n, std::string relation) {
  finding f;
  f.kind = std::move(kind);
  f.level = level;
  f.fingerprint = c.fingerprint;
  if (n != nullptr)
    f.node_id = n->id;
  f.relation = std::move(relation);
  return f;
}

/// One finding per kind and node, or per kind and relation when it has no
/// node (then one with a node on that relation already covers it). Foreign
/// keys are also told apart by their columns.
bool duplicate(const std::vector<finding>& xs, const finding& y) {
  return std::any_of(xs.begin(), xs.end(), [&](const finding& x) {
    if (x.kind != y.kind || x.fingerprint != y.fingerprint)
      return false;
    if (x.node_id && y.node_id)
      return *x.node_id == *y.node_id;
    if (x.relation != y.relation)
      return false;
    return x.kind != "missing_fk_index" || x.columns == y.columns;
  });
}

void add(std::vector<finding>& xs, finding f) {
  if (!duplicate(xs, f))
    xs.push_back(std::move(f));
}

/// Stable order: severity (highest first), node id (plan order, findings
/// without a node last), then the identifying fields.
void sort_findings(std::vector<finding>& xs) {
  using key_type
    = std::tuple<int, bool, int, const std::string&, const std::string&,
                 const std::string&, const std::vector<std::string>&>;
  auto key = [](const finding& f) {
    return key_type{-static_cast<int>(f.level),
                    !f.node_id.has_value(),
                    f.node_id.value_or(0),
                    f.kind,
                    f.relation,
                    f.fingerprint,
                    f.columns};
  };
  std::stable_sort(xs.begin(), xs.end(),
                   [&](const finding& x, const finding& y) {
                     return key(x) < key(y);
                   });
}

// -- filter patterns: non-sargable, wildcard, cast, OR ------------------------

struct pattern_hit {
  std::string kind;
  /// The expression as the plan shows it ("lower(last_name)").
  std::string detail;
  std::vector<std::string> columns;
  /// implicit_cast: the column's declared type, when the catalog knows it.
  std::string column_type;
};

/// Function calls over a column used as an operand of a comparison:
/// "(lower(last_name) = 'x'::text)", "(date_trunc('day'::text, ts) = …)".
void find_function_calls(std::string_view f, const plan_node& n,
                         const table_info* t, std::vector<pattern_hit>& out) {
  for (size_t i = 0; i < f.size();) {
    auto c = f[i];
    if (c == '\'' || c == '"') {
      i = skip_quoted(f, i);
      continue;
    }
    if (!is_ident_start(c)
        || (i > 0 && (is_ident_char(f[i - 1]) || f[i - 1] == '.'))) {
      ++i;
      continue;
    }
    auto start = i;
    auto name = read_ident(f, i);
    if (i >= f.size() || f[i] != '(' || keyword(name))
      continue;
    auto close = matching_paren(f, i);
    if (close == std::string_view::npos)
      return;
    auto call = f.substr(start, close + 1 - start);
    auto cols = columns_in(f.substr(i + 1, close - i - 1), n, t);
    // An operand: an operator follows (after an optional cast) or precedes.
    // Casts of the result print as "lower(x)::t" or "(lower(x))::t".
    auto after = close + 1;
    for (;;) {
      auto paren = after < f.size() && f[after] == ')';
      auto cast_at = after + (paren ? 1 : 0);
      if (cast_at + 1 >= f.size() || f[cast_at] != ':' || f[cast_at + 1] != ':')
        break;
      after = cast_at + 2;
      read_type(f, after);
    }
    after = skip_spaces(f, after);
    auto before = start;
    while (before > 0 && f[before - 1] == ' ')
      --before;
    auto op_char = [](char x) {
      return x == '=' || x == '<' || x == '>' || x == '~' || x == '!';
    };
    bool operand = (after < f.size() && op_char(f[after]))
      || (before > 0 && op_char(f[before - 1])) || f.substr(after, 4) == "IS N"
      || f.substr(after, 4) == "IS T";
    if (!cols.empty() && operand)
      out.push_back({"non_sargable_function", std::string{call}, cols, {}});
    i = start + name.size() + 1; // also look inside the arguments
  }
}

/// Text casts of character columns are free (binary coercible): an index on
/// a varchar column serves "(col)::text = …".
bool harmless_cast(const std::string& column_type, const std::string& target) {
  auto ct = lower(column_type);
  if (ct == lower(target))
    return true;
  bool text_like_target = target == "text" || target == "character varying"
    || target == "varchar";
  bool text_like_column = ct == "text" || starts_with(ct, "character varying")
    || starts_with(ct, "varchar") || ct == "name";
  return text_like_target && text_like_column;
}

/// Column casts, printed "(col)::type": an index on col cannot serve them.
void find_casts(std::string_view f, const plan_node& n, const table_info* t,
                std::vector<pattern_hit>& out) {
  for (size_t i = 0; i + 2 < f.size(); ++i) {
    if (f[i] == '\'') {
      i = skip_quoted(f, i) - 1;
      continue;
    }
    if (f[i] != ')' || f[i + 1] != ':' || f[i + 2] != ':')
      continue;
    auto open = matching_open(f, i);
    if (open == std::string_view::npos)
      continue;
    auto inner = f.substr(open + 1, i - open - 1);
    auto refs = column_refs(inner);
    // Only a bare column inside the parentheses (not an expression).
    bool bare = refs.size() == 1
      && inner.find_first_of(" (") == std::string_view::npos;
    if (!bare || !belongs(refs[0], n, t))
      continue;
    size_t j = i + 3;
    auto target = read_type(f, j);
    std::string column_type;
    if (t != nullptr)
      if (auto* col = t->column(refs[0].name))
        column_type = col->type;
    // Without the column's type a cast to text may be a varchar's free
    // relabelling: only other targets are sure to be conversions.
    if (column_type.empty() ? target == "text" || target == "character varying"
                            : harmless_cast(column_type, target))
      continue;
    out.push_back({"implicit_cast",
                   refs[0].name + "::" + target,
                   {refs[0].name},
                   column_type});
  }
}

/// LIKE/ILIKE ("~~", "~~*") whose pattern starts with a wildcard.
void find_leading_wildcards(std::string_view f, const plan_node& n,
                            const table_info* t,
                            std::vector<pattern_hit>& out) {
  for (auto op : {std::string_view{" ~~ "}, std::string_view{" ~~* "}}) {
    for (auto pos = f.find(op); pos != std::string_view::npos;
         pos = f.find(op, pos + 1)) {
      auto rhs = f.substr(pos + op.size());
      if (rhs.size() < 2 || rhs[0] != '\'' || (rhs[1] != '%' && rhs[1] != '_'))
        continue;
      // The left operand runs back to the '(' that opens the predicate.
      int depth = 0;
      auto start = pos;
      while (start > 0) {
        auto c = f[start - 1];
        if (c == ')')
          ++depth;
        else if (c == '(' && depth-- == 0)
          break;
        --start;
      }
      auto lhs = f.substr(start, pos - start);
      auto cols = columns_in(lhs, n, t);
      if (cols.empty())
        continue;
      auto lit_end = skip_quoted(rhs, 0);
      auto detail = fmt::format("{}{}{}", lhs, op, rhs.substr(0, lit_end));
      out.push_back({"leading_wildcard_like", detail, cols, {}});
    }
  }
}

/// ORs whose arms test different columns: "((a = 1) OR (b = 2))". Looks at
/// every parenthesised group, so an OR inside an AND is found too.
void find_or_across(std::string_view f, const plan_node& n, const table_info* t,
                    std::vector<pattern_hit>& out) {
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == '\'') {
      i = skip_quoted(f, i) - 1;
      continue;
    }
    if (f[i] != '(')
      continue;
    auto close = matching_paren(f, i);
    if (close == std::string_view::npos)
      return;
    auto arms = split_top(f.substr(i + 1, close - i - 1), " OR ");
    if (arms.size() < 2)
      continue;
    std::vector<std::string> all;
    std::set<std::vector<std::string>> distinct_sets;
    for (auto arm : arms) {
      auto cols = columns_in(arm, n, t);
      std::sort(cols.begin(), cols.end());
      distinct_sets.insert(cols);
      for (auto& col : columns_in(arm, n, t))
        add_unique(all, col);
    }
    if (distinct_sets.size() > 1 && all.size() > 1) {
      out.push_back({"or_across_columns", join(all, ", "), all, {}});
      return; // one per filter: the outermost OR is the one to rewrite
    }
  }
}

std::vector<pattern_hit> filter_patterns(const plan_node& n,
                                         const table_info* t) {
  std::vector<pattern_hit> out;
  if (n.filter.empty())
    return out;
  find_function_calls(n.filter, n, t, out);
  find_casts(n.filter, n, t, out);
  find_leading_wildcards(n.filter, n, t, out);
  find_or_across(n.filter, n, t, out);
  return out;
}

/// Statement notes are "kind: detail" with the table after " on ":
/// "non_sargable: lower(last_name) on clinic.patients"; an OR lists columns
/// per table: "or_across_columns: a, b of public.t; c of public.u".
struct parsed_note {
  std::string kind; ///< the finding kind it maps to
  std::string detail;
  std::string relation;
  std::vector<std::string> columns; ///< or_across_columns only
};

std::optional<parsed_note> parse_note(const std::string& note) {
  static const std::map<std::string, std::string> kinds = {
    {"non_sargable", "non_sargable_function"},
    {"non_sargable_function", "non_sargable_function"},
    {"leading_wildcard", "leading_wildcard_like"},
    {"leading_wildcard_like", "leading_wildcard_like"},
    {"implicit_cast", "implicit_cast"},
    {"or_across_columns", "or_across_columns"},
  };
  auto colon = note.find(": ");
  if (colon == std::string::npos)
    return std::nullopt;
  auto kind = kinds.find(note.substr(0, colon));
  if (kind == kinds.end())
    return std::nullopt;
  parsed_note out{kind->second, note.substr(colon + 2), {}, {}};
  if (out.kind == "or_across_columns") {
    // The first table names the finding; the columns of every table count.
    for (auto part : split_top(out.detail, "; ")) {
      auto of = part.rfind(" of ");
      if (of == std::string_view::npos)
        continue;
      if (out.relation.empty())
        out.relation = std::string{part.substr(of + 4)};
      for (auto col : split_top(part.substr(0, of), ", "))
        add_unique(out.columns, std::string{col});
    }
    return out;
  }
  // The relation comes last: a LIKE pattern may itself contain " on ".
  auto at = out.detail.rfind(" on ");
  if (at != std::string::npos) {
    out.relation = out.detail.substr(at + 4);
    out.detail = out.detail.substr(0, at);
  }
  return out;
}

/// Columns a note is about: "id::text", "title ~~* '%x%'",
/// "lower(last_name)" (the analysis's use of that expression names it).
std::vector<std::string> note_columns(const parsed_note& x,
                                      const statement_analysis& stmt) {
  if (x.kind == "or_across_columns")
    return x.columns;
  std::vector<std::string> out;
  for (auto& u : stmt.uses)
    if (!u.expression.empty() && u.expression == x.detail)
      add_unique(out, u.column);
  if (out.empty())
    for (auto& r : column_refs(x.detail))
      add_unique(out, r.name);
  return out;
}

std::string expression_index_key(const std::string& expr) {
  // A plain lower-case function call can stand alone as an index element;
  // anything else (EXTRACT(…), casts) needs its own parentheses.
  bool call = !expr.empty() && std::islower(static_cast<unsigned char>(expr[0]))
    && expr.back() == ')';
  return call ? expr : "(" + expr + ")";
}

void describe_pattern(const context& c, finding& f, const std::string& detail,
                      const std::string& column_type) {
  auto rel = quoted_relation(f.relation);
  auto cols = join(f.columns, ", ");
  if (f.kind == "non_sargable_function") {
    f.title = fmt::format("Function over a column in a filter: {}", detail);
    f.evidence = fmt::format(
      "The predicate applies {} to the column, so a plain index on {} of {} "
      "cannot serve it: every row is read and the function evaluated.",
      detail, cols, f.relation);
    // An expression holding a parameter ($n) differs per call: no index
    // can be built on it, only the rewrite helps.
    bool parameterised = detail.find('$') != std::string::npos;
    f.suggestion = parameterised
      ? fmt::format("Rewrite the predicate to compare the bare column: the "
                    "expression {} takes a parameter, so no expression "
                    "index can match it (turn date_trunc()/::date into a "
                    "range on {}).",
                    detail, cols)
      : fmt::format(
        "Create an expression index matching the predicate: CREATE INDEX "
        "ON {} ({}); (the expression must be IMMUTABLE), or rewrite the "
        "predicate to compare the bare column (store the normalised value, "
        "or turn date_trunc()/::date into a range on the column).",
        rel, expression_index_key(detail));
  } else if (f.kind == "leading_wildcard_like") {
    f.title = fmt::format("LIKE pattern starts with a wildcard: {}", detail);
    f.evidence = fmt::format(
      "A btree index only serves LIKE patterns with a literal prefix; {} "
      "makes PostgreSQL read every row of {}.",
      detail, f.relation);
    std::vector<std::string> keys;
    for (auto& col : f.columns)
      keys.push_back(quote_ident(col) + " gin_trgm_ops");
    f.suggestion = fmt::format(
      "A trigram index serves LIKE/ILIKE with any wildcard: CREATE INDEX ON {} "
      "USING gin ({});",
      rel, join(keys, ", "));
    if (!c.cat.pg_trgm_installed)
      f.suggestion += " It needs the pg_trgm extension first: CREATE EXTENSION "
                      "pg_trgm;";
    if (!c.cat.pg_trgm_installed && !c.cat.pg_trgm_available)
      f.suggestion += " (shipped with PostgreSQL's contrib modules; install "
                      "them on the server if CREATE EXTENSION fails).";
  } else if (f.kind == "implicit_cast") {
    f.title = fmt::format("Column cast in a filter: {}", detail);
    f.evidence = fmt::format(
      "The column is converted ({}) before the comparison{}, so an index on "
      "{} of {} cannot be used.",
      detail,
      column_type.empty() ? std::string{}
                          : fmt::format(" (declared {})", column_type),
      cols, f.relation);
    f.suggestion = fmt::format(
      "Compare with a value of the column's own type{} (cast the literal or "
      "parameter, not the column), or fix the type the application binds.",
      column_type.empty() ? std::string{} : " (" + column_type + ")");
  } else if (f.kind == "or_across_columns") {
    // Notes list the columns per table ("a of s.t; b of s.u"); the plan's
    // filter is about the one table scanned.
    bool noted = detail.find(" of ") != std::string::npos;
    bool across_tables = detail.find("; ") != std::string::npos;
    auto what = noted ? detail : cols + " of " + f.relation;
    f.title = fmt::format("OR across different columns: {}", what);
    f.evidence = fmt::format(
      "The arms of an OR test different columns ({}): no single btree index "
      "serves the whole condition, so it is checked against every row.",
      what);
    if (across_tables) {
      f.suggestion = "Rewrite as a UNION of one query per arm: each arm can "
                     "then use an index on its own table's column, while no "
                     "index can serve an OR that spans tables.";
    } else {
      std::vector<std::string> ddl;
      for (auto& col : f.columns)
        ddl.push_back(
          fmt::format("CREATE INDEX ON {} ({})", rel, quote_ident(col)));
      f.suggestion = fmt::format(
        "Give each column its own index ({}) so PostgreSQL can combine them "
        "with a BitmapOr, or rewrite as a UNION of one query per column.",
        join(ddl, "; "));
    }
  }
}

/// Patterns matter on big reads: medium on a sequential scan of a large
/// table, low otherwise (the statement's shape alone).
severity pattern_severity(const plan_node* n, std::optional<double> rows) {
  if (n != nullptr && n->node_type == "Seq Scan" && rows
      && *rows >= large_table_rows)
    return severity::medium;
  return severity::low;
}

void pattern_findings(context& c) {
  for (auto* n : c.nodes) {
    if (!is_scan(*n))
      continue;
    auto* t = table_of(c, *n);
    auto rows = table_rows(c, *n);
    if (rows && *rows < tiny_table_rows)
      continue;
    // One finding per kind and node: several hits are listed together.
    std::map<std::string, std::vector<pattern_hit>> by_kind;
    for (auto& hit : filter_patterns(*n, t))
      by_kind[hit.kind].push_back(hit);
    for (auto& [kind, hits] : by_kind) {
      auto f = make_finding(c, kind, pattern_severity(n, rows), n,
                            relation_of(c, *n));
      std::vector<std::string> details;
      for (auto& h : hits) {
        add_unique(details, h.detail);
        for (auto& col : h.columns)
          add_unique(f.columns, col);
      }
      describe_pattern(c, f, join(details, "; "), hits.front().column_type);
      f.evidence += fmt::format(" Node {} ({} on {}) Filter: {}", n->id,
                                n->node_type, f.relation, n->filter);
      add(c.out, std::move(f));
    }
  }
}

/// The first scan of a relation, preferring one with a filter.
const plan_node* scan_of(const context& c, const std::string& relation) {
  const plan_node* found = nullptr;
  for (auto* n : c.nodes) {
    if (!is_scan(*n))
      continue;
    auto rel = relation_of(c, *n);
    if (rel != relation && n->relation != relation)
      continue;
    if (!n->filter.empty())
      return n;
    if (found == nullptr)
      found = n;
  }
  return found;
}

const table_info* find_qualified(const catalog& cat,
                                 const std::string& relation) {
  auto dot = relation.find('.');
  if (dot == std::string::npos)
    return cat.find("", relation);
  return cat.find(relation.substr(0, dot), relation.substr(dot + 1));
}

std::string without_spaces(std::string_view x) {
  std::string out;
  for (auto c : x)
    if (c != ' ')
      out += c;
  return out;
}

/// Does an index or the plan already serve what a note complains about?
/// The analysis sees the SQL only: an expression index, a trigram index or
/// a BitmapOr in the plan answers its concern.
bool note_served(const context& c, const parsed_note& x,
                 const std::vector<std::string>& columns) {
  auto* t = find_qualified(c.cat, x.relation);
  auto expr = without_spaces(x.detail);
  if (t != nullptr)
    for (auto& ix : t->indexes) {
      if (!ix.valid || ix.keys.empty())
        continue;
      auto key = without_spaces(strip_parens(ix.keys.front()));
      if ((x.kind == "non_sargable_function" || x.kind == "implicit_cast")
          && key == expr)
        return true;
      bool trgm = std::any_of(ix.opclasses.begin(), ix.opclasses.end(),
                              [](const std::string& o) {
                                return o.find("trgm") != std::string::npos;
                              });
      if (x.kind == "leading_wildcard_like" && trgm && !columns.empty()
          && key == columns.front())
        return true;
    }
  for (size_t pos = 0; pos < c.nodes.size(); ++pos) {
    auto& n = *c.nodes[pos];
    if (x.kind == "or_across_columns" && n.node_type == "BitmapOr") {
      auto parent = c.parent[pos];
      if (parent >= 0
          && relation_of(c, *c.nodes[static_cast<size_t>(parent)])
            == x.relation)
        return true;
    }
    if (x.kind == "non_sargable_function"
        && (without_spaces(n.index_cond).find(expr) != std::string::npos
            || without_spaces(n.recheck_cond).find(expr) != std::string::npos))
      return true;
  }
  return false;
}

/// A cast is reported as implicit_cast; the analysis also notes it as
/// non_sargable (an expression over the column), which would say the same
/// twice.
bool also_noted_as_cast(const statement_analysis& stmt, const parsed_note& x) {
  if (x.kind != "non_sargable_function")
    return false;
  auto cast = "implicit_cast: " + x.detail + " on " + x.relation;
  return std::find(stmt.notes.begin(), stmt.notes.end(), cast)
    != stmt.notes.end();
}

/// Notes of the statement analysis: the same patterns, found in the parse
/// tree (so they exist without a plan and for predicates the plan shows
/// elsewhere than a scan's Filter, e.g. an OR across tables in a join).
void note_findings(context& c) {
  for (auto& note : c.stmt.notes) {
    auto x = parse_note(note);
    if (!x || also_noted_as_cast(c.stmt, *x))
      continue;
    auto columns = note_columns(*x, c.stmt);
    if (note_served(c, *x, columns))
      continue;
    auto* n = x->relation.empty() ? nullptr : scan_of(c, x->relation);
    auto* t = n != nullptr ? table_of(c, *n)
                           : find_qualified(c.cat, x->relation);
    std::optional<double> rows;
    if (n != nullptr)
      rows = table_rows(c, *n);
    else if (t != nullptr)
      rows = t->rows();
    if (rows && *rows < tiny_table_rows)
      continue;
    auto rel = n != nullptr ? relation_of(c, *n) : x->relation;
    auto f = make_finding(c, x->kind, pattern_severity(n, rows), n, rel);
    f.columns = columns;
    std::string column_type;
    if (t != nullptr && !f.columns.empty())
      if (auto* col = t->column(f.columns.front()))
        column_type = col->type;
    describe_pattern(c, f, x->detail, column_type);
    f.evidence += " (from the statement's parse tree)";
    add(c.out, std::move(f));
  }
}

// -- plan rules ---------------------------------------------------------------

/// The name of the SubPlan a node runs in ("SubPlan 1"), or "".
std::string enclosing_subplan(const context& c, int pos) {
  for (auto a = pos; a >= 0; a = c.parent[static_cast<size_t>(a)]) {
    auto& n = *c.nodes[static_cast<size_t>(a)];
    if (n.parent_relationship == "SubPlan")
      return n.subplan_name.empty() ? "a SubPlan" : n.subplan_name;
  }
  return {};
}

void seq_scan_large_table(context& c, int pos) {
  auto& n = *c.nodes[static_cast<size_t>(pos)];
  if (n.node_type != "Seq Scan" || n.filter.empty())
    return;
  auto* t = table_of(c, n);
  auto rows = table_rows(c, n);
  if (!rows || *rows < large_table_rows)
    return;
  auto kept = estimated_rows(c, pos);
  auto fraction = kept / *rows;
  if (fraction > selective_fraction)
    return;
  auto f = make_finding(c, "seq_scan_large_table",
                        *rows >= huge_table_rows ? severity::high
                                                 : severity::medium,
                        &n, relation_of(c, n));
  f.columns = filter_columns(c, n, t);
  f.title = fmt::format("Sequential scan of {} ({} rows) keeps ~{}", f.relation,
                        count_text(*rows), rows_text(kept));
  f.evidence = fmt::format(
    "Node {} reads all ~{} rows of {}; its Filter {} keeps an estimated ~{} "
    "({}).",
    n.id, count_text(*rows), f.relation, n.filter, count_text(kept),
    percent_text(fraction));
  if (n.actual_rows)
    f.evidence += fmt::format(" Measured: {} kept over {} loop(s).",
                              rows_text(*n.actual_rows * loops_of(n)),
                              count_text(loops_of(n)));
  if (auto sub = enclosing_subplan(c, pos); !sub.empty())
    f.evidence += fmt::format(" It runs inside {}, once per outer row.", sub);
  auto cols = f.columns.empty() ? std::string{"the filtered columns"}
                                : "(" + column_list(f.columns) + ")";
  f.suggestion = fmt::format(
    "An index on {} {} would let PostgreSQL read only the matching rows "
    "instead of all ~{}; the index advisor evaluates it (hypothetical index, "
    "cost before and after) before recommending it.",
    quoted_relation(f.relation), cols, count_text(*rows));
  if (!filter_patterns(n, t).empty())
    f.suggestion += " The filter also has a form no plain index serves (see "
                    "the other finding on this node): fix that first.";
  add(c.out, std::move(f));
}

/// The columns of an index, by name, from the catalog.
std::vector<std::string> index_keys(const table_info* t,
                                    const std::string& index_name) {
  if (t != nullptr)
    for (auto& ix : t->indexes)
      if (ix.name == index_name)
        return ix.keys;
  return {};
}

void rows_removed_by_filter(context& c, int pos) {
  auto& n = *c.nodes[static_cast<size_t>(pos)];
  if (!n.rows_removed_by_filter || !n.actual_rows)
    return;
  auto removed = *n.rows_removed_by_filter * loops_of(n);
  auto kept = *n.actual_rows * loops_of(n);
  if (removed < rows_removed_min
      || removed < rows_removed_share * (removed + kept))
    return;
  auto* t = table_of(c, n);
  auto f = make_finding(c, "rows_removed_by_filter",
                        removed >= rows_removed_high ? severity::high
                                                     : severity::medium,
                        &n, relation_of(c, n));
  f.columns = filter_columns(c, n, t);
  auto what = f.relation.empty() ? n.node_type : f.relation;
  f.title = fmt::format("Filter discards {} of {} rows read on {}",
                        count_text(removed), count_text(removed + kept), what);
  f.evidence = fmt::format(
    "EXPLAIN ANALYZE of node {} ({}): Rows Removed by Filter {} against {} "
    "kept ({} of the rows read wasted), Filter {}.",
    n.id, n.node_type, count_text(removed), count_text(kept),
    percent_text(removed / (removed + kept)), n.filter);
  auto cols = f.columns.empty() ? std::string{"the filtered columns"}
                                : "(" + column_list(f.columns) + ")";
  if (!n.index_name.empty()) {
    // pganalyze's example: the index gives the order (or another
    // condition), the filter then throws almost everything away.
    auto keys = index_keys(t, n.index_name);
    auto lead = f.columns;
    for (auto& k : keys)
      add_unique(lead, k);
    f.suggestion = fmt::format(
      "{} is used for its order or condition, then the Filter discards "
      "almost every row. An index leading with the filter's columns{} lets "
      "PostgreSQL read only matching rows: e.g. CREATE INDEX ON {} ({}).",
      n.index_name, keys.empty() ? "" : ", then the index's own keys,",
      quoted_relation(f.relation), join(lead, ", "));
  } else {
    f.suggestion = fmt::format(
      "An index on {} {} would let PostgreSQL read only the matching rows; "
      "the index advisor evaluates it before recommending it.",
      quoted_relation(f.relation), cols);
  }
  add(c.out, std::move(f));
}

/// Follows the single input of pass-through nodes down to a base scan.
const plan_node* scan_below(const plan_node* n) {
  while (n != nullptr && !is_scan(*n)) {
    if (n->children.size() != 1)
      return nullptr;
    n = first_child(*n);
  }
  return n;
}

int position_of(const context& c, const plan_node* n) {
  auto i = std::find(c.nodes.begin(), c.nodes.end(), n);
  return static_cast<int>(i - c.nodes.begin());
}

void sort_limit_without_index(context& c, int pos) {
  auto& limit = *c.nodes[static_cast<size_t>(pos)];
  if (limit.node_type != "Limit")
    return;
  auto* sort = first_child(limit);
  while (sort != nullptr && sort->node_type == "Gather Merge")
    sort = first_child(*sort);
  if (sort == nullptr
      || (sort->node_type != "Sort" && sort->node_type != "Incremental Sort"))
    return;
  auto* scan = scan_below(first_child(*sort));
  if (scan == nullptr)
    return;
  auto sorted = estimated_rows(c, position_of(c, sort));
  if (sorted < sort_input_rows)
    return;
  bool incremental = sort->node_type == "Incremental Sort";
  // An Incremental Sort already gets its leading keys in order from an
  // index: the gap is smaller, so is the severity.
  auto level = incremental      ? severity::low
    : sorted >= huge_table_rows ? severity::high
                                : severity::medium;
  auto* t = table_of(c, *scan);
  auto f = make_finding(c, "sort_limit_without_index", level, sort,
                        relation_of(c, *scan));
  std::vector<std::string> eq;
  for (auto& u : c.stmt.uses)
    if (u.kind == use_kind::equality && same_table(u, t, *scan))
      add_unique(eq, u.column);
  if (eq.empty())
    eq = equality_columns(scan->filter, *scan, t);
  std::vector<std::string> keys = eq;
  for (auto& k : sort->sort_key)
    add_unique(keys, unqualified_key(k, *scan));
  f.columns = keys;
  f.title = incremental
    ? fmt::format("An index serves only the leading sort key of "
                  "({}): Incremental Sort to return {}",
                  join(sort->sort_key, ", "), count_text(limit.plan_rows))
    : fmt::format("Sorts ~{} to return {}", rows_text(sorted),
                  count_text(limit.plan_rows));
  f.evidence = fmt::format(
    "Limit (node {}) over {} (node {}) by {} of ~{} rows from {} (node {}) "
    "on {}.",
    limit.id, sort->node_type, sort->id, join(sort->sort_key, ", "),
    count_text(sorted), scan->node_type, scan->id, f.relation);
  f.suggestion = fmt::format(
    "An index whose key order matches the sort after the equality columns, "
    "CREATE INDEX ON {} ({}), returns rows already in order: PostgreSQL reads "
    "the first {} and stops instead of sorting ~{}.",
    quoted_relation(f.relation), join(keys, ", "), count_text(limit.plan_rows),
    count_text(sorted));
  add(c.out, std::move(f));
}

/// The scan on the inner side of a nested loop, below Materialize (which
/// stores the scan's rows once and replays them per loop) and Memoize
/// (which caches per key: every miss runs the scan again).
const plan_node* inner_scan(const plan_node& loop,
                            const plan_node** materialize) {
  for (auto& child : loop.children) {
    if (child.parent_relationship != "Inner")
      continue;
    auto* n = &child;
    while (n != nullptr
           && (n->node_type == "Materialize" || n->node_type == "Memoize")) {
      if (n->node_type == "Materialize")
        *materialize = n;
      n = first_child(*n);
    }
    return n;
  }
  return nullptr;
}

/// A scan that reads its whole table per loop: a Seq Scan, or an index scan
/// without an Index Cond (a full index walk).
bool full_scan(const plan_node& n) {
  if (n.node_type == "Seq Scan")
    return true;
  return is_scan(n) && n.index_cond.empty() && n.recheck_cond.empty()
    && n.node_type != "Function Scan" && n.node_type != "Values Scan"
    && n.node_type != "CTE Scan";
}

void nested_loop_large_inner(context& c, int pos) {
  auto& loop = *c.nodes[static_cast<size_t>(pos)];
  if (loop.node_type != "Nested Loop" || loop.children.size() != 2)
    return;
  const plan_node* materialize = nullptr;
  auto* inner = inner_scan(loop, &materialize);
  if (inner == nullptr || !full_scan(*inner))
    return;
  auto& outer = loop.children.front();
  auto outer_rows = outer.actual_rows
    ? *outer.actual_rows * loops_of(outer)
    : estimated_rows(c, position_of(c, &outer));
  if (outer_rows <= 1)
    return;
  // Each loop re-reads the materialised rows, or else the whole table.
  auto inner_rows = materialize != nullptr
    ? materialize->plan_rows
    : table_rows(c, *inner).value_or(inner->plan_rows);
  if (inner_rows < nested_inner_rows)
    return;
  auto* t = table_of(c, *inner);
  auto f = make_finding(c, "nested_loop_large_inner",
                        outer_rows * inner_rows >= nested_high_comparisons
                          ? severity::high
                          : severity::medium,
                        &loop, relation_of(c, *inner));
  f.columns = columns_in(loop.join_filter, *inner, t);
  for (auto& col : columns_in(inner->filter, *inner, t))
    add_unique(f.columns, col);
  if (f.columns.empty())
    for (auto& u : c.stmt.uses)
      if (u.kind == use_kind::join && same_table(u, t, *inner))
        add_unique(f.columns, u.column);
  f.title = fmt::format("Nested loop {} {} ({}) once per outer row",
                        materialize != nullptr ? "re-reads rows of" : "scans",
                        f.relation, rows_text(inner_rows));
  f.evidence = fmt::format(
    "Nested Loop (node {}): ~{} outer rows, each re-reading {} (node {}, {}, "
    "~{} rows){}: ~{} row comparisons.",
    loop.id, count_text(outer_rows), f.relation, inner->id, inner->node_type,
    count_text(inner_rows),
    loop.join_filter.empty() ? std::string{}
                             : ", Join Filter " + loop.join_filter,
    count_text(outer_rows * inner_rows));
  f.suggestion = fmt::format(
    "Index the inner side's join column{}: CREATE INDEX ON {} ({}); each "
    "outer row then costs one index lookup instead of a scan.",
    f.columns.size() > 1 ? "s" : "", quoted_relation(f.relation),
    f.columns.empty() ? std::string{"<join column>"} : column_list(f.columns));
  add(c.out, std::move(f));
}

/// hash_mem_multiplier defaults to 2.0 since PostgreSQL 15 (1.0 before):
/// hash tables may use that multiple of work_mem.
double hash_mem_multiplier(const catalog& cat) {
  return cat.server_version >= 150000 ? 2.0 : 1.0;
}

/// A Sort under a Limit is bounded (top-N heapsort): only the limit's rows
/// are held in memory.
std::optional<double> sort_bound(const context& c, int pos) {
  for (auto a = c.parent[static_cast<size_t>(pos)]; a >= 0;
       a = c.parent[static_cast<size_t>(a)]) {
    auto& n = *c.nodes[static_cast<size_t>(a)];
    if (n.node_type == "Limit")
      return n.plan_rows;
    if (n.node_type != "Gather Merge")
      return std::nullopt;
  }
  return std::nullopt;
}

std::string work_mem_advice(double needed_bytes, const catalog& cat,
                            double multiplier) {
  auto setting = work_mem_text(needed_bytes / multiplier);
  auto current = static_cast<double>(cat.work_mem_kb) * 1024;
  if (needed_bytes / multiplier <= current)
    // Measured with a lower setting than the role's (a session SET, another
    // role): the fix is where that setting comes from.
    return fmt::format(
      "About {} would fit and work_mem is {} kB here: the run that spilled "
      "used a lower setting, so check the session or role that runs it "
      "(SHOW work_mem; ALTER ROLE … SET work_mem)",
      setting, cat.work_mem_kb);
  return fmt::format(
    "Raise work_mem where this statement runs, not globally (it is per sort "
    "or hash, per backend): about {} would fit with per-row overhead (SET "
    "work_mem = '{}' in the session or transaction, or ALTER ROLE … SET "
    "work_mem = '{}'; now {} kB)",
    setting, setting, setting, cat.work_mem_kb);
}

void sort_spill(context& c, int pos) {
  auto& n = *c.nodes[static_cast<size_t>(pos)];
  if (n.node_type != "Sort")
    return;
  auto work_mem = static_cast<double>(c.cat.work_mem_kb) * 1024;
  bool measured_disk = n.sort_space_type == "Disk"
    || starts_with(n.sort_method, "external");
  auto rows = n.plan_rows;
  if (auto bound = sort_bound(c, pos))
    rows = std::min(rows, *bound);
  auto estimate = rows * n.plan_width;
  // Measured figures win: a sort ANALYZE saw in memory did not spill.
  if (!measured_disk && (n.actual_rows || estimate <= work_mem))
    return;
  auto actual = n.actual_rows ? *n.actual_rows : rows;
  auto needed = actual * (n.plan_width + tuple_overhead_bytes);
  auto* scan = scan_below(first_child(n));
  auto f = make_finding(c, "sort_spill",
                        measured_disk ? severity::medium : severity::low, &n,
                        scan != nullptr ? relation_of(c, *scan) : "");
  if (scan != nullptr)
    for (auto& k : n.sort_key)
      f.columns.push_back(unqualified_key(k, *scan));
  if (measured_disk) {
    f.title = fmt::format("Sort spills to disk ({})",
                          n.sort_method.empty() ? "Disk" : n.sort_method);
    f.evidence = fmt::format(
      "EXPLAIN ANALYZE of Sort (node {}) by {}: Sort Method {}, Sort Space "
      "{}, {} rows of {} bytes; work_mem is {} kB.",
      n.id, join(n.sort_key, ", "), n.sort_method, n.sort_space_type,
      count_text(actual), n.plan_width, c.cat.work_mem_kb);
  } else {
    f.title = fmt::format("Sort of ~{} exceeds work_mem ({} kB)",
                          bytes_text(estimate), c.cat.work_mem_kb);
    f.evidence = fmt::format(
      "Sort (node {}) by {}: ~{} rows × {} bytes = ~{} estimated, more than "
      "work_mem ({} kB): it will sort on disk (external merge).",
      n.id, join(n.sort_key, ", "), count_text(rows), n.plan_width,
      bytes_text(estimate), c.cat.work_mem_kb);
  }
  f.suggestion = work_mem_advice(needed, c.cat, 1.0) + ".";
  if (scan != nullptr && !f.columns.empty())
    f.suggestion += fmt::format(
      " Or index {} ({}) so rows come out in order and no sort is needed.",
      quoted_relation(f.relation), join(f.columns, ", "));
  add(c.out, std::move(f));
}

void hash_spill(context& c, int pos) {
  auto& n = *c.nodes[static_cast<size_t>(pos)];
  if (n.node_type != "Hash")
    return;
  auto multiplier = hash_mem_multiplier(c.cat);
  auto hash_mem = static_cast<double>(c.cat.work_mem_kb) * 1024 * multiplier;
  bool measured = n.hash_batches.has_value();
  bool batched = n.hash_batches.value_or(0) > 1;
  auto estimate = n.plan_rows * n.plan_width;
  if (!batched && (measured || n.actual_rows || estimate <= hash_mem))
    return;
  auto rows = n.actual_rows ? *n.actual_rows : n.plan_rows;
  auto needed = rows * (n.plan_width + tuple_overhead_bytes);
  auto* scan = scan_below(first_child(n));
  auto f = make_finding(c, "hash_spill",
                        batched ? severity::medium : severity::low, &n,
                        scan != nullptr ? relation_of(c, *scan) : "");
  if (batched) {
    f.title = fmt::format("Hash table spills to disk ({} batches)",
                          count_text(*n.hash_batches));
    f.evidence = fmt::format(
      "EXPLAIN ANALYZE of Hash (node {}): {} batches for {} rows of {} bytes; "
      "hash tables get work_mem × hash_mem_multiplier ({} kB × {:.0f}).",
      n.id, count_text(*n.hash_batches), count_text(rows), n.plan_width,
      c.cat.work_mem_kb, multiplier);
  } else {
    f.title = fmt::format("Hash table of ~{} exceeds hash memory ({} kB)",
                          bytes_text(estimate),
                          count_text(c.cat.work_mem_kb * multiplier));
    f.evidence = fmt::format(
      "Hash (node {}): ~{} rows × {} bytes = ~{} estimated, more than "
      "work_mem × hash_mem_multiplier ({} kB × {:.0f}): it will be built in "
      "batches on disk.",
      n.id, count_text(rows), n.plan_width, bytes_text(estimate),
      c.cat.work_mem_kb, multiplier);
  }
  f.suggestion = work_mem_advice(needed, c.cat, multiplier)
    + ". Or make the hashed (inner) side smaller: filter it "
      "earlier or select fewer columns.";
  add(c.out, std::move(f));
}

// -- statistics
// -----------------------------------------------------------------

/// Why a table's statistics are stale, or nothing.
std::optional<std::pair<severity, std::string>>
stale_reason(const table_info& t) {
  if (t.kind != 'r' && t.kind != 'p' && t.kind != 'm')
    return std::nullopt;
  auto rows = std::max(t.rows(), static_cast<double>(t.n_live_tup));
  if (t.last_analyzed_ms == 0 && rows >= stale_min_rows)
    return std::pair{severity::medium,
                     fmt::format("{} (~{} rows) has never been analysed: the "
                                 "planner guesses its row counts and value "
                                 "distributions.",
                                 t.qualified(), count_text(rows))};
  auto mods = static_cast<double>(t.n_mod_since_analyze);
  if (mods >= stale_min_rows && mods > stale_mod_fraction * rows)
    return std::pair{
      mods > rows ? severity::medium : severity::low,
      fmt::format("{} rows of {} (~{} rows, {}) changed since its last "
                  "ANALYZE: more than autovacuum_analyze_scale_factor (10%) "
                  "allows, so autoanalyze is behind or off.",
                  count_text(mods), t.qualified(), count_text(rows),
                  percent_text(rows > 0 ? mods / rows : 1))};
  return std::nullopt;
}

finding stale_finding(const table_info& t, severity level,
                      const std::string& why) {
  finding f;
  f.kind = "stale_statistics";
  f.level = level;
  f.relation = t.qualified();
  f.title = fmt::format("Stale statistics on {}", t.qualified());
  f.evidence = why;
  f.suggestion = fmt::format(
    "ANALYZE {}; then check autovacuum is on for it (or lower its "
    "autovacuum_analyze_scale_factor if it changes in bursts).",
    quoted_relation(t.qualified()));
  return f;
}

void stale_statistics(context& c) {
  std::set<std::string> seen;
  for (auto* n : c.nodes) {
    auto* t = table_of(c, *n);
    if (t == nullptr || !seen.insert(t->qualified()).second)
      continue;
    if (auto why = stale_reason(*t)) {
      auto f = stale_finding(*t, why->first, why->second);
      f.fingerprint = c.fingerprint;
      f.node_id = n->id;
      f.evidence += " This plan's estimates for it are unreliable.";
      add(c.out, std::move(f));
    }
  }
}

// -- workload rules
// -------------------------------------------------------------

std::string strip_index_key(std::string key) {
  for (auto suffix : {" NULLS FIRST", " NULLS LAST", " DESC", " ASC"})
    if (key.size() > std::string_view{suffix}.size()
        && key.compare(key.size() - std::string_view{suffix}.size(),
                       std::string::npos, suffix)
          == 0)
      key.resize(key.size() - std::string_view{suffix}.size());
  if (key.size() >= 2 && key.front() == '"' && key.back() == '"') {
    size_t i = 0;
    return read_ident(key, i);
  }
  return key;
}

/// A partial index still serves FK checks if it only leaves out NULLs
/// ("WHERE fk IS NOT NULL"), which never reference anything.
bool fk_compatible_predicate(const index_info& ix, const foreign_key_info& fk) {
  if (ix.predicate.empty())
    return true;
  for (auto part : split_top(strip_parens(ix.predicate), " AND ")) {
    auto p = strip_parens(part);
    auto suffix = std::string_view{" IS NOT NULL"};
    if (p.size() <= suffix.size()
        || p.substr(p.size() - suffix.size()) != suffix)
      return false;
    auto col
      = strip_index_key(std::string{p.substr(0, p.size() - suffix.size())});
    if (std::find(fk.columns.begin(), fk.columns.end(), col)
        == fk.columns.end())
      return false;
  }
  return true;
}

/// Does a valid index have the foreign key's columns as its leading keys (in
/// any order)? Btree serves any prefix; hash only a single column.
bool fk_covered(const table_info& t, const foreign_key_info& fk) {
  std::set<std::string> want(fk.columns.begin(), fk.columns.end());
  for (auto& ix : t.indexes) {
    if (!ix.valid || ix.keys.size() < fk.columns.size()
        || !fk_compatible_predicate(ix, fk))
      continue;
    if (ix.am != "btree" && !(ix.am == "hash" && fk.columns.size() == 1))
      continue;
    std::set<std::string> lead;
    for (size_t i = 0; i < fk.columns.size(); ++i)
      lead.insert(strip_index_key(ix.keys[i]));
    if (lead == want)
      return true;
  }
  return false;
}

/// Fingerprints of statements that join `t` on one of `cols`.
std::vector<std::string>
joining_statements(const table_info& t, const std::vector<std::string>& cols,
                   const std::vector<statement_metrics>& statements,
                   const std::vector<const statement_analysis*>& analyses) {
  std::vector<std::string> out;
  for (size_t i = 0; i < analyses.size() && i < statements.size(); ++i) {
    if (analyses[i] == nullptr)
      continue;
    for (auto& u : analyses[i]->uses)
      if (u.kind == use_kind::join && u.schema == t.schema && u.table == t.name
          && std::find(cols.begin(), cols.end(), u.column) != cols.end())
        add_unique(out, statements[i].fingerprint);
  }
  return out;
}

void missing_fk_indexes(const catalog& cat,
                        const std::vector<statement_metrics>& statements,
                        const std::vector<const statement_analysis*>& analyses,
                        std::vector<finding>& out) {
  for (auto& t : cat.tables) {
    if ((t.kind != 'r' && t.kind != 'p') || t.rows() < fk_min_rows)
      continue;
    for (auto& fk : t.foreign_keys) {
      if (fk.columns.empty() || fk_covered(t, fk))
        continue;
      auto joins = joining_statements(t, fk.columns, statements, analyses);
      finding f;
      f.kind = "missing_fk_index";
      // A join on the column pays for the missing index on every
      // execution; otherwise only the referenced table's DELETEs and key
      // UPDATEs do (one scan of this table each).
      f.level = joins.empty() ? severity::info : severity::medium;
      f.relation = t.qualified();
      f.columns = fk.columns;
      auto ref = fk.ref_schema + "." + fk.ref_table;
      f.title = fmt::format("Foreign key {} on {} ({}) has no index", fk.name,
                            t.qualified(), join(fk.columns, ", "));
      f.evidence = fmt::format(
        "{} (~{} rows) references {}; no valid index of {} starts with ({}), "
        "so every DELETE or key UPDATE on {} scans {} to check it",
        t.qualified(), count_text(t.rows()), ref, t.qualified(),
        join(fk.columns, ", "), ref, t.qualified());
      if (auto* parent = cat.find(fk.ref_schema, fk.ref_table);
          parent != nullptr && parent->n_tup_del > 0)
        f.evidence += fmt::format(" ({} deletes so far)",
                                  count_text(parent->n_tup_del));
      f.evidence += joins.empty()
        ? ". No analysed statement joins on it."
        : fmt::format(". Statements joining on it: {}.", join(joins, ", "));
      f.suggestion = fmt::format("CREATE INDEX CONCURRENTLY ON {} ({});",
                                 quoted_relation(t.qualified()),
                                 column_list(fk.columns));
      add(out, std::move(f));
    }
  }
}

bool reads_rows(const statement_metrics& m, const statement_analysis* a) {
  if (a != nullptr)
    return a->what == statement_analysis::kind::select;
  // Without an analysis, the first keyword of the normalised text.
  auto i = m.query.find_first_not_of(" \t\r\n(");
  if (i == std::string::npos)
    return false;
  auto word = lower(m.query.substr(i, 6));
  return word == "select" || starts_with(word, "with");
}

struct lookup_figures {
  double calls = 0;
  double rows_per_call = 0;
  double mean_ms = 0;
  double total_ms = 0;
};

lookup_figures figures(const statement_metrics& m) {
  lookup_figures x;
  x.calls = static_cast<double>(m.total.calls);
  x.rows_per_call = x.calls > 0 ? static_cast<double>(m.total.rows) / x.calls
                                : 0;
  x.mean_ms = m.total.mean_time_ms();
  x.total_ms = m.total.exec_time_ms;
  return x;
}

bool single_row_lookup(const lookup_figures& x, double min_calls) {
  return x.calls >= min_calls && x.mean_ms <= n_plus_one_max_mean_ms
    && x.rows_per_call <= 1;
}

severity by_total_time(double total_ms) {
  if (total_ms >= n_plus_one_high_ms)
    return severity::high;
  if (total_ms >= n_plus_one_medium_ms)
    return severity::medium;
  return severity::low;
}

severity one_lower(severity x) {
  return x == severity::info ? x
                             : static_cast<severity>(static_cast<int>(x) - 1);
}

std::string short_query(const std::string& q) {
  constexpr size_t max = 120;
  return q.size() <= max ? q : q.substr(0, max) + "…";
}

/// The parent whose rows per call best match the child's calls per parent
/// call (ties: more calls, then fingerprint, for determinism).
std::optional<size_t>
best_parent(size_t child, const std::vector<statement_metrics>& statements,
            const std::vector<const statement_analysis*>& analyses) {
  auto cf = figures(statements[child]);
  std::optional<size_t> best;
  double best_error = 0;
  for (size_t i = 0; i < statements.size(); ++i) {
    if (i == child)
      continue;
    auto pf = figures(statements[i]);
    auto* a = i < analyses.size() ? analyses[i] : nullptr;
    if (pf.calls <= 0 || !reads_rows(statements[i], a))
      continue;
    auto ratio = cf.calls / pf.calls;
    if (ratio < n_plus_one_min_ratio)
      continue;
    auto error = std::abs(pf.rows_per_call - ratio) / ratio;
    if (error > n_plus_one_tolerance)
      continue;
    auto better = !best || error < best_error
      || (error == best_error
          && (pf.calls > figures(statements[*best]).calls
              || (pf.calls == figures(statements[*best]).calls
                  && statements[i].fingerprint
                    < statements[*best].fingerprint)));
    if (better) {
      best = i;
      best_error = error;
    }
  }
  return best;
}

void describe_child(finding& f, const statement_metrics& m,
                    const statement_analysis* a) {
  f.fingerprint = m.fingerprint;
  if (a == nullptr)
    return;
  if (!a->tables.empty()) {
    auto& t = a->tables.front();
    f.relation = t.schema.empty() ? t.table : t.schema + "." + t.table;
  }
  for (auto& u : a->uses)
    if (u.kind == use_kind::equality)
      add_unique(f.columns, u.column);
}

void n_plus_one(const std::vector<statement_metrics>& statements,
                const std::vector<const statement_analysis*>& analyses,
                std::vector<finding>& out) {
  for (size_t i = 0; i < statements.size(); ++i) {
    auto& child = statements[i];
    auto* ca = i < analyses.size() ? analyses[i] : nullptr;
    auto cf = figures(child);
    if (!single_row_lookup(cf, static_cast<double>(n_plus_one_min_calls))
        || !reads_rows(child, ca))
      continue;
    auto parent = best_parent(i, statements, analyses);
    if (!parent && cf.calls < static_cast<double>(chatty_min_calls))
      continue;
    finding f;
    f.kind = "n_plus_one";
    describe_child(f, child, ca);
    auto child_text = fmt::format(
      "{} ran {} times, {:.3f} ms mean, {:.2f} rows per call ({:.1f} ms in "
      "total): \"{}\"",
      child.fingerprint, count_text(cf.calls), cf.mean_ms, cf.rows_per_call,
      cf.total_ms, short_query(child.query));
    if (parent) {
      auto& p = statements[*parent];
      auto pf = figures(p);
      f.level = by_total_time(cf.total_ms);
      f.title = fmt::format("N+1: {} runs once per row of {}",
                            child.fingerprint, p.fingerprint);
      f.evidence = fmt::format(
        "Child {}. Parent {} ran {} times returning {:.1f} rows per call "
        "({:.3f} ms mean): {} calls × {:.1f} rows ≈ {} child calls.",
        child_text, p.fingerprint, count_text(pf.calls), pf.rows_per_call,
        pf.mean_ms, count_text(pf.calls), pf.rows_per_call,
        count_text(cf.calls));
      f.suggestion = fmt::format(
        "Fetch the children in one query instead of one per parent row: "
        "join them into {} (JOIN … ON the key), or run {} once per parent "
        "call with WHERE key = ANY($1) over the parent's keys (ORMs: eager "
        "loading / preload). Saves ~{} round trips per parent call.",
        p.fingerprint, child.fingerprint, count_text(cf.calls / pf.calls - 1));
    } else {
      f.level = one_lower(by_total_time(cf.total_ms));
      f.title = fmt::format("Chatty single-row lookup: {} ({} calls)",
                            child.fingerprint, count_text(cf.calls));
      f.evidence = fmt::format(
        "{}. No statement's rows per call match its call count, so the loop "
        "that drives it is not in the workload seen (or spans statements).",
        child_text);
      f.suggestion = fmt::format(
        "Find the loop in the application that runs {} per item and fetch the "
        "items in one query (WHERE key = ANY($1), or a JOIN into the query "
        "that lists them), or cache the lookups.",
        child.fingerprint);
    }
    add(out, std::move(f));
  }
}

} // namespace

std::vector<finding>
plan_findings(const plan& p, const statement_analysis& stmt, const catalog& cat,
              const std::string& fingerprint) {
  context c{p, stmt, cat, fingerprint, {}, {}, {}};
  index_nodes(p.root, -1, c);
  for (int pos = 0; pos < static_cast<int>(c.nodes.size()); ++pos) {
    seq_scan_large_table(c, pos);
    rows_removed_by_filter(c, pos);
    sort_limit_without_index(c, pos);
    nested_loop_large_inner(c, pos);
    sort_spill(c, pos);
    hash_spill(c, pos);
  }
  pattern_findings(c);
  note_findings(c);
  stale_statistics(c);
  sort_findings(c.out);
  return std::move(c.out);
}

std::vector<finding>
workload_findings(const std::vector<statement_metrics>& statements,
                  const std::vector<const statement_analysis*>& analyses,
                  const catalog& cat) {
  std::vector<finding> out;
  n_plus_one(statements, analyses, out);
  missing_fk_indexes(cat, statements, analyses, out);
  for (auto& t : cat.tables)
    if (auto why = stale_reason(t))
      add(out, stale_finding(t, why->first, why->second));
  sort_findings(out);
  return out;
}

void write(rapidjson::Writer<rapidjson::StringBuffer>& w, const finding& x) {
  w.StartObject();
  json::field(w, "kind", x.kind);
  json::field(w, "severity", to_string(x.level));
  json::field(w, "title", x.title);
  json::field(w, "evidence", x.evidence);
  json::field(w, "suggestion", x.suggestion);
  json::field(w, "fingerprint", x.fingerprint);
  json::key(w, "node_id");
  if (x.node_id)
    w.Int(*x.node_id);
  else
    w.Null();
  json::field(w, "relation", x.relation);
  json::key(w, "columns");
  w.StartArray();
  for (auto& col : x.columns)
    json::str(w, col);
  w.EndArray();
  w.EndObject();
}

} // namespace optischema
