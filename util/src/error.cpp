#include "optischema/util/error.hpp"

namespace optischema {

const char* to_string(ec x) {
  switch (x) {
    case ec::no_error: return "no_error";
    case ec::invalid_configuration: return "invalid_configuration";
    case ec::db_unreachable: return "db_unreachable";
    case ec::permission_denied: return "permission_denied";
    case ec::missing_extension: return "missing_extension";
    case ec::sql_error: return "sql_error";
    case ec::parse_error: return "parse_error";
    case ec::store_error: return "store_error";
    case ec::broker_error: return "broker_error";
    case ec::bad_request: return "bad_request";
    case ec::not_found: return "not_found";
    case ec::timeout: return "timeout";
    case ec::llm_error: return "llm_error";
    case ec::budget_exhausted: return "budget_exhausted";
    case ec::unauthorized: return "unauthorized";
    case ec::conflict: return "conflict";
    case ec::disabled: return "disabled";
    case ec::internal: return "internal";
  }
  return "unknown";
}

} // namespace optischema
