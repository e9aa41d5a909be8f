#pragma once

#include <caf/meta/type_name.hpp>

#include "optischema/util/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace optischema {

/// Event types, the last part of the NATS subject
/// `optischema.<target>.<type>` and the `type` of WebSocket frames.
namespace event_type {
constexpr const char* metrics = "metrics";
constexpr const char* status = "status";
constexpr const char* recommendation = "recommendation";
constexpr const char* alert = "alert";
constexpr const char* analysis = "analysis";
} // namespace event_type

/// One event. The same JSON envelope goes to NATS and to WebSocket clients:
/// `{"type": …, "target": …, "ts": <epoch ms>, "payload": {…}}`.
struct event {
  std::string type;
  std::string target;
  int64_t ts_ms = 0;
  /// A complete JSON value (usually an object).
  std::string payload;
  friend bool operator==(const event&, const event&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event& x) {
  return f(caf::meta::type_name("event"), x.type, x.target, x.ts_ms, x.payload);
}

/// Renders the envelope of `x`.
std::string to_json(const event& x);

/// The NATS subject of `x`: optischema.<target>.<type>.
std::string subject(const event& x);

/// The event in `data`, received on NATS `subject` (another engine's, read
/// as hostile): an envelope of a known type for a valid target name, its
/// subject, a payload object (written anew, so it is well-formed JSON), in
/// UTF-8. Fails with ec::bad_request and what is wrong.
expected<event> parse_event(std::string_view subject, std::string_view data);

} // namespace optischema
