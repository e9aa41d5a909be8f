#pragma once

// Quoting names and values for SQL the engine writes itself (index DDL,
// rewritten statements, sandbox setup): one place, so every generator quotes
// a column named `order` or `user` the same way the server's quote_ident()
// and quote_literal() would.

#include <string>
#include <string_view>

namespace optischema {

/// Quotes an identifier the way quote_ident() does: only when it is not a
/// plain lowercase name or is a keyword PostgreSQL 15 reserves in any way.
std::string quote_ident(std::string_view x);

/// `schema.name`, each part quoted as quote_ident() does.
std::string quote_qualified(std::string_view schema, std::string_view name);

/// A string constant; E'' only when a backslash needs escaping (the plain
/// form depends on standard_conforming_strings for backslashes).
std::string quote_literal(std::string_view x);

} // namespace optischema
