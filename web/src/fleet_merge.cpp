#include "optischema/web/fleet_merge.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/util/json_parse.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <map>

namespace optischema::web {

namespace {

using value = rapidjson::Value;

/// The parts' answers parsed; a part whose answer is not a JSON object
/// counts as not answering.
struct parsed_parts {
  std::vector<std::pair<std::string, rapidjson::Document>> docs;
  std::vector<std::pair<std::string, std::string>> unanswered;
};

parsed_parts parse_parts(const std::vector<fleet_part>& parts) {
  parsed_parts out;
  for (auto& p : parts) {
    rapidjson::Document d;
    if (p.body.empty())
      out.unanswered.emplace_back(p.engine,
                                  p.error.empty() ? "no answer" : p.error);
    else if (!json::parse(d, p.body) || !d.IsObject())
      out.unanswered.emplace_back(p.engine, "answered garbage");
    else
      out.docs.emplace_back(p.engine, std::move(d));
  }
  return out;
}

/// "gathered": which engines answered, which did not and why.
void write_gathered(json::writer& w, const parsed_parts& p) {
  json::key(w, "gathered");
  w.StartObject();
  json::key(w, "answered");
  w.StartArray();
  for (auto& [engine, _] : p.docs)
    json::str(w, engine);
  w.EndArray();
  json::key(w, "unanswered");
  w.StartArray();
  for (auto& [engine, error] : p.unanswered) {
    w.StartObject();
    json::field(w, "engine", engine);
    json::field(w, "error", error);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

double number(const value& v, const char* key) {
  auto i = v.FindMember(key);
  return i != v.MemberEnd() && i->value.IsNumber() ? i->value.GetDouble() : 0.0;
}

/// The members of array `key` of every part, in part order.
std::vector<const value*> items(const parsed_parts& p, const char* key) {
  std::vector<const value*> out;
  for (auto& [_, d] : p.docs)
    if (auto i = d.FindMember(key); i != d.MemberEnd() && i->value.IsArray())
      for (auto& x : i->value.GetArray())
        if (x.IsObject())
          out.push_back(&x);
  return out;
}

/// The JSON field holding the value `sort` orders by (json.cpp writes the
/// chosen window's counters at the top of each statement).
const char* sort_field(hot_sort s) {
  switch (s) {
    case hot_sort::total_time: return "total_time_ms";
    case hot_sort::mean_time: return "mean_time_ms";
    case hot_sort::calls: return "calls";
    case hot_sort::rows: return "rows";
  }
  return "total_time_ms";
}

std::string done(rapidjson::StringBuffer& buf) {
  return {buf.GetString(), buf.GetSize()};
}

} // namespace

std::string merge_hot(const std::vector<fleet_part>& parts,
                      const hot_query& q) {
  auto p = parse_parts(parts);
  auto xs = items(p, "statements");
  auto field = sort_field(q.sort);
  std::stable_sort(xs.begin(), xs.end(), [&](const value* x, const value* y) {
    return number(*x, field) > number(*y, field);
  });
  if (xs.size() > q.limit)
    xs.resize(q.limit);
  rapidjson::StringBuffer buf;
  json::writer w{buf};
  w.StartObject();
  json::field(w, "sort", to_string(q.sort));
  json::field(w, "window", to_string(q.window));
  json::field(w, "limit", q.limit);
  json::key(w, "polled");
  w.StartObject();
  std::map<std::string, int64_t> polled;
  for (auto& [_, d] : p.docs)
    if (auto i = d.FindMember("polled");
        i != d.MemberEnd() && i->value.IsObject())
      for (auto& m : i->value.GetObject())
        if (m.value.IsInt64())
          polled[m.name.GetString()] = m.value.GetInt64();
  for (auto& [target, ts] : polled)
    json::field(w, target, ts);
  w.EndObject();
  json::key(w, "statements");
  w.StartArray();
  for (auto* x : xs)
    x->Accept(w);
  w.EndArray();
  write_gathered(w, p);
  w.EndObject();
  return done(buf);
}

std::string merge_suggestions(const std::vector<fleet_part>& parts,
                              const page_query& page) {
  auto p = parse_parts(parts);
  auto xs = items(p, "suggestions");
  // As the STORE orders them: actions before ideas, then by benefit.
  std::stable_sort(xs.begin(), xs.end(), [](const value* x, const value* y) {
    auto cx = number(*x, "confidence"), cy = number(*y, "confidence");
    if (cx != cy)
      return cx > cy;
    return number(*x, "benefit_ms_per_day") > number(*y, "benefit_ms_per_day");
  });
  int64_t total = 0;
  for (auto& [_, d] : p.docs)
    if (auto i = d.FindMember("total");
        i != d.MemberEnd() && i->value.IsInt64())
      total += i->value.GetInt64();
  rapidjson::StringBuffer buf;
  json::writer w{buf};
  w.StartObject();
  json::key(w, "suggestions");
  w.StartArray();
  for (auto i = page.offset; i < xs.size() && i < page.offset + page.limit; ++i)
    xs[i]->Accept(w);
  w.EndArray();
  json::field(w, "total", total);
  json::field(w, "offset", page.offset);
  json::field(w, "limit", page.limit);
  write_gathered(w, p);
  w.EndObject();
  return done(buf);
}

std::string merge_alerts(const std::vector<fleet_part>& parts) {
  auto p = parse_parts(parts);
  rapidjson::StringBuffer buf;
  json::writer w{buf};
  w.StartObject();
  for (auto* list : {"firing", "resolved", "silences"}) {
    auto xs = items(p, list);
    // Newest first: when it fired, resolved, or was made.
    auto key = std::string_view{list} == "firing" ? "since"
      : std::string_view{list} == "resolved"      ? "resolved"
                                                  : "created";
    auto when = [key](const value* x) { return number(*x, key); };
    std::stable_sort(xs.begin(), xs.end(), [&](const value* x, const value* y) {
      return when(x) > when(y);
    });
    json::key(w, list);
    w.StartArray();
    for (auto* x : xs)
      x->Accept(w);
    w.EndArray();
  }
  write_gathered(w, p);
  w.EndObject();
  return done(buf);
}

std::string merge_status(const std::vector<fleet_part>& parts) {
  auto p = parse_parts(parts);
  if (parts.empty() || p.docs.empty()
      || p.docs.front().first != parts[0].engine)
    return parts.empty() ? std::string{"{}"} : parts[0].body;
  auto& local = p.docs.front().second;
  auto& alloc = local.GetAllocator();
  // Each engine's own entry for each target it polls.
  std::map<std::pair<std::string, std::string>, const value*> entries;
  for (auto& [engine, d] : p.docs)
    if (auto i = d.FindMember("targets");
        i != d.MemberEnd() && i->value.IsArray())
      for (auto& t : i->value.GetArray())
        if (t.IsObject() && t.HasMember("name") && t["name"].IsString())
          entries[{engine, t["name"].GetString()}] = &t;
  if (auto i = local.FindMember("targets");
      i != local.MemberEnd() && i->value.IsArray())
    for (auto& t : i->value.GetArray()) {
      if (!t.IsObject() || !t.HasMember("owner") || !t["owner"].IsString()
          || !t.HasMember("name") || !t["name"].IsString())
        continue;
      std::string owner = t["owner"].GetString();
      if (owner == parts[0].engine)
        continue;
      auto e = entries.find({owner, t["name"].GetString()});
      if (e != entries.end()) {
        value copy;
        copy.CopyFrom(*e->second, alloc);
        t = std::move(copy);
      }
    }
  rapidjson::StringBuffer buf;
  json::writer w{buf};
  w.StartObject();
  for (auto& m : local.GetObject()) {
    w.Key(m.name.GetString(), m.name.GetStringLength());
    m.value.Accept(w);
  }
  write_gathered(w, p);
  w.EndObject();
  return done(buf);
}

} // namespace optischema::web
