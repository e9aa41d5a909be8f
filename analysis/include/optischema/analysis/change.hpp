#pragma once

// What applying a recommendation runs on a target, checked before anything
// runs. The engine only ever executes DDL it generated itself: the stored
// DDL of a recommendation must parse (libpg_query) as exactly one CREATE
// INDEX or DROP INDEX of the recommendation's own index, or nothing runs.

#include "optischema/analysis/recommendation.hpp"
#include "optischema/util/error.hpp"

#include <string>

namespace optischema {

/// One index change on a target.
struct index_change {
  enum class action { create, drop };
  action what = action::create;
  std::string schema;
  /// The table (create) or "" when the statement does not name it (drop).
  std::string table;
  std::string index_name;
  /// The statement as the advisor generated it.
  std::string sql;
  /// CREATE/DROP INDEX CONCURRENTLY: runs outside a transaction and leaves
  /// an INVALID index behind when it fails half-way.
  bool concurrently = false;
};

/// The change that applies `r` (`undo` false) or undoes it (`undo` true):
/// `r.ddl` or `r.rollback_ddl`. Fails (ec::bad_request) for kinds that are
/// advice only (rewrites, settings) and when the text is not exactly one
/// CREATE INDEX / DROP INDEX naming `r`'s index.
expected<index_change> change_for(const recommendation& r, bool undo);

/// Reads one CREATE INDEX or DROP INDEX statement (the parts checked by
/// change_for); fails for anything else.
expected<index_change> parse_index_change(const std::string& sql);

} // namespace optischema
