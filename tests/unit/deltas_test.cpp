#include "optischema/analysis/deltas.hpp"
#include "optischema/analysis/fingerprint.hpp"
#include "optischema/analysis/workload.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace optischema;

namespace {

pgss_row row(int64_t queryid, int64_t calls, double time_ms,
             std::string query = "SELECT 1") {
  pgss_row r;
  r.key.userid = 10;
  r.key.dbid = 5;
  r.key.queryid = queryid;
  r.query = std::move(query);
  r.total.calls = calls;
  r.total.exec_time_ms = time_ms;
  r.total.rows = calls;
  r.total.shared_blks_hit = calls * 3;
  r.total.shared_blks_read = calls;
  return r;
}

raw_sample sample(int64_t ts, std::vector<pgss_row> rows, int64_t dealloc = 0,
                  int64_t reset = 1000) {
  raw_sample s;
  s.ts_ms = ts;
  s.rows = std::move(rows);
  s.info.available = true;
  s.info.dealloc = dealloc;
  s.info.stats_reset_ms = reset;
  return s;
}

} // namespace

TEST_CASE("the first poll is a baseline with zero deltas", "[deltas]") {
  auto cur = sample(10'000, {row(1, 5, 50)});
  auto d = compute_deltas(nullptr, cur);
  CHECK(d.baseline);
  REQUIRE(d.deltas.size() == 1);
  CHECK(d.deltas[0].calls == 0);
}

TEST_CASE("deltas are the change since the previous poll", "[deltas]") {
  auto prev = sample(10'000, {row(1, 5, 50), row(2, 1, 1)});
  auto cur = sample(40'000, {row(1, 12, 120), row(2, 1, 1), row(3, 4, 8)});
  auto d = compute_deltas(&prev, cur);
  CHECK_FALSE(d.baseline);
  CHECK_FALSE(d.reset_detected);
  CHECK(d.interval_ms == 30'000);
  CHECK(d.deltas[0].calls == 7);
  CHECK(d.deltas[0].exec_time_ms == Approx(70));
  CHECK(d.deltas[1].calls == 0);
  // New entries count fully: everything they have happened in the interval.
  CHECK(d.deltas[2].calls == 4);
  CHECK(d.new_entries == 1);
}

TEST_CASE("an entry that went backwards restarts, never negative", "[deltas]") {
  auto prev = sample(0, {row(1, 100, 500), row(2, 10, 10)});
  auto cur = sample(1000, {row(1, 3, 9), row(2, 11, 11)}, /*dealloc=*/1);
  auto d = compute_deltas(&prev, cur);
  CHECK_FALSE(d.reset_detected);
  CHECK(d.restarted_entries == 1);
  CHECK(d.deltas[0].calls == 3);
  CHECK(d.evicted == 1);
  for (auto& x : d.deltas)
    CHECK_FALSE(x.negative());
}

TEST_CASE("a reset in pg_stat_statements_info restarts every delta",
          "[deltas]") {
  auto prev = sample(0, {row(1, 100, 500), row(2, 10, 10)}, 4, 1000);
  auto cur = sample(1000, {row(1, 2, 4), row(2, 50, 10)}, 0, 900'000);
  auto d = compute_deltas(&prev, cur);
  CHECK(d.reset_detected);
  CHECK(d.deltas[0].calls == 2);
  // Even an entry that grew counts from zero after a reset.
  CHECK(d.deltas[1].calls == 50);
}

TEST_CASE("without the info view, most entries going back means a reset",
          "[deltas]") {
  auto prev = sample(0, {row(1, 100, 1), row(2, 100, 1), row(3, 100, 1)});
  auto cur = sample(1000, {row(1, 1, 1), row(2, 2, 1), row(3, 150, 1)});
  prev.info.available = cur.info.available = false;
  auto d = compute_deltas(&prev, cur);
  CHECK(d.reset_detected);
  CHECK(d.deltas[2].calls == 150);
}

TEST_CASE("snapshots group queryids by fingerprint", "[deltas]") {
  auto prev = sample(0,
                     {row(1, 1, 1, "SELECT * FROM t WHERE a IN ($1, $2)"),
                      row(2, 1, 1, "SELECT * FROM t WHERE a IN ($1, $2, $3)")});
  auto cur = sample(1000,
                    {row(1, 4, 8, "SELECT * FROM t WHERE a IN ($1, $2)"),
                     row(2, 3, 30, "SELECT * FROM t WHERE a IN ($1, $2, $3)"),
                     row(3, 9, 90, "SELECT * FROM u")});
  auto d = compute_deltas(&prev, cur);
  fingerprint_cache cache;
  auto snap
    = build_snapshot("t1", cur, d, compute_database_metrics(&prev, cur),
                     [&](const pgss_row& r) -> const fingerprint_result& {
                       return cache.get(r.query);
                     });
  REQUIRE(snap.statements.size() == 2);
  // Sorted by cumulative time: u (90) before t (38).
  CHECK(snap.statements[0].query == "SELECT * FROM u");
  auto& t = snap.statements[1];
  CHECK(t.queryids == std::vector<int64_t>{1, 2});
  CHECK(t.total.calls == 7);
  CHECK(t.interval.calls == 5);
  CHECK(t.total.exec_time_ms == Approx(38));
}

TEST_CASE("hot ranking, summary and downsampling", "[workload]") {
  metrics_snapshot snap;
  snap.interval_ms = 10'000;
  auto add = [&](std::string fp, int64_t calls, double total, int64_t icalls,
                 double itime) {
    auto& st = snap.statements.emplace_back();
    st.fingerprint = std::move(fp);
    st.total.calls = calls;
    st.total.exec_time_ms = total;
    st.interval.calls = icalls;
    st.interval.exec_time_ms = itime;
  };
  add("a", 1000, 100, 10, 1); // many fast calls
  add("b", 2, 400, 0, 0);     // two slow calls, idle now
  add("c", 50, 250, 50, 250); // busy now
  auto names = [](const std::vector<const statement_metrics*>& xs) {
    std::string out;
    for (auto* x : xs)
      out += x->fingerprint;
    return out;
  };
  using hs = hot_sort;
  using mw = metrics_window;
  CHECK(names(rank_hot(snap, hs::total_time, mw::cumulative, 10)) == "bca");
  CHECK(names(rank_hot(snap, hs::mean_time, mw::cumulative, 10)) == "bca");
  CHECK(names(rank_hot(snap, hs::calls, mw::cumulative, 2)) == "ac");
  // Idle statements have no place in the interval view.
  CHECK(names(rank_hot(snap, hs::total_time, mw::interval, 10)) == "ca");
  auto s = summarize(snap);
  CHECK(s.statements == 3);
  CHECK(s.total.calls == 1052);
  CHECK(s.calls_per_s == Approx(6.0));
  CHECK(s.time_per_s_ms == Approx(25.1));
  std::vector<history_point> pts;
  for (int i = 0; i < 6; ++i) {
    history_point p;
    p.ts_ms = 3'600'000 + i * 1'200'000; // every 20 min from 01:00
    p.interval_ms = 1'200'000;
    p.delta.calls = i + 1;
    pts.push_back(p);
  }
  auto hourly = downsample(pts, 3'600'000);
  REQUIRE(hourly.size() == 2);
  CHECK(hourly[0].ts_ms == 3'600'000);
  CHECK(hourly[0].delta.calls == 1 + 2 + 3);
  CHECK(hourly[1].delta.calls == 4 + 5 + 6);
  CHECK(hourly[1].interval_ms == 3'600'000);
}
