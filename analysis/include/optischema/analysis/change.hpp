#pragma once

// What applying a recommendation runs on a target, checked before anything
// runs. The engine only ever executes DDL it generated itself: the stored
// DDL of a recommendation must parse (libpg_query) as exactly one CREATE
// INDEX or DROP INDEX of the recommendation's own index, or nothing runs.

#include "optischema/analysis/recommendation.hpp"
#include "optischema/util/error.hpp"

#include <cstdint>
#include <string>

namespace optischema {

/// Key of the PostgreSQL advisory lock held by every connection that
/// changes a target: "OptiSchm" in ASCII, so engines of any version agree.
/// --apply-lock-key changes it; every engine and `optischema apply` that may
/// change one database must use the same key.
constexpr int64_t default_apply_lock_key = 0x4F70746953636D;

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
  // -- a drop runs only on the index it is meant for --
  /// The oid the index had when the engine built it (0: not checked).
  uint32_t expect_oid = 0;
  /// Its definition (CREATE INDEX …; "": not checked), compared with
  /// same_index_definition.
  std::string expect_definition;
};

/// The change that applies `r` (`undo` false) or undoes it (`undo` true):
/// `r.ddl` or `r.rollback_ddl`. Fails (ec::bad_request) for kinds that are
/// advice only (rewrites, settings) and when the text is not exactly one
/// CREATE INDEX / DROP INDEX naming `r`'s index. A drop carries what it may
/// drop: rolling back a create_index, the index the engine built (its oid
/// and definition recorded at apply; ec::conflict when none was recorded);
/// applying a drop_index, the index as the analysis saw it.
expected<index_change> change_for(const recommendation& r, bool undo);

/// Reads one CREATE INDEX or DROP INDEX statement (the parts checked by
/// change_for); fails for anything else.
expected<index_change> parse_index_change(const std::string& sql);

/// Whether CREATE INDEX statement `ours` and `theirs` (an index's
/// definition as pg_get_indexdef prints it) define the same index: the same
/// table, method, uniqueness, keys with their operator classes, collations
/// and order, INCLUDE columns, predicate and storage parameters. Names and
/// CONCURRENTLY do not count; unqualified names are in `schema`. Compared as
/// libpg_query parse trees, so spacing, parentheses, defaults PostgreSQL
/// leaves out (ASC, NULLS LAST, btree), the pg_catalog qualification and
/// the casts it adds where `ours` has none (`'open'::text`,
/// `(v)::text`, IN as = ANY (ARRAY[…])) are not differences. False when
/// either does not parse as a CREATE INDEX.
bool same_index_definition(const std::string& ours, const std::string& theirs,
                           const std::string& schema);

/// The statement of `c` for an index named `name` instead (a CREATE INDEX
/// under a free name, the DROP INDEX of that name), checked by parsing it.
expected<std::string> with_index_name(const index_change& c,
                                      const std::string& name);

/// `r` about its index under `name` (built under a free name because its
/// own was taken): its DDL, rollback DDL, index name and title.
expected<ok> rename_index(recommendation& r, const std::string& name);

} // namespace optischema
