#pragma once

// What the analysing actors answer, as C++ values: the EXPLAINER's plan and
// findings, the ADVISOR's summary and statement advice, the LLM actor's
// answers, the SANDBOX's copy and rows checks, the STORE's audit log. Actors
// read these fields, never JSON; to_json renders them where they leave the
// process (the EDGE's API, events). Like data.hpp, they never cross a
// process boundary (marked unsafe for CAF's serialization below).

#include "optischema/advice/advisor.hpp"
#include "optischema/advice/rewrite_check.hpp"
#include "optischema/analysis/audit.hpp"
#include "optischema/analysis/findings.hpp"
#include "optischema/analysis/plan.hpp"
#include "optischema/messages/status.hpp"
#include "optischema/sandbox/sandbox.hpp"
#include "optischema/util/error.hpp"

#include <caf/allowed_unsafe_message_type.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace optischema {

/// One statement planned by a target's EXPLAINER, with what its plan shows.
struct explained_statement {
  std::string target;
  std::string fingerprint;
  /// The text planned (casts made reparsable, see reparsable_sql).
  std::string query;
  plan tree;
  std::vector<finding> findings;
};
std::string to_json(const explained_statement& x);

/// The LLM actor's answer to one question.
struct llm_answer {
  /// explain_plan, rewrite_query or generate_recommendation.
  std::string kind;
  /// From the STORE's cache: no tokens were spent.
  bool cached = false;
  /// The answer: a JSON object that passed the prompt's schema
  /// (prompts/*.json), shaped by `kind`. The one JSON text between actors,
  /// because its shape is the prompt's to change.
  std::string content;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  std::string model;
  int prompt_version = 0;
};

/// What an LLM review of one statement found: its explanation and its
/// rewrites, each checked before it counts.
struct llm_review {
  std::string status = "ok"; ///< ok, disabled, error
  std::string message;
  /// The explanation (the answer's content, JSON), or empty.
  std::string explanation;
  struct rewrite {
    std::string sql;
    std::string rationale;
    rewrite_check check;
  };
  std::vector<rewrite> rewrites;
  bool cached = true;
};
std::string to_json(const llm_review& x);

/// An ADVISOR's account of its workload analyses: the answer to `analyze`,
/// its status and its `analysis` events.
struct advisor_summary {
  std::string target;
  health state = health::starting;
  int64_t interval_ms = 0;
  int64_t last_run_ms = 0;
  double last_elapsed_ms = 0;
  uint64_t runs = 0;
  uint64_t failures = 0;
  size_t actions = 0;
  size_t statements = 0;
  size_t whatif_calls = 0;
  uint64_t rewrites_verified = 0;
  uint64_t rewrites_rejected = 0;
  std::optional<failure> error;
  std::vector<std::string> warnings;
  /// In a fleet: the engine that polls and analyses the target, and
  /// whether that is another one (this ADVISOR then runs no analyses).
  std::string owner;
  bool standby = false;
};
std::string to_json(const advisor_summary& x);

/// One statement analysed on request: plans, findings and index advice,
/// and the LLM's review when asked for.
struct statement_advice {
  advice_report report;
  std::optional<llm_review> review;
};
std::string to_json(const statement_advice& x);

/// A page of the audit log, newest first.
struct audit_page {
  /// Entries in the whole log.
  size_t total = 0;
  std::vector<audit_entry> entries;
  /// Whose log: "fleet" (every engine's changes, from JetStream) or
  /// "engine" (this engine's own).
  std::string source = "engine";
  /// In a fleet: why its log could not be read (this engine's is shown).
  std::string fleet_error;
};

using audit_list = std::vector<audit_entry>;

} // namespace optischema

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::explained_statement)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::llm_answer)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::advisor_summary)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::statement_advice)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::audit_entry)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::audit_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::audit_page)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::sandbox::prepared)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::rows_check)
