#pragma once

// JSON codecs of the metrics model. The API, the WebSocket events and the NATS
// events all render through these functions, so the dashboard's types mirror
// exactly one shape per struct.

#include "optischema/analysis/metrics.hpp"
#include "optischema/analysis/workload.hpp"
#include "optischema/util/error.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace optischema::json {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// Writes a string key and a value in one call.
inline void key(writer& w, std::string_view k) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}
inline void str(writer& w, std::string_view v) {
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

/// A number. JSON has no infinity or NaN, and RapidJSON writes nothing for
/// them (the document would be cut): an overflowing figure (costs summed
/// from a plan that says 1e308) is written as the largest double, NaN as
/// null.
inline void number(writer& w, double v) {
  if (std::isnan(v))
    w.Null();
  else if (std::isinf(v))
    w.Double(v > 0 ? std::numeric_limits<double>::max()
                   : std::numeric_limits<double>::lowest());
  else
    w.Double(v);
}

/// The one object writer: a field of the object open in `w`, key and value
/// in one line (`json::field(w, "published", s.published);`). Signed
/// integers are written as Int64, unsigned as Uint64, so no figure is cut.
inline void field(writer& w, std::string_view k, std::string_view v) {
  key(w, k);
  str(w, v);
}
inline void field(writer& w, std::string_view k, const char* v) {
  field(w, k, std::string_view{v});
}
inline void field(writer& w, std::string_view k, const std::string& v) {
  field(w, k, std::string_view{v});
}
inline void field(writer& w, std::string_view k, bool v) {
  key(w, k);
  w.Bool(v);
}
inline void field(writer& w, std::string_view k, double v) {
  key(w, k);
  number(w, v);
}
inline void field(writer& w, std::string_view k, std::nullptr_t) {
  key(w, k);
  w.Null();
}
/// An array of strings (steps, warnings, names).
inline void field(writer& w, std::string_view k,
                  const std::vector<std::string>& xs) {
  key(w, k);
  w.StartArray();
  for (auto& x : xs)
    str(w, x);
  w.EndArray();
}
template <class T>
requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) void field(
  writer& w, std::string_view k, T v) {
  key(w, k);
  if constexpr (std::is_signed_v<T>)
    w.Int64(static_cast<int64_t>(v));
  else
    w.Uint64(static_cast<uint64_t>(v));
}

/// Writes the fields of `x` (calls, total_time_ms, mean_time_ms, …) into the
/// object currently open in `w`.
void write_fields(writer& w, const counters& x);

/// One statement as /api/metrics/hot shows it. `window` picks the headline
/// counters; `total_time_ms` of the whole workload gives the time share.
void write(writer& w, const statement_metrics& x, metrics_window window,
           double workload_time_ms);

void write(writer& w, const database_metrics& x);
void write(writer& w, const workload_summary& x);
void write(writer& w, const history_point& x);
void write(writer& w, const database_point& x);

/// The payload of a `metrics` event: poll facts, summary, database figures
/// and the `top_n` statements of the interval.
std::string metrics_payload(const metrics_snapshot& x, size_t top_n);

/// Writes {"code": …, "message": …}, the error object of the API and status.
void write(writer& w, const failure& x);

/// A status's failure: its error object, or null when there is none.
inline void field(writer& w, std::string_view k,
                  const std::optional<failure>& x) {
  key(w, k);
  if (x)
    write(w, *x);
  else
    w.Null();
}

/// The text written so far (after the outermost value is closed).
inline std::string text(const rapidjson::StringBuffer& buf) {
  return {buf.GetString(), buf.GetSize()};
}

/// One JSON object as text: `fill` writes its fields
/// (`return json::object([&](json::writer& w) { field(w, "a", x.a); });`).
template <class F>
std::string object(F&& fill) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  fill(w);
  w.EndObject();
  return text(buf);
}

/// Escapes `x` as a JSON string literal, quotes included.
std::string quote(std::string_view x);

} // namespace optischema::json
