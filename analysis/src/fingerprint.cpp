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

} // namespace

fingerprint_result fingerprint_statement(std::string_view sql) {
  fingerprint_result r;
  std::string text{sql};
  auto fp = pg_query_fingerprint(text.c_str());
  if (fp.error != nullptr) {
    r.parse_error = true;
    r.error = fp.error->message != nullptr ? fp.error->message : "parse error";
    r.fingerprint = text_hash(sql);
    r.normalized = text;
    pg_query_free_fingerprint_result(fp);
    return r;
  }
  r.fingerprint = fp.fingerprint_str;
  pg_query_free_fingerprint_result(fp);
  auto norm = pg_query_normalize(text.c_str());
  if (norm.error == nullptr && norm.normalized_query != nullptr)
    r.normalized = norm.normalized_query;
  else
    r.normalized = text;
  pg_query_free_normalize_result(norm);
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
    text.replace(t0, p0 + param.size() - t0, param + "::" + type);
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
