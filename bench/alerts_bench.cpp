// Alerts: are they right, fast and quiet?
//
// 1. False alerts: an engine polls a database every second while a steady
//    but noisy workload runs (eight statement shapes, random parameters
//    over skewed data, hot-row updates that wait on each other, random
//    pauses and bursts of ten times the rate) for --minutes (30 by
//    default): every alert that fires is a false one.
// 2. Detection latency, in polls, of each rule: the condition is caused on
//    the running workload (an index dropped, a new heavy statement, a storm
//    of calls, a reset, temporary files, connections, the server stopped),
//    then undone; polls until the alert fires and until it resolves.
// 3. Notifications when 1,000 statements regress at once, for 10 targets:
//    the rules directly (analysis/alerts.hpp), as the ALERTER runs them;
//    each target's poll is one notification, however many alerts it holds.
//
// usage: optischema-alerts-bench [--minutes N] [--many-only]
// Starts its own PostgreSQL cluster and NATS server (harness.sh).

#include "alerts_api.hpp"
#include "engine_process.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "nats_process.hpp"
#include "test_util.hpp"

#include "optischema/analysis/alerts.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace optischema::test;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

/// A thread that runs `step` on its own connection until stopped; errors
/// (the server going away) are counted and the connection made again.
class worker {
public:
  using step_fn = std::function<void(pqxx::nontransaction&, std::mt19937&)>;
  worker(std::string dsn, step_fn step, unsigned seed)
    : thread_{[this, dsn = std::move(dsn), step = std::move(step), seed] {
        std::mt19937 rng{seed};
        while (!stop_) {
          try {
            pqxx::connection c{dsn};
            pqxx::nontransaction tx{c};
            while (!stop_)
              step(tx, rng);
          } catch (const std::exception&) {
            ++errors_;
            std::this_thread::sleep_for(200ms);
          }
        }
      }} {}
  ~worker() {
    stop_ = true;
    thread_.join();
  }

private:
  std::atomic<bool> stop_{false};
  std::atomic<int> errors_{0};
  std::thread thread_;
};

/// The noisy steady workload: one thread's step.
void noisy_step(pqxx::nontransaction& tx, std::mt19937& rng) {
  std::uniform_int_distribution<int> pick{0, 99}, id{1, 300'000}, k{0, 4999},
    width{1, 60}, account{1, 20};
  // Skew: a few values of k hold most rows' neighbours in the ranges.
  std::exponential_distribution<double> pause{1.0 / 6}; // ms
  auto p = pick(rng);
  if (p < 30)
    tx.exec(fmt::format("SELECT count(pad) FROM items WHERE k = {}", k(rng)));
  else if (p < 50)
    tx.exec(fmt::format("SELECT pad FROM items WHERE id = {}", id(rng)));
  else if (p < 62) {
    auto lo = k(rng);
    tx.exec(fmt::format(
      "SELECT k, count(*) FROM items WHERE k BETWEEN {} AND {} GROUP BY k", lo,
      lo + width(rng)));
  } else if (p < 80)
    tx.exec(fmt::format(
      "UPDATE accounts SET balance = balance + 1 WHERE id = {}", account(rng)));
  else if (p < 90)
    tx.exec(fmt::format("INSERT INTO events (kind, at) VALUES ({}, now())",
                        account(rng)));
  else if (p < 95)
    tx.exec("SELECT count(*) FROM events WHERE at > now() - interval '5 "
            "seconds'");
  else if (p < 98)
    tx.exec(fmt::format("SELECT id FROM items WHERE k = {} ORDER BY id DESC "
                        "LIMIT 10",
                        k(rng)));
  else
    tx.exec(fmt::format("SELECT sum(balance) FROM accounts WHERE id <= {}",
                        account(rng)));
  // Now and then a burst: no pause for a while.
  static thread_local int burst = 0;
  if (burst > 0) {
    --burst;
    return;
  }
  if (pick(rng) == 0 && pick(rng) < 5)
    burst = 2000;
  std::this_thread::sleep_for(
    std::chrono::microseconds{static_cast<int64_t>(1000 * pause(rng))});
}

struct latency {
  std::string rule;
  int64_t fire = -1;    ///< polls from cause to firing (-1: never)
  int64_t resolve = -1; ///< polls from undo to resolved
  std::string note;
};

/// Causes a condition, waits for `rule` to fire, undoes it, waits for the
/// resolution; counts polls for both.
latency measure(const std::string& url, const std::string& rule,
                const std::function<void()>& cause,
                const std::function<void()>& undo,
                std::chrono::seconds limit = 60s) {
  latency out{rule, -1, -1, {}};
  // What an earlier round fired is over first.
  eventually([&] { return alert_ids(url, "firing", rule).empty(); }, limit);
  auto before_resolved = alert_ids(url, "resolved", rule);
  auto at = polls(url);
  cause();
  std::vector<std::string> fired;
  if (eventually(
        [&] {
          fired = alert_ids(url, "firing", rule);
          return !fired.empty();
        },
        limit, 50ms))
    out.fire = polls(url) - at;
  at = polls(url);
  undo();
  if (out.fire >= 0
      && eventually(
        [&] {
          auto now = alert_ids(url, "resolved", rule);
          for (auto& id : fired)
            if (std::count(now.begin(), now.end(), id) > std::count(
                  before_resolved.begin(), before_resolved.end(), id))
              return true;
          return false;
        },
        limit, 50ms))
    out.resolve = polls(url) - at;
  return out;
}

/// Part 3: the rules directly, 10 targets of 1,000 statements.
void many_at_once() {
  using namespace optischema;
  constexpr int targets = 10, statements = 1000, steady = 30;
  std::mt19937 rng{11};
  std::uniform_real_distribution<double> jitter{0.8, 1.2};
  auto snap = [&](const std::string& target, int n, double slow) {
    metrics_snapshot s;
    s.target = target;
    s.ts_ms = 1'000'000 + int64_t{n} * 30'000;
    s.interval_ms = 30'000;
    s.db.max_connections = 100;
    s.db.numbackends = 10;
    for (int i = 0; i < statements; ++i) {
      auto& m = s.statements.emplace_back();
      m.fingerprint = fmt::format("{:016x}", 0x1000 + i);
      m.query = fmt::format("SELECT {}", i);
      m.interval.calls = 50 + i % 50;
      m.interval.exec_time_ms = static_cast<double>(m.interval.calls)
        * (1.0 + i % 7) * jitter(rng) * slow;
    }
    return s;
  };
  size_t notifications = 0, alerts = 0, max_in_one = 0;
  double ms = 0;
  int observed = 0;
  for (int t = 0; t < targets; ++t) {
    auto name = fmt::format("db{}", t);
    alert_rules rules{name, {}};
    for (int n = 0; n < steady + 4; ++n) {
      auto s = snap(name, n, n >= steady ? 5.0 : 1.0);
      auto t0 = clock_type::now();
      auto got = rules.observe(s);
      ms += std::chrono::duration<double, std::milli>(clock_type::now() - t0)
              .count();
      ++observed;
      if (!got.empty()) {
        ++notifications; // the ALERTER's one event for this poll
        alerts += got.size();
        max_in_one = std::max(max_in_one, got.size());
      }
    }
  }
  std::printf("\n## 1,000 statements regress at once (x5), 10 targets\n\n");
  std::printf("| figure | value |\n|---|---|\n");
  std::printf("| notifications | %zu (%.1f per target) |\n", notifications,
              static_cast<double>(notifications) / targets);
  std::printf("| alerts fired | %zu (the costliest followed: %zu per target) "
              "|\n",
              alerts, alert_thresholds{}.tracked_statements);
  std::printf("| most alerts in one notification | %zu |\n", max_in_one);
  std::printf("| rules' time per poll of 1,000 statements | %.2f ms |\n",
              ms / observed);
}

} // namespace

int main(int argc, char** argv) {
  double minutes = 30;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--minutes") == 0 && i + 1 < argc)
      minutes = std::stod(argv[i + 1]);
    // Part 3 alone: no servers.
    if (std::strcmp(argv[i], "--many-only") == 0) {
      many_at_once();
      return 0;
    }
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  auto pg = harness::start_private();
  auto db = pg->loaded_database(
    "alerts",
    "CREATE TABLE items (id int PRIMARY KEY, k int, pad text);"
    "INSERT INTO items SELECT g, (random() * random() * 5000)::int, "
    "repeat('x', 80) FROM generate_series(1, 300000) g;"
    "CREATE INDEX items_k ON items (k);"
    "CREATE TABLE accounts (id int PRIMARY KEY, balance bigint);"
    "INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 20) g;"
    "CREATE TABLE events (id bigserial PRIMARY KEY, kind int, at "
    "timestamptz);"
    "CREATE INDEX events_at ON events (at);");
  temp_dir data;
  engine_process e{{"serve", "--dsn", pg->dsn(db), "--listen", "127.0.0.1:0",
                    "--data-dir", data.str(), "--poll-interval", "1s",
                    "--analysis-interval", "1h", "--nats", pg->nats_url(),
                    "--log-level", "warn"}};
  auto url = e.wait_ready(60s);
  nats_inbox inbox{pg->nats_url(), "optischema.*.alert"};

  // -- 1. a steady noisy workload
  std::vector<std::unique_ptr<worker>> noise;
  for (unsigned i = 0; i < 4; ++i)
    noise.push_back(std::make_unique<worker>(pg->dsn(db), noisy_step, 100 + i));
  // A statement at a steady 5 calls a second, for the storm later.
  std::atomic<int> storm_pause_ms{200};
  auto storm = std::make_unique<worker>(
    pg->dsn(db),
    [&](pqxx::nontransaction& tx, std::mt19937& rng) {
      tx.exec(fmt::format("SELECT k FROM items WHERE id = {}",
                          std::uniform_int_distribution<int>{1, 300000}(rng)));
      std::this_thread::sleep_for(
        std::chrono::milliseconds{storm_pause_ms.load()});
    },
    7);
  auto start_polls = polls(url);
  auto until = clock_type::now()
    + std::chrono::milliseconds{static_cast<int64_t>(minutes * 60'000)};
  while (clock_type::now() < until)
    std::this_thread::sleep_for(1s);
  auto steady_polls = polls(url) - start_polls;
  std::map<std::string, int> false_by_rule;
  int false_alerts = 0;
  std::vector<std::string> false_lines;
  for (auto& m : inbox.messages()) {
    auto doc = parse_json(m.body);
    for (auto& a : doc["payload"]["alerts"].GetArray())
      if (std::string{a["state"].GetString()} == "firing") {
        ++false_alerts;
        ++false_by_rule[a["rule"].GetString()];
        false_lines.push_back(a["summary"].GetString());
      }
  }
  std::printf("## A steady noisy workload, %.0f min, 1 s polls\n\n", minutes);
  std::printf("| figure | value |\n|---|---|\n");
  std::printf("| polls judged | %lld |\n",
              static_cast<long long>(steady_polls));
  std::printf("| false alerts | %d |\n", false_alerts);
  for (auto& [rule, n] : false_by_rule)
    std::printf("| … %s | %d |\n", rule.c_str(), n);
  for (auto& l : false_lines)
    std::printf("<!-- %s -->\n", l.c_str());

  // -- 2. detection latency per rule
  std::vector<latency> rows;
  rows.push_back(measure(
    url, "statement_regression", [&] { pg->exec(db, "DROP INDEX items_k"); },
    [&] { pg->exec(db, "CREATE INDEX items_k ON items (k)"); }));
  rows.back().note = "DROP INDEX under the workload, then CREATE INDEX";
  // The plan change of the same cause, measured again on its own.
  rows.push_back(measure(
    url, "plan_change", [&] { pg->exec(db, "DROP INDEX items_k"); },
    [&] { pg->exec(db, "CREATE INDEX items_k ON items (k)"); }));
  rows.back().note = "the same, the generic plan of the hottest statements";
  std::unique_ptr<worker> heavy;
  rows.push_back(measure(
    url, "new_heavy_statement",
    [&] {
      heavy = std::make_unique<worker>(
        pg->dsn(db),
        [](pqxx::nontransaction& tx, std::mt19937&) {
          tx.exec("SELECT count(*) FROM items WHERE pad LIKE '%yz%'");
        },
        9);
    },
    [&] { heavy.reset(); }));
  rows.back().note = "a new sequential scan run back to back";
  rows.push_back(measure(
    url, "calls_jump", [&] { storm_pause_ms = 1; },
    [&] { storm_pause_ms = 200; }));
  rows.back().note = "5 calls/s of one statement become about 500";
  std::unique_ptr<worker> spill;
  rows.push_back(measure(
    url, "temp_spills",
    [&] {
      spill = std::make_unique<worker>(
        pg->dsn(db),
        [](pqxx::nontransaction& tx, std::mt19937&) {
          tx.exec("SET work_mem = '64kB'");
          tx.exec("SELECT id FROM items ORDER BY pad, k OFFSET 299990");
        },
        10);
    },
    [&] { spill.reset(); }));
  rows.back().note = "a sort of 300,000 rows in 64 kB of work_mem";
  rows.push_back(measure(
    url, "stats_reset",
    [&] { pg->exec(db, "SELECT pg_stat_statements_reset()"); }, [] {}));
  rows.back().note = "pg_stat_statements_reset()";
  std::vector<std::unique_ptr<pqxx::connection>> held;
  rows.push_back(measure(
    url, "connections_near_max",
    [&] {
      auto in_use
        = std::stoi(pg->exec(db,
                             "SELECT count(*) FROM pg_stat_activity WHERE "
                             "backend_type = 'client backend'")[0][0]);
      for (int i = in_use; i < 95; ++i)
        held.push_back(std::make_unique<pqxx::connection>(pg->dsn(db)));
    },
    [&] { held.clear(); }));
  rows.back().note = "95 of 100 connections held";
  storm.reset();
  noise.clear();
  rows.push_back(measure(
    url, "target_down", [&] { pg->pg_stop(); }, [&] { pg->pg_start(); }));
  rows.back().note = "the server stopped, then started";
  std::printf("\n## Detection latency (polls of 1 s; the poll in progress "
              "counts)\n\n");
  std::printf("| rule | cause | polls to fire | polls to resolve |\n");
  std::printf("|---|---|---|---|\n");
  for (auto& r : rows)
    std::printf("| `%s` | %s | %s | %s |\n", r.rule.c_str(), r.note.c_str(),
                r.fire < 0 ? "never (60 s)" : std::to_string(r.fire).c_str(),
                r.resolve < 0 ? "never (60 s)"
                              : std::to_string(r.resolve).c_str());
  std::printf("\n`cache_hit_drop` is not caused here: it needs data larger "
              "than shared_buffers (unit-tested).\n");

  // -- 3.
  many_at_once();
  return 0;
}
