#include "optischema/analysis/recommendation.hpp"
#include "optischema/util/json_parse.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/util/strings.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>

namespace optischema {

std::string recommendation_id(const std::string& target,
                              const std::string& kind,
                              const std::string& identity) {
  return fmt::format("{:016x}", fnv1a(target + '\n' + kind + '\n' + identity));
}

std::string index_name_for(const std::string& table,
                           const std::vector<std::string>& columns,
                           const std::string& suffix) {
  std::string name = table;
  for (auto& c : columns) {
    name += '_';
    // Expressions and operator classes reduce to their identifier characters.
    bool last_us = true;
    for (unsigned char ch : c) {
      if (std::isalnum(ch)) {
        name += static_cast<char>(std::tolower(ch));
        last_us = false;
      } else if (!last_us) {
        name += '_';
        last_us = true;
      }
    }
    while (!name.empty() && name.back() == '_')
      name.pop_back();
  }
  name += "_" + suffix;
  if (name.size() > 63)
    name = name.substr(0, 54)
      + fmt::format("_{:08x}", fnv1a(name) & 0xffffffff);
  return name;
}

void write(rapidjson::Writer<rapidjson::StringBuffer>& w,
           const recommendation& x) {
  using json::key;
  using json::str;
  auto strings = [&](const char* k, const std::vector<std::string>& xs) {
    key(w, k);
    w.StartArray();
    for (auto& s : xs)
      str(w, s);
    w.EndArray();
  };
  w.StartObject();
  json::field(w, "id", x.id);
  json::field(w, "kind", x.kind);
  json::field(w, "target", x.target);
  json::field(w, "title", x.title);
  json::field(w, "schema", x.schema);
  json::field(w, "table", x.table);
  json::field(w, "index_name", x.index_name);
  strings("columns", x.columns);
  strings("include", x.include);
  json::field(w, "where", x.where);
  json::field(w, "using", x.using_method);
  json::field(w, "ddl", x.ddl);
  json::field(w, "rollback_ddl", x.rollback_ddl);
  strings("prerequisites", x.prerequisites);
  key(w, "statements");
  w.StartArray();
  for (auto& s : x.statements) {
    w.StartObject();
    json::field(w, "fingerprint", s.fingerprint);
    json::field(w, "query", s.query);
    json::field(w, "cost_before", s.cost_before);
    json::field(w, "cost_after", s.cost_after);
    json::field(w, "time_ms_per_day", s.time_ms_per_day);
    w.EndObject();
  }
  w.EndArray();
  json::field(w, "cost_before", x.cost_before);
  json::field(w, "cost_after", x.cost_after);
  json::field(w, "cost_improvement",
              x.cost_before > 0 ? 1.0 - x.cost_after / x.cost_before : 0.0);
  json::field(w, "benefit_ms_per_day", x.benefit_ms_per_day);
  json::field(w, "size_bytes", x.size_bytes);
  json::field(w, "write_overhead_ms_per_day", x.write_overhead_ms_per_day);
  json::field(w, "benefit_source", benefit_source(x));
  json::field(w, "narrative", x.narrative);
  json::field(w, "narrative_source", x.narrative_source);
  json::field(w, "rewrite_sql", x.rewrite_sql);
  json::field(w, "verified", x.verified);
  json::field(w, "verification", x.verification);
  json::field(w, "confidence", x.confidence);
  strings("reasons", x.reasons);
  strings("evidence", x.evidence);
  json::field(w, "estimated_speedup", estimated_speedup(x));
  json::field(w, "measured_speedup", x.measured_speedup);
  auto raw = [&](const char* k, const std::string& v) {
    key(w, k);
    if (v.empty())
      w.Null();
    else
      w.RawValue(v.data(), v.size(), rapidjson::kObjectType);
  };
  raw("sandbox", x.sandbox);
  json::field(w, "applied", x.applied_ms);
  json::field(w, "index_oid", x.index_oid);
  json::field(w, "index_definition", x.index_definition);
  raw("realised", x.realised);
  json::field(w, "last_error", x.last_error);
  json::field(w, "status", x.status);
  json::field(w, "created", x.created_ms);
  json::field(w, "updated", x.updated_ms);
  json::field(w, "decided", x.decided_ms);
  w.EndObject();
}

std::string benefit_source(const recommendation& x) {
  return x.measured_speedup > 0 ? "measured" : x.benefit_source;
}

double estimated_speedup(const recommendation& x) {
  return x.cost_after > 0 ? x.cost_before / x.cost_after : 0.0;
}

void keep_history(recommendation& fresh, const recommendation& old) {
  fresh.created_ms = old.created_ms;
  // A decision a person made (dismissed, applied, …) outlives re-analysis;
  // only "new" advice takes the new figures' status.
  if (old.status != "new")
    fresh.status = old.status;
  fresh.sandbox = old.sandbox;
  fresh.measured_speedup = old.measured_speedup;
  fresh.applied_ms = old.applied_ms;
  fresh.decided_ms = old.decided_ms;
  fresh.index_oid = old.index_oid;
  fresh.index_definition = old.index_definition;
  fresh.realised = old.realised;
  fresh.last_error = old.last_error;
  // What was applied is what a rollback undoes: its index and DDL stay as
  // they were, whatever a later analysis would name them.
  if (old.status == "applied") {
    fresh.index_name = old.index_name;
    fresh.ddl = old.ddl;
    fresh.rollback_ddl = old.rollback_ddl;
    fresh.title = old.title;
  }
  weigh_sandbox_verdict(fresh);
}

void adopt_decision(recommendation& ours, const recommendation& theirs) {
  ours.status = theirs.status;
  ours.sandbox = theirs.sandbox;
  ours.measured_speedup = theirs.measured_speedup;
  ours.applied_ms = theirs.applied_ms;
  // What a rollback checks before it drops anything: a wrong oid or
  // definition makes it refuse, never drop another index.
  ours.index_oid = theirs.index_oid;
  ours.index_definition = theirs.index_definition;
  ours.realised = theirs.realised;
  ours.last_error = theirs.last_error;
  ours.decided_ms = theirs.decided_ms;
  weigh_sandbox_verdict(ours);
}

std::string sandbox_verdict(const recommendation& x) {
  if (x.sandbox.empty())
    return {};
  rapidjson::Document d;
  if (!json::parse(d, x.sandbox, "a sandbox result") || !d.IsObject()
      || !d.HasMember("verdict") || !d["verdict"].IsString())
    return {};
  return d["verdict"].GetString();
}

void weigh_sandbox_verdict(recommendation& x) {
  auto v = sandbox_verdict(x);
  if (v != "no_gain" && v != "regression")
    return;
  x.confidence = std::min(x.confidence, 0.4);
  auto reason = v == "no_gain"
    ? std::string{"the sandbox measured no gain on a copy of the data"}
    : std::string{"the sandbox measured a regression on a copy of the data"};
  if (std::find(x.reasons.begin(), x.reasons.end(), reason) == x.reasons.end())
    x.reasons.push_back(std::move(reason));
}

std::string to_json(const recommendation& x) {
  rapidjson::StringBuffer buf;
  json::writer w{buf};
  write(w, x);
  return json::text(buf);
}

std::string to_json(const std::vector<recommendation>& xs) {
  rapidjson::StringBuffer buf;
  json::writer w{buf};
  w.StartArray();
  for (auto& x : xs)
    write(w, x);
  w.EndArray();
  return json::text(buf);
}

std::optional<recommendation> recommendation_from_json(std::string_view text) {
  rapidjson::Document d;
  if (!json::parse(d, text, "a recommendation") || !d.IsObject())
    return std::nullopt;
  recommendation r;
  auto str = [&](const char* k, std::string& out) {
    if (d.HasMember(k) && d[k].IsString())
      out = d[k].GetString();
  };
  auto num = [&](const rapidjson::Value& v, const char* k, double& out) {
    if (v.HasMember(k) && v[k].IsNumber())
      out = v[k].GetDouble();
  };
  auto strings = [&](const char* k, std::vector<std::string>& out) {
    if (d.HasMember(k) && d[k].IsArray())
      for (auto& x : d[k].GetArray())
        if (x.IsString())
          out.emplace_back(x.GetString());
  };
  str("id", r.id);
  str("kind", r.kind);
  str("target", r.target);
  str("title", r.title);
  str("schema", r.schema);
  str("table", r.table);
  str("index_name", r.index_name);
  strings("columns", r.columns);
  strings("include", r.include);
  str("where", r.where);
  str("using", r.using_method);
  str("ddl", r.ddl);
  str("rollback_ddl", r.rollback_ddl);
  strings("prerequisites", r.prerequisites);
  str("benefit_source", r.benefit_source);
  if (d.HasMember("statements") && d["statements"].IsArray())
    for (auto& x : d["statements"].GetArray()) {
      if (!x.IsObject())
        continue;
      served_statement s;
      if (x.HasMember("fingerprint") && x["fingerprint"].IsString())
        s.fingerprint = x["fingerprint"].GetString();
      if (x.HasMember("query") && x["query"].IsString())
        s.query = x["query"].GetString();
      num(x, "cost_before", s.cost_before);
      num(x, "cost_after", s.cost_after);
      num(x, "time_ms_per_day", s.time_ms_per_day);
      r.statements.push_back(std::move(s));
    }
  num(d, "cost_before", r.cost_before);
  num(d, "cost_after", r.cost_after);
  num(d, "benefit_ms_per_day", r.benefit_ms_per_day);
  num(d, "write_overhead_ms_per_day", r.write_overhead_ms_per_day);
  num(d, "confidence", r.confidence);
  if (d.HasMember("size_bytes") && d["size_bytes"].IsInt64())
    r.size_bytes = d["size_bytes"].GetInt64();
  strings("reasons", r.reasons);
  strings("evidence", r.evidence);
  str("status", r.status);
  str("narrative", r.narrative);
  str("narrative_source", r.narrative_source);
  str("rewrite_sql", r.rewrite_sql);
  str("verification", r.verification);
  if (d.HasMember("verified") && d["verified"].IsBool())
    r.verified = d["verified"].GetBool();
  auto object = [&](const char* k, std::string& out) {
    if (!d.HasMember(k) || !d[k].IsObject())
      return;
    rapidjson::StringBuffer buf;
    json::writer w{buf};
    d[k].Accept(w);
    out = json::text(buf);
  };
  object("sandbox", r.sandbox);
  object("realised", r.realised);
  num(d, "measured_speedup", r.measured_speedup);
  str("last_error", r.last_error);
  if (d.HasMember("applied") && d["applied"].IsInt64())
    r.applied_ms = d["applied"].GetInt64();
  if (d.HasMember("index_oid") && d["index_oid"].IsInt64())
    r.index_oid = d["index_oid"].GetInt64();
  str("index_definition", r.index_definition);
  if (d.HasMember("created") && d["created"].IsInt64())
    r.created_ms = d["created"].GetInt64();
  if (d.HasMember("updated") && d["updated"].IsInt64())
    r.updated_ms = d["updated"].GetInt64();
  if (d.HasMember("decided") && d["decided"].IsInt64())
    r.decided_ms = d["decided"].GetInt64();
  if (r.id.empty() || r.kind.empty())
    return std::nullopt;
  return r;
}

} // namespace optischema
