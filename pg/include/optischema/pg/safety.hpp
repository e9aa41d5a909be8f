#pragma once

// The rule for every statement the engine explains or executes, on a target
// (EXPLAIN only) or in the sandbox (EXPLAIN ANALYZE, row comparisons):
// statement texts come from requests, LLM answers and pg_stat_statements,
// which any database user writes. EXPLAIN without ANALYZE still runs code:
// the planner folds IMMUTABLE (and, for estimates, STABLE) calls with
// constant arguments, expands views, inlines SQL functions and calls the
// selectivity estimators of operators. So a statement is refused unless
// everything it can run is PostgreSQL's own, IMMUTABLE or STABLE code (or
// code the operator allowed by name).

#include "optischema/pg/session.hpp"
#include "optischema/util/error.hpp"

#include <string>
#include <vector>

namespace optischema::pg {

/// A policy from --allow-function (each "schema.name") and
/// --allow-extension values; fails (ec::invalid_configuration) with what
/// to write instead.
expected<execution_policy> make_policy(std::vector<std::string> functions,
                                       std::vector<std::string> extensions);

/// The policy of sessions that do not carry their own: the engine sets it
/// once at start from its flags.
void set_default_policy(execution_policy p);
execution_policy default_policy();

/// Checks that the engine may EXPLAIN or execute `sql` on the session's
/// database. Refused (ec::bad_request, the message says why and how to
/// allow it) when the text is not exactly one SELECT, INSERT, UPDATE or
/// DELETE; takes row locks (FOR UPDATE/SHARE) or creates a table (SELECT
/// INTO); reads a foreign table; or can run a function that is not
/// IMMUTABLE/STABLE and in pg_catalog (or allowed): called directly; behind
/// an operator (its function and its plan-time selectivity estimators);
/// behind an explicit cast; in the definition of a view it reads
/// (recursively); in a column default of the table an INSERT writes; in a
/// row-level security policy of a table it reads; with constant arguments
/// in an index expression, index predicate or CHECK constraint of a table
/// it reads (the planner folds those when it loads the table). Any overload of a name
/// that is unsafe makes the name unsafe. A few VOLATILE pg_catalog
/// functions with no effect beyond the statement (random, nextval,
/// gen_random_uuid, clock_timestamp, timeofday) are allowed. Verdicts are
/// cached per session for ten seconds (the what-if loop plans one statement
/// many times).
expected<ok> check_statement(session& s, const std::string& sql);

/// Checks that building `create_index` runs only IMMUTABLE pg_catalog
/// functions (its key expressions and predicate, directly or through
/// operators): CREATE INDEX runs them on every row as the table's owner.
/// No allow-list applies.
expected<ok> check_index_expressions(session& s,
                                     const std::string& create_index);
/// The same on a connection of its own (for apply, which connects per
/// change); anything but a CREATE INDEX passes.
expected<ok> check_index_expressions(const conninfo& target,
                                     const std::string& ddl);

} // namespace optischema::pg
