#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace optischema {

/// Milliseconds since the Unix epoch (wall clock); the timestamp of every
/// event, history point and status field.
int64_t now_ms();

/// Milliseconds since `since` on the steady clock (durations of work).
int64_t elapsed_ms(std::chrono::steady_clock::time_point since);

/// The same with the fraction kept (poll durations of a few milliseconds).
double elapsed_ms_exact(std::chrono::steady_clock::time_point since);

/// Renders epoch milliseconds as an ISO-8601 UTC string.
std::string iso8601(int64_t epoch_ms);

} // namespace optischema
