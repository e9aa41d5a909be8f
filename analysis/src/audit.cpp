#include "optischema/analysis/audit.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/util/json_parse.hpp"

#include <rapidjson/document.h>

namespace optischema {

std::string to_json(const audit_entry& x) {
  return json::object([&](json::writer& w) {
    json::field(w, "ts", x.ts_ms);
    json::field(w, "who", x.who);
    json::field(w, "action", x.action);
    json::field(w, "target", x.target);
    json::field(w, "recommendation_id", x.recommendation_id);
    json::field(w, "kind", x.kind);
    json::field(w, "ddl", x.ddl);
    json::field(w, "outcome", x.outcome);
    json::field(w, "duration_ms", x.duration_ms);
    json::field(w, "attempts", x.attempts);
    json::field(w, "steps", x.steps);
    json::field(w, "error", x.error);
    // Entries about an index: the index (and the change they belong to).
    if (!x.index_name.empty()) {
      json::field(w, "op", x.op);
      json::field(w, "schema", x.schema);
      json::field(w, "index_name", x.index_name);
      json::field(w, "index_oid", x.index_oid);
      json::field(w, "index_definition", x.index_definition);
    }
  });
}

std::optional<audit_entry> audit_entry_from_json(std::string_view text) {
  rapidjson::Document d;
  if (!json::parse(d, text, "an audit entry") || !d.IsObject())
    return std::nullopt;
  audit_entry x;
  auto str = [&](const char* k, std::string& out) {
    if (auto i = d.FindMember(k); i != d.MemberEnd() && i->value.IsString())
      out = i->value.GetString();
  };
  auto int64 = [&](const char* k, int64_t& out) {
    if (auto i = d.FindMember(k); i != d.MemberEnd() && i->value.IsInt64())
      out = i->value.GetInt64();
  };
  int64("ts", x.ts_ms);
  str("who", x.who);
  str("action", x.action);
  str("target", x.target);
  str("recommendation_id", x.recommendation_id);
  str("kind", x.kind);
  str("ddl", x.ddl);
  str("outcome", x.outcome);
  int64("duration_ms", x.duration_ms);
  if (auto i = d.FindMember("attempts"); i != d.MemberEnd() && i->value.IsInt())
    x.attempts = i->value.GetInt();
  if (auto i = d.FindMember("steps"); i != d.MemberEnd() && i->value.IsArray())
    for (auto& s : i->value.GetArray())
      if (s.IsString())
        x.steps.emplace_back(s.GetString());
  str("error", x.error);
  str("op", x.op);
  str("schema", x.schema);
  str("index_name", x.index_name);
  int64("index_oid", x.index_oid);
  str("index_definition", x.index_definition);
  return x;
}

interrupted_change resolve_interrupted(const audit_entry& started, bool creates,
                                       const index_now& now) {
  // What the change was for, when it took effect.
  auto done = started.action == "rollback" ? "rolled_back" : "applied";
  auto name = started.schema + "." + started.index_name;
  auto mine = now.exists && now.as_started;
  if (creates) {
    if (!now.exists)
      return {"failed",
              "interrupted (the engine stopped during this change) before "
                + name + " existed: nothing was changed",
              false, false};
    if (!mine)
      return {"failed",
              "interrupted (the engine stopped during this change); " + name
                + " is another index now, left alone",
              false, false};
    if (now.valid)
      return {done,
              "interrupted (the engine stopped during this change), but the "
              "build finished: "
                + name + " is valid",
              true, false};
    return {"failed",
            "interrupted (the engine stopped during this change) mid-build: "
              + name + " was left INVALID, and the engine drops it",
            false, true};
  }
  if (!mine)
    return {done,
            "interrupted (the engine stopped during this change), but the "
            "drop finished: "
              + name
              + (now.exists ? " is another index now, left alone" : " is gone"),
            true, false};
  if (now.valid)
    return {"failed",
            "interrupted (the engine stopped during this change) before the "
            "drop: "
              + name + " is still there, unchanged",
            false, false};
  return {done,
          "interrupted (the engine stopped during this change) mid-drop: "
            + name + " was left INVALID, and the engine drops it",
          true, true};
}

} // namespace optischema
