#pragma once

// Index candidates for one statement, from its analysis and the catalog, and
// the check that an existing index already serves a candidate.

#include "optischema/analysis/catalog.hpp"
#include "optischema/analysis/statement.hpp"

#include <string>
#include <vector>

namespace optischema {

struct index_candidate {
  std::string schema;
  std::string table;
  /// "btree", "gin", "gist", "brin", "hash".
  std::string method = "btree";
  /// Key elements as they appear in CREATE INDEX: "patient_id",
  /// "starts_at DESC", "(lower(last_name))", "title gin_trgm_ops",
  /// "doc jsonb_path_ops". Identifiers quoted where needed.
  std::vector<std::string> keys;
  /// INCLUDE columns (covering index for index-only scans).
  std::vector<std::string> include;
  /// Partial index predicate, e.g. "NOT paid", "status = 'open'".
  std::string predicate;
  /// The index needs the pg_trgm extension.
  bool needs_pg_trgm = false;
  /// Why this candidate exists, for the recommendation's reasons:
  /// e.g. "equality on patient_id", "ORDER BY starts_at DESC".
  std::vector<std::string> reasons;

  /// CREATE INDEX ON schema.table USING method (keys) [INCLUDE (…)]
  /// [WHERE …]; no name, no CONCURRENTLY (the applier adds those).
  std::string ddl() const;
  /// Canonical identity: equal for candidates that would build the same
  /// index (used to merge candidates of several statements).
  std::string key() const;
  friend bool operator==(const index_candidate& x, const index_candidate& y) {
    return x.key() == y.key();
  }
};

/// Candidates for one statement: single columns, multi-column (equality
/// columns before range and sort columns, with directions), covering,
/// partial, expression, GIN (jsonb/array), trigram and BRIN where btree
/// cannot serve or a BRIN fits, hash for wide keys only compared with =, as
/// described in candidates.cpp. Never a
/// candidate an existing index serves. `skipped` receives one line per use
/// no access method serves (e.g. "no index serves LIKE with an unknown
/// pattern on public.t.title").
std::vector<index_candidate>
generate_candidates(const statement_analysis& stmt, const catalog& cat,
                    std::vector<std::string>* skipped = nullptr);

/// The valid existing index (any access method) that already serves `c`
/// (same method family, `c`'s keys a prefix of its keys with compatible
/// directions, predicate and INCLUDE covered), or null.
const index_info* served_by(const index_candidate& c, const catalog& cat);

} // namespace optischema
