#include "optischema/messages/event.hpp"

#include "optischema/analysis/json.hpp"

#include <fmt/format.h>

namespace optischema {

std::string to_json(const event& x) {
  // The payload is already JSON: splice it in rather than re-parse it.
  return fmt::format(R"({{"type":{},"target":{},"ts":{},"payload":{}}})",
                     json::quote(x.type), json::quote(x.target), x.ts_ms,
                     x.payload.empty() ? "null" : x.payload);
}

std::string subject(const event& x) {
  return fmt::format("optischema.{}.{}", x.target, x.type);
}

} // namespace optischema
