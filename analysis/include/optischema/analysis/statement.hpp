#pragma once

// What a statement does to which columns, read from libpg_query's parse tree
// (never from regular expressions over SQL text): the input of index
// candidate generation and of the parse-tree findings.

#include "optischema/analysis/catalog.hpp"
#include "optischema/analysis/sql_quote.hpp"
#include "optischema/util/error.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace optischema {

/// How a statement uses a column (or an expression over one column).
enum class use_kind : uint8_t {
  /// col = x, col IN (…), col = ANY(…), col IS NULL: btree (or hash).
  equality,
  /// <, <=, >, >=, BETWEEN, LIKE 'abc%' (literal prefix): btree.
  range,
  /// ORDER BY (see `descending`).
  sort,
  /// GROUP BY, DISTINCT.
  group,
  /// Equality with a column of another table (JOIN … ON, or WHERE a.x = b.y).
  join,
  /// LIKE/ILIKE whose pattern starts with a wildcard: btree cannot serve it,
  /// trigram GIN/GiST can (pg_trgm).
  pattern,
  /// jsonb/array containment and key existence (@>, <@, ?, ?|, ?&, &&): GIN.
  containment,
  /// Only read (select list, RETURNING, other clauses): INCLUDE material.
  projection,
  /// ORDER BY col <-> x (nearest first, `op` the distance operator): only a
  /// GiST index returns rows in distance order (pg_trgm's for text).
  distance,
};

const char* to_string(use_kind x);

/// One use of one column of one base table.
struct column_use {
  std::string schema;
  std::string table;
  /// The column; empty when the use is on `expression` only.
  std::string column;
  /// An immutable-looking expression over `column` as it would appear in an
  /// expression index, column names unqualified: "lower(last_name)",
  /// "date_trunc('day'::text, created_at)". Empty for plain columns.
  std::string expression;
  use_kind kind = use_kind::projection;
  /// The operator as PostgreSQL names it: "=", "<", "~~", "~~*", "@>", "?"…
  std::string op;
  /// ORDER BY … DESC.
  bool descending = false;
  /// Predicates AND-ed together share a group id; each arm of an OR opens
  /// its own group (and sets `in_or`).
  int group = 0;
  bool in_or = false;
  /// The other side is a literal: its text as written ("'open'", "true",
  /// "42"); empty for parameters ($n), columns and expressions. Literals in
  /// pg_stat_statements texts are already $n, so this is mostly set for
  /// ad-hoc statements and constant-free boolean predicates.
  std::string literal;
  friend bool operator==(const column_use&, const column_use&) = default;
};

/// A base table the statement reads or writes.
struct table_ref {
  std::string schema;
  std::string table;
  std::string alias;
  /// Reached through a view or CTE of this name (empty when direct).
  std::string via;
};

/// What libpg_query's parse tree says about one statement.
struct statement_analysis {
  enum class kind { select, insert, update, delete_, utility, other };
  kind what = kind::other;
  std::vector<table_ref> tables;
  std::vector<column_use> uses;
  /// The table an INSERT, UPDATE or DELETE writes ("schema.table").
  std::string written;
  /// Columns an UPDATE sets, per table ("schema.table.column"): indexes on
  /// them cost HOT updates.
  std::vector<std::string> updated_columns;
  bool has_limit = false;
  /// Relations named in the statement but not found in the catalog.
  std::vector<std::string> unresolved;
  /// Patterns the findings report, each "kind: detail", e.g.
  /// "non_sargable: lower(last_name) on clinic.patients",
  /// "or_across_columns: a, b of public.t",
  /// "implicit_cast: id::text on public.t",
  /// "leading_wildcard: title ~~* '%dino%' on public.film".
  std::vector<std::string> notes;
};

/// Parses `sql` (one statement; $n parameters allowed) and resolves its
/// relations against `cat`: schema-qualified and quoted names, aliases,
/// views (through their definitions), non-materialised CTEs, subqueries,
/// partitions (uses land on the partitioned parent). Fails with
/// ec::parse_error for text libpg_query rejects.
expected<statement_analysis> analyze_statement(std::string_view sql,
                                               const catalog& cat);

} // namespace optischema
