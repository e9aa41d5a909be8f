#pragma once

// The plan model: EXPLAIN (FORMAT JSON) parsed into a tree, shared by the
// findings, the advisor (cost before/after, indexes used) and the
// dashboard's plan view (as JSON, with node ids findings point at).

#include "optischema/util/error.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace optischema {

struct plan_node {
  /// Position in a pre-order walk from the root (root = 0).
  int id = 0;
  std::string node_type;           ///< "Seq Scan", "Index Scan", "Hash Join"…
  std::string relation;            ///< "Relation Name"
  std::string schema;              ///< "Schema" (EXPLAIN VERBOSE) or resolved
  std::string alias;               ///< "Alias"
  std::string index_name;          ///< "Index Name"
  std::string parent_relationship; ///< "Outer", "Inner", "SubPlan"…
  std::string subplan_name;
  std::string join_type;      ///< "Inner", "Left", "Semi"…
  std::string strategy;       ///< "Sorted", "Hashed", "Plain"
  std::string scan_direction; ///< "Forward", "Backward"
  double startup_cost = 0;
  double total_cost = 0;
  double plan_rows = 0;
  /// "Parallel Aware": plan_rows is then per process (plan::rows_of).
  bool parallel_aware = false;
  /// "Workers Planned" of a Gather / Gather Merge (0 elsewhere).
  int workers_planned = 0;
  int plan_width = 0;
  std::string filter;
  std::string index_cond;
  std::string recheck_cond;
  std::string hash_cond;
  std::string merge_cond;
  std::string join_filter;
  std::vector<std::string> sort_key;
  std::vector<std::string> group_key;
  std::vector<std::string> output;
  // -- EXPLAIN ANALYZE only (the sandbox), absent otherwise --
  std::optional<double> actual_rows;
  std::optional<double> actual_total_time_ms;
  std::optional<double> actual_loops;
  std::optional<double> rows_removed_by_filter;
  std::string sort_method;     ///< "quicksort", "external merge"…
  std::string sort_space_type; ///< "Memory", "Disk"
  std::optional<double> hash_batches;
  std::vector<plan_node> children;
};

struct plan {
  plan_node root;
  /// Planning and execution times when the plan came from ANALYZE.
  std::optional<double> planning_time_ms;
  std::optional<double> execution_time_ms;

  double total_cost() const {
    return root.total_cost;
  }
  /// Every node, pre-order (index = node id).
  std::vector<const plan_node*> nodes() const;
  /// The rows `n` is estimated to return in all: a parallel-aware node's
  /// estimate is per process, divided as PostgreSQL does (workers plus the
  /// leader's share) for the workers its Gather plans.
  double rows_of(const plan_node& n) const;
  /// Names of the indexes the plan uses ("Index Name" of any node).
  std::vector<std::string> indexes_used() const;
  /// The plan's shape without its figures: node types, relations, indexes,
  /// conditions and keys, pre-order. Equal while the plan only drifts in
  /// costs and row estimates; different when the planner changes its mind.
  std::string shape() const;
  /// The plan as a person reads it, one node a line, indented under its
  /// parent: "Index Scan using items_k on items  (Index Cond: (k = $1))".
  /// Without figures, like shape().
  std::string outline() const;
};

/// Parses the output of EXPLAIN (FORMAT JSON): `[{"Plan": {…}, …}]`.
expected<plan> parse_plan(std::string_view json);

/// Writes the plan tree for the dashboard: nodes with id, type, relation,
/// index, costs, rows, conditions, sort keys and children.
void write_plan(rapidjson::Writer<rapidjson::StringBuffer>& w, const plan& p);

} // namespace optischema
