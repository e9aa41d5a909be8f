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

// Skips a libpq value starting at `pos`: either 'quoted with \' escapes' or a
// run up to whitespace or '&' (URI parameters). Returns the end position.
size_t value_end(std::string_view text, size_t pos) {
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
         && text[pos] != '&' && text[pos] != '"' && text[pos] != ',')
    ++pos;
  return pos;
}

} // namespace

std::string redact_secrets(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    // password = value (key/value conninfo, URI query parameter, env dumps)
    if (iequals_at(text, i, "password")) {
      auto j = i + 8;
      while (j < text.size() && text[j] == ' ')
        ++j;
      if (j < text.size() && (text[j] == '=' || text[j] == ':')) {
        ++j;
        while (j < text.size() && text[j] == ' ')
          ++j;
        out.append(text.substr(i, j - i));
        out += "***";
        i = value_end(text, j);
        continue;
      }
    }
    // scheme://user:secret@host
    if (text.compare(i, 3, "://") == 0) {
      auto at = text.find('@', i + 3);
      auto slash = text.find('/', i + 3);
      auto space = text.find_first_of(" \t\n'\"", i + 3);
      auto limit = std::min(slash, space);
      if (at != std::string_view::npos && at < limit) {
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
      i = value_end(text, i + 7);
      continue;
    }
    out += text[i++];
  }
  return out;
}

} // namespace optischema
