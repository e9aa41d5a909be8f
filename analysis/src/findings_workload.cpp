#include "findings_internal.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/analysis/sql_quote.hpp"
#include "optischema/util/strings.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <string_view>
#include <tuple>

// Rules over the whole workload: foreign keys without an index, N+1
// lookups and chatty statements.

namespace optischema::findings_detail {

// -- workload rules

std::string strip_index_key(std::string key) {
  for (auto suffix : {" NULLS FIRST", " NULLS LAST", " DESC", " ASC"})
    if (key.size() > std::string_view{suffix}.size()
        && key.compare(key.size() - std::string_view{suffix}.size(),
                       std::string::npos, suffix)
          == 0)
      key.resize(key.size() - std::string_view{suffix}.size());
  if (key.size() >= 2 && key.front() == '"' && key.back() == '"') {
    size_t i = 0;
    return read_ident(key, i);
  }
  return key;
}

/// A partial index still serves FK checks if it only leaves out NULLs
/// ("WHERE fk IS NOT NULL"), which never reference anything.
bool fk_compatible_predicate(const index_info& ix, const foreign_key_info& fk) {
  if (ix.predicate.empty())
    return true;
  for (auto part : split_top(strip_parens(ix.predicate), " AND ")) {
    auto p = strip_parens(part);
    auto suffix = std::string_view{" IS NOT NULL"};
    if (p.size() <= suffix.size()
        || p.substr(p.size() - suffix.size()) != suffix)
      return false;
    auto col
      = strip_index_key(std::string{p.substr(0, p.size() - suffix.size())});
    if (std::find(fk.columns.begin(), fk.columns.end(), col)
        == fk.columns.end())
      return false;
  }
  return true;
}

/// Does a valid index have the foreign key's columns as its leading keys (in
/// any order)? Btree serves any prefix; hash only a single column.
bool fk_covered(const table_info& t, const foreign_key_info& fk) {
  std::set<std::string> want(fk.columns.begin(), fk.columns.end());
  for (auto& ix : t.indexes) {
    if (!ix.valid || ix.keys.size() < fk.columns.size()
        || !fk_compatible_predicate(ix, fk))
      continue;
    if (ix.am != "btree" && !(ix.am == "hash" && fk.columns.size() == 1))
      continue;
    std::set<std::string> lead;
    for (size_t i = 0; i < fk.columns.size(); ++i)
      lead.insert(strip_index_key(ix.keys[i]));
    if (lead == want)
      return true;
  }
  return false;
}

/// Fingerprints of statements that join `t` on one of `cols`.
std::vector<std::string>
joining_statements(const table_info& t, const std::vector<std::string>& cols,
                   const std::vector<statement_metrics>& statements,
                   const std::vector<const statement_analysis*>& analyses) {
  std::vector<std::string> out;
  for (size_t i = 0; i < analyses.size() && i < statements.size(); ++i) {
    if (analyses[i] == nullptr)
      continue;
    for (auto& u : analyses[i]->uses)
      if (u.kind == use_kind::join && u.schema == t.schema && u.table == t.name
          && std::find(cols.begin(), cols.end(), u.column) != cols.end())
        add_unique(out, statements[i].fingerprint);
  }
  return out;
}

void missing_fk_indexes(const catalog& cat,
                        const std::vector<statement_metrics>& statements,
                        const std::vector<const statement_analysis*>& analyses,
                        std::vector<finding>& out) {
  for (auto& t : cat.tables) {
    if ((t.kind != 'r' && t.kind != 'p') || t.rows() < fk_min_rows)
      continue;
    for (auto& fk : t.foreign_keys) {
      if (fk.columns.empty() || fk_covered(t, fk))
        continue;
      auto joins = joining_statements(t, fk.columns, statements, analyses);
      finding f;
      f.kind = "missing_fk_index";
      // A join on the column pays for the missing index on every
      // execution; otherwise only the referenced table's DELETEs and key
      // UPDATEs do (one scan of this table each).
      f.level = joins.empty() ? severity::info : severity::medium;
      f.relation = t.qualified();
      f.columns = fk.columns;
      auto ref = fk.ref_schema + "." + fk.ref_table;
      f.title = fmt::format("Foreign key {} on {} ({}) has no index", fk.name,
                            t.qualified(), join(fk.columns, ", "));
      f.evidence = fmt::format(
        "{} (~{} rows) references {}; no valid index of {} starts with ({}), "
        "so every DELETE or key UPDATE on {} scans {} to check it",
        t.qualified(), count_text(t.rows()), ref, t.qualified(),
        join(fk.columns, ", "), ref, t.qualified());
      if (auto* parent = cat.find(fk.ref_schema, fk.ref_table);
          parent != nullptr && parent->n_tup_del > 0)
        f.evidence += fmt::format(" ({} deletes so far)",
                                  count_text(parent->n_tup_del));
      f.evidence += joins.empty()
        ? ". No analysed statement joins on it."
        : fmt::format(". Statements joining on it: {}.", join(joins, ", "));
      f.suggestion = fmt::format("CREATE INDEX CONCURRENTLY ON {} ({});",
                                 quoted_relation(t.qualified()),
                                 column_list(fk.columns));
      add(out, std::move(f));
    }
  }
}

bool reads_rows(const statement_metrics& m, const statement_analysis* a) {
  if (a != nullptr)
    return a->what == statement_analysis::kind::select;
  // Without an analysis, the first keyword of the normalised text.
  auto i = m.query.find_first_not_of(" \t\r\n(");
  if (i == std::string::npos)
    return false;
  auto word = lower(m.query.substr(i, 6));
  return word == "select" || starts_with(word, "with");
}

lookup_figures figures(const statement_metrics& m) {
  lookup_figures x;
  x.calls = static_cast<double>(m.total.calls);
  x.rows_per_call = x.calls > 0 ? static_cast<double>(m.total.rows) / x.calls
                                : 0;
  x.mean_ms = m.total.mean_time_ms();
  x.total_ms = m.total.exec_time_ms;
  return x;
}

bool single_row_lookup(const lookup_figures& x, double min_calls) {
  return x.calls >= min_calls && x.mean_ms <= n_plus_one_max_mean_ms
    && x.rows_per_call <= 1;
}

severity by_total_time(double total_ms) {
  if (total_ms >= n_plus_one_high_ms)
    return severity::high;
  if (total_ms >= n_plus_one_medium_ms)
    return severity::medium;
  return severity::low;
}

severity one_lower(severity x) {
  return x == severity::info ? x
                             : static_cast<severity>(static_cast<int>(x) - 1);
}

std::string short_query(const std::string& q) {
  constexpr size_t max = 120;
  return q.size() <= max ? q : q.substr(0, max) + "…";
}

/// The parent whose rows per call best match the child's calls per parent
/// call (ties: more calls, then fingerprint, for determinism).
std::optional<size_t>
best_parent(size_t child, const std::vector<statement_metrics>& statements,
            const std::vector<const statement_analysis*>& analyses) {
  auto cf = figures(statements[child]);
  std::optional<size_t> best;
  double best_error = 0;
  for (size_t i = 0; i < statements.size(); ++i) {
    if (i == child)
      continue;
    auto pf = figures(statements[i]);
    auto* a = i < analyses.size() ? analyses[i] : nullptr;
    if (pf.calls <= 0 || !reads_rows(statements[i], a))
      continue;
    auto ratio = cf.calls / pf.calls;
    if (ratio < n_plus_one_min_ratio)
      continue;
    auto error = std::abs(pf.rows_per_call - ratio) / ratio;
    if (error > n_plus_one_tolerance)
      continue;
    auto better = !best || error < best_error
      || (error == best_error
          && (pf.calls > figures(statements[*best]).calls
              || (pf.calls == figures(statements[*best]).calls
                  && statements[i].fingerprint
                    < statements[*best].fingerprint)));
    if (better) {
      best = i;
      best_error = error;
    }
  }
  return best;
}

void describe_child(finding& f, const statement_metrics& m,
                    const statement_analysis* a) {
  f.fingerprint = m.fingerprint;
  if (a == nullptr)
    return;
  if (!a->tables.empty()) {
    auto& t = a->tables.front();
    f.relation = t.schema.empty() ? t.table : t.schema + "." + t.table;
  }
  for (auto& u : a->uses)
    if (u.kind == use_kind::equality)
      add_unique(f.columns, u.column);
}

void n_plus_one(const std::vector<statement_metrics>& statements,
                const std::vector<const statement_analysis*>& analyses,
                std::vector<finding>& out) {
  for (size_t i = 0; i < statements.size(); ++i) {
    auto& child = statements[i];
    auto* ca = i < analyses.size() ? analyses[i] : nullptr;
    auto cf = figures(child);
    if (!single_row_lookup(cf, static_cast<double>(n_plus_one_min_calls))
        || !reads_rows(child, ca))
      continue;
    auto parent = best_parent(i, statements, analyses);
    if (!parent && cf.calls < static_cast<double>(chatty_min_calls))
      continue;
    finding f;
    f.kind = "n_plus_one";
    describe_child(f, child, ca);
    auto child_text = fmt::format(
      "{} ran {} times, {:.3f} ms mean, {:.2f} rows per call ({:.1f} ms in "
      "total): \"{}\"",
      child.fingerprint, count_text(cf.calls), cf.mean_ms, cf.rows_per_call,
      cf.total_ms, short_query(child.query));
    if (parent) {
      auto& p = statements[*parent];
      auto pf = figures(p);
      f.level = by_total_time(cf.total_ms);
      f.title = fmt::format("N+1: {} runs once per row of {}",
                            child.fingerprint, p.fingerprint);
      f.evidence = fmt::format(
        "Child {}. Parent {} ran {} times returning {:.1f} rows per call "
        "({:.3f} ms mean): {} calls × {:.1f} rows ≈ {} child calls.",
        child_text, p.fingerprint, count_text(pf.calls), pf.rows_per_call,
        pf.mean_ms, count_text(pf.calls), pf.rows_per_call,
        count_text(cf.calls));
      f.suggestion = fmt::format(
        "Fetch the children in one query instead of one per parent row: "
        "join them into {} (JOIN … ON the key), or run {} once per parent "
        "call with WHERE key = ANY($1) over the parent's keys (ORMs: eager "
        "loading / preload). Saves ~{} round trips per parent call.",
        p.fingerprint, child.fingerprint, count_text(cf.calls / pf.calls - 1));
    } else {
      f.level = one_lower(by_total_time(cf.total_ms));
      f.title = fmt::format("Chatty single-row lookup: {} ({} calls)",
                            child.fingerprint, count_text(cf.calls));
      f.evidence = fmt::format(
        "{}. No statement's rows per call match its call count, so the loop "
        "that drives it is not in the workload seen (or spans statements).",
        child_text);
      f.suggestion = fmt::format(
        "Find the loop in the application that runs {} per item and fetch the "
        "items in one query (WHERE key = ANY($1), or a JOIN into the query "
        "that lists them), or cache the lookups.",
        child.fingerprint);
    }
    add(out, std::move(f));
  }
}

} // namespace optischema::findings_detail
