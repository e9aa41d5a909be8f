#include "optischema/analysis/fingerprint.hpp"

#include <fmt/format.h>
#include <pg_query.h>

#include <cctype>
#include <cstdint>

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
