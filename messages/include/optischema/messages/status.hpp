#pragma once

// What every component answers to `status`: its health as a value (the
// SUPERVISOR's overall verdict reads it, no JSON parsing between actors) and
// its own figures as the JSON object the API shows, rendered once by the
// component that alone knows them.

#include "optischema/analysis/json.hpp"

#include <caf/allowed_unsafe_message_type.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace optischema {

enum class health : uint8_t {
  ok,
  /// Working, but something needs attention (the status says what).
  degraded,
  /// Not working: unreachable, crashed, restarting.
  down,
  /// Off by configuration (no NATS, no LLM key, no sandbox).
  disabled,
  /// Not yet polled or analysed once.
  starting,
  /// No answer.
  unknown,
};

/// "ok", "degraded", … as the API writes them.
const char* to_string(health x);

/// Whether the engine as a whole counts as degraded when a component is so.
constexpr bool degrades_engine(health x) {
  return x == health::down || x == health::degraded || x == health::unknown
    || x == health::starting;
}

struct status_report {
  health state = health::unknown;
  /// The whole status object ({"state": …, figures…}).
  std::string json;
};

/// A component's status: {"state": `state`, then the figures `fill` writes}.
template <class F>
status_report make_status(health state, F&& fill) {
  return {state, json::object([&](json::writer& w) {
            json::field(w, "state", to_string(state));
            fill(w);
          })};
}

} // namespace optischema

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::status_report)
