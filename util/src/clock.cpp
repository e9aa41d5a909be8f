#include "optischema/util/clock.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <ctime>

namespace optischema {

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

int64_t elapsed_ms(std::chrono::steady_clock::time_point since) {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now() - since).count();
}

double elapsed_ms_exact(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(
           std::chrono::steady_clock::now() - since)
    .count();
}

std::string iso8601(int64_t epoch_ms) {
  std::time_t secs = epoch_ms / 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", tm, epoch_ms % 1000);
}

} // namespace optischema
