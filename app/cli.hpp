#pragma once

// The command line: `optischema serve …`, `optischema --version`. Parsing
// and validation live here so `main` stays a dispatcher.

#include "optischema/analysis/recommendation.hpp"
#include "optischema/messages/config.hpp"
#include "optischema/pg/conninfo.hpp"
#include "optischema/pg/ddl.hpp"
#include "optischema/util/error.hpp"

#include <optional>
#include <string>
#include <vector>

namespace optischema::app {

/// Raw `serve` flags before validation (CLI11 and the environment fill it).
struct serve_flags {
  std::vector<std::string> dsns;
  std::vector<std::string> targets; ///< NAME=DSN
  std::string listen = "127.0.0.1:8080";
  std::string nats;
  std::string nats_stream = "OPTISCHEMA";
  std::string data_dir = "optischema-data";
  std::string poll_interval = "30s";
  std::string static_dir;
  std::vector<std::string> cors_origins;
  std::vector<std::string> allowed_hosts;
  bool insecure_listen = false;
  size_t max_connections = 256;
  size_t max_ws_clients = 32;
  size_t max_analysis_queries = 2;
  std::string sandbox_prepare_interval = "10m";
  std::string retention_raw = "24h";
  std::string retention_hourly = "30d";
  std::string retention_audit = "90d";
  std::string retention_recommendations = "30d";
  std::string maintenance_interval = "10m";
  std::string analysis_interval = "60s";
  double min_confidence = 0.5;
  // -- the LLM --
  std::string llm_api_key;
  std::string llm_base_url;
  std::string llm_model = "gpt-4o";
  std::string llm_organization;
  std::string llm_timeout = "30s";
  int64_t llm_daily_tokens = 2'000'000;
  double llm_daily_usd = 10.0;
  double llm_price_input = 2.5;
  double llm_price_output = 10.0;
  int llm_rpm = 60;
  int llm_tpm = 90'000;
  size_t llm_concurrency = 2;
  size_t llm_max_queued = 32;
  std::string llm_cache_ttl = "7d";
  double llm_cache_mb = 64;
  bool llm_redact_literals = false;
  std::string llm_prompt_dir;
  size_t llm_per_cycle = 3;
  // -- applying changes --
  std::string api_token;
  std::string api_token_file;
  std::vector<std::string> apply_dsns;
  std::string apply_lock_timeout = "2s";
  std::string apply_statement_timeout = "1h";
  int apply_attempts = 3;
  std::string apply_retry_delay = "1s";
  double apply_max_index_mb = 0;
  int64_t apply_lock_key = default_apply_lock_key;
  // -- what statements may call (pg/safety.hpp) --
  std::vector<std::string> allow_functions;
  std::vector<std::string> allow_extensions;
  // -- the sandbox --
  std::string sandbox_dsn;
  std::string pg_bin_dir;
  double sandbox_full_copy_mb = 1024;
  double sandbox_sample_percent = 0;
  int sandbox_runs = 5;
  size_t sandbox_auto_test = 3;
  std::string log_level = "info";
  std::string log_file;
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

/// Runs the engine until SIGINT/SIGTERM; returns the exit code.
int serve(const engine_config& cfg);

/// Entry point of the `optischema` executable.
int run(int argc, char** argv);

} // namespace optischema::app
