#include "optischema/analysis/findings.hpp"
#include "optischema/util/strings.hpp"
#include "findings_internal.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/analysis/sql_quote.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <string_view>
#include <tuple>

// Rules that read a plan, a statement's analysis, the catalog and the
// workload's statistics, and say what is wrong and what to do. Every
// threshold below carries the reason for its value; anchors.md (sections
// 2.2, 2.5, 2.8 and 4) is the research they cite.

namespace optischema {

const char* to_string(severity x) {
  switch (x) {
    case severity::info: return "info";
    case severity::low: return "low";
    case severity::medium: return "medium";
    case severity::high: return "high";
    case severity::critical: return "critical";
  }
  return "info";
}

using namespace findings_detail;

std::vector<finding>
plan_findings(const plan& p, const statement_analysis& stmt, const catalog& cat,
              const std::string& fingerprint) {
  context c{p, stmt, cat, fingerprint, {}, {}, {}};
  index_nodes(p.root, -1, c);
  for (int pos = 0; pos < static_cast<int>(c.nodes.size()); ++pos) {
    seq_scan_large_table(c, pos);
    rows_removed_by_filter(c, pos);
    sort_limit_without_index(c, pos);
    nested_loop_large_inner(c, pos);
    sort_spill(c, pos);
    hash_spill(c, pos);
  }
  pattern_findings(c);
  note_findings(c);
  stale_statistics(c);
  sort_findings(c.out);
  return std::move(c.out);
}

std::vector<finding>
workload_findings(const std::vector<statement_metrics>& statements,
                  const std::vector<const statement_analysis*>& analyses,
                  const catalog& cat) {
  std::vector<finding> out;
  n_plus_one(statements, analyses, out);
  missing_fk_indexes(cat, statements, analyses, out);
  for (auto& t : cat.tables)
    if (auto why = stale_reason(t))
      add(out, stale_finding(t, why->first, why->second));
  sort_findings(out);
  return out;
}

void write(rapidjson::Writer<rapidjson::StringBuffer>& w, const finding& x) {
  w.StartObject();
  json::field(w, "kind", x.kind);
  json::field(w, "severity", to_string(x.level));
  json::field(w, "title", x.title);
  json::field(w, "evidence", x.evidence);
  json::field(w, "suggestion", x.suggestion);
  json::field(w, "fingerprint", x.fingerprint);
  json::key(w, "node_id");
  if (x.node_id)
    w.Int(*x.node_id);
  else
    w.Null();
  json::field(w, "relation", x.relation);
  json::field(w, "columns", x.columns);
  w.EndObject();
}

} // namespace optischema
