#include "optischema/analysis/fingerprint.hpp"
#include "optischema/util/json_parse.hpp"

#include <fmt/format.h>
#include <pg_query.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <tuple>

namespace optischema {

namespace {

// FNV-1a over the text with whitespace runs collapsed and case folded, so the
// fallback groups texts the way a reader would.
std::string text_hash(std::string_view sql) {
  uint64_t h = 0xcbf29ce484222325ULL;
  bool space = false;
  for (unsigned char c : sql) {
    if (std::isspace(c)) {
      space = true;
      continue;
    }
    if (space) {
      h = (h ^ ' ') * 0x100000001b3ULL;
      space = false;
    }
    h = (h ^ std::tolower(c)) * 0x100000001b3ULL;
  }
  return fmt::format("{:016x}", h);
}

bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

/// The dollar-quote tag starting at `at` ("$$", "$body$"), or "" when the
/// '$' there starts no tag ($1 is a parameter, not a quote).
std::string_view dollar_tag(std::string_view sql, size_t at) {
  auto end = at + 1;
  if (end < sql.size() && std::isdigit(static_cast<unsigned char>(sql[end])))
    return {};
  while (end < sql.size() && is_word_char(sql[end]))
    ++end;
  if (end < sql.size() && sql[end] == '$')
    return sql.substr(at, end - at + 1);
  return {};
}

/// The highest $n in `sql` (0 when none).
int highest_parameter(std::string_view sql) {
  int top = 0;
  for (size_t i = 0; i + 1 < sql.size(); ++i) {
    if (sql[i] != '$' || !std::isdigit(static_cast<unsigned char>(sql[i + 1])))
      continue;
    int n = 0;
    size_t j = i + 1;
    while (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j]))
           && n < 1'000'000)
      n = n * 10 + (sql[j++] - '0');
    top = std::max(top, n);
    i = j - 1;
  }
  return top;
}

} // namespace

std::string mask_quoted_literals(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  auto next = highest_parameter(sql);
  size_t i = 0;
  while (i < sql.size()) {
    auto c = sql[i];
    // Comments are copied as they are: a quote inside one is no literal.
    if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      auto end = std::min(sql.find('\n', i), sql.size());
      out.append(sql.substr(i, end - i));
      i = end;
      continue;
    }
    if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      auto end = sql.find("*/", i + 2);
      end = end == std::string_view::npos ? sql.size() : end + 2;
      out.append(sql.substr(i, end - i));
      i = end;
      continue;
    }
    if (c == '"') { // a quoted identifier, not a literal
      auto end = i + 1;
      while (
        end < sql.size()
        && !(sql[end] == '"' && (end + 1 >= sql.size() || sql[end + 1] != '"')))
        end += sql[end] == '"' ? 2 : 1;
      end = std::min(end + 1, sql.size());
      out.append(sql.substr(i, end - i));
      i = end;
      continue;
    }
    if (c == '$') {
      if (auto tag = dollar_tag(sql, i); !tag.empty()) {
        auto end = sql.find(tag, i + tag.size());
        i = end == std::string_view::npos ? sql.size() : end + tag.size();
        out += "$" + std::to_string(++next);
        continue;
      }
    }
    if (c == '\'') {
      // E'…' takes backslash escapes; the E (and U& or B/X) prefix goes
      // with the literal.
      bool backslash = false;
      if (!out.empty()
          && !is_word_char(out.size() > 1 ? out[out.size() - 2] : ' ')
          && (out.back() == 'E' || out.back() == 'e')) {
        backslash = true;
        out.pop_back();
      }
      auto end = i + 1;
      while (end < sql.size()) {
        if (backslash && sql[end] == '\\') {
          end += 2;
          continue;
        }
        if (sql[end] == '\'') {
          if (end + 1 < sql.size() && sql[end + 1] == '\'') {
            end += 2;
            continue;
          }
          break;
        }
        ++end;
      }
      i = std::min(end + 1, sql.size());
      out += "$" + std::to_string(++next);
      continue;
    }
    out += c;
    ++i;
  }
  return out;
}

bool holds_password(std::string_view sql) {
  static constexpr std::string_view word = "password";
  for (size_t i = 0; i + word.size() <= sql.size(); ++i) {
    bool match = true;
    for (size_t k = 0; k < word.size() && match; ++k)
      match = std::tolower(static_cast<unsigned char>(sql[i + k])) == word[k];
    if (!match || (i > 0 && is_word_char(sql[i - 1]))
        || (i + word.size() < sql.size() && is_word_char(sql[i + word.size()])))
      continue;
    // A literal anywhere after the word: '…', or a dollar quote.
    for (size_t j = i + word.size(); j < sql.size(); ++j)
      if (sql[j] == '\'' || (sql[j] == '$' && !dollar_tag(sql, j).empty()))
        return true;
  }
  return false;
}

fingerprint_result fingerprint_statement(std::string_view sql) {
  fingerprint_result r;
  std::string text{sql};
  auto fp = pg_query_fingerprint(text.c_str());
  if (fp.error != nullptr) {
    r.parse_error = true;
    r.error = fp.error->message != nullptr ? fp.error->message : "parse error";
    r.normalized = mask_quoted_literals(text);
    // Hashed after masking: texts that differ only in constants group, and
    // the masked text fingerprints as the original did.
    r.fingerprint = text_hash(r.normalized);
    pg_query_free_fingerprint_result(fp);
  } else {
    r.fingerprint = fp.fingerprint_str;
    pg_query_free_fingerprint_result(fp);
    auto norm = pg_query_normalize(text.c_str());
    if (norm.error == nullptr && norm.normalized_query != nullptr)
      r.normalized = norm.normalized_query;
    else
      r.normalized = mask_quoted_literals(text);
    pg_query_free_normalize_result(norm);
  }
  // libpg_query keeps the values of generic OPTIONS (CREATE SERVER …
  // OPTIONS (password '…')): whatever still shows a password is dropped. So
  // is an unparsable text that showed one: masking it was a guess.
  if (holds_password(r.normalized) || (r.parse_error && holds_password(text))) {
    r.secret = true;
    r.normalized.clear();
  }
  return r;
}

expected<std::vector<std::string>> split_statements(std::string_view sql) {
  std::string text{sql};
  auto r = pg_query_split_with_parser(text.c_str());
  if (r.error != nullptr) {
    failure f{ec::parse_error,
              fmt::format("libpg_query cannot parse the SQL: {} (at "
                          "character {})",
                          r.error->message != nullptr ? r.error->message : "?",
                          r.error->cursorpos)};
    pg_query_free_split_result(r);
    return f;
  }
  std::vector<std::string> out;
  for (int i = 0; i < r.n_stmts; ++i) {
    auto* st = r.stmts[i];
    // A length of 0 means "to the end of the input" (libpg_query's way).
    auto piece = st->stmt_len == 0
      ? text.substr(static_cast<size_t>(st->stmt_location))
      : text.substr(static_cast<size_t>(st->stmt_location),
                    static_cast<size_t>(st->stmt_len));
    // Trim whitespace; a trailing empty statement is no statement.
    auto b = piece.find_first_not_of(" \t\r\n");
    auto e = piece.find_last_not_of(" \t\r\n;");
    if (b != std::string::npos && e != std::string::npos && e >= b)
      out.push_back(piece.substr(b, e - b + 1));
  }
  pg_query_free_split_result(r);
  return out;
}

namespace {

/// Collects (type start, parameter start, parameter number) of every
/// prefix-typed parameter: a TypeCast of a ParamRef whose type name comes
/// first (`timestamptz $3`; a postfix `$3::timestamptz` has the type after).
void find_prefix_casts(const rapidjson::Value& v,
                       std::vector<std::tuple<int, int, int>>& out) {
  if (v.IsArray()) {
    for (auto& x : v.GetArray())
      find_prefix_casts(x, out);
    return;
  }
  if (!v.IsObject())
    return;
  if (v.HasMember("TypeCast") && v["TypeCast"].IsObject()) {
    auto& tc = v["TypeCast"];
    if (tc.HasMember("arg") && tc["arg"].IsObject()
        && tc["arg"].HasMember("ParamRef") && tc.HasMember("typeName")
        && tc["typeName"].HasMember("location")) {
      auto& pr = tc["arg"]["ParamRef"];
      auto type_at = tc["typeName"]["location"].GetInt();
      auto param_at = pr.HasMember("location") ? pr["location"].GetInt() : -1;
      auto number = pr.HasMember("number") ? pr["number"].GetInt() : 0;
      if (type_at >= 0 && param_at > type_at && number > 0)
        out.emplace_back(type_at, param_at, number);
    }
  }
  for (auto& m : v.GetObject())
    find_prefix_casts(m.value, out);
}

} // namespace

std::string reparsable_sql(std::string_view normalized) {
  std::string text{normalized};
  if (text.find('$') == std::string::npos)
    return text;
  auto r = pg_query_parse(text.c_str());
  std::vector<std::tuple<int, int, int>> casts;
  if (r.error == nullptr && r.parse_tree != nullptr) {
    rapidjson::Document d;
    if (json::parse(d, r.parse_tree, "the parse tree"))
      find_prefix_casts(d, casts);
  }
  pg_query_free_parse_result(r);
  // Right to left, so earlier offsets stay valid.
  std::sort(casts.begin(), casts.end(), std::greater<>{});
  for (auto [type_at, param_at, number] : casts) {
    auto param = "$" + std::to_string(number);
    auto t0 = static_cast<size_t>(type_at);
    auto p0 = static_cast<size_t>(param_at);
    if (text.compare(p0, param.size(), param) != 0)
      continue;
    auto type = text.substr(t0, p0 - t0);
    while (!type.empty()
           && std::isspace(static_cast<unsigned char>(type.back())))
      type.pop_back();
    // "WHERE\"t\"$2" must not become "WHERE$2::…": `$` continues an
    // identifier, so the keyword would swallow the parameter.
    auto glue = t0 > 0
        && (std::isalnum(static_cast<unsigned char>(text[t0 - 1]))
            || text[t0 - 1] == '_' || text[t0 - 1] == '$'
            || static_cast<unsigned char>(text[t0 - 1]) >= 0x80)
      ? " "
      : "";
    text.replace(t0, p0 + param.size() - t0, glue + param + "::" + type);
  }
  return text;
}

expected<std::string> single_statement_type(std::string_view sql) {
  auto parts = split_statements(sql);
  if (!parts)
    return parts.error();
  if (parts->size() != 1)
    return failure{ec::bad_request,
                   fmt::format("exactly one statement is analysed at a time, "
                               "got {}",
                               parts->size())};
  std::string text{sql};
  auto r = pg_query_parse(text.c_str());
  if (r.error != nullptr) {
    failure f{ec::parse_error,
              fmt::format("libpg_query cannot parse the statement: {}",
                          r.error->message != nullptr ? r.error->message
                                                      : "?")};
    pg_query_free_parse_result(r);
    return f;
  }
  // {"version":…,"stmts":[{"stmt":{"SelectStmt":{…}}…}]}: the first key
  // after "stmt" names the node type.
  std::string tree = r.parse_tree != nullptr ? r.parse_tree : "";
  pg_query_free_parse_result(r);
  auto at = tree.find("\"stmt\":{\"");
  if (at == std::string::npos)
    return failure{ec::parse_error, "the statement is empty"};
  at += 9;
  auto end = tree.find('"', at);
  return tree.substr(at, end - at);
}

fingerprint_cache::fingerprint_cache(size_t capacity)
  : capacity_(capacity == 0 ? 1 : capacity) {
  // nop
}

const fingerprint_result& fingerprint_cache::get(const std::string& sql) {
  if (auto i = map_.find(sql); i != map_.end()) {
    ++hits_;
    lru_.splice(lru_.begin(), lru_, i->second);
    return i->second->second;
  }
  ++misses_;
  lru_.emplace_front(sql, fingerprint_statement(sql));
  map_.emplace(lru_.front().first, lru_.begin());
  if (map_.size() > capacity_) {
    map_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return lru_.front().second;
}

} // namespace optischema
