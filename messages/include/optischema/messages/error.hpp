#pragma once

// The project's error enum (util/error.hpp) as CAF errors.

#include "optischema/util/error.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

#include <cstdint>
#include <string>

namespace optischema {

/// The category atom of our errors.
constexpr caf::atom_value error_category = caf::atom("optischema");

/// Makes a CAF error from our enum and a message saying what to do.
inline caf::error make_error(ec code, std::string message) {
  return caf::error{static_cast<uint8_t>(code), error_category,
                    caf::make_message(std::move(message))};
}

inline caf::error make_error(const failure& x) {
  return make_error(x.code, x.message);
}

/// An error the caller may retry after `retry_after_s` seconds (a limit
/// reached: ec::budget_exhausted); the API sends it as Retry-After.
inline caf::error make_error(ec code, std::string message,
                             int64_t retry_after_s) {
  return caf::error{static_cast<uint8_t>(code), error_category,
                    caf::make_message(std::move(message), retry_after_s)};
}

/// Registers the renderer so `sys.render(err)` prints "optischema.<code>: msg".
void add_error_category(caf::actor_system_config& cfg);

/// The message of an error made by make_error (or CAF's rendering of others).
std::string error_message(const caf::error& err);

/// Our code of an error made by make_error; ec::internal for others.
ec error_code(const caf::error& err);

/// The seconds after which a retry may succeed, 0 when the error says none.
int64_t error_retry_after(const caf::error& err);

} // namespace optischema
