#include "findings_internal.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/analysis/sql_quote.hpp"
#include "optischema/util/strings.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <string_view>
#include <tuple>

// Rules that read one plan: the plan context (nodes, tables, estimated and
// measured rows), the bookkeeping of findings, and the plan rules
// (sequential scans, filters that drop most rows, sorts without an index,
// nested loops, spills) and stale statistics.

namespace optischema::findings_detail {

// -- the plan and the catalog -------------------------------------------------

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

} // namespace optischema::findings_detail
