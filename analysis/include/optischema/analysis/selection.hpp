#pragma once

// Workload-level index selection: which candidate indexes, together, save
// the most query time for their cost. A greedy "anytime" search in the
// manner of DTA and Extend (anchors.md 2.6, 2.11): each round adds the
// candidate with the largest net gain given the indexes already chosen (so
// interactions count: a second index on the same query gains only what the
// first left), stops when the next index gains too little or the storage
// budget is spent, then drops picks that later picks made redundant.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace optischema {

struct selection_statement {
  /// Time the statement costs now, per day (ms/day): its weight.
  double weight_ms_per_day = 0;
  /// Planner cost with the existing indexes only.
  double base_cost = 0;
  /// Candidates that may change its plan (on tables it reads).
  std::vector<size_t> candidates;
};

struct selection_candidate {
  int64_t size_bytes = 0;
  /// Time its maintenance adds to writes, per day (ms/day).
  double write_ms_per_day = 0;
  /// Its key columns in order ("" when unknown): a smaller candidate with
  /// the same keys (partial, or without INCLUDE) is the same access path,
  /// and may be preferred on the time saved (prefer_smaller_gain_within);
  /// one with other keys is another path, whose estimate for one generic
  /// constant may not hold for the others.
  std::string keys;
};

/// The planner cost of statement `stmt` with the hypothetical indexes
/// `config` (candidate ids, sorted) added to the existing ones; nullopt if
/// it could not be costed.
using cost_oracle = std::function<std::optional<double>(
  size_t stmt, const std::vector<size_t>& config)>;

struct selection_options {
  /// The whole workload's time per day (ms/day), analysed or not: gains are
  /// judged against it.
  double workload_ms_per_day = 0;
  /// Stop when the next index saves less than this share of the workload.
  double min_gain_share = 0.005;
  /// A pick must make at least one statement this much cheaper (estimated
  /// cost), so tiny improvements spread thin never add up to an index.
  double min_statement_improvement = 0.2;
  std::optional<int64_t> budget_bytes;
  /// A smaller candidate that leaves the statements at most this much more
  /// expensive than the best one does is taken instead: a bigger index for a
  /// few percent more speed is not worth its storage and writes (a mild form
  /// of MCP Pro's Pareto rule, anchors.md 2.6). Compared on the remaining
  /// cost, not the time saved, which saturates near 100%.
  double prefer_smaller_within = 0.1;
  /// ... or, with the same keys, when the time it leaves costs at most this share of the
  /// statements' time before either: near 100% saved, a partial index that
  /// leaves 0.5% where a covering one leaves 0.01% is the better buy at a
  /// twentieth of the size.
  double prefer_smaller_gain_within = 0.02;
  size_t max_indexes = 25;
};

struct selection_result {
  /// Chosen candidate ids, in the order picked.
  std::vector<size_t> chosen;
  /// Estimated time each chosen index saves given the others (ms/day).
  std::vector<double> benefit_ms_per_day;
  /// Planner cost of each statement with all chosen indexes.
  std::vector<double> cost_after;
  /// For each chosen index, the statements it makes cheaper (ids).
  std::vector<std::vector<size_t>> serves;
  /// Why the search stopped.
  std::string stop_reason;
  /// Candidates left out, with the reason (id, reason).
  std::vector<std::pair<size_t, std::string>> rejected;
  size_t oracle_calls = 0;
};

selection_result select_indexes(const std::vector<selection_statement>& stmts,
                                const std::vector<selection_candidate>& cands,
                                const cost_oracle& cost,
                                const selection_options& opts);

} // namespace optischema
