#include "optischema/analysis/history_slice.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/util/json_parse.hpp"
#include "optischema/util/strings.hpp"

#include <cmath>
#include <limits>

namespace optischema {

namespace {

/// Bounds no engine's event reaches (its top N is small, its texts are
/// what pg_stat_statements keeps).
constexpr size_t max_statements = 10'000;
constexpr size_t max_query_bytes = 1 << 20;
constexpr int64_t max_interval_ms = 86'400'000;
constexpr size_t max_target_bytes = 256;

using value = rapidjson::Value;

const value* member(const value& v, const char* k) {
  if (!v.IsObject())
    return nullptr;
  auto i = v.FindMember(k);
  return i != v.MemberEnd() ? &i->value : nullptr;
}

/// A count: an integer, not negative.
bool count(const value& v, const char* k, int64_t& out) {
  auto* m = member(v, k);
  if (m == nullptr || !m->IsInt64() || m->GetInt64() < 0)
    return false;
  out = m->GetInt64();
  return true;
}

/// A time: a finite number, not negative.
bool time(const value& v, const char* k, double& out) {
  auto* m = member(v, k);
  if (m == nullptr || !m->IsNumber() || !std::isfinite(m->GetDouble())
      || m->GetDouble() < 0)
    return false;
  out = m->GetDouble();
  return true;
}

bool read_counters(const value& v, counters& c) {
  return count(v, "calls", c.calls) && time(v, "total_time_ms", c.exec_time_ms)
    && time(v, "plan_time_ms", c.plan_time_ms) && count(v, "rows", c.rows)
    && count(v, "shared_blks_hit", c.shared_blks_hit)
    && count(v, "shared_blks_read", c.shared_blks_read)
    && count(v, "temp_blks_read", c.temp_blks_read)
    && count(v, "temp_blks_written", c.temp_blks_written);
}

/// What the fingerprinter writes: hex digits.
bool plain_fingerprint(std::string_view x) {
  return !x.empty() && x.size() <= 64
    && x.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

} // namespace

expected<history_slice> read_metrics_payload(std::string_view payload) {
  auto bad = [](const std::string& why) {
    return failure{ec::bad_request, "metrics event not taken: " + why};
  };
  if (!valid_utf8(payload))
    return bad("not UTF-8");
  rapidjson::Document d;
  if (auto parsed = json::parse(d, payload, "the metrics event"); !parsed)
    return bad(parsed.error().message);
  if (!d.IsObject())
    return bad("not a JSON object");
  history_slice x;
  if (auto* t = member(d, "target"); t != nullptr) {
    if (!t->IsString() || t->GetStringLength() > max_target_bytes)
      return bad("a target that is not a name");
    x.target.assign(t->GetString(), t->GetStringLength());
  }
  auto* baseline = member(d, "baseline");
  if (baseline != nullptr && baseline->IsBool() && baseline->GetBool())
    return bad("a baseline poll has no interval");
  if (!count(d, "ts", x.ts_ms) || x.ts_ms == 0)
    return bad("no time stamp");
  if (!count(d, "interval_ms", x.interval_ms) || x.interval_ms == 0
      || x.interval_ms > max_interval_ms)
    return bad("no interval, or one longer than a day");
  auto* db = member(d, "database");
  auto* interval = member(d, "summary");
  interval = interval != nullptr ? member(*interval, "interval") : nullptr;
  auto& p = x.db;
  p.ts_ms = x.ts_ms;
  p.interval_ms = x.interval_ms;
  if (db == nullptr || interval == nullptr
      || !count(*db, "xact_commit", p.xact_commit)
      || !count(*db, "xact_rollback", p.xact_rollback)
      || !count(*db, "blks_hit", p.blks_hit)
      || !count(*db, "blks_read", p.blks_read)
      || !count(*db, "connections", p.max_backends)
      || !count(*interval, "calls", p.calls)
      || !time(*interval, "total_time_ms", p.exec_time_ms))
    return bad("no database figures");
  auto* statements = member(d, "statements");
  if (statements == nullptr || !statements->IsArray()
      || statements->Size() > max_statements)
    return bad("no statements list, or one longer than any engine sends");
  for (auto& s : statements->GetArray()) {
    statement_point sp;
    auto* fp = member(s, "fingerprint");
    auto* query = member(s, "query");
    auto* parse_error = member(s, "parse_error");
    if (fp == nullptr || !fp->IsString()
        || !plain_fingerprint({fp->GetString(), fp->GetStringLength()}))
      return bad("a statement without a fingerprint");
    if (query == nullptr || !query->IsString()
        || query->GetStringLength() > max_query_bytes)
      return bad("a statement without its text");
    if (!read_counters(s, sp.delta))
      return bad("a statement's figures are not counts");
    sp.fingerprint.assign(fp->GetString(), fp->GetStringLength());
    sp.query.assign(query->GetString(), query->GetStringLength());
    sp.parse_error = parse_error != nullptr && parse_error->IsBool()
      && parse_error->GetBool();
    x.statements.push_back(std::move(sp));
  }
  return x;
}

std::string rollup_payload(const std::string& target, const history_slice& x) {
  return json::object([&](json::writer& w) {
    json::field(w, "target", target);
    json::field(w, "ts", x.ts_ms);
    json::field(w, "interval_ms", x.interval_ms);
    json::key(w, "database");
    w.StartObject();
    json::field(w, "xact_commit", x.db.xact_commit);
    json::field(w, "xact_rollback", x.db.xact_rollback);
    json::field(w, "blks_hit", x.db.blks_hit);
    json::field(w, "blks_read", x.db.blks_read);
    json::field(w, "connections", x.db.max_backends);
    w.EndObject();
    json::key(w, "summary");
    w.StartObject();
    json::key(w, "interval");
    w.StartObject();
    json::field(w, "calls", x.db.calls);
    json::field(w, "total_time_ms", x.db.exec_time_ms);
    w.EndObject();
    w.EndObject();
    json::key(w, "statements");
    w.StartArray();
    for (auto& st : x.statements) {
      w.StartObject();
      json::field(w, "fingerprint", st.fingerprint);
      json::field(w, "query", st.query);
      json::field(w, "parse_error", st.parse_error);
      json::write_fields(w, st.delta);
      w.EndObject();
    }
    w.EndArray();
  });
}

} // namespace optischema
