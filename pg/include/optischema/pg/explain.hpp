#pragma once

#include "optischema/pg/session.hpp"
#include "optischema/util/error.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace optischema::pg {

/// How plans are read from a target.
struct explain_options {
  std::chrono::milliseconds statement_timeout{5000};
  std::chrono::milliseconds lock_timeout{1000};
};

/// EXPLAIN (FORMAT JSON) of one statement, never ANALYZE: inside a
/// read-only transaction with statement and lock timeouts, always rolled
/// back. A statement with $n parameters gets its generic plan: EXPLAIN
/// (GENERIC_PLAN) on PostgreSQL 16+, else PREPARE with
/// plan_cache_mode = force_generic_plan and EXECUTE with NULLs (the technique
/// of Dexter and index_advisor). The text must be one SELECT, INSERT, UPDATE
/// or DELETE; the caller checks that with libpg_query first.
expected<std::string> explain_json(session& s, const std::string& sql,
                                   const explain_options& opts = {});

/// EXPLAIN (FORMAT JSON) of `sql` with its $1…$n bound to `values` (text,
/// typed by the server from context) through the extended protocol: a
/// custom plan for those values, which never appear in a statement's text
/// (pg_stat_statements keeps the texts of EXPLAIN and PREPARE). Same
/// safety as explain_json.
expected<std::string> explain_json_bound(session& s, const std::string& sql,
                                         const std::vector<std::string>& values,
                                         const explain_options& opts = {});

/// Hypothetical indexes (hypopg) in the session: they exist only in this
/// backend's memory and only for the planner.
struct hypothetical_index {
  uint32_t oid = 0;
  /// The name plans show, e.g. "<13556>btree_t_b".
  std::string name;
};

/// Creates a hypothetical index from CREATE INDEX text.
expected<hypothetical_index> hypo_create(session& s, const std::string& ddl);
/// Drops one hypothetical index.
expected<ok> hypo_drop(session& s, uint32_t oid);
/// Drops every hypothetical index of the session.
expected<ok> hypo_reset(session& s);
/// hypopg's size estimate of a hypothetical index, in bytes.
expected<int64_t> hypo_size(session& s, uint32_t oid);

} // namespace optischema::pg
