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
  // A URI's query value runs to the next '&' as libpq reads it, blanks and
  // control characters included: stopping at a blank showed the rest of a
  // password such as "*\rh…" (fuzzing). Masking the rest of a log line is
  // the safe side.
  if (uri_param) {
    auto amp = text.find('&', pos);
    return amp == std::string_view::npos ? text.size() : amp;
  }
  while (pos < text.size()
         && !std::isspace(static_cast<unsigned char>(text[pos])))
    ++pos;
  return pos;
}

/// Where the word (a key such as sslpassword) holding `pos` starts; at most
/// 64 characters back (keys are short, and "passwordpassword…" must not
/// make redaction quadratic): a longer word counts as starting there.
size_t key_start(std::string_view text, size_t pos) {
  auto stop = pos > 64 ? pos - 64 : 0;
  while (pos > stop
         && (std::isalnum(static_cast<unsigned char>(text[pos - 1]))
             || text[pos - 1] == '_'))
    --pos;
  return pos;
}

} // namespace

std::string redact_secrets(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  // The user info of a URI being read: its password runs from `mask_from`
  // (after the ':') to `mask_to` (the '@'). The text before it is read like
  // any other (a key=value string can hold "://…@", and a password= inside
  // it must still be hidden: fuzzing).
  auto mask_from = std::string_view::npos;
  size_t mask_to = 0;
  size_t next_at = 0;
  size_t next_colon = 0;
  size_t next_slash = 0;
  while (i < text.size()) {
    if (i >= mask_from) {
      if (i == mask_from)
        out += "***";
      i = std::max(i, mask_to);
      mask_from = std::string_view::npos;
      continue;
    }
    // password = value (key/value conninfo, URI query parameter, env dumps);
    // libpq allows any whitespace around '=', newlines included (fuzzing).
    if (iequals_at(text, i, "password")) {
      // The key ends a word (sslpassword, PGPASSWORD count); a word right
      // after '=' is another key's value (host=password=), and taking it
      // for the key let the real password after it show (fuzzing).
      auto key = key_start(text, i);
      auto is_key = key == 0 || text[key - 1] != '=';
      auto blank = [&](size_t k) {
        return std::isspace(static_cast<unsigned char>(text[k])) != 0;
      };
      auto j = i + 8;
      while (j < text.size() && blank(j))
        ++j;
      if (is_key && j < text.size() && (text[j] == '=' || text[j] == ':')) {
        ++j;
        while (j < text.size() && blank(j))
          ++j;
        out.append(text.substr(i, j - i));
        out += "***";
        // A URI query parameter (its key, sslpassword too, follows '?' or
        // '&') ends at '&'. Read as key=value, an sslpassword ran over the
        // next parameters and the password after them showed (fuzzing).
        i = value_end(text, j,
                      key > 0 && (text[key - 1] == '?' || text[key - 1] == '&'));
        continue;
      }
    }
    // scheme://user:secret@host. The user info runs to the first '@'
    // before any '/', as libpq reads it: a password may hold quotes, spaces
    // and newlines (stopping at them showed the rest, found by fuzzing).
    if (mask_from == std::string_view::npos
        && text.compare(i, 3, "://") == 0) {
      // Next '@', '/' and ':' after i + 3, found once per stretch of text
      // (a text of many "://" must not be scanned once for each).
      auto next = [&](size_t& cached, char c) {
        if (cached != std::string_view::npos && cached < i + 3)
          cached = text.find(c, i + 3);
        return cached;
      };
      auto at = next(next_at, '@');
      auto colon = next(next_colon, ':');
      if (at != std::string_view::npos && at < next(next_slash, '/')
          && colon < at) {
        mask_from = colon + 1;
        mask_to = at;
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
