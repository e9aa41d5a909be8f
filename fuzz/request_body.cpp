// Request bodies: POST /api/analysis/query and the {"id": …} bodies of
// apply, rollback, test and dismiss (web/src/api.cpp).

#include "fuzz.hpp"

#include "optischema/web/api.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

using namespace optischema;

namespace {

bool name_like(const std::string& x, const char* extra) {
  return std::all_of(x.begin(), x.end(), [&](unsigned char c) {
    return std::isalnum(c) || std::strchr(extra, c) != nullptr;
  });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body{fuzz::text(data, size)};
  if (auto q = web::parse_analysis_query(body)) {
    fuzz::require(!q->sql.empty() && q->sql.size() <= 100'000,
                  "an accepted statement outside 1..100,000 characters");
    if (q->target)
      fuzz::require(q->target->size() <= 64 && name_like(*q->target, "_-"),
                    "an accepted target that is not a target name");
  }
  if (auto id = web::parse_id_request(body))
    fuzz::require(!id->empty() && id->size() <= 128 && name_like(*id, "_-:."),
                  "an accepted id that is not a recommendation id");
  if (auto t = web::parse_target_request(body))
    fuzz::require(!t->name.empty() && !t->dsn.empty() && t->name.size() <= 4096
                    && t->dsn.size() <= 4096,
                  "an accepted target without a name or a DSN, or too long");
  return 0;
}
