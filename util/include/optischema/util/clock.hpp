#pragma once

#include <cstdint>
#include <string>

namespace optischema {

/// Milliseconds since the Unix epoch (wall clock); the timestamp of every
/// event, history point and status field.
int64_t now_ms();

/// Renders epoch milliseconds as an ISO-8601 UTC string.
std::string iso8601(int64_t epoch_ms);

} // namespace optischema
