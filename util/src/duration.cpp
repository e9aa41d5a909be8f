#include "optischema/util/duration.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace optischema {

expected<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto bad = [&] {
    return failure{
      ec::invalid_configuration,
      fmt::format("invalid duration '{}': use a number with a unit, "
                  "e.g. 500ms, 30s, 5m, 1h or 7d",
                  text)};
  };
  if (text.empty())
    return bad();
  double value = 0;
  auto [end, err] = std::from_chars(text.data(), text.data() + text.size(),
                                    value);
  if (err != std::errc{} || value < 0)
    return bad();
  std::string_view unit{end,
                        static_cast<size_t>(text.data() + text.size() - end)};
  double factor = 0;
  if (unit.empty() || unit == "s")
    factor = 1000;
  else if (unit == "ms")
    factor = 1;
  else if (unit == "m" || unit == "min")
    factor = 60'000;
  else if (unit == "h")
    factor = 3'600'000;
  else if (unit == "d")
    factor = 86'400'000;
  else
    return bad();
  // from_chars reads "inf" and "nan" too; and a double beyond what int64
  // milliseconds hold must not be cast (undefined behaviour, found by
  // fuzzing /api/metrics/history?range=1e300h).
  auto ms = value * factor;
  if (!std::isfinite(ms) || ms >= 9.2e18)
    return failure{ec::invalid_configuration,
                   fmt::format("invalid duration '{}': too long; durations "
                               "go up to about 290 million years",
                               text)};
  return std::chrono::milliseconds{static_cast<int64_t>(ms)};
}

std::string to_string(std::chrono::milliseconds x) {
  auto ms = x.count();
  if (ms != 0 && ms % 86'400'000 == 0)
    return fmt::format("{}d", ms / 86'400'000);
  if (ms != 0 && ms % 3'600'000 == 0)
    return fmt::format("{}h", ms / 3'600'000);
  if (ms != 0 && ms % 60'000 == 0)
    return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0)
    return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

} // namespace optischema
