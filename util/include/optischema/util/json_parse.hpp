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

/// The value of the four hex digits at `text[i]`, or -1.
inline int hex4(std::string_view text, size_t i) {
  if (i + 4 > text.size())
    return -1;
  int v = 0;
  for (size_t k = i; k < i + 4; ++k) {
    auto c = text[k];
    int d = c >= '0' && c <= '9' ? c - '0'
      : c >= 'a' && c <= 'f'     ? c - 'a' + 10
      : c >= 'A' && c <= 'F'     ? c - 'A' + 10
                                 : -1;
    if (d < 0)
      return -1;
    v = v * 16 + d;
  }
  return v;
}

/// What one pass over a text finds before RapidJSON parses it.
struct prescan {
  /// The deepest nesting of arrays and objects (counting stops past `stop`).
  size_t depth = 0;
  /// The offset of the first \u escape of a UTF-16 surrogate that is not
  /// half of a pair, or npos. RapidJSON 1.1 refuses a lone high surrogate
  /// but turns a lone low one into bytes that are not UTF-8: echoed in an
  /// answer or a WebSocket frame (where browsers drop the socket), stored,
  /// or compared.
  size_t lone_surrogate = std::string_view::npos;
};

/// Scans `text` once, without recursion: nesting outside strings, escapes
/// inside them. Stops at the first lone surrogate or past `stop` levels.
inline prescan scan(std::string_view text, size_t stop) {
  prescan out;
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = text[i];
    if (in_string) {
      if (c == '"') {
        in_string = false;
      } else if (c == '\\') {
        auto v = i + 1 < text.size() && text[i + 1] == 'u' ? hex4(text, i + 2)
                                                           : -1;
        auto low = v >= 0xD800 && v <= 0xDBFF && i + 7 < text.size()
            && text[i + 6] == '\\' && text[i + 7] == 'u'
          ? hex4(text, i + 8)
          : -1;
        if ((v >= 0xDC00 && v <= 0xDFFF)
            || (v >= 0xD800 && v <= 0xDBFF && (low < 0xDC00 || low > 0xDFFF))) {
          out.lone_surrogate = i;
          return out;
        }
        if (low >= 0)
          i += 6; // the pair's low half
        ++i;      // the escaped character
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > out.depth) {
          out.depth = depth;
          if (out.depth > stop)
            return out;
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
  return out;
}

/// The deepest nesting of arrays and objects in `text`, counted without
/// recursion (strings and their escapes skipped). Stops counting at `stop`,
/// and at a lone surrogate (which parse refuses anyway).
inline size_t nesting_depth(std::string_view text, size_t stop) {
  return scan(text, stop).depth;
}

/// Parses `text` into `d`. Fails (ec::parse_error) on malformed JSON, with
/// RapidJSON's reason and offset, on nesting deeper than `max_depth`, and on
/// a \u escape of a lone UTF-16 surrogate (no character: JSON texts from
/// outside are UTF-8 throughout once parsed).
/// `what` names the text in the message ("the request body").
inline expected<ok> parse(rapidjson::Document& d, std::string_view text,
                          std::string_view what = "the JSON text",
                          size_t max_depth = default_max_depth) {
  auto found = scan(text, max_depth);
  if (found.depth > max_depth)
    return failure{ec::parse_error,
                   std::string{what} + " nests arrays and objects deeper than "
                     + std::to_string(max_depth) + " levels"};
  if (found.lone_surrogate != std::string_view::npos)
    return failure{ec::parse_error,
                   std::string{what}
                     + " holds a \\u escape that is no character (a lone "
                       "UTF-16 surrogate, at byte "
                     + std::to_string(found.lone_surrogate) + ")"};
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
