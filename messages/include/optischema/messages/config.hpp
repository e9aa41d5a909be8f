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

/// The LLM endpoint and what the engine may spend on it.
struct llm_config {
  /// On with an API key, or with a base URL of a local endpoint (Ollama,
  /// vLLM, llama.cpp server) that needs none.
  bool enabled = false;
  std::string base_url = "https://api.openai.com/v1";
  /// A secret: never logged, never shown.
  std::string api_key;
  std::string model = "gpt-4o";
  std::string organization;
  std::chrono::milliseconds timeout{30'000};
  int max_retries = 3;
  size_t max_concurrency = 2;
  int requests_per_minute = 60;
  int tokens_per_minute = 90'000;
  /// Per UTC day; calls stop when either is reached.
  int64_t daily_tokens = 2'000'000;
  double daily_usd = 10.0;
  /// Prices per million tokens (gpt-4o list prices by default).
  double usd_per_million_input = 2.5;
  double usd_per_million_output = 10.0;
  std::chrono::milliseconds cache_ttl{std::chrono::hours{24 * 7}};
  int64_t cache_max_bytes = 64LL << 20;
  /// Replace every literal by $n before anything leaves for the endpoint.
  bool redact_literals = false;
  /// Overrides of the embedded prompt templates (<kind>.md + .schema.json).
  std::string prompt_dir;
  /// Statements per analysis cycle that get an explanation and rewrites,
  /// recommendations that get a narrative.
  size_t statements_per_cycle = 3;
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
  llm_config llm;
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
