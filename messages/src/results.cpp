#include "optischema/messages/results.hpp"

#include "optischema/analysis/json.hpp"

namespace optischema {

std::string to_json(const explained_statement& x) {
  return json::object([&](json::writer& w) {
    json::field(w, "target", x.target);
    json::field(w, "fingerprint", x.fingerprint);
    json::field(w, "query", x.query);
    json::key(w, "plan");
    write_plan(w, x.tree);
    json::key(w, "findings");
    w.StartArray();
    for (auto& f : x.findings)
      write(w, f);
    w.EndArray();
  });
}

std::string to_json(const llm_review& x) {
  return json::object([&](json::writer& w) {
    json::field(w, "status", x.status);
    if (!x.message.empty())
      json::field(w, "message", x.message);
    json::key(w, "explanation");
    if (x.explanation.empty())
      w.Null();
    else
      w.RawValue(x.explanation.data(), x.explanation.size(),
                 rapidjson::kObjectType);
    json::key(w, "rewrites");
    w.StartArray();
    for (auto& r : x.rewrites) {
      w.StartObject();
      json::field(w, "sql", r.sql);
      json::field(w, "rationale", r.rationale);
      json::field(w, "verified", r.check.verified);
      json::field(w, "reason", r.check.reason);
      json::field(w, "steps", r.check.steps);
      json::field(w, "cost_before", r.check.cost_before);
      json::field(w, "cost_after", r.check.cost_after);
      w.EndObject();
    }
    w.EndArray();
    json::field(w, "source", "llm");
  });
}

std::string to_json(const advisor_summary& x) {
  return json::object([&](json::writer& w) {
    json::field(w, "target", x.target);
    json::field(w, "state", to_string(x.state));
    json::field(w, "interval_ms", x.interval_ms);
    json::field(w, "last_run", x.last_run_ms);
    json::field(w, "last_elapsed_ms", x.last_elapsed_ms);
    json::field(w, "runs", x.runs);
    json::field(w, "failures", x.failures);
    json::field(w, "actions", x.actions);
    json::field(w, "statements", x.statements);
    json::field(w, "whatif_calls", x.whatif_calls);
    json::field(w, "rewrites_verified", x.rewrites_verified);
    json::field(w, "rewrites_rejected", x.rewrites_rejected);
    json::field(w, "error", x.error);
    json::field(w, "warnings", x.warnings);
    if (x.standby || !x.owner.empty()) {
      json::field(w, "standby", x.standby);
      json::field(w, "owner", x.owner);
    }
  });
}

std::string to_json(const statement_advice& x) {
  auto report = to_json(x.report, true);
  if (!x.review || report.empty() || report.back() != '}')
    return report;
  // The report's object with "llm": the review as its last member.
  report.pop_back();
  return report + R"(,"llm":)" + to_json(*x.review) + "}";
}

} // namespace optischema
