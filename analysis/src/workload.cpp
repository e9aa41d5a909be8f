#include "optischema/analysis/workload.hpp"

#include <algorithm>
#include <map>

namespace optischema {

std::optional<hot_sort> parse_hot_sort(std::string_view x) {
  if (x == "total_time")
    return hot_sort::total_time;
  if (x == "mean_time")
    return hot_sort::mean_time;
  if (x == "calls")
    return hot_sort::calls;
  if (x == "rows")
    return hot_sort::rows;
  return std::nullopt;
}

std::optional<metrics_window> parse_window(std::string_view x) {
  if (x == "cumulative")
    return metrics_window::cumulative;
  if (x == "interval")
    return metrics_window::interval;
  return std::nullopt;
}

const char* to_string(hot_sort x) {
  switch (x) {
    case hot_sort::total_time: return "total_time";
    case hot_sort::mean_time: return "mean_time";
    case hot_sort::calls: return "calls";
    case hot_sort::rows: return "rows";
  }
  return "total_time";
}

const char* to_string(metrics_window x) {
  return x == metrics_window::interval ? "interval" : "cumulative";
}

const counters& pick(const statement_metrics& x, metrics_window w) {
  return w == metrics_window::interval ? x.interval : x.total;
}

double sort_key(const statement_metrics& x, hot_sort sort,
                metrics_window window) {
  auto& c = pick(x, window);
  switch (sort) {
    case hot_sort::total_time: return c.exec_time_ms;
    case hot_sort::mean_time: return c.mean_time_ms();
    case hot_sort::calls: return static_cast<double>(c.calls);
    case hot_sort::rows: return static_cast<double>(c.rows);
  }
  return c.exec_time_ms;
}

std::vector<const statement_metrics*>
rank_hot(const metrics_snapshot& snap, hot_sort sort, metrics_window window,
         size_t limit) {
  std::vector<const statement_metrics*> xs;
  xs.reserve(snap.statements.size());
  for (auto& st : snap.statements)
    if (pick(st, window).calls > 0)
      xs.push_back(&st);
  auto key = [&](const statement_metrics* x) {
    return sort_key(*x, sort, window);
  };
  auto cmp = [&](const statement_metrics* x, const statement_metrics* y) {
    auto kx = key(x);
    auto ky = key(y);
    if (kx != ky)
      return kx > ky;
    return x->fingerprint < y->fingerprint;
  };
  if (limit < xs.size()) {
    std::partial_sort(xs.begin(), xs.begin() + static_cast<ptrdiff_t>(limit),
                      xs.end(), cmp);
    xs.resize(limit);
  } else {
    std::sort(xs.begin(), xs.end(), cmp);
  }
  return xs;
}

workload_summary summarize(const metrics_snapshot& snap) {
  workload_summary s;
  s.statements = snap.statements.size();
  s.interval_ms = snap.interval_ms;
  for (auto& st : snap.statements) {
    s.total += st.total;
    s.interval += st.interval;
  }
  if (snap.interval_ms > 0) {
    auto secs = static_cast<double>(snap.interval_ms) / 1000.0;
    s.calls_per_s = static_cast<double>(s.interval.calls) / secs;
    s.time_per_s_ms = s.interval.exec_time_ms / secs;
  }
  return s;
}

namespace {

int64_t bucket_of(int64_t ts, int64_t bucket_ms) {
  return ts - ((ts % bucket_ms) + bucket_ms) % bucket_ms;
}

} // namespace

std::vector<history_point> downsample(const std::vector<history_point>& points,
                                      int64_t bucket_ms) {
  std::map<int64_t, history_point> buckets;
  for (auto& p : points) {
    auto b = bucket_of(p.ts_ms, bucket_ms);
    auto& out = buckets[b];
    out.ts_ms = b;
    out.interval_ms += p.interval_ms;
    out.delta += p.delta;
  }
  std::vector<history_point> result;
  result.reserve(buckets.size());
  for (auto& [_, p] : buckets)
    result.push_back(p);
  return result;
}

std::vector<database_point>
downsample(const std::vector<database_point>& points, int64_t bucket_ms) {
  std::map<int64_t, database_point> buckets;
  for (auto& p : points) {
    auto b = bucket_of(p.ts_ms, bucket_ms);
    auto& out = buckets[b];
    out.ts_ms = b;
    out.interval_ms += p.interval_ms;
    out.xact_commit += p.xact_commit;
    out.xact_rollback += p.xact_rollback;
    out.blks_hit += p.blks_hit;
    out.blks_read += p.blks_read;
    out.exec_time_ms += p.exec_time_ms;
    out.calls += p.calls;
    out.max_backends = std::max(out.max_backends, p.max_backends);
  }
  std::vector<database_point> result;
  result.reserve(buckets.size());
  for (auto& [_, p] : buckets)
    result.push_back(p);
  return result;
}

} // namespace optischema
