#include "optischema/analysis/json.hpp"

#include <fmt/format.h>

namespace optischema::json {

void write_fields(writer& w, const counters& x) {
  key(w, "calls");
  w.Int64(x.calls);
  key(w, "total_time_ms");
  w.Double(x.exec_time_ms);
  key(w, "mean_time_ms");
  w.Double(x.mean_time_ms());
  key(w, "plan_time_ms");
  w.Double(x.plan_time_ms);
  key(w, "rows");
  w.Int64(x.rows);
  key(w, "shared_blks_hit");
  w.Int64(x.shared_blks_hit);
  key(w, "shared_blks_read");
  w.Int64(x.shared_blks_read);
  key(w, "temp_blks_read");
  w.Int64(x.temp_blks_read);
  key(w, "temp_blks_written");
  w.Int64(x.temp_blks_written);
  key(w, "cache_hit_ratio");
  w.Double(x.cache_hit_ratio());
}

void write(writer& w, const statement_metrics& x, metrics_window window,
           double workload_time_ms) {
  auto& c = pick(x, window);
  w.StartObject();
  key(w, "fingerprint");
  str(w, x.fingerprint);
  // queryids are signed 64-bit: strings, or JavaScript would round them.
  key(w, "queryids");
  w.StartArray();
  for (auto id : x.queryids)
    str(w, std::to_string(id));
  w.EndArray();
  key(w, "query");
  str(w, x.query);
  key(w, "parse_error");
  w.Bool(x.parse_error);
  write_fields(w, c);
  key(w, "share_of_total_time");
  w.Double(workload_time_ms > 0 ? c.exec_time_ms / workload_time_ms : 0.0);
  key(w, window == metrics_window::interval ? "cumulative" : "interval");
  w.StartObject();
  write_fields(w, window == metrics_window::interval ? x.total : x.interval);
  w.EndObject();
  w.EndObject();
}

void write(writer& w, const database_metrics& x) {
  w.StartObject();
  key(w, "connections");
  w.Int64(x.numbackends);
  key(w, "max_connections");
  w.Int64(x.max_connections);
  key(w, "size_bytes");
  w.Int64(x.size_bytes);
  key(w, "cache_hit_ratio");
  w.Double(x.cache_hit_ratio);
  key(w, "commits_per_s");
  w.Double(x.commits_per_s);
  key(w, "rollbacks_per_s");
  w.Double(x.rollbacks_per_s);
  key(w, "xact_commit");
  w.Int64(x.xact_commit);
  key(w, "xact_rollback");
  w.Int64(x.xact_rollback);
  key(w, "blks_hit");
  w.Int64(x.blks_hit);
  key(w, "blks_read");
  w.Int64(x.blks_read);
  key(w, "temp_bytes");
  w.Int64(x.temp_bytes);
  key(w, "deadlocks");
  w.Int64(x.deadlocks);
  w.EndObject();
}

void write(writer& w, const workload_summary& x) {
  w.StartObject();
  key(w, "statements");
  w.Uint64(x.statements);
  key(w, "cumulative");
  w.StartObject();
  write_fields(w, x.total);
  w.EndObject();
  key(w, "interval");
  w.StartObject();
  write_fields(w, x.interval);
  key(w, "interval_ms");
  w.Int64(x.interval_ms);
  key(w, "calls_per_s");
  w.Double(x.calls_per_s);
  key(w, "time_per_s_ms");
  w.Double(x.time_per_s_ms);
  w.EndObject();
  w.EndObject();
}

void write(writer& w, const history_point& x) {
  w.StartObject();
  key(w, "ts");
  w.Int64(x.ts_ms);
  key(w, "interval_ms");
  w.Int64(x.interval_ms);
  write_fields(w, x.delta);
  w.EndObject();
}

void write(writer& w, const database_point& x) {
  w.StartObject();
  key(w, "ts");
  w.Int64(x.ts_ms);
  key(w, "interval_ms");
  w.Int64(x.interval_ms);
  key(w, "calls");
  w.Int64(x.calls);
  key(w, "total_time_ms");
  w.Double(x.exec_time_ms);
  key(w, "xact_commit");
  w.Int64(x.xact_commit);
  key(w, "xact_rollback");
  w.Int64(x.xact_rollback);
  key(w, "blks_hit");
  w.Int64(x.blks_hit);
  key(w, "blks_read");
  w.Int64(x.blks_read);
  auto all = x.blks_hit + x.blks_read;
  key(w, "cache_hit_ratio");
  w.Double(all > 0 ? static_cast<double>(x.blks_hit) / static_cast<double>(all)
                   : 1.0);
  key(w, "max_connections_used");
  w.Int64(x.max_backends);
  w.EndObject();
}

std::string metrics_payload(const metrics_snapshot& x, size_t top_n) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  auto summary = summarize(x);
  w.StartObject();
  key(w, "ts");
  w.Int64(x.ts_ms);
  key(w, "interval_ms");
  w.Int64(x.interval_ms);
  key(w, "baseline");
  w.Bool(x.baseline);
  key(w, "reset_detected");
  w.Bool(x.reset_detected);
  key(w, "evicted");
  w.Int64(x.evicted);
  key(w, "hidden_rows");
  w.Int64(x.hidden_rows);
  key(w, "summary");
  write(w, summary);
  key(w, "database");
  write(w, x.db);
  key(w, "statements");
  w.StartArray();
  for (auto* st :
       rank_hot(x, hot_sort::total_time, metrics_window::interval, top_n))
    write(w, *st, metrics_window::interval, summary.interval.exec_time_ms);
  w.EndArray();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

void write(writer& w, const failure& x) {
  w.StartObject();
  key(w, "code");
  w.String(to_string(x.code));
  key(w, "message");
  str(w, x.message);
  w.EndObject();
}

std::string quote(std::string_view x) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  str(w, x);
  return {buf.GetString(), buf.GetSize()};
}

} // namespace optischema::json
