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

// Text of findings: counts, sizes and percentages as people read them, and
// the reader of EXPLAIN's filter expressions (column references, casts,
// parentheses) the rules look into.

namespace optischema::findings_detail {

// -- text ---------------------------------------------------------------------

std::string count_text(double x) {
  auto digits = fmt::format("{:.0f}", std::max(0.0, std::round(x)));
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

/// "1 row", "~5 rows".
std::string rows_text(double x) {
  auto n = count_text(x);
  return n == "1" ? "1 row" : n + " rows";
}

std::string percent_text(double fraction) {
  auto p = fraction * 100;
  if (p > 0 && p < 0.1)
    return "<0.1%";
  return fmt::format("{:.1f}%", p);
}

std::string bytes_text(double bytes) {
  if (bytes >= 1024.0 * 1024 * 1024)
    return fmt::format("{:.1f} GB", bytes / (1024.0 * 1024 * 1024));
  if (bytes >= 1024.0 * 1024)
    return fmt::format("{:.1f} MB", bytes / (1024.0 * 1024));
  return fmt::format("{:.0f} kB", std::ceil(bytes / 1024));
}

/// A work_mem value (as SET accepts it) that holds `bytes`, rounded up.
std::string work_mem_text(double bytes) {
  auto mb = std::ceil(bytes / (1024.0 * 1024));
  if (mb <= 1)
    return fmt::format("{:.0f}kB", std::ceil(bytes / 1024));
  return fmt::format("{:.0f}MB", mb);
}

bool starts_with(std::string_view x, std::string_view prefix) {
  return x.substr(0, prefix.size()) == prefix;
}

void add_unique(std::vector<std::string>& xs, const std::string& x) {
  if (!x.empty() && std::find(xs.begin(), xs.end(), x) == xs.end())
    xs.push_back(x);
}

bool is_ident_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}

bool is_ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}

std::string quoted_relation(const std::string& qualified) {
  auto dot = qualified.find('.');
  if (dot == std::string::npos)
    return quote_ident(qualified);
  return quote_ident(qualified.substr(0, dot)) + "."
    + quote_ident(qualified.substr(dot + 1));
}

std::string column_list(const std::vector<std::string>& cols) {
  std::vector<std::string> quoted;
  for (auto& c : cols)
    quoted.push_back(quote_ident(c));
  return join(quoted, ", ");
}

// -- expression text ----------------------------------------------------------

/// Index just past the string literal or quoted identifier starting at `i`.
size_t skip_quoted(std::string_view x, size_t i) {
  auto q = x[i];
  for (++i; i < x.size(); ++i) {
    if (x[i] != q)
      continue;
    if (i + 1 < x.size() && x[i + 1] == q) {
      ++i; // doubled quote inside
      continue;
    }
    return i + 1;
  }
  return x.size();
}

/// Index of the parenthesis closing the one at `open`, or npos.
size_t matching_paren(std::string_view x, size_t open) {
  int depth = 0;
  for (size_t i = open; i < x.size();) {
    auto c = x[i];
    if (c == '\'' || c == '"') {
      i = skip_quoted(x, i);
      continue;
    }
    if (c == '(')
      ++depth;
    else if (c == ')' && --depth == 0)
      return i;
    ++i;
  }
  return std::string_view::npos;
}

/// Index of the parenthesis opening the one at `close`, or npos. (Walks
/// backwards, so it cannot skip literals; a parenthesis inside a literal
/// between the two is the rare case it gets wrong.)
size_t matching_open(std::string_view x, size_t close) {
  int depth = 0;
  for (auto i = close + 1; i-- > 0;) {
    if (x[i] == ')')
      ++depth;
    else if (x[i] == '(' && --depth == 0)
      return i;
  }
  return std::string_view::npos;
}

size_t skip_spaces(std::string_view x, size_t i) {
  while (i < x.size() && x[i] == ' ')
    ++i;
  return i;
}

/// Reads an identifier (plain or quoted) at `i`; returns it unquoted and
/// moves `i` past it.
std::string read_ident(std::string_view x, size_t& i) {
  if (x[i] == '"') {
    auto end = skip_quoted(x, i);
    std::string out;
    for (auto j = i + 1; j + 1 < end; ++j) {
      out += x[j];
      if (x[j] == '"')
        ++j;
    }
    i = end;
    return out;
  }
  auto start = i;
  while (i < x.size() && is_ident_char(x[i]))
    ++i;
  return std::string{x.substr(start, i - start)};
}

/// Words a type name may continue with ("timestamp with time zone",
/// "character varying", "double precision").
bool type_word(std::string_view w) {
  return w == "with" || w == "without" || w == "time" || w == "zone"
    || w == "varying" || w == "precision";
}

/// Reads the type after "::" at `i` ("text", "timestamp with time zone",
/// "character varying(20)", "integer[]").
std::string read_type(std::string_view x, size_t& i) {
  std::string out;
  i = skip_spaces(x, i);
  while (i < x.size() && (is_ident_start(x[i]) || x[i] == '"')) {
    auto save = i;
    auto word = read_ident(x, i);
    if (!out.empty() && !type_word(word)) {
      i = save;
      break;
    }
    if (i < x.size() && x[i] == '.') { // schema-qualified type
      ++i;
      word += "." + read_ident(x, i);
    }
    if (!out.empty())
      out += ' ';
    out += word;
    if (i < x.size() && x[i] == ' ' && i + 1 < x.size()
        && is_ident_start(x[i + 1]))
      ++i;
    else
      break;
  }
  if (i < x.size() && x[i] == '(') {
    auto close = matching_paren(x, i);
    i = close == std::string_view::npos ? x.size() : close + 1;
  }
  while (i + 1 < x.size() && x[i] == '[' && x[i + 1] == ']') {
    out += "[]";
    i += 2;
  }
  return out;
}

/// Upper-case keywords and the few lower-case words EXPLAIN prints that are
/// not columns.
bool keyword(const std::string& w) {
  static const std::set<std::string> words
    = {"and",     "or",       "not",    "is",      "null",     "true",
       "false",   "any",      "all",    "array",   "in",       "like",
       "ilike",   "case",     "when",   "then",    "else",     "end",
       "subplan", "initplan", "hashed", "from",    "distinct", "between",
       "unknown", "row",      "exists", "collate", "similar",  "escape",
       "some",    "at",       "zone",   "interval"};
  return words.count(lower(w)) > 0;
}

/// Column references of an expression, in order of appearance: skips
/// literals, parameters, numbers, type names after "::", function names and
/// keywords.
std::vector<column_ref> column_refs(std::string_view x) {
  std::vector<column_ref> out;
  for (size_t i = 0; i < x.size();) {
    auto c = x[i];
    if (c == '\'') {
      i = skip_quoted(x, i);
    } else if (c == ':' && i + 1 < x.size() && x[i + 1] == ':') {
      i += 2;
      read_type(x, i);
    } else if (c == '$' || std::isdigit(static_cast<unsigned char>(c))) {
      ++i;
      while (i < x.size() && (is_ident_char(x[i]) || x[i] == '.'))
        ++i;
    } else if (is_ident_start(c) || c == '"') {
      bool quoted = c == '"';
      std::vector<std::string> parts{read_ident(x, i)};
      while (i + 1 < x.size() && x[i] == '.'
             && (is_ident_start(x[i + 1]) || x[i + 1] == '"')) {
        ++i;
        parts.push_back(read_ident(x, i));
      }
      if (i < x.size() && x[i] == '(')
        continue; // a function name
      if (parts.size() == 1 && !quoted && keyword(parts[0]))
        continue;
      column_ref r;
      r.name = parts.back();
      if (parts.size() >= 2)
        r.qualifier = parts[parts.size() - 2];
      out.push_back(std::move(r));
    } else {
      ++i;
    }
  }
  return out;
}

/// Splits `x` (the inside of one parenthesised group) at `sep` where `sep`
/// is outside any nested parentheses and literals.
std::vector<std::string_view> split_top(std::string_view x,
                                        std::string_view sep) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < x.size();) {
    auto c = x[i];
    if (c == '\'' || c == '"') {
      i = skip_quoted(x, i);
      continue;
    }
    if (c == '(')
      ++depth;
    else if (c == ')')
      --depth;
    else if (depth == 0 && x.substr(i, sep.size()) == sep) {
      out.push_back(x.substr(start, i - start));
      i += sep.size();
      start = i;
      continue;
    }
    ++i;
  }
  out.push_back(x.substr(start));
  return out;
}

/// Removes one pair of parentheses enclosing the whole of `x`.
std::string_view strip_parens(std::string_view x) {
  while (x.size() >= 2 && x.front() == '('
         && matching_paren(x, 0) == x.size() - 1)
    x = x.substr(1, x.size() - 2);
  return x;
}

} // namespace optischema::findings_detail
