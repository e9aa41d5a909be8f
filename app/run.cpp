#include "cli.hpp"
#include "config_file.hpp"

#include "optischema/util/log_format.hpp"
#include "optischema/util/logging.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>

namespace optischema::app {

namespace {

void add_llm_flags(CLI::App& cmd, serve_flags& f) {
  auto* g
    = cmd.add_option_group("LLM",
                           "An OpenAI-compatible endpoint (off without a key "
                           "or a base URL)");
  g->add_option("--llm-api-key", f.llm_api_key, "API key (prefer the variable)")
    ->envname("OPENAI_API_KEY");
  g->add_option("--llm-base-url", f.llm_base_url,
                "Endpoint up to /v1 (default https://api.openai.com/v1; e.g. "
                "http://127.0.0.1:11434/v1 for Ollama)")
    ->envname("OPTISCHEMA_LLM_BASE_URL");
  g->add_option("--llm-model", f.llm_model, "Model")
    ->envname("OPTISCHEMA_LLM_MODEL")
    ->capture_default_str();
  g->add_option("--llm-organization", f.llm_organization, "OpenAI organisation")
    ->envname("OPENAI_ORG_ID");
  g->add_option("--llm-timeout", f.llm_timeout, "Per request")
    ->envname("OPTISCHEMA_LLM_TIMEOUT")
    ->capture_default_str();
  g->add_option("--llm-daily-tokens", f.llm_daily_tokens, "Tokens per UTC day")
    ->envname("OPTISCHEMA_LLM_DAILY_TOKENS")
    ->capture_default_str();
  g->add_option("--llm-daily-usd", f.llm_daily_usd, "Estimated USD per UTC day")
    ->envname("OPTISCHEMA_LLM_DAILY_USD")
    ->capture_default_str();
  g->add_option("--llm-price-input", f.llm_price_input,
                "USD per million prompt tokens")
    ->envname("OPTISCHEMA_LLM_PRICE_INPUT")
    ->capture_default_str();
  g->add_option("--llm-price-output", f.llm_price_output,
                "USD per million completion tokens")
    ->envname("OPTISCHEMA_LLM_PRICE_OUTPUT")
    ->capture_default_str();
  g->add_option("--llm-rpm", f.llm_rpm, "Requests per minute (0: no limit)")
    ->envname("OPTISCHEMA_LLM_RPM")
    ->capture_default_str();
  g->add_option("--llm-tpm", f.llm_tpm, "Tokens per minute (0: no limit)")
    ->envname("OPTISCHEMA_LLM_TPM")
    ->capture_default_str();
  g->add_option("--llm-concurrency", f.llm_concurrency, "Requests in flight")
    ->envname("OPTISCHEMA_LLM_CONCURRENCY")
    ->capture_default_str();
  g->add_option("--llm-max-queued", f.llm_max_queued,
                "Questions waiting for a call; more are refused as busy")
    ->envname("OPTISCHEMA_LLM_MAX_QUEUED")
    ->capture_default_str();
  g->add_option("--llm-cache-ttl", f.llm_cache_ttl,
                "How long answers are reused")
    ->envname("OPTISCHEMA_LLM_CACHE_TTL")
    ->capture_default_str();
  g->add_option("--llm-cache-mb", f.llm_cache_mb,
                "Size cap of the answer cache")
    ->envname("OPTISCHEMA_LLM_CACHE_MB")
    ->capture_default_str();
  g->add_flag("--llm-redact-literals", f.llm_redact_literals,
              "Replace every literal by $n before anything is sent")
    ->envname("OPTISCHEMA_LLM_REDACT_LITERALS");
  g->add_option("--llm-prompt-dir", f.llm_prompt_dir,
                "Directory overriding the prompt templates (<kind>.md, "
                "<kind>.schema.json)")
    ->envname("OPTISCHEMA_LLM_PROMPT_DIR");
  g->add_option("--llm-statements-per-cycle", f.llm_per_cycle,
                "Statements and recommendations per analysis the LLM sees")
    ->envname("OPTISCHEMA_LLM_STATEMENTS_PER_CYCLE")
    ->capture_default_str();
}

void add_apply_flags(CLI::App& cmd, serve_flags& f) {
  auto* g = cmd.add_option_group(
    "Apply", "Applying recommendations to targets (off without a token)");
  g->add_option("--api-token", f.api_token,
                "Bearer token of every POST and the WebSocket (visible in ps: "
                "prefer --api-token-file)")
    ->envname("OPTISCHEMA_API_TOKEN");
  g->add_option("--api-token-file", f.api_token_file,
                "File holding the API token (make one: head -c 24 "
                "/dev/urandom | base64 > token; chmod 600 token)")
    ->envname("OPTISCHEMA_API_TOKEN_FILE");
  g->add_option("--apply-dsn", f.apply_dsns,
                "Role that owns the tables (creating an index needs it): "
                "NAME=DSN, or a DSN for the targets in order (default: the "
                "target's DSN)")
    ->envname("OPTISCHEMA_APPLY_DSN");
  g->add_option("--apply-lock-timeout", f.apply_lock_timeout,
                "Longest wait for a table lock per attempt")
    ->envname("OPTISCHEMA_APPLY_LOCK_TIMEOUT")
    ->capture_default_str();
  g->add_option("--apply-statement-timeout", f.apply_statement_timeout,
                "Longest index build")
    ->envname("OPTISCHEMA_APPLY_STATEMENT_TIMEOUT")
    ->capture_default_str();
  g->add_option("--apply-attempts", f.apply_attempts,
                "Attempts when a lock is busy")
    ->envname("OPTISCHEMA_APPLY_ATTEMPTS")
    ->capture_default_str();
  g->add_option("--apply-retry-delay", f.apply_retry_delay,
                "Wait before a retry (grows with each attempt)")
    ->envname("OPTISCHEMA_APPLY_RETRY_DELAY")
    ->capture_default_str();
  g->add_option("--apply-max-index-mb", f.apply_max_index_mb,
                "Refuse builds estimated above this size (0: no limit)")
    ->envname("OPTISCHEMA_APPLY_MAX_INDEX_MB")
    ->capture_default_str();
  g->add_option("--apply-lock-key", f.apply_lock_key,
                "Key of the PostgreSQL advisory lock held while changing a "
                "target (the same on every engine that may change it)")
    ->envname("OPTISCHEMA_APPLY_LOCK_KEY")
    ->capture_default_str();
  auto* s = cmd.add_option_group(
    "Sandbox", "A separate PostgreSQL where advice is proven on a copy");
  s->add_option("--sandbox-dsn", f.sandbox_dsn,
                "Sandbox server (any database there; the role needs CREATEDB); "
                "off when empty")
    ->envname("OPTISCHEMA_SANDBOX_DSN");
  s->add_option("--sandbox-full-copy-mb", f.sandbox_full_copy_mb,
                "Targets up to this size are copied whole, larger ones sampled "
                "to it")
    ->envname("OPTISCHEMA_SANDBOX_FULL_COPY_MB")
    ->capture_default_str();
  s->add_option("--sandbox-sample-percent", f.sandbox_sample_percent,
                "Copy this percentage of each table's rows (0: by size)")
    ->envname("OPTISCHEMA_SANDBOX_SAMPLE_PERCENT")
    ->capture_default_str();
  s->add_option("--sandbox-runs", f.sandbox_runs,
                "Timed runs per statement before and after")
    ->envname("OPTISCHEMA_SANDBOX_RUNS")
    ->capture_default_str();
  s->add_option("--sandbox-prepare-interval", f.sandbox_prepare_interval,
                "Forced copies (POST /api/sandbox/prepare) at most this often "
                "per target")
    ->envname("OPTISCHEMA_SANDBOX_PREPARE_INTERVAL")
    ->capture_default_str();
  s->add_option("--sandbox-auto-test", f.sandbox_auto_test,
                "Untested index actions each analysis sends to the sandbox")
    ->envname("OPTISCHEMA_SANDBOX_AUTO_TEST")
    ->capture_default_str();
  s->add_option("--pg-bin-dir", f.pg_bin_dir,
                "Where pg_dump and psql live (default: the newest "
                "/usr/lib/postgresql/*/bin)")
    ->envname("OPTISCHEMA_PG_BIN_DIR");
}

/// The alert rules' thresholds (analysis/alerts.hpp; README "Alerts").
void add_alert_flags(CLI::App& cmd, alert_thresholds& t) {
  auto* g = cmd.add_option_group(
    "Alerts", "When the alert rules fire (their defaults favour silence)");
  g->add_option("--alert-sustain-polls", t.sustain_polls,
                "Polls a condition must hold before it fires, and be gone "
                "before it resolves")
    ->envname("OPTISCHEMA_ALERT_SUSTAIN_POLLS")
    ->capture_default_str();
  g->add_option("--alert-regression-ratio", t.regression_ratio,
                "A statement's mean time must be this many times its "
                "baseline median to count as a regression")
    ->envname("OPTISCHEMA_ALERT_REGRESSION_RATIO")
    ->capture_default_str();
  g->add_option("--alert-min-calls", t.regression_min_calls,
                "Calls in a poll for a statement's mean to count")
    ->envname("OPTISCHEMA_ALERT_MIN_CALLS")
    ->capture_default_str();
  g->add_option("--alert-plan-watch", t.plan_watch_n,
                "The costliest statements whose generic plans are checked "
                "each poll (an EXPLAIN each; 0: no plan-change alerts)")
    ->envname("OPTISCHEMA_ALERT_PLAN_WATCH")
    ->capture_default_str();
  g->add_option("--alert-calls-jump", t.calls_jump_ratio,
                "Times its usual calls a second for a storm of calls")
    ->envname("OPTISCHEMA_ALERT_CALLS_JUMP")
    ->capture_default_str();
  g->add_option("--alert-down-polls", t.down_polls,
                "Failed polls in a row before a target is down")
    ->envname("OPTISCHEMA_ALERT_DOWN_POLLS")
    ->capture_default_str();
  g->add_option("--alert-group", t.group_statements,
                "Statement regressions of a target at once that become one "
                "alert of the target (0: never grouped)")
    ->envname("OPTISCHEMA_ALERT_GROUP")
    ->capture_default_str();
  g->add_option("--alert-connections", t.connections_ratio,
                "Share of max_connections in use that fires")
    ->envname("OPTISCHEMA_ALERT_CONNECTIONS")
    ->capture_default_str();
  g->add_option("--alert-llm-budget", t.llm_budget_share,
                "Share of the LLM's daily budget spent that fires")
    ->envname("OPTISCHEMA_ALERT_LLM_BUDGET")
    ->capture_default_str();
}

/// What statements the engine explains or runs may call (pg/safety.hpp).
void add_safety_flags(CLI::App& cmd, std::vector<std::string>& functions,
                      std::vector<std::string>& extensions) {
  auto* g = cmd.add_option_group(
    "Safety",
    "Statements from requests, LLM answers and pg_stat_statements "
    "may call only pg_catalog's IMMUTABLE and STABLE functions");
  g->add_option("--allow-function", functions,
                "Allow this function (schema.name, as a refusal names it) in "
                "statements the engine explains or runs (repeatable)")
    ->envname("OPTISCHEMA_ALLOW_FUNCTIONS")
    ->delimiter(',');
  g->add_option("--allow-extension", extensions,
                "Allow the IMMUTABLE and STABLE functions of this extension "
                "(repeatable), e.g. citext, postgis")
    ->envname("OPTISCHEMA_ALLOW_EXTENSIONS")
    ->delimiter(',');
}

void add_serve_flags(CLI::App& cmd, serve_flags& f) {
  cmd.add_option("--dsn", f.dsns,
                 "Database to watch: libpq URI or key=value string (repeat "
                 "for several; named after the database)");
  cmd.add_option("--target", f.targets,
                 "Database to watch under a name: NAME=DSN (repeatable)");
  cmd
    .add_option("--listen", f.listen,
                "Address of the API, WebSocket and dashboard")
    ->envname("OPTISCHEMA_LISTEN")
    ->capture_default_str();
  cmd
    .add_option("--nats", f.nats,
                "NATS server for events (nats://host:4222); off when empty")
    ->envname("OPTISCHEMA_NATS_URL");
  cmd
    .add_option("--nats-stream", f.nats_stream,
                "JetStream stream capturing optischema.> (when the server has "
                "JetStream)")
    ->envname("OPTISCHEMA_NATS_STREAM")
    ->capture_default_str();
  cmd
    .add_option("--fleet", f.fleet,
                "Share the targets with the engines of this fleet (same name, "
                "same NATS with JetStream): each target is polled by one live "
                "engine")
    ->envname("OPTISCHEMA_FLEET");
  cmd
    .add_option("--engine-id", f.engine_id,
                "This engine's id in the fleet, unique (default: the host "
                "name; the pod name in Kubernetes)")
    ->envname("OPTISCHEMA_ENGINE_ID");
  cmd
    .add_option("--fleet-replicas", f.fleet_replicas,
                "Copies of the fleet's membership bucket (3 on a JetStream "
                "cluster of three)")
    ->envname("OPTISCHEMA_FLEET_REPLICAS")
    ->check(CLI::Range(1, 5))
    ->capture_default_str();
  cmd
    .add_option("--targets-file", f.targets_file,
                "More targets, one NAME=DSN per line (no passwords: .pgpass "
                "or PGSERVICE), re-read while the engine runs; POST and "
                "DELETE /api/targets edit it")
    ->envname("OPTISCHEMA_TARGETS_FILE");
  cmd
    .add_option("--keep-connections", f.keep_connections,
                "Up to this many targets keep their connections open between "
                "polls; beyond it, the targets of one server share one "
                "connection and one read of pg_stat_statements, a target "
                "alone on its server connects per poll, analyses connect "
                "per analysis, and polls take turns over the interval")
    ->envname("OPTISCHEMA_KEEP_CONNECTIONS")
    ->capture_default_str();
  cmd.add_option("--data-dir", f.data_dir, "Where history is kept (RocksDB)")
    ->envname("OPTISCHEMA_DATA_DIR")
    ->capture_default_str();
  cmd
    .add_option("--poll-interval", f.poll_interval,
                "How often pg_stat_statements is read (e.g. 30s, 1m)")
    ->envname("OPTISCHEMA_POLL_INTERVAL")
    ->capture_default_str();
  cmd
    .add_option("--static-dir", f.static_dir,
                "Directory served at / (the dashboard's static export)")
    ->envname("OPTISCHEMA_STATIC_DIR");
  cmd
    .add_option("--cors-origin", f.cors_origins,
                "Origin allowed to call the API from a browser (repeatable, * "
                "for any)")
    ->envname("OPTISCHEMA_CORS_ORIGINS")
    ->delimiter(',');
  cmd
    .add_option("--allowed-host", f.allowed_hosts,
                "Name the engine is reached by besides IP addresses and "
                "localhost, e.g. a proxy's (repeatable; * for any). Other "
                "Host headers get 421 (DNS rebinding)")
    ->envname("OPTISCHEMA_ALLOWED_HOSTS")
    ->delimiter(',');
  cmd
    .add_flag("--insecure-listen", f.insecure_listen,
              "Listen beyond loopback without an API token (only behind an "
              "authenticating proxy)")
    ->envname("OPTISCHEMA_INSECURE_LISTEN");
  cmd
    .add_option("--max-connections", f.max_connections,
                "Open connections (HTTP and WebSocket)")
    ->envname("OPTISCHEMA_MAX_CONNECTIONS")
    ->capture_default_str();
  cmd.add_option("--max-ws-clients", f.max_ws_clients, "WebSocket clients")
    ->envname("OPTISCHEMA_MAX_WS_CLIENTS")
    ->capture_default_str();
  cmd
    .add_option("--max-analysis-queries", f.max_analysis_queries,
                "Ad-hoc analyses (POST /api/analysis/query) in flight per "
                "target; more get 429")
    ->envname("OPTISCHEMA_MAX_ANALYSIS_QUERIES")
    ->capture_default_str();
  cmd
    .add_option("--retention-raw", f.retention_raw,
                "How long one point per poll is kept")
    ->envname("OPTISCHEMA_RETENTION_RAW")
    ->capture_default_str();
  cmd
    .add_option("--retention-hourly", f.retention_hourly,
                "How long hourly sums are kept")
    ->envname("OPTISCHEMA_RETENTION_HOURLY")
    ->capture_default_str();
  cmd
    .add_option("--retention-audit", f.retention_audit,
                "How long audit log entries are kept")
    ->envname("OPTISCHEMA_RETENTION_AUDIT")
    ->capture_default_str();
  cmd
    .add_option("--retention-recommendations", f.retention_recommendations,
                "How long recommendations no analysis produces any more "
                "(dismissed ones too; never applied ones) are kept")
    ->envname("OPTISCHEMA_RETENTION_RECOMMENDATIONS")
    ->capture_default_str();
  cmd
    .add_option("--maintenance-interval", f.maintenance_interval,
                "How often history is rolled up and expired")
    ->envname("OPTISCHEMA_MAINTENANCE_INTERVAL")
    ->capture_default_str();
  cmd
    .add_option("--analysis-interval", f.analysis_interval,
                "How often each workload is analysed for index advice (0: "
                "only on request)")
    ->envname("OPTISCHEMA_ANALYSIS_INTERVAL")
    ->capture_default_str();
  cmd
    .add_option("--min-confidence", f.min_confidence,
                "Recommendations below this confidence are ideas, not actions")
    ->envname("OPTISCHEMA_MIN_CONFIDENCE")
    ->capture_default_str();
  add_llm_flags(cmd, f);
  add_apply_flags(cmd, f);
  add_safety_flags(cmd, f.allow_functions, f.allow_extensions);
  add_alert_flags(cmd, f.alerts);
  cmd
    .add_option("--log-level", f.log_level, "trace, debug, info, warn or error")
    ->envname("OPTISCHEMA_LOG_LEVEL")
    ->capture_default_str();
  cmd
    .add_option("--log-file", f.log_file,
                "Append logs to this file instead of stderr")
    ->envname("OPTISCHEMA_LOG_FILE");
  cmd
    .add_option("--log-format", f.log_format,
                "text, or json: one object per line for log collectors")
    ->envname("OPTISCHEMA_LOG_FORMAT")
    ->check(CLI::IsMember({"text", "json"}))
    ->capture_default_str();
  cmd.add_flag("--check-config", f.check_config,
               "Validate the flags, config file and environment, print the "
               "targets and exit (0: the engine would start with them)");
}

void add_advise_flags(CLI::App& cmd, advise_flags& f) {
  cmd
    .add_option("--dsn", f.dsn,
                "Database to advise: libpq URI or key=value string")
    ->envname("OPTISCHEMA_DSN");
  cmd.add_flag("--pg-stat-statements", f.pg_stat_statements,
               "Take the workload from pg_stat_statements (the default when "
               "no statement is given)");
  cmd.add_option("--statement,-s", f.statements,
                 "A statement to advise on (repeatable)");
  cmd.add_option("--file", f.files,
                 "A file of statements separated by ; (repeatable)");
  cmd.add_option("--min-calls", f.min_calls,
                 "Leave out statements with fewer calls");
  cmd.add_option("--min-time-ms", f.min_time_ms,
                 "Leave out statements with less total execution time");
  cmd.add_option("--budget-mb", f.budget_mb, "Storage budget for new indexes");
  cmd.add_option("--include", f.include,
                 "Only these tables (schema.table; repeatable)");
  cmd.add_option("--exclude", f.exclude, "Never these tables (repeatable)");
  cmd.add_option("--format", f.format, "text or json")->capture_default_str();
  cmd
    .add_option("--min-confidence", f.min_confidence,
                "Actions below this confidence are reported, not proposed")
    ->capture_default_str();
  cmd.add_option("--target", f.target,
                 "Name of the target in recommendation ids (default: the "
                 "database name, as `serve` names it)");
  cmd.add_flag("--create", f.create,
               "Create the recommended indexes (CREATE INDEX CONCURRENTLY, "
               "with lock timeouts and retries)");
  cmd.add_option("--sandbox-dsn", f.sandbox_dsn,
                 "A PostgreSQL server (never the target) where each proposed "
                 "index is built on a copy of the target and measured; the "
                 "measurement outweighs the estimate");
  cmd
    .add_option("--sandbox-sample-percent", f.sandbox_sample_percent,
                "Copy this share of each table's rows (0: whole up to 1 GB)")
    ->check(CLI::Range(0.0, 100.0));
  cmd
    .add_option("--sandbox-runs", f.sandbox_runs,
                "Timed executions per statement before and after")
    ->check(CLI::Range(1, 100))
    ->capture_default_str();
  add_safety_flags(cmd, f.allow_functions, f.allow_extensions);
  cmd
    .add_option("--log-level", f.log_level, "trace, debug, info, warn or error")
    ->capture_default_str();
}

void add_apply_cli_flags(CLI::App& cmd, apply_flags& f) {
  cmd
    .add_option("--dsn", f.dsn,
                "Database to change, as a role that owns the tables")
    ->envname("OPTISCHEMA_DSN")
    ->required();
  cmd.add_option("--id", f.id, "Recommendation id (from the API or advise)")
    ->required();
  cmd.add_option("--target", f.target,
                 "Name of the target in recommendation ids (default: the "
                 "database name)");
  cmd.add_flag("--rollback", f.rollback, "Undo the recommendation instead");
  cmd
    .add_option("--lock-timeout", f.lock_timeout,
                "Longest wait for a table lock per attempt")
    ->capture_default_str();
  cmd.add_option("--attempts", f.attempts, "Attempts when a lock is busy")
    ->capture_default_str();
  cmd
    .add_option("--lock-key", f.lock_key,
                "Key of the advisory lock (the engines' --apply-lock-key)")
    ->envname("OPTISCHEMA_APPLY_LOCK_KEY")
    ->capture_default_str();
  cmd
    .add_option("--log-level", f.log_level, "trace, debug, info, warn or error")
    ->capture_default_str();
}

void add_alerts_flags(CLI::App& cmd, alerts_flags& f) {
  cmd.add_option("--nats", f.nats, "NATS URL of the engines (their --nats)")
    ->envname("OPTISCHEMA_NATS_URL");
  cmd
    .add_option("--nats-stream", f.nats_stream,
                "The engines' JetStream stream (their --nats-stream)")
    ->envname("OPTISCHEMA_NATS_STREAM")
    ->capture_default_str();
  cmd
    .add_option("--durable", f.durable,
                "Consumer name: kept on the server, so what fires while this "
                "subscriber is stopped comes when it is back; subscribers of "
                "one name share the alerts, of another name get their own")
    ->capture_default_str();
  cmd.add_flag("--replay", f.replay,
               "A new consumer starts with every alert the stream holds "
               "(default: from now on)");
  cmd.add_option("--target", f.targets, "Only these targets' alerts");
  cmd.add_option("--rule", f.rules,
                 "Only these rules (statement_regression, target_down, …)");
  cmd.add_option("--min-severity", f.min_severity, "info, warning or critical")
    ->capture_default_str();
  cmd.add_option("--format", f.format, "stdout: text, json (lines) or none")
    ->capture_default_str();
  cmd
    .add_option("--webhook", f.webhook,
                "POST each batch as JSON here; acknowledged after a 2xx")
    ->envname("OPTISCHEMA_ALERTS_WEBHOOK");
  cmd.add_option("--slack", f.slack, "A Slack incoming-webhook URL")
    ->envname("OPTISCHEMA_ALERTS_SLACK");
  cmd
    .add_option("--alertmanager", f.alertmanager,
                "Prometheus Alertmanager's base URL (its /api/v2/alerts)")
    ->envname("OPTISCHEMA_ALERTS_ALERTMANAGER");
  cmd.add_option("--dashboard-url", f.dashboard_url,
                 "The dashboard's address, for links in notifications");
  cmd
    .add_option("--attempts", f.attempts,
                "Tries of a sink before the alert is put back for later")
    ->capture_default_str();
  cmd
    .add_option("--retry-wait", f.retry_wait,
                "First pause between tries, doubled each time up to 30s")
    ->capture_default_str();
  cmd
    .add_option("--ack-wait", f.ack_wait,
                "A batch a subscriber took but never acknowledged (it died) "
                "is delivered again after this long; set when the consumer "
                "is made")
    ->capture_default_str();
  cmd
    .add_option("--log-level", f.log_level, "trace, debug, info, warn or error")
    ->capture_default_str();
}

} // namespace

int run(int argc, char** argv) {
  CLI::App app{"OptiSchema: finds the PostgreSQL queries that cost the most "
               "and what to do about them",
               "optischema"};
  app.set_version_flag("--version",
                       std::string{"optischema "} + OPTISCHEMA_VERSION);
  app.require_subcommand(1);
  auto* config = app.set_config("--config", "",
                                "Read options from a TOML file ([serve])");
  app.config_formatter(std::make_shared<config_reader>());
  serve_flags flags;
  auto* serve_cmd = app.add_subcommand(
    "serve", "Watch databases and serve the API, WebSocket and dashboard");
  // `optischema serve --config f` is how manifests and people write it; the
  // file is still read by the root (its [serve] section names the command).
  serve_cmd
    ->add_option_function<std::string>(
      "--config",
      [config](const std::string& file) { config->add_result(file); },
      "Read options from a TOML file ([serve]), as before the command")
    ->trigger_on_parse();
  add_serve_flags(*serve_cmd, flags);
  advise_flags aflags;
  auto* advise_cmd = app.add_subcommand(
    "advise", "Analyse a database's workload once and print index advice");
  add_advise_flags(*advise_cmd, aflags);
  apply_flags pflags;
  auto* apply_cmd = app.add_subcommand(
    "apply", "Apply (or roll back) one recommendation to a database");
  add_apply_cli_flags(*apply_cmd, pflags);
  health_flags hflags;
  auto* health_cmd = app.add_subcommand(
    "health", "Ask a running engine whether it is alive (exit 0) or not (1)");
  health_cmd
    ->add_option("--url", hflags.url, "The engine (its --listen address)")
    ->envname("OPTISCHEMA_HEALTH_URL")
    ->capture_default_str();
  health_cmd->add_flag("--ready", hflags.ready,
                       "Ask whether every target has been polled instead");
  health_cmd->add_option("--timeout", hflags.timeout, "Longest wait")
    ->capture_default_str();
  alerts_flags lflags;
  auto* alerts_cmd = app.add_subcommand(
    "alerts",
    "Follow the engines' alerts on NATS and send them on: stdout, "
    "a webhook, Slack, Alertmanager");
  add_alerts_flags(*alerts_cmd, lflags);
  auto* version_cmd = app.add_subcommand("version", "Print the version");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (version_cmd->parsed()) {
    std::printf("optischema %s\n", OPTISCHEMA_VERSION);
    return 0;
  }
  if (health_cmd->parsed())
    return health(hflags);
  if (alerts_cmd->parsed()) {
    if (!init_logging(lflags.log_level)) {
      std::fprintf(stderr,
                   "optischema: --log-level must be trace, debug, "
                   "info, warn or error\n");
      return 2;
    }
    return alerts(lflags);
  }
  if (advise_cmd->parsed()) {
    if (!init_logging(aflags.log_level)) {
      std::fprintf(stderr,
                   "optischema: --log-level must be trace, debug, "
                   "info, warn or error\n");
      return 2;
    }
    return advise(aflags);
  }
  if (apply_cmd->parsed()) {
    if (!init_logging(pflags.log_level)) {
      std::fprintf(stderr,
                   "optischema: --log-level must be trace, debug, "
                   "info, warn or error\n");
      return 2;
    }
    return apply(pflags);
  }
  if (!init_logging(flags.log_level, flags.log_file)) {
    std::fprintf(stderr,
                 "optischema: --log-level must be trace, debug, info, warn or "
                 "error and --log-file writable\n");
    return 2;
  }
  if (flags.log_format == "json")
    use_json_logs();
  auto cfg = to_config(flags);
  if (!cfg) {
    OPTISCHEMA_ERROR("{}", cfg.error().message);
    return 2;
  }
  if (flags.check_config) {
    print_config(*cfg);
    return 0;
  }
  return serve(*cfg);
}

} // namespace optischema::app
