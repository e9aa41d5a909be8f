#include "optischema/messages/error.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

namespace optischema {

namespace {

std::string render(uint8_t code, caf::atom_value, const caf::message& ctx) {
  std::string out = "optischema.";
  out += to_string(static_cast<ec>(code));
  if (ctx.match_elements<std::string>()) {
    out += ": ";
    out += ctx.get_as<std::string>(0);
  }
  return out;
}

} // namespace

void add_error_category(caf::actor_system_config& cfg) {
  // The two-argument overload does not compile in 0.17.6 (aesthetics.md).
  cfg.add_error_category(error_category, render);
}

std::string error_message(const caf::error& err) {
  if (err.category() == error_category
      && err.context().match_elements<std::string>())
    return err.context().get_as<std::string>(0);
  return caf::to_string(err);
}

ec error_code(const caf::error& err) {
  if (err.category() == error_category)
    return static_cast<ec>(err.code());
  return ec::internal;
}

} // namespace optischema
