// The many-targets benchmark: one engine watching N databases of one
// throwaway cluster. Prints whether polls come on time, the engine's CPU
// (share of one core), its RSS, and how many connections it holds to the
// targets, sampled every second. Never fails on the figures.
//
// usage: optischema-targets-bench [targets=100] [interval_s=30] [seconds=90]
//        [keep_connections=50] [statements_per_target=2]
//
// With many statements per target (10 5 60 10 5000: RSS with 10 targets of
// 5,000 statements each), each database gets that many structurally
// distinct statements and pg_stat_statements.max is raised to hold them.

#include "bench_util.hpp"
#include "engine_process.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "test_util.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace optischema::test;
using namespace optischema::bench;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 100;
  int interval = argc > 2 ? std::atoi(argv[2]) : 30;
  int seconds = argc > 3 ? std::atoi(argv[3]) : 90;
  int keep = argc > 4 ? std::atoi(argv[4]) : 50;
  int statements = argc > 5 ? std::atoi(argv[5]) : 2;
  auto h = harness::start_private({.nats = false});
  // Room for every connection an engine might keep (two per target) and the
  // benchmark's own.
  h->exec("postgres",
          fmt::format("ALTER SYSTEM SET max_connections = {}",
                      std::max(100, 2 * n + 20)));
  // Room for every target's statements (the default keeps 5,000).
  h->exec("postgres",
          fmt::format("ALTER SYSTEM SET pg_stat_statements.max = {}",
                      std::max(5000, n * statements + 1000)));
  h->pg_stop();
  h->pg_start();
  fmt::print("creating {} databases...\n", n);
  auto t0 = clock_type::now();
  std::string config = "[serve]\ntarget = [\n";
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) {
    auto db = h->create_database("scale");
    // A workload of its own in each, so every poll has rows.
    if (statements > 2)
      make_workload(*h, db, statements, false);
    else
      h->exec(db,
              "CREATE TABLE t (id int PRIMARY KEY, v text); "
              "INSERT INTO t SELECT g, 'x' FROM generate_series(1, 100) g; "
              "SELECT count(*) FROM t; SELECT v FROM t WHERE id = 7;");
    config += fmt::format("  \"d{}={}\",\n", i, h->dsn(db));
    names.push_back(db);
  }
  config += "]\n";
  fmt::print("  {:.0f} s\n",
             std::chrono::duration<double>(clock_type::now() - t0).count());
  temp_dir dir;
  auto file = dir.path / "targets.toml";
  std::ofstream{file} << config;
  engine_process e{{"serve", "--config", file.string(), "--listen",
                    "127.0.0.1:0", "--data-dir", (dir.path / "data").string(),
                    "--poll-interval", std::to_string(interval) + "s",
                    "--analysis-interval", "1h", "--keep-connections",
                    std::to_string(keep), "--log-level", "warn"}};
  auto url = e.wait_ready(60s);
  // One interval of warm-up: every target polled once.
  std::this_thread::sleep_for(std::chrono::seconds{interval} + 2s);
  auto cpu0 = cpu_seconds(e.pid());
  auto start = clock_type::now();
  long rss_max = 0;
  int64_t conn_max = 0;
  double conn_sum = 0;
  int samples = 0;
  auto count_sql = std::string{"SELECT count(*) FROM pg_stat_activity WHERE "
                               "datname LIKE 'scale%' AND pid <> "
                               "pg_backend_pid()"};
  while (clock_type::now() - start < std::chrono::seconds{seconds}) {
    std::this_thread::sleep_for(1s);
    rss_max = std::max(rss_max, rss_kb(e.pid()));
    int64_t c = std::stoll(h->exec("postgres", count_sql)[0][0]);
    conn_max = std::max(conn_max, c);
    conn_sum += static_cast<double>(c);
    ++samples;
  }
  auto elapsed = std::chrono::duration<double>(clock_type::now() - start);
  auto cpu = (cpu_seconds(e.pid()) - cpu0) / elapsed.count();
  // On time: polled within the last interval (plus 10 %), without failures.
  auto status = parse_json(http_get(url, "/api/status", 30s).body);
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  int on_time = 0, failing = 0;
  std::map<std::string, int> errors;
  std::vector<double> durations;
  for (auto& t : status["targets"].GetArray()) {
    auto age = now_ms - t["last_poll"].GetInt64();
    if (age <= interval * 1100)
      ++on_time;
    if (t["failures"].GetInt64() > 0) {
      ++failing;
      if (t["error"].IsObject())
        ++errors[t["error"]["message"].GetString()];
    }
    durations.push_back(t["last_poll_duration_ms"].GetDouble());
  }
  fmt::print("\n| targets | interval | polls on time | targets with failures | "
             "CPU (one core) | RSS | connections max / mean | poll p50 / p95 "
             "|\n|---|---|---|---|---|---|---|---|\n");
  fmt::print("| {} | {} s | {} of {} ({:.1f} %) | {} | {:.1f} % | {:.0f} MB | "
             "{} / {:.1f} | {:.1f} / {:.1f} ms |\n",
             n, interval, on_time, n, 100.0 * on_time / std::max(n, 1), failing,
             100 * cpu, static_cast<double>(rss_max) / 1024, conn_max,
             conn_sum / std::max(samples, 1), percentile(durations, 0.5),
             percentile(durations, 0.95));
  for (auto& [message, count] : errors)
    fmt::print("  {} target(s) failing now: {}\n", count, message);
  fmt::print("(keep-connections {}: {})\n", keep,
             n > keep ? "the targets of the one server share a connection "
                        "and its reads, polls spread over the interval"
                      : "each target keeps its connection");
  return 0;
}
