#include "optischema/util/redact.hpp"

#include <algorithm>
#include <cctype>

namespace optischema {

namespace {

bool iequals_at(std::string_view text, size_t pos, std::string_view word) {
  if (pos + word.size() > text.size())
    return false;
  for (size_t i = 0; i < word.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[pos + i])) != word[i])
      return false;
  return true;
}

// Skips a libpq value starting at `pos`: either 'quoted with \' escapes' or,
// as libpq reads key=value strings, a run up to whitespace; a URI query
// parameter (`uri_param`) also ends at '&'. Quotes and commas inside are part
// of a password: stopping there showed its rest (found by fuzzing).
size_t value_end(std::string_view text, size_t pos, bool uri_param) {
  if (pos < text.size() && text[pos] == '\'') {
    ++pos;
    while (pos < text.size() && text[pos] != '\'') {
      if (text[pos] == '\\')
        ++pos;
      ++pos;
    }
    return std::min(text.size(), pos + 1);
  }
  while (pos < text.size()
         && !std::isspace(static_cast<unsigned char>(text[pos]))
         && !(uri_param && text[pos] == '&'))
    ++pos;
  return pos;
}

} // namespace

std::string redact_secrets(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    // password = value (key/value conninfo, URI query parameter, env dumps);
    // libpq allows any whitespace around '=', newlines included (fuzzing).
    if (iequals_at(text, i, "password")) {
      auto blank = [&](size_t k) {
        return std::isspace(static_cast<unsigned char>(text[k])) != 0;
      };
      auto j = i + 8;
      while (j < text.size() && blank(j))
        ++j;
      if (j < text.size() && (text[j] == '=' || text[j] == ':')) {
        ++j;
        while (j < text.size() && blank(j))
          ++j;
        out.append(text.substr(i, j - i));
        out += "***";
        i = value_end(text, j,
                      i > 0 && (text[i - 1] == '?' || text[i - 1] == '&'));
        continue;
      }
    }
    // scheme://user:secret@host. The user info runs to the first '@'
    // before any '/', as libpq reads it: a password may hold quotes, spaces
    // and newlines (stopping at them showed the rest, found by fuzzing).
    if (text.compare(i, 3, "://") == 0) {
      auto at = text.find('@', i + 3);
      if (at != std::string_view::npos && at < text.find('/', i + 3)) {
        auto colon = text.find(':', i + 3);
        if (colon != std::string_view::npos && colon < at) {
          out.append(text.substr(i, colon + 1 - i));
          out += "***";
          i = at;
          continue;
        }
      }
    }
    // Authorization: Bearer <token>
    if (iequals_at(text, i, "bearer ")) {
      out.append(text.substr(i, 7));
      out += "***";
      i = value_end(text, i + 7, false);
      continue;
    }
    out += text[i++];
  }
  return out;
}

} // namespace optischema
