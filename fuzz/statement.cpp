// pg_stat_statements texts and ad-hoc statements, which any database user
// writes: fingerprints and normalisation (analysis/src/fingerprint.cpp),
// statement analysis over libpg_query's tree (statement.cpp), index
// candidates (candidates.cpp) and the workload findings. An index built from
// a hostile text must still be exactly one CREATE INDEX of the engine's own
// index, as the applier's check (change.cpp) demands.

#include "catalog.hpp"
#include "fuzz.hpp"

#include "optischema/analysis/candidates.hpp"
#include "optischema/analysis/change.hpp"
#include "optischema/analysis/findings.hpp"
#include "optischema/analysis/fingerprint.hpp"
#include "optischema/analysis/recommendation.hpp"
#include "optischema/analysis/statement.hpp"

#include <cctype>

using namespace optischema;

namespace {

/// True when `sql` means the same whatever standard_conforming_strings is:
/// no backslash inside a plain '…' literal (with the setting off, a
/// backslash escapes the next quote, so the rest of the DDL could be read
/// as something else). E'…' literals and "…" identifiers may hold any.
bool reads_the_same_without_scs(std::string_view sql) {
  for (size_t i = 0; i < sql.size(); ++i) {
    auto c = sql[i];
    if (c == '"') {
      i = sql.find('"', i + 1);
      if (i == std::string_view::npos)
        return true;
      continue;
    }
    if (c != '\'')
      continue;
    auto ident = [](char x) {
      return std::isalnum(static_cast<unsigned char>(x)) || x == '_';
    };
    bool escaped_string = i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e')
      && (i < 2 || !ident(sql[i - 2]));
    for (++i; i < sql.size(); ++i) {
      if (sql[i] == '\\') {
        if (!escaped_string)
          return false;
        ++i;
      } else if (sql[i] == '\'') {
        if (i + 1 < sql.size() && sql[i + 1] == '\'')
          ++i;
        else
          break;
      }
    }
  }
  return true;
}

/// The DDL the advisor makes of a candidate (advice/src/advisor.cpp): named,
/// CONCURRENTLY, and its rollback.
void check_ddl(const index_candidate& c) {
  auto name = index_name_for(c.table, c.keys);
  auto body = c.ddl().substr(std::string{"CREATE INDEX "}.size());
  auto create = parse_index_change("CREATE INDEX CONCURRENTLY "
                                   + quote_ident(name) + " " + body);
  fuzz::require(create.has_value(),
                "a candidate's DDL that does not parse "
                "as one CREATE INDEX");
  fuzz::require(create->index_name == name && create->table == c.table
                  && create->schema == c.schema,
                "a candidate's DDL that names another index or table");
  fuzz::require(reads_the_same_without_scs(create->sql),
                "a candidate's DDL whose meaning depends on "
                "standard_conforming_strings");
  auto drop = parse_index_change("DROP INDEX CONCURRENTLY IF EXISTS "
                                 + quote_qualified(c.schema, name));
  fuzz::require(drop.has_value() && drop->index_name == name,
                "a candidate's rollback that drops another index");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string sql{fuzz::text(data, size)};
  auto fp = fingerprint_statement(sql);
  fuzz::require(fp.fingerprint.size() == 16, "a fingerprint of other length");
  split_statements(sql);
  reparsable_sql(fp.normalized);
  // What EXPLAIN gets for a pg_stat_statements text: never less parsable.
  auto type = single_statement_type(sql);
  auto reparsed = single_statement_type(reparsable_sql(sql));
  if (type)
    fuzz::require(reparsed.has_value() && *reparsed == *type,
                  "reparsable_sql broke a statement that parsed");
  auto& cat = fuzz::sample_catalog();
  auto analysis = analyze_statement(sql, cat);
  if (!analysis)
    return 0;
  std::vector<std::string> skipped;
  for (auto& c : generate_candidates(*analysis, cat, &skipped)) {
    c.key();
    served_by(c, cat);
    check_ddl(c);
  }
  statement_metrics st;
  st.fingerprint = fp.fingerprint;
  st.query = sql;
  st.total.calls = 100'000;
  st.total.rows = 100'000;
  st.total.exec_time_ms = 50;
  st.interval = st.total;
  std::vector<const statement_analysis*> analyses{&*analysis};
  workload_findings({st}, analyses, cat);
  return 0;
}
