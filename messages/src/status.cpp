#include "optischema/messages/status.hpp"

namespace optischema {

const char* to_string(health x) {
  switch (x) {
    case health::ok: return "ok";
    case health::degraded: return "degraded";
    case health::down: return "down";
    case health::disabled: return "disabled";
    case health::starting: return "starting";
    case health::unknown: return "unknown";
  }
  return "unknown";
}

} // namespace optischema
