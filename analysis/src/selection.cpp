#include "optischema/analysis/selection.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace optischema {

namespace {

/// Memoised what-if costs: the same (statement, configuration) is planned
/// once, however many rounds ask for it.
class cost_cache {
public:
  cost_cache(const cost_oracle& oracle, size_t& calls)
    : oracle_(oracle), calls_(calls) {
    // nop
  }

  std::optional<double> get(size_t stmt, std::vector<size_t> config) {
    std::sort(config.begin(), config.end());
    auto key = std::make_pair(stmt, config);
    if (auto i = memo_.find(key); i != memo_.end())
      return i->second;
    ++calls_;
    auto cost = oracle_(stmt, config);
    memo_.emplace(std::move(key), cost);
    return cost;
  }

private:
  const cost_oracle& oracle_;
  size_t& calls_;
  std::map<std::pair<size_t, std::vector<size_t>>, std::optional<double>> memo_;
};

/// The chosen candidates that matter to statement `q`, plus `extra`.
std::vector<size_t> config_for(const selection_statement& q,
                               const std::set<size_t>& chosen,
                               std::optional<size_t> extra = std::nullopt,
                               std::optional<size_t> without = std::nullopt) {
  std::vector<size_t> out;
  for (auto c : q.candidates)
    if ((chosen.count(c) != 0 || (extra && *extra == c))
        && !(without && *without == c))
      out.push_back(c);
  return out;
}

} // namespace

selection_result select_indexes(const std::vector<selection_statement>& stmts,
                                const std::vector<selection_candidate>& cands,
                                const cost_oracle& oracle,
                                const selection_options& opts) {
  selection_result r;
  cost_cache cache{oracle, r.oracle_calls};
  std::vector<std::vector<size_t>> relevant(cands.size());
  for (size_t q = 0; q < stmts.size(); ++q)
    for (auto c : stmts[q].candidates)
      if (c < cands.size())
        relevant[c].push_back(q);
  std::vector<double> cur(stmts.size());
  for (size_t q = 0; q < stmts.size(); ++q)
    cur[q] = stmts[q].base_cost;
  auto threshold = opts.min_gain_share * opts.workload_ms_per_day;
  std::set<size_t> chosen;
  int64_t used_bytes = 0;
  // The time a statement saves when its cost goes from `from` to `to`:
  // time is taken to follow the planner's cost.
  auto saved = [&](size_t q, double from, double to) {
    auto base = stmts[q].base_cost;
    return base > 0 && to < from
      ? stmts[q].weight_ms_per_day * (from - to) / base
      : 0.0;
  };
  std::map<size_t, std::string> why_not;
  while (chosen.size() < opts.max_indexes) {
    std::optional<size_t> best;
    double best_net = 0;
    std::vector<std::pair<size_t, double>> eligible;
    for (size_t c = 0; c < cands.size(); ++c) {
      if (chosen.count(c) != 0)
        continue;
      if (opts.budget_bytes
          && used_bytes + cands[c].size_bytes > *opts.budget_bytes) {
        why_not[c] = "does not fit the storage budget";
        continue;
      }
      double gain = 0;
      double best_improvement = 0;
      for (auto q : relevant[c]) {
        auto cost = cache.get(q, config_for(stmts[q], chosen, c));
        if (!cost)
          continue;
        gain += saved(q, cur[q], *cost);
        if (cur[q] > 0)
          best_improvement = std::max(best_improvement,
                                      (cur[q] - *cost) / cur[q]);
      }
      auto net = gain - cands[c].write_ms_per_day;
      // What a chosen twin (same keys) left of its statements' time is a
      // residue: the bigger twin the smaller pick was preferred to
      // (prefer_smaller_gain_within) must not come back for it.
      double original = 0;
      for (auto q : relevant[c])
        original += stmts[q].weight_ms_per_day;
      auto twin_chosen = !cands[c].keys.empty()
        && std::any_of(chosen.begin(), chosen.end(), [&](size_t x) {
             return cands[x].keys == cands[c].keys;
           });
      if (twin_chosen && gain < opts.prefer_smaller_gain_within * original) {
        why_not[c] = fmt::format(
          "adds {:.1f} ms/day, under {:.0f}% of the time of the statements "
          "it serves, which the chosen indexes already serve",
          gain, 100 * opts.prefer_smaller_gain_within);
        continue;
      }
      if (best_improvement < opts.min_statement_improvement) {
        why_not[c] = fmt::format("makes no statement at least {:.0f}% cheaper "
                                 "(best {:.0f}%)",
                                 100 * opts.min_statement_improvement,
                                 100 * best_improvement);
        continue;
      }
      if (net < threshold) {
        why_not[c] = fmt::format(
          "saves {:.1f} ms/day net of write cost, less than "
          "{:.1f}% of the workload's {:.0f} ms/day",
          net, 100 * opts.min_gain_share, opts.workload_ms_per_day);
        continue;
      }
      eligible.emplace_back(c, net);
      auto better = !best || net > best_net
        || (net == best_net && cands[c].size_bytes < cands[*best].size_bytes);
      if (better) {
        best = c;
        best_net = net;
      }
    }
    if (!best) {
      r.stop_reason = "no remaining candidate saves enough";
      break;
    }
    // The weighted cost statements keep with `c` added, over `qs`.
    auto remaining = [&](size_t c, const std::set<size_t>& qs) {
      double sum = 0;
      for (auto q : qs) {
        auto& serves = relevant[c];
        auto cost = cur[q];
        if (std::find(serves.begin(), serves.end(), q) != serves.end())
          if (auto x = cache.get(q, config_for(stmts[q], chosen, c)))
            cost = std::min(cost, *x);
        if (stmts[q].base_cost > 0)
          sum += stmts[q].weight_ms_per_day * cost / stmts[q].base_cost;
      }
      return sum;
    };
    auto first = *best;
    for (auto [c, net] : eligible) {
      if (cands[c].size_bytes >= cands[*best].size_bytes)
        continue;
      std::set<size_t> qs{relevant[first].begin(), relevant[first].end()};
      qs.insert(relevant[c].begin(), relevant[c].end());
      double before = 0;
      for (auto q : qs)
        if (stmts[q].base_cost > 0)
          before += stmts[q].weight_ms_per_day * cur[q] / stmts[q].base_cost;
      auto left = remaining(c, qs);
      auto left_first = remaining(first, qs);
      auto same_keys
        = !cands[c].keys.empty() && cands[c].keys == cands[first].keys;
      if (left <= (1.0 + opts.prefer_smaller_within) * left_first
          || (same_keys
              && left - left_first <= opts.prefer_smaller_gain_within * before))
        best = c;
    }
    chosen.insert(*best);
    used_bytes += cands[*best].size_bytes;
    why_not.erase(*best);
    for (auto q : relevant[*best])
      if (auto cost = cache.get(q, config_for(stmts[q], chosen)))
        cur[q] = std::min(cur[q], *cost);
    r.chosen.push_back(*best);
  }
  if (r.stop_reason.empty())
    r.stop_reason = "reached the limit of indexes";
  // Later picks can make earlier ones redundant: keep only indexes whose
  // removal would cost more than the threshold.
  for (auto it = r.chosen.rbegin(); it != r.chosen.rend(); ++it) {
    auto c = *it;
    double loss = 0;
    for (auto q : relevant[c])
      if (auto cost = cache.get(q,
                                config_for(stmts[q], chosen, std::nullopt, c)))
        loss += saved(q, *cost, cur[q]);
    if (loss - cands[c].write_ms_per_day < threshold) {
      chosen.erase(c);
      why_not[c] = "made redundant by the other chosen indexes";
      for (auto q : relevant[c])
        if (auto cost = cache.get(q, config_for(stmts[q], chosen)))
          cur[q] = *cost;
    }
  }
  // One improving pass of swaps: an index picked early for what several
  // statements shared (a lone leading column) may, once later picks took
  // the others, be serving one statement that a smaller candidate serves
  // better. Replace it when the other saves more net of its write cost
  // and takes no more space.
  for (auto c : r.chosen) {
    if (chosen.count(c) == 0)
      continue;
    auto without = chosen;
    without.erase(c);
    auto net_of = [&](size_t x) {
      double net = -cands[x].write_ms_per_day;
      for (auto q : relevant[x]) {
        auto from = cache.get(q, config_for(stmts[q], without));
        auto to = cache.get(q, config_for(stmts[q], without, x));
        if (from && to)
          net += saved(q, *from, *to);
      }
      return net;
    };
    auto kept_net = net_of(c);
    std::optional<size_t> swap;
    auto swap_net = kept_net;
    std::set<size_t> shared{relevant[c].begin(), relevant[c].end()};
    for (size_t d = 0; d < cands.size(); ++d) {
      if (chosen.count(d) != 0 || cands[d].size_bytes > cands[c].size_bytes
          || std::none_of(relevant[d].begin(), relevant[d].end(),
                          [&](size_t q) { return shared.count(q) != 0; }))
        continue;
      if (auto net = net_of(d); net > swap_net + 1e-9) {
        swap = d;
        swap_net = net;
      }
    }
    if (!swap)
      continue;
    chosen.erase(c);
    chosen.insert(*swap);
    std::replace(r.chosen.begin(), r.chosen.end(), c, *swap);
    why_not.erase(*swap);
    why_not[c] = fmt::format(
      "replaced by a candidate no bigger that saves more ({:.1f} against "
      "{:.1f} ms/day net of write cost)",
      swap_net, kept_net);
    for (auto q : relevant[c])
      if (auto cost = cache.get(q, config_for(stmts[q], chosen)))
        cur[q] = *cost;
    for (auto q : relevant[*swap])
      if (auto cost = cache.get(q, config_for(stmts[q], chosen)))
        cur[q] = *cost;
  }
  std::vector<size_t> kept;
  for (auto c : r.chosen)
    if (chosen.count(c) != 0)
      kept.push_back(c);
  r.chosen = kept;
  // Each index's benefit is what removing it alone would lose.
  for (auto c : r.chosen) {
    double loss = 0;
    std::vector<size_t> serves;
    for (auto q : relevant[c]) {
      auto cost = cache.get(q, config_for(stmts[q], chosen, std::nullopt, c));
      if (!cost)
        continue;
      auto s = saved(q, *cost, cur[q]);
      loss += s;
      if (*cost > cur[q] * 1.01)
        serves.push_back(q);
    }
    r.benefit_ms_per_day.push_back(loss);
    r.serves.push_back(std::move(serves));
  }
  r.cost_after = cur;
  for (auto& [c, reason] : why_not)
    r.rejected.emplace_back(c, reason);
  return r;
}

} // namespace optischema
