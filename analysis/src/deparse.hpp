#pragma once

// The deparser: libpg_query parse tree nodes of an expression back into SQL
// text, for index keys and the texts the statement analysis reports. Private
// to the analysis library (statement.cpp is its one user); quoting is
// sql_quote's, tree access parse_tree's.

#include "optischema/analysis/parse_tree.hpp"

#include <string>

namespace optischema {

// Rebuilds the text of an expression the way it reads in an index
// definition: column references unqualified, identifiers quoted only where
// needed. Returns an empty string for anything it does not know, so callers
// never index a half-printed expression.
std::string deparse(const parse_tree::node& n);

} // namespace optischema
