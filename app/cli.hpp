#pragma once

// The command line: `optischema serve …`, `optischema --version`. Parsing
// and validation live here so `main` stays a dispatcher.

#include "optischema/analysis/recommendation.hpp"
#include "optischema/messages/config.hpp"
#include "optischema/pg/conninfo.hpp"
#include "optischema/pg/ddl.hpp"
#include "optischema/util/defaults.hpp"
#include "optischema/util/duration.hpp"
#include "optischema/util/error.hpp"

#include <optional>
#include <string>
#include <vector>

namespace optischema::app {

/// Raw `serve` flags before validation (CLI11 and the environment fill it).
struct serve_flags {
  std::vector<std::string> dsns;
  std::vector<std::string> targets; ///< NAME=DSN
  std::string listen{defaults::listen};
  std::string nats;
  std::string nats_stream{defaults::nats_stream};
  std::string fleet;     ///< share the targets with engines of this fleet
  std::string engine_id; ///< this engine in the fleet (default: host name)
  int fleet_replicas = 1;
  size_t keep_connections = defaults::keep_connections;
  std::string targets_file;
  std::string data_dir{defaults::data_dir};
  std::string poll_interval = to_string(defaults::poll_interval);
  std::string static_dir;
  std::vector<std::string> cors_origins;
  std::vector<std::string> allowed_hosts;
  bool insecure_listen = false;
  size_t max_connections = defaults::max_connections;
  size_t max_ws_clients = defaults::max_ws_clients;
  size_t max_analysis_queries = defaults::analysis_queries_per_target;
  std::string sandbox_prepare_interval
    = to_string(defaults::sandbox_prepare_interval);
  std::string retention_raw = to_string(defaults::retention_raw);
  std::string retention_hourly = to_string(defaults::retention_hourly);
  std::string retention_audit = to_string(defaults::retention_audit);
  std::string retention_recommendations
    = to_string(defaults::retention_recommendations);
  std::string maintenance_interval = to_string(defaults::maintenance_interval);
  std::string analysis_interval = to_string(defaults::analysis_interval);
  double min_confidence = defaults::min_confidence;
  // -- the LLM --
  std::string llm_api_key;
  std::string llm_base_url;
  std::string llm_model{defaults::llm_model};
  std::string llm_organization;
  std::string llm_timeout = to_string(defaults::llm_timeout);
  int64_t llm_daily_tokens = defaults::llm_daily_tokens;
  double llm_daily_usd = defaults::llm_daily_usd;
  double llm_price_input = defaults::llm_usd_per_million_input;
  double llm_price_output = defaults::llm_usd_per_million_output;
  int llm_rpm = defaults::llm_requests_per_minute;
  int llm_tpm = defaults::llm_tokens_per_minute;
  size_t llm_concurrency = defaults::llm_concurrency;
  size_t llm_max_queued = defaults::llm_max_queued;
  std::string llm_cache_ttl = to_string(defaults::llm_cache_ttl);
  double llm_cache_mb = defaults::llm_cache_bytes / double(1 << 20);
  bool llm_redact_literals = false;
  std::string llm_prompt_dir;
  size_t llm_per_cycle = defaults::llm_statements_per_cycle;
  // -- applying changes --
  std::string api_token;
  std::string api_token_file;
  std::vector<std::string> apply_dsns;
  std::string apply_lock_timeout = to_string(defaults::apply_lock_timeout);
  std::string apply_statement_timeout
    = to_string(defaults::apply_statement_timeout);
  int apply_attempts = defaults::apply_attempts;
  std::string apply_retry_delay = to_string(defaults::apply_retry_delay);
  double apply_max_index_mb = 0;
  int64_t apply_lock_key = default_apply_lock_key;
  // -- what statements may call (pg/safety.hpp) --
  std::vector<std::string> allow_functions;
  std::vector<std::string> allow_extensions;
  // -- the sandbox --
  std::string sandbox_dsn;
  std::string pg_bin_dir;
  double sandbox_full_copy_mb = defaults::sandbox_full_copy_bytes
    / double(1 << 20);
  double sandbox_sample_percent = defaults::sandbox_sample_percent;
  int sandbox_runs = defaults::sandbox_runs;
  size_t sandbox_auto_test = defaults::sandbox_auto_test;
  // -- the alert rules (analysis/alerts.hpp) --
  alert_thresholds alerts;
  std::string log_level{defaults::log_level};
  std::string log_file;
  std::string log_format = "text"; ///< or json (one object per line)
  /// Validate, print what would run, exit (a deployment's pre-flight).
  bool check_config = false;
};

/// `advise` flags (Dexter's vocabulary where it has one).
struct advise_flags {
  std::string dsn;
  bool pg_stat_statements = false;
  std::vector<std::string> statements;
  std::vector<std::string> files;
  int64_t min_calls = 0;
  double min_time_ms = 0;
  double budget_mb = 0;
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  std::string format = "text";
  double min_confidence = 0.5;
  /// Name of the target in recommendation ids (default: the database).
  std::string target;
  bool create = false;
  /// A sandbox server: each proposed index is built on a copy there and
  /// its statements timed; the measurement replaces the estimate.
  std::string sandbox_dsn;
  double sandbox_sample_percent = 0;
  int sandbox_runs = 5;
  std::vector<std::string> allow_functions;
  std::vector<std::string> allow_extensions;
  std::string log_level = "warn";
};

/// `apply` flags.
struct apply_flags {
  std::string dsn;
  std::string id;
  std::string target;
  bool rollback = false;
  std::string lock_timeout = "2s";
  int attempts = 3;
  int64_t lock_key = default_apply_lock_key;
  std::string log_level = "info";
};

/// `health` flags.
struct health_flags {
  std::string url = "http://127.0.0.1:8080";
  bool ready = false;
  std::string timeout = "3s";
};

/// `optischema alerts` flags: where the alerts come from, which to keep,
/// where they go.
struct alerts_flags {
  std::string nats;
  std::string nats_stream{defaults::nats_stream};
  std::string durable = "optischema-alerts";
  bool replay = false;
  std::vector<std::string> targets;
  std::vector<std::string> rules;
  std::string min_severity = "info";
  std::string format = "text"; ///< text, json or none (stdout)
  std::string webhook;
  std::string slack;
  std::string alertmanager;
  std::string dashboard_url;
  /// Tries of a sink before the alert is put back for later.
  int attempts = 6;
  /// The first pause between tries; doubled each time, up to 30 s.
  std::string retry_wait = "1s";
  /// How long a delivered batch may go unacknowledged (a subscriber that
  /// died with it) before JetStream delivers it again.
  std::string ack_wait = "30s";
  std::string log_level = "info";
};

/// Follows the fleet's alerts (a durable JetStream consumer) and delivers
/// each batch to stdout and the HTTP sinks; acknowledges it once every sink
/// took it. Runs until SIGINT or SIGTERM. Returns the exit code.
int alerts(const alerts_flags& flags);

/// Asks a running engine's /health/live (or /health/ready): 0 when it
/// answers 200, 1 otherwise, 2 for bad flags.
int health(const health_flags& flags);

/// Runs the advisor once and prints its report; with `create`, applies its
/// actions (CREATE INDEX CONCURRENTLY) as Dexter's --create does. Returns
/// the exit code.
int advise(const advise_flags& flags);

/// Re-derives the recommendation `--id` from a fresh analysis of the target
/// (ids are stable) and applies or rolls it back. Returns the exit code.
int apply(const apply_flags& flags);

/// The target name `serve` gives a database (recommendation ids use it).
std::string name_from(const std::string& dbname);

/// Applies (or, with `undo`, rolls back) one recommendation to `target`
/// with the engine's safety rules, printing what happened; true on success.
bool apply_recommendation(const pg::conninfo& target, const recommendation& r,
                          bool undo, const pg::ddl_options& opts);

/// A failure saying `what` ("--dsn is empty") and what to pass instead when
/// `dsn` is empty or blank; nullopt otherwise.
std::optional<failure> empty_dsn(const std::string& what,
                                 const std::string& dsn);

/// Turns flags into a validated engine configuration. Targets come from
/// --target NAME=DSN and --dsn (named after their database), else from
/// OPTISCHEMA_DSN / DATABASE_URL, else from the PG* variables.
expected<engine_config> to_config(const serve_flags& flags);

/// What `serve --check-config` prints: the targets (passwords redacted) and
/// the settings a deployment most often gets wrong.
void print_config(const engine_config& cfg);

/// Runs the engine until SIGINT/SIGTERM; returns the exit code.
int serve(const engine_config& cfg);

/// Entry point of the `optischema` executable.
int run(int argc, char** argv);

} // namespace optischema::app
