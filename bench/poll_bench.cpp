// The poll benchmark: with 5,000 distinct statements in pg_stat_statements,
// how long one full poll takes compared with a bare
// `SELECT * FROM pg_stat_statements` on the same server, how fast statements
// are fingerprinted, how late events reach a WebSocket client, and how much
// memory the engine holds. Prints figures and ratios; never fails on them.
//
// usage: optischema-poll-bench [statements=5000] [polls=50]

#include "bench_util.hpp"
#include "engine_process.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "test_util.hpp"

#include "optischema/analysis/deltas.hpp"
#include "optischema/analysis/fingerprint.hpp"
#include "optischema/analysis/json.hpp"
#include "optischema/pg/stats_reader.hpp"
#include "optischema/store/history_db.hpp"
#include "optischema/util/clock.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <numeric>
#include <unordered_map>

using namespace optischema;
using namespace optischema::test;
using namespace optischema::bench;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0)
    .count();
}

} // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::stoi(argv[1]) : 5000;
  int polls = argc > 2 ? std::stoi(argv[2]) : 50;
  fmt::print("poll benchmark: {} distinct statements, {} polls\n", n, polls);
  auto h = harness::start_private({.nats = false});
  auto db = h->create_database("bench");
  auto t0 = clock_type::now();
  make_workload(*h, db, n);
  fmt::print("  workload generated in {:.1f} s\n", ms_since(t0) / 1000);

  // -- the bare read a DBA would run
  // (and the same without texts, which is what the collector reads of the
  // queryids it knows).
  std::vector<double> bare, bare_no_text;
  {
    pqxx::connection c{h->dsn(db)};
    for (int i = 0; i < polls; ++i) {
      pqxx::nontransaction tx{c};
      auto t = clock_type::now();
      auto r = tx.exec("SELECT * FROM pg_stat_statements");
      size_t bytes = 0;
      for (auto row : r)
        for (auto f : row)
          bytes += f.size(); // touch every field, as a client would
      bare.push_back(ms_since(t));
      if (i == 0)
        fmt::print("  pg_stat_statements rows: {}\n", r.size());
      t = clock_type::now();
      r = tx.exec("SELECT * FROM pg_stat_statements(false)");
      for (auto row : r)
        for (auto f : row)
          bytes += f.size();
      bare_no_text.push_back(ms_since(t));
    }
  }

  // -- one full poll in process: read, fingerprint, deltas, store, render
  auto ci = pg::parse_conninfo(h->dsn(db));
  pg::session session{*ci};
  temp_dir data{"optischema-bench"};
  store_options sopts;
  sopts.dir = data.str();
  auto store = history_db::open(sopts);
  if (!store) {
    fmt::print("cannot open store: {}\n", store.error().message);
    return 1;
  }
  fingerprint_cache cache;
  std::unordered_map<int64_t, fingerprint_result> by_queryid;
  std::optional<raw_sample> prev;
  std::vector<double> cold, warm, read_only, fp_ms;
  std::vector<double> phase_process, phase_store, phase_render;
  std::vector<std::string> texts; // as the first poll read them
  for (int i = 0; i <= polls; ++i) {
    auto t = clock_type::now();
    // As the COLLECTOR reads: texts of new queryids only.
    auto sample = pg::read_sample(session, [&](int64_t id) {
      return by_queryid.count(id) != 0;
    });
    if (!sample) {
      fmt::print("poll failed: {}\n", sample.error().message);
      return 1;
    }
    auto read_ms = ms_since(t);
    auto tf = clock_type::now();
    for (auto& row : sample->rows)
      if (!by_queryid.count(row.key.queryid))
        by_queryid.emplace(row.key.queryid, cache.get(row.query));
    auto fingerprint_ms = ms_since(tf);
    auto tp = clock_type::now();
    auto deltas = compute_deltas(prev ? &*prev : nullptr, *sample);
    auto dbm = compute_database_metrics(prev ? &*prev : nullptr, *sample);
    auto snap
      = build_snapshot("bench", *sample, deltas, dbm,
                       [&](const pgss_row& r) -> const fingerprint_result& {
                         return by_queryid.at(r.key.queryid);
                       });
    auto process_ms = ms_since(tp);
    auto ts = clock_type::now();
    (void)(*store)->put_snapshot(snap, &*sample);
    auto store_ms = ms_since(ts);
    auto tj = clock_type::now();
    auto payload = json::metrics_payload(snap, 50);
    auto render_ms = ms_since(tj);
    auto total = ms_since(t);
    if (i > 0) {
      phase_process.push_back(process_ms);
      phase_store.push_back(store_ms);
      phase_render.push_back(render_ms);
    }
    if (i == 0) {
      for (auto& row : sample->rows)
        texts.push_back(row.query);
      cold.push_back(total);
      fp_ms.push_back(fingerprint_ms);
      fmt::print("  entries read: {}, statements after grouping: {}\n",
                 prev ? prev->rows.size() : sample->rows.size(),
                 snap.statements.size());
    } else {
      warm.push_back(total);
      read_only.push_back(read_ms);
    }
    prev = std::move(*sample);
  }
  // Fingerprint rate, cold, on the texts pg_stat_statements holds.
  auto tfp = clock_type::now();
  for (auto& text : texts)
    (void)fingerprint_statement(text);
  auto fp_total = ms_since(tfp);

  auto bare_med = percentile(bare, 0.5);
  fmt::print("\n  bare SELECT * FROM pg_stat_statements  median {:8.2f} ms\n",
             bare_med);
  fmt::print("  the same without texts (false)         median {:8.2f} ms\n",
             percentile(bare_no_text, 0.5));
  fmt::print(
    "  full poll, first (cold fingerprints)   {:8.2f} ms  ({:.2f}x bare)\n",
    cold[0], cold[0] / bare_med);
  fmt::print("  full poll, cached fingerprints, median {:8.2f} ms  ({:.2f}x "
             "bare; goal <= 1.2x)\n",
             percentile(warm, 0.5), percentile(warm, 0.5) / bare_med);
  fmt::print(
    "  full poll, cached, p90                 {:8.2f} ms  ({:.2f}x bare)\n",
    percentile(warm, 0.9), percentile(warm, 0.9) / bare_med);
  fmt::print("  of which the pg_stat_statements read   {:8.2f} ms (median)\n",
             percentile(read_only, 0.5));
  fmt::print("  of which deltas + grouping / store / event JSON {:.2f} / "
             "{:.2f} / {:.2f} ms\n",
             percentile(phase_process, 0.5), percentile(phase_store, 0.5),
             percentile(phase_render, 0.5));
  fmt::print("  fingerprints per second (cold)         {:8.0f}  ({} texts in "
             "{:.1f} ms)\n",
             static_cast<double>(texts.size()) / (fp_total / 1000),
             texts.size(), fp_total);

  // -- the real engine: event latency to a WebSocket client, and memory
  temp_dir edata{"optischema-bench-engine"};
  engine_process e{{"serve", "--dsn", h->dsn(db), "--listen", "127.0.0.1:0",
                    "--data-dir", edata.str(), "--poll-interval", "200ms"}};
  auto url = e.wait_ready();
  ws_client ws{url};
  if (!subscribe(ws, R"({"type":"subscribe","topics":["metrics"]})")) {
    fmt::print("no WebSocket subscription\n");
    return 1;
  }
  std::vector<double> latency;
  auto deadline = clock_type::now() + std::chrono::seconds{5 + polls / 2};
  while (static_cast<int>(latency.size()) < polls
         && clock_type::now() < deadline) {
    auto frame = ws.read(5s);
    if (!frame)
      break;
    auto received = now_ms();
    auto doc = parse_json(*frame);
    if (doc["type"] == "metrics")
      latency.push_back(static_cast<double>(received - doc["ts"].GetInt64()));
  }
  auto status = parse_json(http_get(url, "/api/status").body);
  auto engine_poll_ms
    = status["targets"][0]["last_poll_duration_ms"].GetDouble();
  auto rss = rss_kb(e.pid());
  fmt::print(
    "  engine: poll as the collector times it {:8.2f} ms  ({:.2f}x bare)\n",
    engine_poll_ms, engine_poll_ms / bare_med);
  fmt::print("  event latency poll end -> WebSocket    p50 {:.0f} ms, p99 "
             "{:.0f} ms over {} events (goal p99 < 100 ms)\n",
             percentile(latency, 0.5), percentile(latency, 0.99),
             latency.size());
  fmt::print("  engine RSS                             {:8.1f} MiB\n",
             static_cast<double>(rss) / 1024);
  e.stop();
  return 0;
}
