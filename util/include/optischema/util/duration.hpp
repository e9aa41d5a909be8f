#pragma once

#include "optischema/util/error.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace optischema {

/// Parses "250ms", "30s", "5m", "1h", "7d" (a bare number means seconds).
expected<std::chrono::milliseconds> parse_duration(std::string_view text);

/// Renders a duration the way parse_duration reads it ("30s", "1h").
std::string to_string(std::chrono::milliseconds x);

} // namespace optischema
