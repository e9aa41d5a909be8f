#include "cli.hpp"

#include "optischema/pg/conninfo.hpp"
#include "optischema/util/duration.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <set>
#include <tuple>

namespace optischema::app {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

} // namespace

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
    if (!valid_target_name(name))
      return failure{ec::invalid_configuration,
                     fmt::format("target name '{}' is invalid: use letters, "
                                 "digits, '_' and '-' (at most 64)",
                                 name)};
    if (names.count(name) != 0) {
      if (explicit_name)
        return failure{ec::invalid_configuration,
                       fmt::format("two targets are named '{}'", name)};
      for (int i = 2; names.count(name) != 0; ++i)
        name = fmt::format("{}-{}", name_from(ci->dbname), i);
    }
    names.insert(name);
    cfg.targets.push_back({name, dsn, {}});
    return std::nullopt;
  };
  for (auto& t : flags.targets) {
    auto eq = t.find('=');
    if (eq == std::string::npos || eq == 0)
      return failure{ec::invalid_configuration,
                     fmt::format("--target takes NAME=DSN, e.g. --target "
                                 "prod=postgresql://monitor@db1/app; got '{}'",
                                 t.substr(0, t.find(' ')))};
    if (auto err = add(t.substr(0, eq), t.substr(eq + 1), true))
      return *err;
  }
  for (auto& dsn : flags.dsns)
    if (auto err = add("", dsn, false))
      return *err;
  if (cfg.targets.empty()) {
    for (auto* var : {"OPTISCHEMA_DSN", "DATABASE_URL"})
      if (auto v = env(var); !v.empty()) {
        if (auto err = add("", v, false))
          return *err;
        break;
      }
  }
  if (cfg.targets.empty()) {
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
  // -- applying
  auto& ap = cfg.apply;
  ap.api_token = flags.api_token;
  for (size_t i = 0; i < flags.apply_dsns.size(); ++i) {
    auto& x = flags.apply_dsns[i];
    auto eq = x.find('=');
    auto named = eq != std::string::npos
      && std::any_of(cfg.targets.begin(), cfg.targets.end(),
                     [&](auto& t) { return t.name == x.substr(0, eq); });
    auto dsn = named ? x.substr(eq + 1) : x;
    if (auto ci = pg::parse_conninfo(dsn); !ci)
      return failure{ec::invalid_configuration,
                     "--apply-dsn: " + ci.error().message};
    if (named) {
      for (auto& t : cfg.targets)
        if (t.name == x.substr(0, eq))
          t.apply_dsn = dsn;
    } else if (i < cfg.targets.size()) {
      cfg.targets[i].apply_dsn = dsn;
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
  // -- the sandbox
  auto& sb = cfg.sandbox;
  sb.dsn = flags.sandbox_dsn;
  if (!sb.dsn.empty())
    if (auto ci = pg::parse_conninfo(sb.dsn); !ci)
      return failure{ec::invalid_configuration,
                     "--sandbox-dsn: " + ci.error().message};
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
  auto& llm = cfg.llm;
  llm.api_key = flags.llm_api_key;
  if (!flags.llm_base_url.empty())
    llm.base_url = flags.llm_base_url;
  // A key, or a base URL of a local server that needs none, turns it on.
  llm.enabled = !flags.llm_api_key.empty() || !flags.llm_base_url.empty();
  llm.model = flags.llm_model;
  llm.organization = flags.llm_organization;
  auto llm_timeout = duration_flag("--llm-timeout", flags.llm_timeout,
                                   std::chrono::milliseconds{100});
  if (!llm_timeout)
    return llm_timeout.error();
  llm.timeout = *llm_timeout;
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
  llm.usd_per_million_input = flags.llm_price_input;
  llm.usd_per_million_output = flags.llm_price_output;
  llm.requests_per_minute = flags.llm_rpm;
  llm.tokens_per_minute = flags.llm_tpm;
  llm.max_concurrency = std::max<size_t>(1, flags.llm_concurrency);
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
  cfg.listen = flags.listen;
  cfg.static_dir = flags.static_dir;
  cfg.cors_origins = flags.cors_origins;
  cfg.store.dir = flags.data_dir;
  cfg.store.raw_retention = *raw;
  cfg.store.hourly_retention = *hourly;
  cfg.maintenance_interval = *maint;
  cfg.log_level = flags.log_level;
  cfg.log_file = flags.log_file;
  return cfg;
}

} // namespace optischema::app
