#pragma once

// The one recommendation model: what the advisor proposes, why, what it is
// worth and how to undo it. Stored in RocksDB, sent as events, shown by the
// dashboard and printed by `optischema advise`.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace optischema {

/// A statement a recommendation serves, with its costs.
struct served_statement {
  std::string fingerprint;
  std::string query;
  double cost_before = 0;
  double cost_after = 0;
  /// Its time per day now (ms/day).
  double time_ms_per_day = 0;
};

struct recommendation {
  /// Stable for the same advice on the same target: re-analysis updates a
  /// recommendation instead of duplicating it.
  std::string id;
  /// create_index, drop_index, rewrite, config, schema, n_plus_one.
  std::string kind;
  std::string target;
  std::string title;
  // -- index details (create_index, drop_index) --
  std::string schema;
  std::string table;
  std::string index_name;
  std::vector<std::string> columns;
  std::vector<std::string> include;
  std::string where;
  std::string using_method;
  // -- what to run --
  std::string ddl;
  std::string rollback_ddl;
  /// Statements the DDL needs first, each from the engine's allow-list
  /// ("CREATE EXTENSION IF NOT EXISTS pg_trgm"); applied only when the
  /// request asks for them explicitly, never silently.
  std::vector<std::string> prerequisites;
  // -- worth --
  std::vector<served_statement> statements;
  /// Sum of the served statements' planner costs, before and after.
  double cost_before = 0;
  double cost_after = 0;
  double benefit_ms_per_day = 0;
  int64_t size_bytes = 0;
  double write_overhead_ms_per_day = 0;
  /// Where cost_after and the benefit come from: "hypopg" (the planner with
  /// a hypothetical index), "model" (index_model.hpp, for what hypopg cannot
  /// simulate), "" (not costed). The JSON says "measured" once the sandbox
  /// measured it.
  std::string benefit_source;
  // -- LLM parts (marked as such wherever shown) --
  /// Prose explaining the change, written by an LLM from the figures above.
  std::string narrative;
  /// Which model wrote `narrative` ("" when none).
  std::string narrative_source;
  /// kind == rewrite: the proposed statement and whether it was checked
  /// (parses, same parameters, cheaper, same rows on samples).
  std::string rewrite_sql;
  bool verified = false;
  std::string verification;
  // -- trust --
  /// In [0, 1]; `reasons` say what it rests on and what was checked.
  double confidence = 0;
  std::vector<std::string> reasons;
  std::vector<std::string> evidence;
  // -- proof and application --
  /// The last sandbox test (a JSON object: verdict, measured speedup, per
  /// statement medians and plans before/after), "" when never tested.
  std::string sandbox;
  /// Median time before / after in the sandbox over the served statements;
  /// 0 when not measured.
  double measured_speedup = 0;
  /// When the engine applied it to the target (0: not applied).
  int64_t applied_ms = 0;
  /// The index the engine built for it (create_index): its oid and
  /// pg_get_indexdef when built, so a rollback drops that index and no other
  /// (0 / "": the engine built none).
  int64_t index_oid = 0;
  std::string index_definition;
  /// What the served statements' mean times did after applying (a JSON
  /// object: before/after means, calls, verdict), "" until measured.
  std::string realised;
  /// The last failed test, apply or rollback, for people.
  std::string last_error;
  /// new, tested, applied, rolled_back, dismissed, failed.
  std::string status = "new";
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  /// When a person or the engine last changed this recommendation (status,
  /// test, apply); 0 if never. Re-analysis does not touch it, so it says
  /// which engine's copy is newer when a target changes hands in a fleet.
  int64_t decided_ms = 0;
};

/// Planner cost before / after over the served statements (HypoPG's
/// estimate); 0 when unknown.
double estimated_speedup(const recommendation& x);

/// Carries what people and the engine did with a recommendation (status,
/// sandbox result, application, realised benefit, creation time) from its
/// stored version `old` into a fresh analysis' version `fresh`.
void keep_history(recommendation& fresh, const recommendation& old);

/// Takes the decision of `theirs` (another engine's copy, read from the
/// fleet: not trusted) into `ours`, the engine's own recommendation with the
/// same id: status, sandbox result, application and realised benefit, never
/// anything that runs (DDL, index name, prerequisites) nor the figures.
void adopt_decision(recommendation& ours, const recommendation& theirs);

/// "measured" once the sandbox measured `x`, else its benefit_source.
std::string benefit_source(const recommendation& x);

/// The sandbox's verdict on `x` ("" when never tested).
std::string sandbox_verdict(const recommendation& x);

/// Lets the sandbox's measurement outweigh the estimate: an index action
/// measured as no gain or a regression drops below the default confidence
/// of actions (0.5), with the reason.
void weigh_sandbox_verdict(recommendation& x);

/// A stable id from the target, the kind and what the advice changes.
std::string recommendation_id(const std::string& target,
                              const std::string& kind,
                              const std::string& identity);

/// A valid index name for an index on `table` over `columns` (at most 63
/// bytes; a short hash keeps truncated names distinct).
std::string index_name_for(const std::string& table,
                           const std::vector<std::string>& columns,
                           const std::string& suffix = "idx");

void write(rapidjson::Writer<rapidjson::StringBuffer>& w,
           const recommendation& x);
std::string to_json(const recommendation& x);
/// A JSON array of `xs`, in order.
std::string to_json(const std::vector<recommendation>& xs);
/// Reads what to_json wrote (the STORE keeps recommendations as JSON).
std::optional<recommendation> recommendation_from_json(std::string_view text);

} // namespace optischema
