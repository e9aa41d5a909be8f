#pragma once

#include "optischema/analysis/metrics.hpp"
#include "optischema/pg/session.hpp"
#include "optischema/util/error.hpp"

#include <cstdint>
#include <functional>

namespace optischema::pg {

/// Reads pg_stat_statements (entries of the connected database only),
/// pg_stat_statements_info where the server has it, and pg_stat_database, in
/// the column names of PostgreSQL 13 to 17. Connects if needed; on a lost
/// connection the session is dropped so the next call reconnects.
///
/// Failures say what to do: a missing extension names the CREATE EXTENSION
/// to run, a missing preload names the postgresql.conf line, a missing
/// privilege names the GRANT.
///
/// With `known`, rows come without their text unless `known` says their
/// queryid is new: the caller keeps what it learnt of each queryid's text,
/// and a poll of a steady workload does not move every text again. The
/// first read of a target then costs one query more.
using known_text = std::function<bool(int64_t queryid)>;
expected<raw_sample> read_sample(session& s, const known_text& known = {});

} // namespace optischema::pg
