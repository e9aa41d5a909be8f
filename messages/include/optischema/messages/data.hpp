#pragma once

// Payloads of actor messages. Large data travels as shared pointers to const:
// every actor shares one copy, nothing is copied per receiver. These types
// never leave the process (marked unsafe for CAF's serialization below).

#include "optischema/analysis/alerts.hpp"
#include "optischema/analysis/fingerprint.hpp"
#include "optischema/analysis/metrics.hpp"
#include "optischema/analysis/recommendation.hpp"
#include "optischema/store/history_db.hpp"
#include "optischema/web/server.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/meta/type_name.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace optischema {

using snapshot_ptr = std::shared_ptr<const metrics_snapshot>;
using snapshot_list = std::vector<snapshot_ptr>;
using raw_sample_ptr = std::shared_ptr<const raw_sample>;

/// Asks the STORE for history of one statement, or of the database when
/// `fingerprint` is empty, in [from_ms, to_ms).
struct history_request {
  std::string target;
  std::string fingerprint;
  int64_t from_ms = 0;
  int64_t to_ms = 0;
  resolution res = resolution::raw;
};

struct history_reply {
  resolution res = resolution::raw;
  /// The statement's text when the store knows it.
  std::string query;
  std::vector<history_point> points;
  std::vector<database_point> db_points;
};
using history_reply_ptr = std::shared_ptr<const history_reply>;

using fingerprint_list = std::vector<fingerprint_result>;

/// Recommendations as the STORE keeps them, best first; rendered as JSON
/// only where they leave the process (the EDGE, events, the CLI).
using recommendation_list = std::vector<recommendation>;
using text_list = std::vector<std::string>;

/// One finished analysis of a target's workload.
struct analysis_result {
  std::string target;
  int64_t ts_ms = 0;
  /// The advisor's report (JSON, without plans).
  std::string report_json;
  /// Actions first, then the other recommendations.
  std::vector<recommendation> recommendations;
};
using analysis_ptr = std::shared_ptr<analysis_result>;

/// A question for the LLM about one statement or recommendation. Inputs are
/// the normalised statement, its plan (estimates), table and index
/// definitions with statistics: never data rows.
struct llm_request {
  /// explain_plan, rewrite_query or generate_recommendation.
  std::string kind;
  std::string fingerprint;
  std::string statement;
  std::string plan_json;
  std::string schema_text;
  std::string findings;
  /// generate_recommendation: the recommendation's facts (JSON).
  std::string context;
  /// What the answer depends on, for the cache: the statement's fingerprint
  /// with its plan shape and schema definitions, or the recommendation's
  /// identity — not figures that drift from cycle to cycle.
  std::string identity;
};

/// A change to one stored recommendation, made by the STORE to the version
/// it holds: read, change and write in one step, so two writers (a sandbox
/// test finishing while someone applies) never undo each other. A failure
/// leaves it unchanged and is the answer.
using recommendation_patch
  = std::function<std::optional<failure>(recommendation&)>;

/// The FLEET's view after a heartbeat: the live engines and who polls what.
struct fleet_view {
  /// This engine's id.
  std::string self;
  /// Live engines, sorted, this one among them.
  std::vector<std::string> members;
  /// Each target's owner, in the order of the configured targets.
  std::vector<std::pair<std::string, std::string>> owners;
};

/// An HTTP request handed from a web io thread to the EDGE, with the object
/// that writes the answer back on the connection's strand.
struct web_request {
  web::http_request req;
  std::shared_ptr<web::responder> out;
};

} // namespace optischema

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::snapshot_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::snapshot_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::raw_sample_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::history_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::history_reply_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::fingerprint_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::web_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::fleet_view)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::analysis_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::llm_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::recommendation_patch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::recommendation)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::alert)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::alert_silence)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::recommendation_list)
