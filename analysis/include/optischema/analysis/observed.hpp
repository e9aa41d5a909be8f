#pragma once

// The constants a workload really compares columns with, as pg_qualstats
// samples them at execution time (PoWA's source). pg_stat_statements shows
// `status = $2`; pg_qualstats shows that every execution asked for 'paid'.
// That is what a partial index needs, and what costing on the workload's own
// values (instead of a guess from pg_stats) rests on.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace optischema {

/// One row of pg_qualstats, summed: statement `queryid` compared
/// schema.table.column with `=` against `constvalue` this many times.
struct observed_constant {
  int64_t queryid = 0;
  std::string schema;
  std::string table;
  std::string column;
  /// As pg_qualstats prints it (at most 80 bytes, cut without notice):
  /// "'paid'::text", "5::integer", "'-3'::integer". Written by whoever ran
  /// the query: parsed by constant_value(), never pasted into SQL.
  std::string constvalue;
  int64_t occurrences = 0;
};

/// The value a pg_qualstats constant stands for: "'it''s'::text" → "it's",
/// "5::integer" → "5". Empty when it is cut short (an unterminated quote),
/// NULL, or anything but one literal with an optional cast.
std::optional<std::string> constant_value(std::string_view constvalue);

/// One value and the share of a column's observed comparisons that used it.
struct observed_value {
  std::string value;
  double share = 0;
};

/// What one statement compared each column with.
struct observed_values {
  /// "schema.table.column" → values, the most frequent first.
  std::map<std::string, std::vector<observed_value>> by_column;
  /// Comparisons seen per column (the shares' denominator).
  std::map<std::string, int64_t> seen;

  /// The few values (at most `max_values`) that make up at least `min_share`
  /// of the column's comparisons, their shares rescaled to add up to 1;
  /// empty when the workload spreads over more values than that, or when
  /// fewer than `min_seen` comparisons were sampled.
  std::vector<observed_value>
  dominant(const std::string& schema, const std::string& table,
           const std::string& column, size_t max_values = 3,
           double min_share = 0.9, int64_t min_seen = 3) const;
  /// The column's most frequent observed value, if any.
  std::optional<std::string> most_common(const std::string& schema,
                                         const std::string& table,
                                         const std::string& column) const;
  bool empty() const {
    return by_column.empty();
  }
};

/// The constants of the statement with these pg_stat_statements queryids
/// (one fingerprint may span several), summed per column and value.
observed_values values_of(const std::vector<observed_constant>& all,
                          const std::vector<int64_t>& queryids);

} // namespace optischema
