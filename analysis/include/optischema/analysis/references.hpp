#pragma once

// What a statement names that PostgreSQL may run while planning or
// executing it: functions, operators, relations (views are expanded and
// constant-folded by the planner), explicit casts, and what makes it more
// than a read (row locks, SELECT INTO). Pure: the names as written, read off
// libpg_query's parse tree; pg/safety.cpp resolves them in a target's
// catalog and decides whether the engine may explain or execute the text.

#include "optischema/util/error.hpp"

#include <compare>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace optischema {

/// A name as written: `schema` is empty when unqualified (PostgreSQL then
/// searches the search_path, pg_catalog first).
struct qualified_name {
  std::string schema;
  std::string name;

  /// "schema.name" or "name".
  std::string text() const {
    return schema.empty() ? name : schema + "." + name;
  }
  auto operator<=>(const qualified_name&) const = default;
};

struct statement_references {
  /// The parse node type of the statement: "SelectStmt", "InsertStmt", …
  std::string type;
  /// Function calls (aggregates and window functions included).
  std::set<qualified_name> functions;
  /// Operators, also the implicit ones: `=` of IN and NULLIF, `>=`/`<=` of
  /// BETWEEN, `~~` of LIKE.
  std::set<qualified_name> operators;
  /// Every relation named (tables, views, foreign tables; CTE names too,
  /// which resolve to nothing or, conservatively, to a relation).
  std::set<qualified_name> relations;
  /// Target types of explicit casts (a cast can run a function).
  std::set<qualified_name> casts;
  /// The table an INSERT writes: its column defaults run.
  std::optional<qualified_name> insert_target;
  /// Row locks, e.g. "FOR UPDATE", "FOR SHARE".
  std::vector<std::string> locks;
  /// SELECT … INTO creates a table.
  bool select_into = false;
};

/// The references of exactly one statement; fails when the text does not
/// parse or holds more or fewer than one.
expected<statement_references> collect_references(const std::string& sql);

/// The references of one expression as pg_get_expr prints it (a column
/// default, a row-level security policy). With `constant_only`, only the
/// calls and operators whose arguments name no column: what the planner
/// folds when it loads a table's index expressions, index predicates and
/// CHECK constraints (an index on f(col) does not run f while planning).
expected<statement_references>
expression_references(const std::string& expression,
                      bool constant_only = false);

/// The references of the key expressions and the predicate of one CREATE
/// INDEX statement (not of its table): what building the index runs for
/// every row.
expected<statement_references>
index_expression_references(const std::string& create_index);

} // namespace optischema
