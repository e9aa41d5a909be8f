#pragma once

// Every default of the engine's configuration, in one place. The flags
// (app/cli.hpp), the configuration structs (messages/config.hpp) and the
// libraries' options (web, llm, broker, store) take their defaults from
// here, so a default changes in one line and `--help` says what runs.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace optischema::defaults {

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

// -- serving and polling
constexpr std::string_view listen = "127.0.0.1:8080";
constexpr std::string_view data_dir = "optischema-data";
constexpr std::string_view log_level = "info";
constexpr ms poll_interval = 30s;
/// Targets that keep their connections open between polls; beyond, a
/// connection per poll. Kept connections are far cheaper for the monitored
/// server (bench/targets_bench.cpp: a backend start per poll on one 2-core
/// cluster of 100 databases polled every 5 s missed most polls, kept
/// connections none), so only very large or connection-starved setups
/// switch.
constexpr size_t keep_connections = 200;
constexpr size_t max_connections = 256;
constexpr size_t max_ws_clients = 32;
constexpr size_t analysis_queries_per_target = 2;
constexpr size_t event_top_n = 50;

// -- NATS
constexpr std::string_view nats_stream = "OPTISCHEMA";
constexpr ms nats_stream_max_age = 24h;

// -- history (RocksDB)
constexpr ms retention_raw = 24h;
constexpr ms retention_hourly = 24h * 30;
constexpr ms retention_audit = 24h * 90;
constexpr ms retention_recommendations = 24h * 30;
constexpr ms maintenance_interval = 10min;

// -- advice
constexpr ms analysis_interval = 60s;
constexpr double min_confidence = 0.5;

// -- the LLM
constexpr std::string_view llm_base_url = "https://api.openai.com/v1";
constexpr std::string_view llm_model = "gpt-4o";
constexpr ms llm_timeout = 30s;
constexpr int llm_max_retries = 3;
constexpr int64_t llm_daily_tokens = 2'000'000;
constexpr double llm_daily_usd = 10.0;
constexpr double llm_usd_per_million_input = 2.5;
constexpr double llm_usd_per_million_output = 10.0;
constexpr int llm_requests_per_minute = 60;
constexpr int llm_tokens_per_minute = 90'000;
constexpr size_t llm_concurrency = 2;
constexpr size_t llm_max_queued = 32;
constexpr ms llm_cache_ttl = 24h * 7;
constexpr int64_t llm_cache_bytes = 64LL << 20;
constexpr size_t llm_statements_per_cycle = 3;

// -- applying
constexpr ms apply_lock_timeout = 2s;
constexpr ms apply_statement_timeout = 1h;
constexpr int apply_attempts = 3;
constexpr ms apply_retry_delay = 1s;

// -- the sandbox
constexpr ms sandbox_prepare_interval = 10min;
constexpr int64_t sandbox_full_copy_bytes = 1LL << 30;
constexpr double sandbox_sample_percent = 0;
constexpr int sandbox_runs = 5;
constexpr int sandbox_samples = 3;
constexpr size_t sandbox_other_statements = 5;
constexpr size_t sandbox_auto_test = 3;

} // namespace optischema::defaults
