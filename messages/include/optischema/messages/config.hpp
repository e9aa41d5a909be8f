#pragma once

#include "optischema/analysis/change.hpp"
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
  /// What applying changes connects with: a role that owns the tables
  /// (creating an index needs it) and reads them for the sandbox copy.
  /// Empty: `dsn`.
  std::string apply_dsn;
};

/// How recommendations are applied to targets.
struct apply_config {
  /// The API token: every POST needs it (Authorization: Bearer), and so
  /// does the WebSocket (its first frame). Empty: POSTs are open, the port
  /// stays on loopback, and apply and rollback are off. A secret, from
  /// --api-token-file (or --api-token / OPTISCHEMA_API_TOKEN).
  std::string api_token;
  std::chrono::milliseconds lock_timeout{2000};
  std::chrono::milliseconds statement_timeout{std::chrono::hours{1}};
  int attempts = 3;
  std::chrono::milliseconds retry_delay{1000};
  /// Builds estimated above this are refused (0: no limit).
  int64_t max_index_bytes = 0;
  /// The advisory lock every engine changing a target holds (the same on
  /// every engine and CLI run that may change one database).
  int64_t lock_key = default_apply_lock_key;
};

/// The sandbox server and how copies are made and tests run.
struct sandbox_config {
  /// A separate PostgreSQL (libpq DSN of any database there; the role needs
  /// CREATEDB). Empty: no sandbox. A secret.
  std::string dsn;
  std::string pg_bin_dir;
  int64_t full_copy_max_bytes = 1LL << 30;
  double sample_percent = 0;
  int runs = 5;
  int samples = 3;
  /// Hot statements besides the served ones timed to catch regressions.
  size_t other_statements = 5;
  /// Untested index actions each analysis sends to the sandbox.
  size_t auto_test = 3;
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
  /// Questions waiting for a call beyond those in flight; more are refused
  /// (busy) instead of queued without bound.
  size_t max_queued = 32;
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

/// What requests to the API may cost (issue 10): beyond these they are
/// refused or joined, never queued without bound.
struct request_limits {
  /// Open connections, WebSocket clients included (--max-connections).
  size_t max_connections = 256;
  /// WebSocket clients (--max-ws-clients).
  size_t max_ws_clients = 32;
  /// Ad-hoc analyses (POST /api/analysis/query) in flight per target; more
  /// get 429 (--max-analysis-queries). A workload analysis asked for while
  /// one runs joins it.
  size_t analysis_queries_per_target = 2;
  /// A forced copy to the sandbox (POST /api/sandbox/prepare) at most this
  /// often per target; one asked for while one runs joins it
  /// (--sandbox-prepare-interval).
  std::chrono::milliseconds forced_prepare_interval{std::chrono::minutes{10}};
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
  /// Names the engine is reached by besides IP literals and localhost (a
  /// proxy's public name); the Host header must be one of them.
  std::vector<std::string> allowed_hosts;
  /// Listen beyond loopback without a token (an authenticating proxy in
  /// front); loudly warned about.
  bool insecure_listen = false;
  request_limits limits;
  store_options store;
  std::chrono::milliseconds maintenance_interval{std::chrono::minutes{10}};
  /// How often each target's workload is analysed; 0 turns analysis off.
  std::chrono::milliseconds analysis_interval{std::chrono::seconds{60}};
  /// Recommendations below this confidence are kept out of the actions.
  double min_confidence = 0.5;
  llm_config llm;
  apply_config apply;
  sandbox_config sandbox;
  /// Functions ("schema.name") and extensions a statement the engine
  /// explains or runs may call beyond pg_catalog's IMMUTABLE and STABLE
  /// ones (--allow-function, --allow-extension; pg/safety.hpp).
  std::vector<std::string> allow_functions;
  std::vector<std::string> allow_extensions;
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
