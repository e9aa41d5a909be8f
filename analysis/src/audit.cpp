#include "optischema/analysis/audit.hpp"

#include "optischema/analysis/json.hpp"

namespace optischema {

std::string to_json(const audit_entry& x) {
  rapidjson::StringBuffer buf;
  json::writer w{buf};
  w.StartObject();
  json::key(w, "ts");
  w.Int64(x.ts_ms);
  json::key(w, "who");
  json::str(w, x.who);
  json::key(w, "action");
  json::str(w, x.action);
  json::key(w, "target");
  json::str(w, x.target);
  json::key(w, "recommendation_id");
  json::str(w, x.recommendation_id);
  json::key(w, "kind");
  json::str(w, x.kind);
  json::key(w, "ddl");
  json::str(w, x.ddl);
  json::key(w, "outcome");
  json::str(w, x.outcome);
  json::key(w, "duration_ms");
  w.Int64(x.duration_ms);
  json::key(w, "attempts");
  w.Int(x.attempts);
  json::key(w, "steps");
  w.StartArray();
  for (auto& s : x.steps)
    json::str(w, s);
  w.EndArray();
  json::key(w, "error");
  json::str(w, x.error);
  w.EndObject();
  return json::text(buf);
}

} // namespace optischema
