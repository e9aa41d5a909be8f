#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace optischema {

namespace detail {
/// The engine's logger. Every line passes through a sink that redacts
/// secrets (see redact.hpp), so a DSN logged by mistake never leaks.
spdlog::logger& logger();
} // namespace detail

/// Configures the logger: level by name (trace, debug, info, warn, error) and
/// an optional file; stderr otherwise. Returns false for an unknown level.
bool init_logging(const std::string& level, const std::string& file = {});

} // namespace optischema

// The compile-time ceiling is OPTISCHEMA_LOG_LEVEL in CMake.
#define OPTISCHEMA_TRACE(...)                                                  \
  SPDLOG_LOGGER_TRACE(&::optischema::detail::logger(), __VA_ARGS__)
#define OPTISCHEMA_DEBUG(...)                                                  \
  SPDLOG_LOGGER_DEBUG(&::optischema::detail::logger(), __VA_ARGS__)
#define OPTISCHEMA_INFO(...)                                                   \
  SPDLOG_LOGGER_INFO(&::optischema::detail::logger(), __VA_ARGS__)
#define OPTISCHEMA_WARN(...)                                                   \
  SPDLOG_LOGGER_WARN(&::optischema::detail::logger(), __VA_ARGS__)
#define OPTISCHEMA_ERROR(...)                                                  \
  SPDLOG_LOGGER_ERROR(&::optischema::detail::logger(), __VA_ARGS__)
