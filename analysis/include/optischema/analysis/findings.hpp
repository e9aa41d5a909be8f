#pragma once

// Findings: what is wrong with a statement or the workload, each with a
// severity, the evidence (from the plan, the parse tree or the statistics)
// and the fix it suggests. Rules and thresholds are in findings.cpp, each
// with a comment saying why.

#include "optischema/analysis/catalog.hpp"
#include "optischema/analysis/metrics.hpp"
#include "optischema/analysis/plan.hpp"
#include "optischema/analysis/statement.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <string>
#include <vector>

namespace optischema {

enum class severity : uint8_t { info, low, medium, high, critical };
const char* to_string(severity x);

struct finding {
  /// A stable identifier of the rule: seq_scan_large_table,
  /// rows_removed_by_filter, sort_limit_without_index,
  /// nested_loop_large_inner, non_sargable_function, leading_wildcard_like,
  /// implicit_cast, or_across_columns, sort_spill, hash_spill, n_plus_one,
  /// missing_fk_index, stale_statistics.
  std::string kind;
  severity level = severity::info;
  /// One line a DBA reads first.
  std::string title;
  /// What shows it: plan figures, statistics, the statement's shape.
  std::string evidence;
  /// The fix, concretely (DDL, a rewrite, a setting, ANALYZE …).
  std::string suggestion;
  /// The statement it is about (empty for schema-level findings).
  std::string fingerprint;
  /// The plan node it attaches to, when it comes from a plan.
  std::optional<int> node_id;
  /// The table ("schema.table") and columns involved, when known.
  std::string relation;
  std::vector<std::string> columns;
};

/// Findings of one statement from its plan, its analysis and the catalog.
/// `fingerprint` is copied into each finding.
std::vector<finding> plan_findings(const plan& p, const statement_analysis& stmt,
                                   const catalog& cat,
                                   const std::string& fingerprint);

/// Workload-level findings: N+1 patterns (a statement with a huge call count
/// and a tiny mean time whose calls match the rows of a parent statement)
/// and statement-independent schema findings (foreign keys without an index
/// that joins use, stale statistics). `analyses` is parallel to
/// `statements` (null where a statement could not be analysed).
std::vector<finding>
workload_findings(const std::vector<statement_metrics>& statements,
                  const std::vector<const statement_analysis*>& analyses,
                  const catalog& cat);

void write(rapidjson::Writer<rapidjson::StringBuffer>& w, const finding& x);

} // namespace optischema
