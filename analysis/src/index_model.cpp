#include "optischema/analysis/index_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace optischema {

namespace {

/// Rows a GIN posting page holds (compressed item pointers, about 6 bytes
/// each in an 8 kB page, pages not quite full).
constexpr double gin_tids_per_page = 1000;
/// Pages from a GIN entry tree's root to a leaf.
constexpr double gin_entry_depth = 3;

/// How many index entries a search looks up, and how many rows it returns
/// per row that truly matches (GIN keys are lossy where the operator
/// class hashes or splits the value; the heap rechecks them).
struct gin_shape {
  double entries = 1;
  double false_positives = 1;
};

gin_shape shape_of(const index_candidate& c) {
  auto key = c.keys.empty() ? std::string{} : c.keys.front();
  auto ends = [&](std::string_view s) { return key.ends_with(s); };
  if (c.method == "gist")
    return {1, 2.0};
  if (ends("gin_trgm_ops"))
    // A pattern of a few letters is a handful of trigrams, ANDed.
    return {3, 1.5};
  if (ends("jsonb_path_ops"))
    // One hash per path-and-value: collisions are rare.
    return {1, 1.1};
  // jsonb_ops keys and values are separate entries; array elements exact.
  return {2, 1.2};
}

bool blocks_limit(const std::string& type) {
  // Nodes that read their whole input before returning the first row: a
  // LIMIT above them does not shorten the scan below.
  return type == "Sort" || type == "Incremental Sort" || type == "Aggregate"
    || type == "Hash" || type == "Materialize" || type == "WindowAgg"
    || type == "SetOp" || type == "Unique";
}

/// Finds the sequential scan of the table whose cost the statement pays
/// once; `path` is the chain of its ancestors, root first.
const plan_node* find_scan(const plan_node& n, const index_candidate& c,
                           std::vector<const plan_node*>& path) {
  if (n.node_type == "Seq Scan" && n.relation == c.table && (n.schema.empty() || n.schema == c.schema)) {
    // Repeated per outer row, in a subplan, or cut short by a LIMIT: the
    // node's cost is not what the statement pays for it.
    bool limited = false;
    for (auto it = path.rbegin(); it != path.rend(); ++it) {
      auto& a = **it;
      if (blocks_limit(a.node_type))
        break;
      if (a.node_type == "Limit")
        limited = true;
    }
    auto repeated = n.parent_relationship == "SubPlan";
    for (size_t i = 0; i < path.size(); ++i) {
      auto& a = *path[i];
      auto* child = i + 1 < path.size() ? path[i + 1] : &n;
      repeated = repeated || a.parent_relationship == "SubPlan"
        || (a.node_type == "Nested Loop"
            && child->parent_relationship == "Inner");
    }
    return limited || repeated ? nullptr : &n;
  }
  path.push_back(&n);
  for (auto& ch : n.children)
    if (auto* hit = find_scan(ch, c, path))
      return hit; // `path` keeps the hit's ancestors
  path.pop_back();
  return nullptr;
}

/// The rows the scan at the end of `path` hands to the result, if nothing
/// between them adds, removes or combines rows: then the statement's rows
/// per call are the scan's. A LIMIT counts when the statement returned
/// fewer rows than it on average (so it seldom cut the scan short).
bool feeds_result(const std::vector<const plan_node*>& path,
                  double observed) {
  for (auto* a : path) {
    auto& type = a->node_type;
    if (type == "Limit") {
      if (observed >= a->plan_rows)
        return false;
      continue;
    }
    if (type != "Sort" && type != "Incremental Sort" && type != "Gather"
        && type != "Gather Merge" && type != "Result")
      return false;
  }
  return true;
}

double quals_of(const std::string& filter) {
  double n = 1;
  for (size_t at = filter.find(" AND "); at != std::string::npos;
       at = filter.find(" AND ", at + 5))
    ++n;
  return n;
}

} // namespace

double pages_fetched(double tuples, double pages, double cache_pages) {
  // PostgreSQL's index_pages_fetched (costsize.c): Mackert and Lohman's
  // approximation of distinct pages touched by random fetches with a cache.
  pages = std::max(pages, 1.0);
  cache_pages = std::max(cache_pages, 1.0);
  double fetched = 0;
  if (pages <= cache_pages) {
    fetched = (2.0 * pages * tuples) / (2.0 * pages + tuples);
    fetched = std::min(fetched, pages);
  } else {
    double lim = (2.0 * pages * cache_pages) / (2.0 * pages - cache_pages);
    if (tuples <= lim)
      fetched = (2.0 * pages * tuples) / (2.0 * pages + tuples);
    else
      fetched
        = cache_pages + (tuples - lim) * (pages - cache_pages) / pages;
  }
  return std::ceil(fetched);
}

std::optional<index_model_estimate>
model_bitmap_scan(const plan& before, const index_candidate& c,
                  const table_info& t, const planner_costs& pc,
                  double observed_rows_per_call) {
  auto tuples = t.rows();
  auto pages = static_cast<double>(t.relpages);
  if (tuples <= 0 || pages <= 0)
    return std::nullopt;
  std::vector<const plan_node*> path;
  auto* scan = find_scan(before.root, c, path);
  if (scan == nullptr)
    return std::nullopt;
  auto rows = std::clamp(before.rows_of(*scan), 1.0, tuples);
  index_model_estimate e;
  if (observed_rows_per_call >= 0 && feeds_result(path, observed_rows_per_call)) {
    rows = std::clamp(observed_rows_per_call, 1.0, tuples);
    e.observed = true;
  }
  e.rows = rows;
  e.share = rows / tuples;
  auto shape = shape_of(c);
  auto candidates = std::min(tuples, rows * shape.false_positives);
  // The index: each entry's tree descent and posting list. One entry of an
  // ANDed search matches more rows than the search does (each of K
  // independent entries keeps about share^(1/K)).
  auto entry_rows
    = tuples * std::min(1.0, std::pow(e.share, 1.0 / shape.entries));
  entry_rows = std::max(entry_rows, candidates);
  auto index_pages
    = shape.entries * (gin_entry_depth + std::ceil(entry_rows / gin_tids_per_page));
  auto index_cost = index_pages * pc.random_page_cost
    + shape.entries * entry_rows * pc.cpu_operator_cost;
  // The heap: costsize.c's cost_bitmap_heap_scan.
  e.heap_pages = pages_fetched(candidates, pages, pc.effective_cache_pages);
  auto per_page = e.heap_pages >= 2
    ? pc.random_page_cost
      - (pc.random_page_cost - pc.seq_page_cost)
        * std::sqrt(e.heap_pages / pages)
    : pc.random_page_cost;
  auto heap_cost = e.heap_pages * per_page
    + candidates
      * (pc.cpu_tuple_cost + quals_of(scan->filter) * pc.cpu_operator_cost);
  e.scan_cost_before = scan->total_cost;
  e.scan_cost_after = index_cost + heap_cost;
  e.cost_after = std::max(
    0.0, before.total_cost() - e.scan_cost_before + e.scan_cost_after);
  e.explanation = fmt::format(
    "cost model (hypopg cannot simulate {}): the scan of {} keeps ~{:.0f} of "
    "{:.0f} rows ({:.2f}%{}); a bitmap scan of the index reads ~{:.0f} of "
    "{:.0f} heap pages: scan cost {:.0f} -> {:.0f}",
    c.method, t.qualified(), rows, tuples, 100 * e.share,
    e.observed ? ", as many as the statement returned per call"
               : ", the planner's estimate",
    e.heap_pages, pages, e.scan_cost_before, e.scan_cost_after);
  return e;
}

namespace {

/// The LIMIT whose input is a sort by a distance of `col` over the
/// sequential scan of the candidate's table (gathers allowed between).
const plan_node* find_knn_limit(const plan_node& n, const index_candidate& c,
                                const std::string& col) {
  if (n.node_type == "Limit" && n.children.size() == 1) {
    const plan_node* x = &n.children.front();
    bool sorted = false;
    while (x != nullptr) {
      if (x->node_type == "Sort") {
        auto by_distance = !x->sort_key.empty()
          && x->sort_key.front().find(col) != std::string::npos
          && x->sort_key.front().find("<->") != std::string::npos;
        if (!by_distance)
          break;
        sorted = true;
      } else if (x->node_type == "Seq Scan") {
        if (sorted && x->relation == c.table
            && (x->schema.empty() || x->schema == c.schema))
          return &n;
        break;
      } else if (x->node_type != "Gather Merge" && x->node_type != "Gather") {
        break;
      }
      x = x->children.size() == 1 ? &x->children.front() : nullptr;
    }
  }
  for (auto& ch : n.children)
    if (auto* hit = find_knn_limit(ch, c, col))
      return hit;
  return nullptr;
}

} // namespace

std::optional<index_model_estimate>
model_knn_scan(const plan& before, const index_candidate& c,
               const std::string& col, const table_info& t,
               const planner_costs& pc, double observed_rows_per_call) {
  auto tuples = t.rows();
  auto pages = static_cast<double>(t.relpages);
  if (c.method != "gist" || tuples <= 0 || pages <= 0)
    return std::nullopt;
  auto* limit = find_knn_limit(before.root, c, col);
  if (limit == nullptr)
    return std::nullopt;
  index_model_estimate e;
  auto rows = std::clamp(limit->plan_rows, 1.0, tuples);
  if (observed_rows_per_call >= 1) {
    rows = std::clamp(observed_rows_per_call, 1.0, tuples);
    e.observed = true;
  }
  e.rows = rows;
  e.share = rows / tuples;
  auto shape = shape_of(c);
  // A GiST tree of ~100 entries a page: its depth, read once; then each row
  // costs its index entries (lossy keys: false positives rechecked), the
  // distance, and a heap page at random (the order is not the table's).
  auto depth = std::max(1.0, std::ceil(std::log(tuples) / std::log(100.0)));
  auto visited = rows * shape.false_positives;
  e.heap_pages = std::min(visited, pages);
  e.scan_cost_before = limit->total_cost;
  e.scan_cost_after = depth * pc.random_page_cost
    + visited
      * (pc.random_page_cost + pc.cpu_index_tuple_cost + pc.cpu_tuple_cost
         + 2 * pc.cpu_operator_cost);
  e.cost_after = std::max(
    0.0, before.total_cost() - e.scan_cost_before + e.scan_cost_after);
  e.explanation = fmt::format(
    "cost model (hypopg cannot simulate gist): nearest first, the index "
    "returns the {:.0f} rows of the LIMIT{} in distance order instead of a "
    "sort of all {:.0f} rows of {}: cost {:.0f} -> {:.0f}",
    rows, e.observed ? " (as many as the statement returned per call)" : "",
    tuples, t.qualified(), e.scan_cost_before, e.scan_cost_after);
  return e;
}

} // namespace optischema
