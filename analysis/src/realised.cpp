#include "optischema/analysis/realised.hpp"

#include "optischema/analysis/json.hpp"

#include <set>

namespace optischema {

realised_benefit realise(const std::vector<history_point>& before,
                         const std::vector<history_point>& after,
                         const realised_options& opts) {
  realised_benefit out;
  double time_before = 0;
  double time_after = 0;
  for (auto& p : before) {
    out.calls_before += p.delta.calls;
    time_before += p.delta.exec_time_ms;
  }
  std::set<int64_t> polls;
  for (auto& p : after) {
    out.calls_after += p.delta.calls;
    time_after += p.delta.exec_time_ms;
    if (p.delta.calls > 0)
      polls.insert(p.ts_ms);
  }
  out.polls_after = static_cast<int>(polls.size());
  if (out.calls_before > 0)
    out.mean_before_ms = time_before / static_cast<double>(out.calls_before);
  if (out.calls_after > 0)
    out.mean_after_ms = time_after / static_cast<double>(out.calls_after);
  if (out.calls_before == 0) {
    out.verdict = "no_baseline";
    return out;
  }
  if (out.polls_after < opts.min_polls || out.calls_after < opts.min_calls) {
    out.verdict = "measuring";
    return out;
  }
  out.speedup = out.mean_after_ms > 0 ? out.mean_before_ms / out.mean_after_ms
                                      : 0;
  auto ratio = out.mean_before_ms > 0 ? out.mean_after_ms / out.mean_before_ms
                                      : 1.0;
  out.verdict = ratio > opts.regression_factor ? "regression"
    : ratio < 1.0 / opts.regression_factor     ? "improved"
                                               : "unchanged";
  return out;
}

std::string to_json(const realised_benefit& x, int64_t measured_ms) {
  return json::object([&](json::writer& w) {
    json::field(w, "verdict", x.verdict);
    json::field(w, "mean_before_ms", x.mean_before_ms);
    json::field(w, "mean_after_ms", x.mean_after_ms);
    json::field(w, "speedup", x.speedup);
    json::field(w, "calls_before", x.calls_before);
    json::field(w, "calls_after", x.calls_after);
    json::field(w, "polls_after", x.polls_after);
    json::field(w, "measured", measured_ms);
  });
}

} // namespace optischema
