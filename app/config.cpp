#include "cli.hpp"

#include "optischema/pg/safety.hpp"

#include "optischema/broker/ownership.hpp"
#include "optischema/messages/targets_file.hpp"
#include "optischema/pg/conninfo.hpp"
#include "optischema/util/duration.hpp"
#include "optischema/util/logging.hpp"
#include "optischema/util/redact.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <set>
#include <tuple>

namespace optischema::app {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

bool blank(const std::string& x) {
  return std::all_of(x.begin(), x.end(),
                     [](unsigned char c) { return std::isspace(c) != 0; });
}

/// Shortest API token accepted: a guessable token is no door.
constexpr size_t min_token_length = 16;

/// The API token from --api-token or --api-token-file, checked. Never puts
/// the token itself in a message.
expected<std::string> api_token(const serve_flags& flags) {
  auto token = flags.api_token;
  auto& file = flags.api_token_file;
  if (!file.empty()) {
    if (!token.empty())
      return failure{ec::invalid_configuration,
                     "give the API token once: --api-token-file or "
                     "--api-token (OPTISCHEMA_API_TOKEN), not both"};
    std::ifstream in{file, std::ios::binary};
    if (!in)
      return failure{ec::invalid_configuration,
                     fmt::format("cannot read --api-token-file {}: {}", file,
                                 std::strerror(errno))};
    token.assign(std::istreambuf_iterator<char>{in}, {});
    // `echo x > file` and editors leave a newline.
    while (!token.empty()
           && std::isspace(static_cast<unsigned char>(token.back())))
      token.pop_back();
    struct stat st {};
    // Group-readable is how Kubernetes mounts secrets (fsGroup).
    if (::stat(file.c_str(), &st) == 0 && (st.st_mode & 007) != 0)
      OPTISCHEMA_WARN("--api-token-file {} is readable by other users; "
                      "chmod 600 {}",
                      file, file);
  }
  if (token.empty())
    return token;
  if (std::any_of(token.begin(), token.end(),
                  [](unsigned char c) { return c < 0x21 || c == 0x7f; }))
    return failure{ec::invalid_configuration,
                   "the API token must not contain spaces or control "
                   "characters; make one with: head -c 24 /dev/urandom | "
                   "base64"};
  if (token.size() < min_token_length)
    return failure{
      ec::invalid_configuration,
      fmt::format("the API token must be at least {} characters (this one "
                  "has {}); make one with: umask 077; head -c 24 "
                  "/dev/urandom | base64 > token, then --api-token-file token",
                  min_token_length, token.size())};
  return token;
}

} // namespace

std::optional<failure> empty_dsn(const std::string& what,
                                 const std::string& dsn) {
  if (!blank(dsn))
    return std::nullopt;
  // An unset variable in a script or a blank line of a config file: libpq
  // would quietly connect to whatever its defaults point at.
  return failure{ec::invalid_configuration,
                 fmt::format("{}: pass a libpq URI or key=value string, "
                             "e.g. postgresql://user@host:5432/db",
                             what)};
}

/// A target name from a database name: invalid characters become '_'.
std::string name_from(const std::string& dbname) {
  std::string out;
  for (unsigned char c : dbname)
    out += (std::isalnum(c) || c == '_' || c == '-') ? static_cast<char>(c)
                                                     : '_';
  if (out.empty())
    out = "default";
  return out.substr(0, 64);
}

namespace {

expected<std::chrono::milliseconds>
duration_flag(const char* flag, const std::string& text,
              std::chrono::milliseconds min) {
  auto d = parse_duration(text);
  if (!d)
    return failure{ec::invalid_configuration,
                   fmt::format("{}: {}", flag, d.error().message)};
  if (*d < min)
    return failure{ec::invalid_configuration,
                   fmt::format("{} must be at least {}, got {}", flag,
                               to_string(min), text)};
  return *d;
}

} // namespace

expected<engine_config> to_config(const serve_flags& flags) {
  engine_config cfg;
  std::set<std::string> names;
  auto add = [&](std::string name, const std::string& dsn,
                 bool explicit_name) -> std::optional<failure> {
    auto ci = pg::parse_conninfo(dsn);
    if (!ci)
      return ci.error();
    if (name.empty())
      name = name_from(ci->dbname);
    if (!valid_new_target_name(name))
      return failure{ec::invalid_configuration,
                     fmt::format("target name '{}' is invalid: use letters, "
                                 "digits, '_' and '-' (at most 64; not "
                                 "_engine, the engine's own alerts)",
                                 name)};
    if (names.count(name) != 0) {
      if (explicit_name)
        return failure{ec::invalid_configuration,
                       fmt::format("two targets are named '{}'", name)};
      for (int i = 2; names.count(name) != 0; ++i)
        name = fmt::format("{}-{}", name_from(ci->dbname), i);
    }
    names.insert(name);
    cfg.targets.push_back({name, std::move(*ci), {}});
    return std::nullopt;
  };
  for (auto& t : flags.targets) {
    auto eq = t.find('=');
    if (eq == std::string::npos || eq == 0)
      return failure{ec::invalid_configuration,
                     fmt::format("--target takes NAME=DSN, e.g. --target "
                                 "prod=postgresql://monitor@db1/app; got '{}'",
                                 t.substr(0, t.find(' ')))};
    if (auto err
        = empty_dsn("--target " + t.substr(0, eq + 1) + " has an empty DSN",
                    t.substr(eq + 1)))
      return *err;
    if (auto err = add(t.substr(0, eq), t.substr(eq + 1), true))
      return *err;
  }
  for (auto& dsn : flags.dsns) {
    if (auto err = empty_dsn("--dsn is empty", dsn))
      return *err;
    if (auto err = add("", dsn, false))
      return *err;
  }
  // The targets file's, checked like the flags' (it may be empty: targets
  // are added to it while the engine runs).
  if (!flags.targets_file.empty()) {
    cfg.targets_file = flags.targets_file;
    auto text = read_targets_file(flags.targets_file);
    if (!text)
      return text.error();
    auto listed = parse_targets_file(*text);
    if (!listed)
      return listed.error();
    for (auto& t : *listed) {
      if (names.count(t.name) != 0)
        return failure{ec::invalid_configuration,
                       fmt::format("target {} is in the targets file and in "
                                   "the flags or config; keep one",
                                   t.name)};
      names.insert(t.name);
      t.from_file = true;
      cfg.targets.push_back(std::move(t));
    }
  }
  if (cfg.targets.empty() && cfg.targets_file.empty()) {
    for (auto* var : {"OPTISCHEMA_DSN", "DATABASE_URL"})
      if (std::getenv(var) != nullptr) {
        if (auto err = empty_dsn(std::string{var} + " is set but empty",
                                 env(var)))
          return *err;
        if (auto err = add("", env(var), false))
          return *err;
        break;
      }
  }
  if (cfg.targets.empty() && cfg.targets_file.empty()) {
    if (env("PGHOST").empty() && env("PGDATABASE").empty()
        && env("PGSERVICE").empty())
      return failure{
        ec::invalid_configuration,
        "no database to watch: pass --dsn "
        "postgresql://user@host:5432/db (repeat for several), "
        "or set OPTISCHEMA_DSN, DATABASE_URL or PGHOST/PGDATABASE"};
    if (auto err = add("", "", false))
      return *err;
  }
  // CLI11 reads nan and inf too (flags, environment, --config), which pass
  // every `< 0` check below, and sizes become int64 bytes, which 1e300 MB
  // does not fit (undefined behaviour): both found by fuzzing --config.
  constexpr double petabyte_in_mb = 1e9;
  for (auto [flag, value, most] :
       std::initializer_list<std::tuple<const char*, double, double>>{
         {"--min-confidence", flags.min_confidence, 1},
         {"--apply-max-index-mb", flags.apply_max_index_mb, petabyte_in_mb},
         {"--sandbox-full-copy-mb", flags.sandbox_full_copy_mb, petabyte_in_mb},
         {"--sandbox-sample-percent", flags.sandbox_sample_percent, 100},
         {"--llm-daily-usd", flags.llm_daily_usd, 1e9},
         {"--llm-price-input", flags.llm_price_input, 1e9},
         {"--llm-price-output", flags.llm_price_output, 1e9},
         {"--llm-cache-mb", flags.llm_cache_mb, petabyte_in_mb}})
    if (!std::isfinite(value) || value > most)
      return failure{ec::invalid_configuration,
                     fmt::format("{} takes a number up to {}, got {}", flag,
                                 most, value)};
  auto poll = duration_flag("--poll-interval", flags.poll_interval,
                            std::chrono::milliseconds{100});
  if (!poll)
    return poll.error();
  cfg.poll_interval = *poll;
  auto raw = duration_flag("--retention-raw", flags.retention_raw,
                           std::chrono::hours{1});
  if (!raw)
    return raw.error();
  auto hourly = duration_flag("--retention-hourly", flags.retention_hourly,
                              std::chrono::hours{1});
  if (!hourly)
    return hourly.error();
  if (*hourly < *raw)
    return failure{
      ec::invalid_configuration,
      "--retention-hourly must not be shorter than --retention-raw"};
  auto audit = duration_flag("--retention-audit", flags.retention_audit,
                             std::chrono::hours{1});
  if (!audit)
    return audit.error();
  auto recs = duration_flag("--retention-recommendations",
                            flags.retention_recommendations,
                            std::chrono::hours{1});
  if (!recs)
    return recs.error();
  auto maint = duration_flag("--maintenance-interval",
                             flags.maintenance_interval,
                             std::chrono::seconds{1});
  if (!maint)
    return maint.error();
  // 0 turns periodic analysis off (ad-hoc analysis still works).
  auto analysis = flags.analysis_interval == "0"
    ? expected<std::chrono::milliseconds>{std::chrono::milliseconds{0}}
    : duration_flag("--analysis-interval", flags.analysis_interval,
                    std::chrono::seconds{1});
  if (!analysis)
    return analysis.error();
  if (flags.min_confidence < 0 || flags.min_confidence > 1)
    return failure{ec::invalid_configuration,
                   "--min-confidence takes a number from 0 to 1"};
  cfg.analysis_interval = *analysis;
  // -- applying, and the API token of every POST
  auto& ap = cfg.apply;
  auto token = api_token(flags);
  if (!token)
    return token.error();
  ap.api_token = std::move(*token);
  for (size_t i = 0; i < flags.apply_dsns.size(); ++i) {
    auto& x = flags.apply_dsns[i];
    auto eq = x.find('=');
    auto named = eq != std::string::npos
      && std::any_of(cfg.targets.begin(), cfg.targets.end(),
                     [&](auto& t) { return t.name == x.substr(0, eq); });
    auto dsn = named ? x.substr(eq + 1) : x;
    if (auto err = empty_dsn("--apply-dsn is empty", dsn))
      return *err;
    auto ci = pg::parse_conninfo(dsn);
    if (!ci)
      return failure{ec::invalid_configuration,
                     "--apply-dsn: " + ci.error().message};
    if (named) {
      for (auto& t : cfg.targets)
        if (t.name == x.substr(0, eq))
          t.apply_conn = *ci;
    } else if (i < cfg.targets.size()) {
      cfg.targets[i].apply_conn = std::move(*ci);
    } else {
      return failure{ec::invalid_configuration,
                     "more --apply-dsn than targets; name them: "
                     "--apply-dsn NAME=DSN"};
    }
  }
  auto lock = duration_flag("--apply-lock-timeout", flags.apply_lock_timeout,
                            std::chrono::milliseconds{10});
  if (!lock)
    return lock.error();
  ap.lock_timeout = *lock;
  auto build = duration_flag("--apply-statement-timeout",
                             flags.apply_statement_timeout,
                             std::chrono::milliseconds{100});
  if (!build)
    return build.error();
  ap.statement_timeout = *build;
  auto delay = duration_flag("--apply-retry-delay", flags.apply_retry_delay,
                             std::chrono::milliseconds{0});
  if (!delay)
    return delay.error();
  ap.retry_delay = *delay;
  if (flags.apply_attempts < 1 || flags.apply_attempts > 100)
    return failure{ec::invalid_configuration,
                   "--apply-attempts takes 1 to 100"};
  ap.attempts = flags.apply_attempts;
  if (flags.apply_max_index_mb < 0)
    return failure{ec::invalid_configuration,
                   "--apply-max-index-mb must not be negative"};
  ap.max_index_bytes
    = static_cast<int64_t>(flags.apply_max_index_mb * 1024 * 1024);
  ap.lock_key = flags.apply_lock_key;
  // -- what statements may call
  auto policy = pg::make_policy(flags.allow_functions, flags.allow_extensions);
  if (!policy)
    return policy.error();
  cfg.allow_functions = policy->functions;
  cfg.allow_extensions = policy->extensions;
  // -- the sandbox
  auto& sb = cfg.sandbox;
  if (!flags.sandbox_dsn.empty()) {
    auto ci = pg::parse_conninfo(flags.sandbox_dsn);
    if (!ci)
      return failure{ec::invalid_configuration,
                     "--sandbox-dsn: " + ci.error().message};
    sb.server = std::move(*ci);
  }
  sb.pg_bin_dir = flags.pg_bin_dir;
  if (flags.sandbox_full_copy_mb < 0 || flags.sandbox_sample_percent < 0
      || flags.sandbox_sample_percent > 100 || flags.sandbox_runs < 1
      || flags.sandbox_runs > 100)
    return failure{ec::invalid_configuration,
                   "--sandbox-full-copy-mb must not be negative, "
                   "--sandbox-sample-percent takes 0 to 100 and "
                   "--sandbox-runs 1 to 100"};
  sb.full_copy_max_bytes
    = static_cast<int64_t>(flags.sandbox_full_copy_mb * 1024 * 1024);
  sb.sample_percent = flags.sandbox_sample_percent;
  sb.runs = flags.sandbox_runs;
  sb.auto_test = flags.sandbox_auto_test;
  // -- the alert rules
  auto& al = flags.alerts;
  if (al.sustain_polls < 1 || al.sustain_polls > 100
      || !(al.regression_ratio > 1) || al.regression_ratio > 1000
      || al.regression_min_calls < 1 || al.plan_watch_n > 50
      || !(al.calls_jump_ratio > 1) || al.calls_jump_ratio > 1e6
      || al.down_polls < 1 || al.down_polls > 100 || !(al.connections_ratio > 0)
      || al.connections_ratio > 1 || !(al.llm_budget_share > 0)
      || al.llm_budget_share > 1)
    return failure{ec::invalid_configuration,
                   "--alert-sustain-polls and --alert-down-polls take 1 to "
                   "100, --alert-regression-ratio and --alert-calls-jump "
                   "more than 1, --alert-min-calls at least 1, "
                   "--alert-plan-watch 0 to 50, --alert-connections and "
                   "--alert-llm-budget more than 0 and at most 1"};
  cfg.alerts = al;
  // -- what requests may cost
  auto& lim = cfg.limits;
  auto prepare_every = duration_flag("--sandbox-prepare-interval",
                                     flags.sandbox_prepare_interval,
                                     std::chrono::milliseconds{0});
  if (!prepare_every)
    return prepare_every.error();
  lim.forced_prepare_interval = *prepare_every;
  if (flags.max_connections < 8 || flags.max_connections > 100'000)
    return failure{ec::invalid_configuration,
                   "--max-connections takes 8 to 100000 (each is a file "
                   "descriptor: keep it below ulimit -n)"};
  if (flags.max_ws_clients < 1)
    return failure{ec::invalid_configuration,
                   "--max-ws-clients takes a positive number"};
  if (flags.max_analysis_queries < 1 || flags.max_analysis_queries > 100)
    return failure{ec::invalid_configuration,
                   "--max-analysis-queries takes 1 to 100"};
  lim.max_connections = flags.max_connections;
  // WebSockets never take more than half the connections: HTTP requests
  // (the dashboard's own) must still get in.
  lim.max_ws_clients = std::min(flags.max_ws_clients,
                                flags.max_connections / 2);
  lim.analysis_queries_per_target = flags.max_analysis_queries;
  auto& llm = cfg.llm;
  auto& endpoint = llm.endpoint;
  endpoint.api_key = flags.llm_api_key;
  if (!flags.llm_base_url.empty())
    endpoint.base_url = flags.llm_base_url;
  // A key, or a base URL of a local server that needs none, turns it on.
  llm.enabled = !flags.llm_api_key.empty() || !flags.llm_base_url.empty();
  endpoint.model = flags.llm_model;
  endpoint.organization = flags.llm_organization;
  auto llm_timeout = duration_flag("--llm-timeout", flags.llm_timeout,
                                   std::chrono::milliseconds{100});
  if (!llm_timeout)
    return llm_timeout.error();
  endpoint.timeout = *llm_timeout;
  auto ttl = duration_flag("--llm-cache-ttl", flags.llm_cache_ttl,
                           std::chrono::seconds{1});
  if (!ttl)
    return ttl.error();
  llm.cache_ttl = *ttl;
  if (flags.llm_daily_tokens < 0 || flags.llm_daily_usd < 0
      || flags.llm_price_input < 0 || flags.llm_price_output < 0
      || flags.llm_cache_mb <= 0)
    return failure{
      ec::invalid_configuration,
      "LLM budgets, prices and the cache size must not be negative"};
  llm.daily_tokens = flags.llm_daily_tokens;
  llm.daily_usd = flags.llm_daily_usd;
  llm.budget_alert_share = cfg.alerts.llm_budget_share;
  llm.usd_per_million_input = flags.llm_price_input;
  llm.usd_per_million_output = flags.llm_price_output;
  endpoint.requests_per_minute = flags.llm_rpm;
  endpoint.tokens_per_minute = flags.llm_tpm;
  endpoint.max_concurrency = std::max<size_t>(1, flags.llm_concurrency);
  llm.max_queued = flags.llm_max_queued;
  llm.cache_max_bytes = static_cast<int64_t>(flags.llm_cache_mb * 1024 * 1024);
  llm.redact_literals = flags.llm_redact_literals;
  llm.prompt_dir = flags.llm_prompt_dir;
  llm.statements_per_cycle = flags.llm_per_cycle;
  cfg.min_confidence = flags.min_confidence;
  if (!flags.nats.empty() && flags.nats.rfind("nats://", 0) != 0
      && flags.nats.rfind("tls://", 0) != 0)
    return failure{ec::invalid_configuration,
                   "--nats takes a URL such as nats://127.0.0.1:4222"};
  if (flags.data_dir.empty())
    return failure{ec::invalid_configuration, "--data-dir must not be empty"};
  cfg.nats_url = flags.nats;
  cfg.nats_stream = flags.nats_stream;
  cfg.keep_connections = flags.keep_connections;
  if (!flags.fleet.empty()) {
    if (flags.nats.empty())
      return failure{ec::invalid_configuration,
                     "--fleet needs --nats: the engines of a fleet find each "
                     "other over NATS JetStream"};
    cfg.fleet.name = flags.fleet;
    cfg.fleet.engine_id = flags.engine_id;
    if (cfg.fleet.engine_id.empty()) {
      char host[256] = {};
      gethostname(host, sizeof host - 1);
      cfg.fleet.engine_id = host;
    }
    cfg.fleet.replicas = flags.fleet_replicas;
    for (auto [what, name, dot] :
         {std::tuple{"--fleet", cfg.fleet.name, false},
          std::tuple{"--engine-id", cfg.fleet.engine_id, true}})
      if (auto bad = broker::check_fleet_name(what, name, dot); !bad.empty())
        return failure{ec::invalid_configuration,
                       fmt::format("{}, got '{}'", bad, name)};
  }
  cfg.listen = flags.listen;
  cfg.static_dir = flags.static_dir;
  cfg.cors_origins = flags.cors_origins;
  cfg.allowed_hosts = flags.allowed_hosts;
  cfg.insecure_listen = flags.insecure_listen;
  cfg.store.dir = flags.data_dir;
  cfg.store.raw_retention = *raw;
  cfg.store.hourly_retention = *hourly;
  cfg.store.audit_retention = *audit;
  cfg.store.recommendation_retention = *recs;
  cfg.maintenance_interval = *maint;
  cfg.log_level = flags.log_level;
  cfg.log_file = flags.log_file;
  return cfg;
}

} // namespace optischema::app

namespace optischema::app {

void print_config(const engine_config& cfg) {
  std::printf("configuration ok: %zu target(s)\n", cfg.targets.size());
  for (auto& t : cfg.targets)
    std::printf("  target %s: %s\n", t.name.c_str(), t.conn.display.c_str());
  std::printf("  listen %s, poll every %s, data in %s\n", cfg.listen.c_str(),
              to_string(cfg.poll_interval).c_str(), cfg.store.dir.c_str());
  if (cfg.targets.size() > cfg.keep_connections)
    std::printf("  %zu targets, more than --keep-connections %zu: one "
                "connection per server for polls (a target alone on its "
                "server connects per poll), polls spread over the interval\n",
                cfg.targets.size(), cfg.keep_connections);
  std::printf("  NATS %s\n",
              cfg.nats_url.empty() ? "off"
                                   : redact_secrets(cfg.nats_url).c_str());
  if (!cfg.fleet.name.empty())
    std::printf("  fleet %s as engine %s (%d bucket replica(s))\n",
                cfg.fleet.name.c_str(), cfg.fleet.engine_id.c_str(),
                cfg.fleet.replicas);
  std::printf("  API token %s, LLM %s, sandbox %s\n",
              cfg.apply.api_token.empty() ? "none (loopback only)" : "set",
              cfg.llm.enabled ? "on" : "off",
              cfg.sandbox.server ? "on" : "off");
  std::printf("  alerts after %d poll(s), a regression at %.1fx, plans of "
              "the %zu costliest statements checked each poll\n",
              cfg.alerts.sustain_polls, cfg.alerts.regression_ratio,
              cfg.alerts.plan_watch_n);
}

} // namespace optischema::app
