#include "optischema/analysis/json.hpp"

#include <fmt/format.h>

namespace optischema::json {

void write_fields(writer& w, const counters& x) {
  json::field(w, "calls", x.calls);
  json::field(w, "total_time_ms", x.exec_time_ms);
  json::field(w, "mean_time_ms", x.mean_time_ms());
  json::field(w, "plan_time_ms", x.plan_time_ms);
  json::field(w, "rows", x.rows);
  json::field(w, "shared_blks_hit", x.shared_blks_hit);
  json::field(w, "shared_blks_read", x.shared_blks_read);
  json::field(w, "temp_blks_read", x.temp_blks_read);
  json::field(w, "temp_blks_written", x.temp_blks_written);
  json::field(w, "cache_hit_ratio", x.cache_hit_ratio());
}

void write(writer& w, const statement_metrics& x, metrics_window window,
           double workload_time_ms) {
  auto& c = pick(x, window);
  w.StartObject();
  json::field(w, "fingerprint", x.fingerprint);
  // queryids are signed 64-bit: strings, or JavaScript would round them.
  key(w, "queryids");
  w.StartArray();
  for (auto id : x.queryids)
    str(w, std::to_string(id));
  w.EndArray();
  json::field(w, "query", x.query);
  json::field(w, "parse_error", x.parse_error);
  write_fields(w, c);
  json::field(w, "share_of_total_time",
              workload_time_ms > 0 ? c.exec_time_ms / workload_time_ms : 0.0);
  key(w, window == metrics_window::interval ? "cumulative" : "interval");
  w.StartObject();
  write_fields(w, window == metrics_window::interval ? x.total : x.interval);
  w.EndObject();
  w.EndObject();
}

void write(writer& w, const database_metrics& x) {
  w.StartObject();
  json::field(w, "connections", x.numbackends);
  json::field(w, "max_connections", x.max_connections);
  json::field(w, "size_bytes", x.size_bytes);
  json::field(w, "cache_hit_ratio", x.cache_hit_ratio);
  json::field(w, "commits_per_s", x.commits_per_s);
  json::field(w, "rollbacks_per_s", x.rollbacks_per_s);
  json::field(w, "xact_commit", x.xact_commit);
  json::field(w, "xact_rollback", x.xact_rollback);
  json::field(w, "blks_hit", x.blks_hit);
  json::field(w, "blks_read", x.blks_read);
  json::field(w, "temp_bytes", x.temp_bytes);
  json::field(w, "deadlocks", x.deadlocks);
  w.EndObject();
}

void write(writer& w, const workload_summary& x) {
  w.StartObject();
  json::field(w, "statements", x.statements);
  key(w, "cumulative");
  w.StartObject();
  write_fields(w, x.total);
  w.EndObject();
  key(w, "interval");
  w.StartObject();
  write_fields(w, x.interval);
  json::field(w, "interval_ms", x.interval_ms);
  json::field(w, "calls_per_s", x.calls_per_s);
  json::field(w, "time_per_s_ms", x.time_per_s_ms);
  w.EndObject();
  w.EndObject();
}

void write(writer& w, const history_point& x) {
  w.StartObject();
  json::field(w, "ts", x.ts_ms);
  json::field(w, "interval_ms", x.interval_ms);
  write_fields(w, x.delta);
  w.EndObject();
}

void write(writer& w, const database_point& x) {
  w.StartObject();
  json::field(w, "ts", x.ts_ms);
  json::field(w, "interval_ms", x.interval_ms);
  json::field(w, "calls", x.calls);
  json::field(w, "total_time_ms", x.exec_time_ms);
  json::field(w, "xact_commit", x.xact_commit);
  json::field(w, "xact_rollback", x.xact_rollback);
  json::field(w, "blks_hit", x.blks_hit);
  json::field(w, "blks_read", x.blks_read);
  auto all = x.blks_hit + x.blks_read;
  key(w, "cache_hit_ratio");
  json::number(
    w,
    all > 0 ? static_cast<double>(x.blks_hit) / static_cast<double>(all) : 1.0);
  json::field(w, "max_connections_used", x.max_backends);
  w.EndObject();
}

std::string metrics_payload(const metrics_snapshot& x, size_t top_n) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  auto summary = summarize(x);
  w.StartObject();
  json::field(w, "ts", x.ts_ms);
  json::field(w, "interval_ms", x.interval_ms);
  json::field(w, "baseline", x.baseline);
  json::field(w, "reset_detected", x.reset_detected);
  json::field(w, "evicted", x.evicted);
  json::field(w, "hidden_rows", x.hidden_rows);
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
  json::field(w, "message", x.message);
  w.EndObject();
}

std::string quote(std::string_view x) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  str(w, x);
  return {buf.GetString(), buf.GetSize()};
}

} // namespace optischema::json
