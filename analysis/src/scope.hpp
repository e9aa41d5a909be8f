#pragma once

// Scopes: the FROM items a statement's column references can see, one scope
// per query block chained to the enclosing ones, as the parser's range
// tables are. The statement analyser (statement.cpp) builds them while it
// walks the tree and resolves every column reference against them. Private
// to the analysis library.

#include "optischema/analysis/catalog.hpp"
#include "optischema/analysis/parse_tree.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace optischema::statement_detail {

using parse_tree::node;

struct base_column {
  const table_info* table = nullptr;
  std::string column;
};

/// An output column of a derived table and the base column it passes
/// through unchanged, if any.
struct output_column {
  std::string name;
  std::optional<base_column> source;
};

/// One FROM item as the statement's column references see it.
struct range_entry {
  int id = 0;
  /// What qualified references use: the alias, else the relation name.
  std::string name;
  /// The schema a three-part reference may use (relations without alias).
  std::string schema;
  /// A base table whose columns are visible under their own names.
  const table_info* table = nullptr;
  /// A derived table (view, CTE, subquery, renamed columns).
  bool derived = false;
  std::vector<output_column> outputs;
  /// Columns unknown (unresolved relation, function, system catalog):
  /// references that may land here resolve to nothing, silently.
  bool opaque = false;
};

struct resolved {
  base_column col;
  /// The FROM item, to tell a join (two items) from a filter (one item).
  int entry = 0;
};

struct cte_info {
  std::string name;
  std::vector<output_column> outputs;
};

struct scope {
  const scope* parent = nullptr;
  std::vector<range_entry> entries;
  std::vector<cte_info> ctes;
  /// The block's target list, for ORDER BY / GROUP BY output names.
  const node* targets = nullptr;
};

enum class found { no, yes, maybe };

/// Where a column reference lands.
struct reference {
  std::optional<resolved> col;
  std::optional<int> entry;
};

/// Whether the FROM item `e` has a column `col` (maybe: its columns are not
/// known) and, when it has, the base column the name lands on.
std::pair<found, std::optional<resolved>> lookup(const range_entry& e,
                                                 const std::string& col);

/// The columns `e` exposes, in order: a derived table's outputs, a base
/// table's columns by attnum.
std::vector<output_column> entry_columns(const range_entry& e);

/// FROM t AS x(a, b): the first columns take the alias's names.
void rename(range_entry& e, const std::vector<std::string>& colnames);

} // namespace optischema::statement_detail
