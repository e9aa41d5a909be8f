#pragma once

// Request-target parsing: percent-decoding, query strings and the path
// checks that keep static files inside their directory.

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace optischema::web {

/// Decodes %XX escapes (and '+' as space when `plus_is_space`, as in query
/// strings). Returns nullopt for a malformed escape or a decoded NUL byte,
/// which no file name or API path may contain.
std::optional<std::string> percent_decode(std::string_view in,
                                          bool plus_is_space);

/// An origin-form request target, decoded.
struct parsed_target {
  std::string path;
  std::map<std::string, std::string> query;
};

/// Splits "/a%20b?x=1&y" into path "/a b" and query {x: 1, y: ""}. Returns
/// nullopt unless the target starts with '/' and decodes cleanly.
std::optional<parsed_target> parse_target(std::string_view target);

/// True when a segment of the decoded `path` is "..", the one way a request
/// could climb out of the static directory.
bool has_dot_dot_segment(std::string_view path);

} // namespace optischema::web
