#include "optischema/analysis/sql_quote.hpp"

#include <algorithm>
#include <array>

namespace optischema {

namespace {

// PostgreSQL 15's keywords that quote_ident() quotes: every category but
// UNRESERVED_KEYWORD (src/include/parser/kwlist.h). Sorted for binary search.
constexpr auto quoted_keywords = std::to_array<std::string_view>({
  "all",
  "analyse",
  "analyze",
  "and",
  "any",
  "array",
  "as",
  "asc",
  "asymmetric",
  "authorization",
  "between",
  "bigint",
  "binary",
  "bit",
  "boolean",
  "both",
  "case",
  "cast",
  "char",
  "character",
  "check",
  "coalesce",
  "collate",
  "collation",
  "column",
  "concurrently",
  "constraint",
  "create",
  "cross",
  "current_catalog",
  "current_date",
  "current_role",
  "current_schema",
  "current_time",
  "current_timestamp",
  "current_user",
  "dec",
  "decimal",
  "default",
  "deferrable",
  "desc",
  "distinct",
  "do",
  "else",
  "end",
  "except",
  "exists",
  "extract",
  "false",
  "fetch",
  "float",
  "for",
  "foreign",
  "freeze",
  "from",
  "full",
  "grant",
  "greatest",
  "group",
  "grouping",
  "having",
  "ilike",
  "in",
  "initially",
  "inner",
  "inout",
  "int",
  "integer",
  "intersect",
  "interval",
  "into",
  "is",
  "isnull",
  "join",
  "lateral",
  "leading",
  "least",
  "left",
  "like",
  "limit",
  "localtime",
  "localtimestamp",
  "national",
  "natural",
  "nchar",
  "none",
  "normalize",
  "not",
  "notnull",
  "null",
  "nullif",
  "numeric",
  "offset",
  "on",
  "only",
  "or",
  "order",
  "out",
  "outer",
  "overlaps",
  "overlay",
  "placing",
  "position",
  "precision",
  "primary",
  "real",
  "references",
  "returning",
  "right",
  "row",
  "select",
  "session_user",
  "setof",
  "similar",
  "smallint",
  "some",
  "substring",
  "symmetric",
  "table",
  "tablesample",
  "then",
  "time",
  "timestamp",
  "to",
  "trailing",
  "treat",
  "trim",
  "true",
  "union",
  "unique",
  "user",
  "using",
  "values",
  "varchar",
  "variadic",
  "verbose",
  "when",
  "where",
  "window",
  "with",
  "xmlattributes",
  "xmlconcat",
  "xmlelement",
  "xmlexists",
  "xmlforest",
  "xmlnamespaces",
  "xmlparse",
  "xmlpi",
  "xmlroot",
  "xmlserialize",
  "xmltable",
});
static_assert(std::is_sorted(quoted_keywords.begin(), quoted_keywords.end()));

} // namespace

std::string quote_ident(std::string_view x) {
  bool plain = !x.empty() && ((x[0] >= 'a' && x[0] <= 'z') || x[0] == '_');
  for (char c : x)
    plain = plain
      && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
          || c == '$');
  if (plain
      && !std::binary_search(quoted_keywords.begin(), quoted_keywords.end(), x))
    return std::string{x};
  std::string out = "\"";
  for (char c : x) {
    if (c == '"')
      out += '"';
    out += c;
  }
  return out + "\"";
}

std::string quote_qualified(std::string_view schema, std::string_view name) {
  return quote_ident(schema) + "." + quote_ident(name);
}

std::string quote_literal(std::string_view x) {
  auto escape = x.find('\\') != std::string_view::npos;
  std::string out = escape ? "E'" : "'";
  for (char c : x) {
    if (c == '\'' || (escape && c == '\\'))
      out += c;
    out += c;
  }
  return out + "'";
}

} // namespace optischema
