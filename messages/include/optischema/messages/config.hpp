#pragma once

#include "optischema/store/history_db.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace optischema {

/// One monitored database.
struct target_config {
  /// Names the target in the API, in events (NATS subjects) and in history.
  /// Letters, digits, '_', '-' only.
  std::string name;
  /// libpq connection string or URI; a secret, never logged or shown.
  std::string dsn;
};

/// Everything the engine needs to run, validated by the CLI before any actor
/// starts (see app/config.cpp for flags, file and environment variables).
struct engine_config {
  std::vector<target_config> targets;
  std::chrono::milliseconds poll_interval{std::chrono::seconds{30}};
  /// Empty: no NATS, events stay in-process (the embedded default).
  std::string nats_url;
  std::string nats_stream = "OPTISCHEMA";
  std::string listen = "127.0.0.1:8080";
  std::string static_dir;
  std::vector<std::string> cors_origins;
  store_options store;
  std::chrono::milliseconds maintenance_interval{std::chrono::minutes{10}};
  /// How often each target's workload is analysed; 0 turns analysis off.
  std::chrono::milliseconds analysis_interval{std::chrono::seconds{60}};
  /// Recommendations below this confidence are kept out of the actions.
  double min_confidence = 0.5;
  /// Statements carried by each metrics event (the full list is in the API).
  size_t event_top_n = 50;
  /// Spawn collectors on their own threads (libpq blocks). Off in
  /// deterministic tests.
  bool detached_collectors = true;
  std::string log_level = "info";
  std::string log_file;
};

/// Checks a target name: [A-Za-z0-9_-]{1,64}.
bool valid_target_name(const std::string& x);

} // namespace optischema
