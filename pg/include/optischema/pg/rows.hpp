#pragma once

// Reading rows of SELECT statements from a target, for checks that compare
// what statements return (rewrite verification). Never writes: a read-only
// transaction with statement and lock timeouts, always rolled back.

#include "optischema/pg/explain.hpp"
#include "optischema/pg/session.hpp"
#include "optischema/util/error.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace optischema::pg {

/// The rows of one query as text (PostgreSQL's output format); std::nullopt
/// is SQL NULL.
struct result_set {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
  /// The query had more rows than the limit; `rows` holds the first ones.
  bool more = false;
};

/// One query to run, and the words that name it in errors ("the rewrite").
struct row_query {
  std::string name;
  std::string sql;
};

struct fetch_options {
  /// Bounds each FETCH (the execution of each query).
  std::chrono::milliseconds statement_timeout{5000};
  std::chrono::milliseconds lock_timeout{1000};
  /// Rows kept per query; one more is fetched to tell whether more exist.
  int64_t limit = 10'000;
};

/// Runs each query through a cursor (DECLARE … CURSOR, FETCH limit + 1), all
/// in one REPEATABLE READ READ ONLY transaction so that they see the same
/// snapshot, always rolled back. Each text must be one statement (it is sent
/// with the extended protocol, which refuses several). The failure names the
/// query that failed; a timeout is ec::timeout. The session stays usable
/// after a failure unless the connection itself broke.
expected<std::vector<result_set>> fetch_rows(session& s,
                                             const std::vector<row_query>& qs,
                                             const fetch_options& opts = {});

/// One query (see above).
expected<result_set> fetch_rows(session& s, const std::string& sql,
                                const fetch_options& opts = {});

/// The types PostgreSQL infers for the $n parameters of `sql` (index n - 1),
/// as format_type names ("integer", "timestamp with time zone", "text[]"):
/// PREPARE inside a read-only rolled-back transaction, read from
/// pg_prepared_statements, then DEALLOCATE (prepared statements outlive
/// transactions). Fails when PostgreSQL cannot prepare the text.
expected<std::vector<std::string>>
parameter_types(session& s, const std::string& sql,
                const explain_options& opts = {});

} // namespace optischema::pg
