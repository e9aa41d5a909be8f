#include "optischema/messages/error.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

namespace optischema {

namespace {

/// Our context: the message, and for make_error(ec, msg, s) the retry
/// delay after it.
bool has_message(const caf::message& ctx) {
  return ctx.match_elements<std::string>()
    || ctx.match_elements<std::string, int64_t>();
}

std::string render(uint8_t code, caf::atom_value, const caf::message& ctx) {
  std::string out = "optischema.";
  out += to_string(static_cast<ec>(code));
  if (has_message(ctx)) {
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
  if (err.category() == error_category && has_message(err.context()))
    return err.context().get_as<std::string>(0);
  return caf::to_string(err);
}

int64_t error_retry_after(const caf::error& err) {
  if (err.category() == error_category
      && err.context().match_elements<std::string, int64_t>())
    return err.context().get_as<int64_t>(1);
  return 0;
}

ec error_code(const caf::error& err) {
  if (err.category() == error_category)
    return static_cast<ec>(err.code());
  return ec::internal;
}

} // namespace optischema
