#pragma once

// Reading and matching index definitions: key elements, INCLUDE columns
// and predicates as SQL text brought into one canonical form, so that the
// candidate generator can tell which candidates build the same index
// (index_candidate::key) and which existing index already serves one
// (served_by, both declared in candidates.hpp and defined in
// index_match.cpp). Private to the analysis library.

#include "optischema/analysis/catalog.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace optischema::index_match {

/// A key element parsed into what decides whether two indexes are the same.
struct element_sig {
  std::string expr;
  /// Only operator classes that change what the index serves; defaults
  /// (jsonb_ops, array_ops, int4_ops…) are empty.
  std::string opclass;
  bool desc = false;
  bool nulls_first = false;
  friend bool operator==(const element_sig&, const element_sig&) = default;
};

/// The key elements of an existing index (its opclasses from the catalog),
/// in canonical form; `t`'s text columns make their casts to text no-ops.
std::vector<element_sig> index_elements(const index_info& idx,
                                        const table_info* t);

/// A column type, as format_type() prints it, that holds text.
bool is_text_type(std::string_view type);

} // namespace optischema::index_match
