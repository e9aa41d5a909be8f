#pragma once

// JSON codecs of the metrics model. The API, the WebSocket events and the NATS
// events all render through these functions, so the dashboard's types mirror
// exactly one shape per struct.

#include "optischema/analysis/metrics.hpp"
#include "optischema/analysis/workload.hpp"
#include "optischema/util/error.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

namespace optischema::json {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// Writes a string key and a value in one call.
inline void key(writer& w, std::string_view k) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}
inline void str(writer& w, std::string_view v) {
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
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

/// The text written so far (after the outermost value is closed).
inline std::string text(const rapidjson::StringBuffer& buf) {
  return {buf.GetString(), buf.GetSize()};
}

/// Escapes `x` as a JSON string literal, quotes included.
std::string quote(std::string_view x);

} // namespace optischema::json
