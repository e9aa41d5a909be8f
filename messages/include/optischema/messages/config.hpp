#pragma once

#include "optischema/analysis/alerts.hpp"
#include "optischema/analysis/change.hpp"
#include "optischema/llm/client.hpp"
#include "optischema/pg/conninfo.hpp"
#include "optischema/store/history_db.hpp"
#include "optischema/util/defaults.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace optischema {

/// One monitored database.
struct target_config {
  /// Names the target in the API, in events (NATS subjects) and in history.
  /// Letters, digits, '_', '-' only.
  std::string name;
  /// How the engine reads the target: its DSN parsed once, when the
  /// configuration is loaded (app/config.cpp), so no actor meets a DSN that
  /// does not parse. Secrets inside; logs and the API show `conn.display`.
  pg::conninfo conn;
  /// What applying changes connects with: a role that owns the tables
  /// (creating an index needs it) and reads them for the sandbox copy.
  /// Unset without --apply-dsn: see changes().
  std::optional<pg::conninfo> apply_conn;
  /// From the targets file (--targets-file): added and removed while the
  /// engine runs, as the file changes.
  bool from_file = false;

  /// The connection for changes: `apply_conn`, else `conn`.
  const pg::conninfo& changes() const {
    return apply_conn ? *apply_conn : conn;
  }
};

/// How recommendations are applied to targets.
struct apply_config {
  /// The API token: every POST needs it (Authorization: Bearer), and so
  /// does the WebSocket (its first frame). Empty: POSTs are open, the port
  /// stays on loopback, and apply and rollback are off. A secret, from
  /// --api-token-file (or --api-token / OPTISCHEMA_API_TOKEN).
  std::string api_token;
  std::chrono::milliseconds lock_timeout = defaults::apply_lock_timeout;
  std::chrono::milliseconds statement_timeout
    = defaults::apply_statement_timeout;
  int attempts = defaults::apply_attempts;
  std::chrono::milliseconds retry_delay = defaults::apply_retry_delay;
  /// Builds estimated above this are refused (0: no limit).
  int64_t max_index_bytes = 0;
  /// The advisory lock every engine changing a target holds (the same on
  /// every engine and CLI run that may change one database).
  int64_t lock_key = default_apply_lock_key;
};

/// The sandbox server and how copies are made and tests run.
struct sandbox_config {
  /// A separate PostgreSQL (any database there; the role needs CREATEDB),
  /// parsed once like the targets. Unset: no sandbox.
  std::optional<pg::conninfo> server;
  std::string pg_bin_dir;
  int64_t full_copy_max_bytes = defaults::sandbox_full_copy_bytes;
  double sample_percent = defaults::sandbox_sample_percent;
  int runs = defaults::sandbox_runs;
  int samples = defaults::sandbox_samples;
  /// Hot statements besides the served ones timed to catch regressions.
  size_t other_statements = defaults::sandbox_other_statements;
  /// Untested index actions each analysis sends to the sandbox.
  size_t auto_test = defaults::sandbox_auto_test;
};

/// The LLM endpoint and what the engine may spend on it.
struct llm_config {
  /// On with an API key, or with a base URL of a local endpoint (Ollama,
  /// vLLM, llama.cpp server) that needs none.
  bool enabled = false;
  /// Where it is and how it is called: URL, key (a secret), model, timeouts,
  /// retries, calls in flight, rate limits.
  llm::llm_options endpoint;
  /// Questions waiting for a call beyond those in flight; more are refused
  /// (busy) instead of queued without bound.
  size_t max_queued = defaults::llm_max_queued;
  /// Per UTC day; calls stop when either is reached.
  int64_t daily_tokens = defaults::llm_daily_tokens;
  double daily_usd = defaults::llm_daily_usd;
  /// Either spent to this share fires the llm_budget alert (the
  /// thresholds' llm_budget_share).
  double budget_alert_share = 0.8;
  /// Prices per million tokens (gpt-4o list prices by default).
  double usd_per_million_input = defaults::llm_usd_per_million_input;
  double usd_per_million_output = defaults::llm_usd_per_million_output;
  std::chrono::milliseconds cache_ttl = defaults::llm_cache_ttl;
  int64_t cache_max_bytes = defaults::llm_cache_bytes;
  /// Replace every literal by $n before anything leaves for the endpoint.
  bool redact_literals = false;
  /// Overrides of the embedded prompt templates (<kind>.md + .schema.json).
  std::string prompt_dir;
  /// Statements per analysis cycle that get an explanation and rewrites,
  /// recommendations that get a narrative.
  size_t statements_per_cycle = defaults::llm_statements_per_cycle;
};

/// What requests to the API may cost (issue 10): beyond these they are
/// refused or joined, never queued without bound.
struct request_limits {
  /// Open connections, WebSocket clients included (--max-connections).
  size_t max_connections = defaults::max_connections;
  /// WebSocket clients (--max-ws-clients).
  size_t max_ws_clients = defaults::max_ws_clients;
  /// Ad-hoc analyses (POST /api/analysis/query) in flight per target; more
  /// get 429 (--max-analysis-queries). A workload analysis asked for while
  /// one runs joins it.
  size_t analysis_queries_per_target = defaults::analysis_queries_per_target;
  /// A forced copy to the sandbox (POST /api/sandbox/prepare) at most this
  /// often per target; one asked for while one runs joins it
  /// (--sandbox-prepare-interval).
  std::chrono::milliseconds forced_prepare_interval
    = defaults::sandbox_prepare_interval;
};

/// Engines that share targets (--fleet): each target is polled by one live
/// engine, chosen by rendezvous hashing over the members of a NATS
/// JetStream key-value bucket (broker/fleet_registry.hpp).
struct fleet_config {
  /// Empty: no fleet, this engine polls every target.
  std::string name;
  /// This engine's id in the fleet (unique; the pod name in Kubernetes).
  std::string engine_id;
  /// Copies of the membership bucket (3 on a JetStream cluster).
  int replicas = 1;
};

/// Everything the engine needs to run, validated by the CLI before any actor
/// starts (see app/config.cpp for flags, file and environment variables).
struct engine_config {
  std::vector<target_config> targets;
  /// Where more targets are listed, re-read while the engine runs
  /// (targets_file.hpp); empty: none.
  std::string targets_file;
  std::chrono::milliseconds poll_interval = defaults::poll_interval;
  /// Empty: no NATS, events stay in-process (the embedded default).
  std::string nats_url;
  std::string nats_stream{defaults::nats_stream};
  fleet_config fleet;
  std::string listen{defaults::listen};
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
  std::chrono::milliseconds maintenance_interval
    = defaults::maintenance_interval;
  /// How often each target's workload is analysed; 0 turns analysis off.
  std::chrono::milliseconds analysis_interval = defaults::analysis_interval;
  /// Recommendations below this confidence are kept out of the actions.
  double min_confidence = defaults::min_confidence;
  llm_config llm;
  apply_config apply;
  sandbox_config sandbox;
  /// Functions ("schema.name") and extensions a statement the engine
  /// explains or runs may call beyond pg_catalog's IMMUTABLE and STABLE
  /// ones (--allow-function, --allow-extension; pg/safety.hpp).
  std::vector<std::string> allow_functions;
  std::vector<std::string> allow_extensions;
  /// Up to this many targets, each keeps its polling and analysis
  /// connections open between uses. Beyond it, the targets of one server
  /// (same role and settings) share one connection and one read of
  /// pg_stat_statements (pg::server_reader), a target alone on its server
  /// connects per poll, every analysis opens its own connection and closes
  /// it, and polls are spread over the interval: an engine watching 1,000
  /// databases holds a connection per server instead of 2,000 idle ones
  /// (--keep-connections).
  size_t keep_connections = defaults::keep_connections;
  /// The alert rules' thresholds (analysis/alerts.hpp).
  alert_thresholds alerts;
  /// Statements carried by each metrics event (the full list is in the API).
  size_t event_top_n = defaults::event_top_n;
  /// Spawn collectors on their own threads (libpq blocks). Off in
  /// deterministic tests.
  bool detached_collectors = true;
  std::string log_level{defaults::log_level};
  std::string log_file;
};

/// Checks a target name: [A-Za-z0-9_-]{1,64}.
bool valid_target_name(const std::string& x);

/// Checks the name of a target to watch: a valid one that is not
/// engine_alerts (whose alerts are the engine's own).
bool valid_new_target_name(const std::string& x);

} // namespace optischema
