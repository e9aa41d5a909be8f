#pragma once

#include "optischema/analysis/catalog.hpp"
#include "optischema/pg/session.hpp"
#include "optischema/util/error.hpp"

namespace optischema::pg {

/// Reads the catalog model of the connected database: user tables, views,
/// partitions, their columns with pg_stats, indexes of every access method
/// with usage counters, foreign keys, work_mem, the search_path and the
/// extensions the advisor cares about (hypopg, pg_trgm). Read-only; needs
/// pg_monitor (pg_stats rows also need SELECT on the table's columns: without
/// them columns simply have no statistics).
expected<catalog> read_catalog(session& s);

} // namespace optischema::pg
