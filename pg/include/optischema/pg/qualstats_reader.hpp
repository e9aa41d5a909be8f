#pragma once

#include "optischema/analysis/observed.hpp"
#include "optischema/pg/session.hpp"
#include "optischema/util/error.hpp"

#include <vector>

namespace optischema::pg {

/// Reads what pg_qualstats sampled in the connected database: for each
/// statement (queryid), the constants it compared a column with using `=`,
/// summed per value. Empty when pg_qualstats is not installed there (it is
/// optional: the advisor then guesses values from pg_stats). Read-only; the
/// pg_qualstats view is granted to PUBLIC. At most the 20,000 most frequent
/// rows: any database user's queries fill it.
expected<std::vector<observed_constant>> read_observed_constants(session& s);

} // namespace optischema::pg
