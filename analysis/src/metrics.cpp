#include "optischema/analysis/metrics.hpp"

#include <functional>

namespace optischema {

counters& counters::operator+=(const counters& x) {
  calls += x.calls;
  exec_time_ms += x.exec_time_ms;
  plan_time_ms += x.plan_time_ms;
  rows += x.rows;
  shared_blks_hit += x.shared_blks_hit;
  shared_blks_read += x.shared_blks_read;
  temp_blks_read += x.temp_blks_read;
  temp_blks_written += x.temp_blks_written;
  return *this;
}

counters operator-(const counters& x, const counters& y) {
  counters r;
  r.calls = x.calls - y.calls;
  r.exec_time_ms = x.exec_time_ms - y.exec_time_ms;
  r.plan_time_ms = x.plan_time_ms - y.plan_time_ms;
  r.rows = x.rows - y.rows;
  r.shared_blks_hit = x.shared_blks_hit - y.shared_blks_hit;
  r.shared_blks_read = x.shared_blks_read - y.shared_blks_read;
  r.temp_blks_read = x.temp_blks_read - y.temp_blks_read;
  r.temp_blks_written = x.temp_blks_written - y.temp_blks_written;
  return r;
}

double counters::mean_time_ms() const {
  return calls > 0 ? exec_time_ms / static_cast<double>(calls) : 0.0;
}

double counters::cache_hit_ratio() const {
  auto all = shared_blks_hit + shared_blks_read;
  return all > 0
    ? static_cast<double>(shared_blks_hit) / static_cast<double>(all)
    : 1.0;
}

bool counters::negative() const {
  // Floating sums may wobble by a few ulps; only a real drop counts.
  return calls < 0 || rows < 0 || shared_blks_hit < 0 || shared_blks_read < 0
    || temp_blks_read < 0 || temp_blks_written < 0 || exec_time_ms < -1e-6
    || plan_time_ms < -1e-6;
}

size_t pgss_key_hash::operator()(const pgss_key& x) const noexcept {
  size_t h = std::hash<int64_t>{}(x.queryid);
  h ^= std::hash<int64_t>{}(x.userid) + 0x9e3779b97f4a7c15ULL + (h << 6)
    + (h >> 2);
  h ^= std::hash<int64_t>{}(x.dbid) + 0x9e3779b97f4a7c15ULL + (h << 6)
    + (h >> 2);
  return h ^ static_cast<size_t>(x.toplevel);
}

} // namespace optischema
