#pragma once

// The one way to parse JSON that came from outside the process (request
// bodies, WebSocket frames, LLM answers, EXPLAIN output, libpg_query trees,
// stored records). RapidJSON's default Parse recurses once per nesting level,
// so 300,000 '[' overflow the stack; and code that walks a Document recurses
// too. Here nesting is counted first, without recursion, and refused past a
// limit; then RapidJSON parses iteratively. Header-only: includers link
// rapidjson (an interface target).

#include "optischema/util/error.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace optischema::json {

/// Deep enough for every document the engine reads (plans nest a few levels
/// per plan node; libpg_query trees a few per expression level), far from
/// what would exhaust a thread's stack in code that walks the result.
constexpr size_t default_max_depth = 512;

/// The deepest nesting of arrays and objects in `text`, counted without
/// recursion (strings and their escapes skipped). Stops counting at `stop`.
inline size_t nesting_depth(std::string_view text, size_t stop) {
  size_t depth = 0;
  size_t deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > stop)
            return deepest;
        }
        break;
      case ']':
      case '}':
        if (depth > 0)
          --depth;
        break;
      default: break;
    }
  }
  return deepest;
}

/// Parses `text` into `d`. Fails (ec::parse_error) on malformed JSON, with
/// RapidJSON's reason and offset, and on nesting deeper than `max_depth`.
/// `what` names the text in the message ("the request body").
inline expected<ok> parse(rapidjson::Document& d, std::string_view text,
                          std::string_view what = "the JSON text",
                          size_t max_depth = default_max_depth) {
  if (nesting_depth(text, max_depth) > max_depth)
    return failure{ec::parse_error,
                   std::string{what} + " nests arrays and objects deeper than "
                     + std::to_string(max_depth) + " levels"};
  d.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (d.HasParseError())
    return failure{ec::parse_error,
                   std::string{what} + " is not valid JSON: "
                     + rapidjson::GetParseError_En(d.GetParseError())
                     + " (at byte " + std::to_string(d.GetErrorOffset())
                     + ")"};
  return ok{};
}

} // namespace optischema::json
