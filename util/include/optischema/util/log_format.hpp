#pragma once

// `--log-format json`: one JSON object per line ({"time","level","message"})
// for log collectors (Loki, Fluent Bit, Cloud Logging). Secrets are still
// redacted after formatting; bytes that are not UTF-8 (a query text any
// database user wrote) become U+FFFD, so every line parses.

#include <string>
#include <string_view>

namespace optischema {

/// Switches the engine's logger to JSON lines; call after init_logging
/// (which may replace the logger for --log-file).
void use_json_logs();

/// One log line as use_json_logs writes it (without the newline).
std::string json_log_line(long long epoch_ms, std::string_view level,
                          std::string_view message);

} // namespace optischema
