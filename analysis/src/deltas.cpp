#include "optischema/analysis/deltas.hpp"

#include "optischema/analysis/fingerprint.hpp"

#include <algorithm>
#include <unordered_map>

namespace optischema {

delta_report compute_deltas(const raw_sample* prev, const raw_sample& cur) {
  delta_report r;
  r.deltas.resize(cur.rows.size());
  if (prev == nullptr) {
    r.baseline = true;
    return r;
  }
  r.interval_ms = std::max<int64_t>(0, cur.ts_ms - prev->ts_ms);
  std::unordered_map<pgss_key, const counters*, pgss_key_hash> before;
  before.reserve(prev->rows.size());
  for (auto& row : prev->rows)
    before.emplace(row.key, &row.total);
  // A full reset: pg_stat_statements_info says so (PG 14+), or its dealloc
  // counter went backwards (also zeroed by a reset).
  if (cur.info.available && prev->info.available) {
    r.reset_detected = cur.info.stats_reset_ms > prev->info.stats_reset_ms
      || cur.info.dealloc < prev->info.dealloc;
    if (!r.reset_detected)
      r.evicted = cur.info.dealloc - prev->info.dealloc;
  } else {
    // Without the info view: most surviving entries went backwards, or none
    // survived while there were many.
    size_t common = 0;
    size_t backwards = 0;
    for (auto& row : cur.rows) {
      if (auto i = before.find(row.key); i != before.end()) {
        ++common;
        if (row.total.calls < i->second->calls)
          ++backwards;
      }
    }
    r.reset_detected = (common > 0 && backwards * 2 > common)
      || (common == 0 && prev->rows.size() >= 10
          && cur.rows.size() < prev->rows.size() / 2);
  }
  for (size_t idx = 0; idx < cur.rows.size(); ++idx) {
    auto& row = cur.rows[idx];
    if (r.reset_detected) {
      // Everything counted since the reset happened within this interval.
      r.deltas[idx] = row.total;
      continue;
    }
    auto i = before.find(row.key);
    if (i == before.end()) {
      ++r.new_entries;
      r.deltas[idx] = row.total;
      continue;
    }
    auto d = row.total - *i->second;
    if (d.negative()) {
      // Evicted and re-created between polls: its totals are all we know.
      ++r.restarted_entries;
      d = row.total;
    }
    r.deltas[idx] = d;
  }
  return r;
}

database_metrics compute_database_metrics(const raw_sample* prev,
                                          const raw_sample& cur) {
  database_metrics m;
  auto& db = cur.db;
  m.numbackends = db.numbackends;
  m.max_connections = db.max_connections;
  m.size_bytes = db.size_bytes;
  bool have_prev = prev != nullptr
    && prev->db.stats_reset_ms == db.stats_reset_ms
    && db.xact_commit >= prev->db.xact_commit;
  auto diff = [&](int64_t now, int64_t before) {
    return have_prev ? std::max<int64_t>(0, now - before) : now;
  };
  m.xact_commit = diff(db.xact_commit, have_prev ? prev->db.xact_commit : 0);
  m.xact_rollback = diff(db.xact_rollback,
                         have_prev ? prev->db.xact_rollback : 0);
  m.blks_hit = diff(db.blks_hit, have_prev ? prev->db.blks_hit : 0);
  m.blks_read = diff(db.blks_read, have_prev ? prev->db.blks_read : 0);
  m.temp_bytes = diff(db.temp_bytes, have_prev ? prev->db.temp_bytes : 0);
  m.deadlocks = diff(db.deadlocks, have_prev ? prev->db.deadlocks : 0);
  auto all = m.blks_hit + m.blks_read;
  m.cache_hit_ratio = all > 0
    ? static_cast<double>(m.blks_hit) / static_cast<double>(all)
    : 1.0;
  if (have_prev && cur.ts_ms > prev->ts_ms) {
    auto secs = static_cast<double>(cur.ts_ms - prev->ts_ms) / 1000.0;
    m.commits_per_s = static_cast<double>(m.xact_commit) / secs;
    m.rollbacks_per_s = static_cast<double>(m.xact_rollback) / secs;
  }
  return m;
}

int64_t scrub_texts(raw_sample& s, const fingerprint_lookup& lookup) {
  auto before = s.rows.size();
  std::erase_if(s.rows, [&](pgss_row& row) {
    auto& fp = lookup(row);
    if (fp.secret)
      return true;
    if (!row.query.empty())
      row.query = fp.normalized;
    return false;
  });
  return static_cast<int64_t>(before - s.rows.size());
}

metrics_snapshot
build_snapshot(const std::string& target, const raw_sample& cur,
               const delta_report& deltas, const database_metrics& db,
               const fingerprint_lookup& lookup) {
  metrics_snapshot s;
  s.target = target;
  s.ts_ms = cur.ts_ms;
  s.interval_ms = deltas.interval_ms;
  s.baseline = deltas.baseline;
  s.reset_detected = deltas.reset_detected;
  s.evicted = deltas.evicted;
  s.hidden_rows = cur.hidden_rows;
  s.db = db;
  // Fingerprints live in the lookup's storage for the whole call, so views
  // of them can key the index without copying.
  std::unordered_map<std::string_view, size_t> index;
  index.reserve(cur.rows.size());
  s.statements.reserve(cur.rows.size());
  for (size_t idx = 0; idx < cur.rows.size(); ++idx) {
    auto& row = cur.rows[idx];
    auto& fp = lookup(row);
    auto [i, added] = index.emplace(fp.fingerprint, s.statements.size());
    if (added) {
      auto& st = s.statements.emplace_back();
      st.fingerprint = fp.fingerprint;
      st.query = fp.normalized;
      st.parse_error = fp.parse_error;
    }
    auto& st = s.statements[i->second];
    st.queryids.push_back(row.key.queryid);
    st.total += row.total;
    if (idx < deltas.deltas.size())
      st.interval += deltas.deltas[idx];
  }
  // One queryid can appear for several roles: list it once. (Sorting at the
  // end keeps this linear where a search per row would be quadratic for a
  // fingerprint with thousands of IN-list variants.)
  for (auto& st : s.statements) {
    std::sort(st.queryids.begin(), st.queryids.end());
    st.queryids.erase(std::unique(st.queryids.begin(), st.queryids.end()),
                      st.queryids.end());
  }
  std::sort(s.statements.begin(), s.statements.end(),
            [](const statement_metrics& x, const statement_metrics& y) {
              if (x.total.exec_time_ms != y.total.exec_time_ms)
                return x.total.exec_time_ms > y.total.exec_time_ms;
              return x.fingerprint < y.fingerprint;
            });
  return s;
}

database_point to_database_point(const metrics_snapshot& x) {
  database_point p;
  p.ts_ms = x.ts_ms;
  p.interval_ms = x.interval_ms;
  p.xact_commit = x.db.xact_commit;
  p.xact_rollback = x.db.xact_rollback;
  p.blks_hit = x.db.blks_hit;
  p.blks_read = x.db.blks_read;
  p.max_backends = x.db.numbackends;
  for (auto& st : x.statements) {
    p.exec_time_ms += st.interval.exec_time_ms;
    p.calls += st.interval.calls;
  }
  return p;
}

} // namespace optischema
