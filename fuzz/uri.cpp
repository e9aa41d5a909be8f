// Request targets: web/src/server_uri.cpp (percent-decoding, query strings,
// the ".." check of static files), route matching and the query parsers of
// web/src/api.cpp that read them.

#include "fuzz.hpp"

#include "optischema/web/api.hpp"

#include "server_uri.hpp"

using namespace optischema;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto raw = fuzz::text(data, size);
  auto target = web::parse_target(raw);
  if (!target)
    return 0;
  fuzz::require(target->path.find('\0') == std::string::npos,
                "a decoded path holding a NUL byte");
  web::has_dot_dot_segment(target->path);
  web::match_route(target->path);
  auto& q = target->query;
  if (auto hot = web::parse_hot_query(q))
    fuzz::require(hot->limit >= 1 && hot->limit <= 1000,
                  "a hot limit outside 1..1000");
  if (auto r = web::parse_raw_query(q))
    fuzz::require(r->limit >= 1 && r->limit <= 10'000,
                  "a raw limit outside 1..10,000");
  constexpr int64_t now_ms = 1'750'000'000'000;
  constexpr int64_t day_ms = 86'400'000;
  if (auto h = web::parse_history_query(q, now_ms, day_ms))
    fuzz::require(h->from_ms < h->to_ms && h->from_ms >= -90 * day_ms,
                  "a history range that is empty or reversed");
  return 0;
}
