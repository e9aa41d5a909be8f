// The fleet benchmark: E engines sharing N databases of one throwaway
// cluster over one NATS (JetStream). Prints the latency of the API that
// answers for the whole fleet from one engine (lists gathered from every
// engine, a target another engine polls forwarded to it) next to one
// engine's own view, and how long the survivors take to poll a killed
// engine's targets again and a stopped one's. Never fails on the figures.
//
// usage: optischema-fleet-bench [engines=3] [targets=30] [requests=300]
//        [poll_interval_s=2]

#include "bench_util.hpp"
#include "engine_process.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "nats_process.hpp"
#include "test_util.hpp"

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace optischema::test;
using namespace optischema::bench;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

/// Targets each engine polls now, by its own word (`/api/status?local=1`).
std::map<std::string, int> polling(const std::vector<std::string>& urls) {
  std::map<std::string, int> out;
  for (auto& url : urls) {
    auto res = http_get(url, "/api/status?local=1", 5s);
    if (res.status != 200)
      continue;
    auto d = parse_json(res.body);
    for (auto& t : d["targets"].GetArray())
      if (!t["standby"].GetBool() && t["polls"].GetInt64() > 0)
        ++out[t["owner"].GetString()];
  }
  return out;
}

/// How long until the engines at `urls` poll all `n` targets between them.
double until_all_polled(const std::vector<std::string>& urls, int n) {
  auto t0 = clock_type::now();
  while (clock_type::now() - t0 < 60s) {
    int sum = 0;
    for (auto& [engine, count] : polling(urls))
      sum += count;
    if (sum == n)
      break;
    std::this_thread::sleep_for(20ms);
  }
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0)
    .count();
}

struct latency {
  std::string what;
  std::vector<double> ms;
  int failed = 0;
};

} // namespace

int main(int argc, char** argv) {
  int engines = argc > 1 ? std::atoi(argv[1]) : 3;
  int n = argc > 2 ? std::atoi(argv[2]) : 30;
  int requests = argc > 3 ? std::atoi(argv[3]) : 300;
  int interval = argc > 4 ? std::atoi(argv[4]) : 2;
  auto h = harness::start_private({.nats = false});
  nats_process nats;
  fmt::print("fleet benchmark: {} engines, {} databases, {} s polls\n", engines,
             n, interval);
  std::vector<std::string> targets;
  for (int i = 0; i < n; ++i) {
    auto db = h->create_database("fleet");
    h->exec(db,
            "CREATE TABLE t (id int PRIMARY KEY, v text); "
            "INSERT INTO t SELECT g, 'x' FROM generate_series(1, 100) g; "
            "SELECT count(*) FROM t; SELECT v FROM t WHERE id = 7;");
    targets.push_back(fmt::format("d{}={}", i, h->dsn(db)));
  }
  std::vector<std::unique_ptr<temp_dir>> dirs;
  auto args = [&](int i) {
    std::vector<std::string> a{"serve",
                               "--fleet",
                               "bench",
                               "--engine-id",
                               fmt::format("e{}", i),
                               "--nats",
                               nats.url(),
                               "--listen",
                               "127.0.0.1:0",
                               "--data-dir",
                               dirs[i]->str(),
                               "--poll-interval",
                               fmt::format("{}s", interval),
                               "--analysis-interval",
                               "1h",
                               "--log-level",
                               "warn"};
    for (auto& t : targets) {
      a.push_back("--target");
      a.push_back(t);
    }
    return a;
  };
  std::vector<std::unique_ptr<engine_process>> es;
  std::vector<std::string> urls;
  for (int i = 0; i < engines; ++i) {
    dirs.push_back(std::make_unique<temp_dir>());
    es.push_back(std::make_unique<engine_process>(args(i)));
  }
  for (auto& e : es)
    urls.push_back(e->wait_ready(60s));
  // Settled: every target polled by one engine, every engine with a share.
  until_all_polled(urls, n);
  std::this_thread::sleep_for(std::chrono::seconds{interval});
  auto shares = polling(urls);
  fmt::print("shares:");
  for (auto& [engine, count] : shares)
    fmt::print(" {} {}", engine, count);
  fmt::print("\n");
  // A target the first engine does not poll: its requests are forwarded.
  std::string theirs;
  {
    auto d = parse_json(http_get(urls[1], "/api/status?local=1").body);
    for (auto& t : d["targets"].GetArray())
      if (!t["standby"].GetBool())
        theirs = t["name"].GetString();
  }
  std::vector<latency> runs{
    {"gathered hot list (`/api/metrics/hot?limit=20`)", {}, 0},
    {"one engine's own view (`?local=1`)", {}, 0},
    {"one target another engine polls (forwarded)", {}, 0},
    {"gathered `/api/status`", {}, 0},
    {"the fleet's audit log (`/api/audit`, JetStream)", {}, 0}};
  std::string paths[] = {"/api/metrics/hot?limit=20",
                         "/api/metrics/hot?limit=20&local=1",
                         "/api/metrics/hot?limit=20&target=" + theirs,
                         "/api/status", "/api/audit?limit=50"};
  for (size_t k = 0; k < runs.size(); ++k)
    for (int i = 0; i < requests; ++i) {
      auto t0 = clock_type::now();
      auto res = http_get(urls[0], paths[k], 10s);
      runs[k].ms.push_back(
        std::chrono::duration<double, std::milli>(clock_type::now() - t0)
          .count());
      runs[k].failed += res.status != 200;
    }
  fmt::print("\n| request to one engine ({} sequential) | p50 | p95 | max | "
             "failed |\n|---|---|---|---|---|\n",
             requests);
  for (auto& r : runs)
    fmt::print("| {} | {:.1f} ms | {:.1f} ms | {:.1f} ms | {} |\n", r.what,
               percentile(r.ms, 0.5), percentile(r.ms, 0.95),
               percentile(r.ms, 1.0), r.failed);
  // The last engine killed with -9: its key expires (one poll interval),
  // the others take its targets at their next heartbeat.
  auto survivors = std::vector<std::string>(urls.begin(), urls.end() - 1);
  es.back()->kill9();
  auto killed = until_all_polled(survivors, n);
  es.back() = std::make_unique<engine_process>(args(engines - 1));
  urls.back() = es.back()->wait_ready(60s);
  // Back with its share, then stopped: it deletes its key on the way out.
  auto t0 = clock_type::now();
  while (clock_type::now() - t0 < 30s
         && polling({urls.back()}).count(fmt::format("e{}", engines - 1)) == 0)
    std::this_thread::sleep_for(50ms);
  std::this_thread::sleep_for(std::chrono::seconds{interval});
  auto stop_at = clock_type::now();
  es.back()->stop();
  auto stopped_ms
    = std::chrono::duration<double, std::milli>(clock_type::now() - stop_at)
        .count();
  auto stopped = until_all_polled(survivors, n) + stopped_ms;
  fmt::print("\n| handover | time until the others poll every target |\n"
             "|---|---|\n| kill -9 | {:.0f} ms |\n| graceful stop (from "
             "SIGTERM) | {:.0f} ms |\n",
             killed, stopped);
  return 0;
}
