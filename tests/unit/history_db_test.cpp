#include "optischema/store/history_db.hpp"

#include "optischema/analysis/history_slice.hpp"
#include "optischema/analysis/json.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>
#include <filesystem>
#include <fstream>

using namespace optischema;

namespace {

constexpr int64_t hour = 3'600'000;

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    static int n = 0;
    path = std::filesystem::temp_directory_path()
      / ("optischema-store-test-" + std::to_string(getpid()) + "-"
         + std::to_string(n++));
    std::filesystem::remove_all(path);
  }
  ~temp_dir() {
    std::filesystem::remove_all(path);
  }
};

metrics_snapshot snapshot(int64_t ts, int64_t calls, std::string fp = "aaaa") {
  metrics_snapshot s;
  s.target = "db1";
  s.ts_ms = ts;
  s.interval_ms = 60'000;
  s.db.xact_commit = calls;
  auto& st = s.statements.emplace_back();
  st.fingerprint = std::move(fp);
  st.query = "SELECT * FROM t WHERE a = $1";
  st.queryids = {42, -7};
  st.total.calls = calls * 10;
  st.interval.calls = calls;
  st.interval.exec_time_ms = static_cast<double>(calls) * 2;
  return s;
}

std::unique_ptr<history_db> open(const temp_dir& dir, store_options opts = {}) {
  opts.dir = dir.path.string();
  auto db = history_db::open(opts);
  REQUIRE(db);
  return std::move(*db);
}

} // namespace

TEST_CASE("snapshots and history survive reopening", "[store]") {
  temp_dir dir;
  {
    auto db = open(dir);
    for (int i = 0; i < 4; ++i)
      REQUIRE(db->put_snapshot(snapshot(10 * hour + i * 60'000, i + 1)));
    raw_sample base;
    base.ts_ms = 123;
    base.rows.push_back({{1, 2, 3, true}, "", {}});
    base.rows.back().total.calls = 77;
    REQUIRE(db->put_snapshot(snapshot(10 * hour + 4 * 60'000, 5), &base));
  }
  auto db = open(dir);
  auto latest = db->latest("db1");
  REQUIRE(latest);
  CHECK(latest->ts_ms == 10 * hour + 4 * 60'000);
  REQUIRE(latest->statements.size() == 1);
  CHECK(latest->statements[0].queryids == std::vector<int64_t>{42, -7});
  CHECK(latest->statements[0].total.calls == 50);
  CHECK(db->targets() == std::vector<std::string>{"db1"});
  auto pts = db->history("db1", "aaaa", 0, 11 * hour, resolution::raw);
  REQUIRE(pts.size() == 5);
  CHECK(pts[2].delta.calls == 3);
  CHECK(pts[2].delta.exec_time_ms == Approx(6));
  // A range selects its points only.
  CHECK(db->history("db1", "aaaa", 10 * hour + 60'000, 10 * hour + 180'000,
                    resolution::raw)
          .size()
        == 2);
  CHECK(db->history("db1", "bbbb", 0, 11 * hour, resolution::raw).empty());
  CHECK(db->database_history("db1", 0, 11 * hour, resolution::raw).size() == 5);
  auto base = db->baseline("db1");
  REQUIRE(base);
  CHECK(base->ts_ms == 123);
  REQUIRE(base->rows.size() == 1);
  CHECK(base->rows[0].total.calls == 77);
  CHECK(base->rows[0].key.queryid == 3);
  CHECK(db->statement_text("db1", "aaaa")
        == std::string{"SELECT * FROM t WHERE a = $1"});
}

TEST_CASE("a baseline snapshot writes no history point", "[store]") {
  temp_dir dir;
  auto db = open(dir);
  auto s = snapshot(hour, 5);
  s.baseline = true;
  s.interval_ms = 0;
  REQUIRE(db->put_snapshot(s));
  CHECK(db->history("db1", "aaaa", 0, 2 * hour, resolution::raw).empty());
  CHECK(db->latest("db1"));
}

TEST_CASE("maintenance rolls raw points into hours and expires them",
          "[store]") {
  temp_dir dir;
  store_options opts;
  opts.raw_retention = std::chrono::hours{2};
  opts.hourly_retention = std::chrono::hours{5};
  auto db = open(dir, opts);
  // Points every 20 minutes from 00:00 to 05:40.
  for (int i = 0; i < 18; ++i)
    REQUIRE(db->put_snapshot(snapshot(i * 20 * 60'000, 1)));
  auto now = 6 * hour + 10 * 60'000;
  auto report = db->maintain(now);
  REQUIRE(report);
  CHECK(report->hourly_points_written > 0);
  // Raw points older than 2 h are gone, newer ones stay.
  auto raw = db->history("db1", "aaaa", 0, now, resolution::raw);
  REQUIRE_FALSE(raw.empty());
  CHECK(raw.front().ts_ms >= now - 2 * hour - hour); // only complete hours roll
  // Hourly sums exist for hours within 5 h; each holds three points.
  auto hourly = db->history("db1", "aaaa", 0, now, resolution::hourly);
  REQUIRE(hourly.size() >= 4);
  for (auto& p : hourly) {
    CHECK(p.ts_ms >= now - 5 * hour - hour);
    CHECK(p.delta.calls == 3);
  }
  CHECK(db->database_history("db1", 0, now, resolution::hourly).size()
        == hourly.size());
  // Running it again changes nothing.
  auto again = db->maintain(now);
  REQUIRE(again);
  CHECK(again->hourly_points_written == 0);
  CHECK(db->history("db1", "aaaa", 0, now, resolution::hourly).size()
        == hourly.size());
}

TEST_CASE("a data dir held by another process is refused clearly", "[store]") {
  temp_dir dir;
  auto first = open(dir);
  store_options opts;
  opts.dir = dir.path.string();
  auto second = history_db::open(opts);
  REQUIRE_FALSE(second);
  CHECK(second.error().code == ec::store_error);
  CHECK_THAT(second.error().message, Catch::Contains("in use"));
  CHECK_THAT(second.error().message, Catch::Contains("--data-dir"));
}

TEST_CASE("a corrupt data dir is refused clearly", "[store]") {
  temp_dir dir;
  { open(dir); }
  {
    std::ofstream out{dir.path / "CURRENT", std::ios::trunc};
    out << "garbage-that-names-no-manifest\n";
  }
  store_options opts;
  opts.dir = dir.path.string();
  auto db = history_db::open(opts);
  REQUIRE_FALSE(db);
  CHECK(db.error().code == ec::store_error);
  CHECK_THAT(db.error().message, Catch::Contains(dir.path.string()));
}

TEST_CASE("audit entries and stale recommendations are pruned by age",
          "[store]") {
  temp_dir dir;
  store_options opts;
  opts.audit_retention = std::chrono::hours{24};
  opts.recommendation_retention = std::chrono::hours{24};
  auto db = open(dir, opts);
  constexpr int64_t day = 24 * hour;
  int64_t now = 100 * day;
  REQUIRE(db->append_audit(now - 3 * day, R"({"n":"old"})"));
  REQUIRE(db->append_audit(now - 2 * hour, R"({"n":"recent"})"));
  auto rec = [&](const char* id, const char* status, int64_t updated) {
    recommendation r;
    r.id = id;
    r.target = "db1";
    r.kind = "create_index";
    r.status = status;
    r.created_ms = updated - day;
    r.updated_ms = updated;
    return r;
  };
  // Not produced by any analysis for three days: gone, whatever people
  // did with them, unless they are applied (a rollback needs them).
  REQUIRE(db->put_recommendation(rec("stale-new", "new", now - 3 * day)));
  REQUIRE(
    db->put_recommendation(rec("stale-dismissed", "dismissed", now - 3 * day)));
  REQUIRE(
    db->put_recommendation(rec("stale-applied", "applied", now - 3 * day)));
  // Produced by a recent analysis: kept, dismissed or not.
  REQUIRE(
    db->put_recommendation(rec("fresh-dismissed", "dismissed", now - hour)));
  auto report = db->maintain(now);
  REQUIRE(report);
  CHECK(report->audit_entries_pruned == 1);
  CHECK(report->recommendations_pruned == 2);
  auto audit = db->audit(10);
  REQUIRE(audit.size() == 1);
  CHECK(audit[0] == R"({"n":"recent"})");
  CHECK_FALSE(db->recommendation_by_id("stale-new"));
  CHECK_FALSE(db->recommendation_by_id("stale-dismissed"));
  CHECK(db->recommendation_by_id("stale-applied"));
  CHECK(db->recommendation_by_id("fresh-dismissed"));
  // Nothing more to prune the second time.
  report = db->maintain(now);
  REQUIRE(report);
  CHECK(report->audit_entries_pruned == 0);
  CHECK(report->recommendations_pruned == 0);
}

TEST_CASE("changes in flight and pending cleanups survive reopening",
          "[store]") {
  temp_dir dir;
  {
    auto db = open(dir);
    REQUIRE(db->begin_change("db1", "op-a", 100, R"({"outcome":"started"})"));
    REQUIRE(db->begin_change("db1", "op-b", 101, R"({"outcome":"started"})"));
    REQUIRE(db->begin_change("db2", "op-c", 102, R"({"outcome":"started"})"));
    REQUIRE(db->end_change("db1", "op-b", 103, R"({"outcome":"applied"})"));
    REQUIRE(db->put_cleanup("db1", "public.x", R"({"name":"x"})"));
    REQUIRE(db->put_cleanup("db1", "public.y", R"({"name":"y"})"));
    REQUIRE(db->erase_cleanup("db1", "public.y"));
  }
  auto db = open(dir);
  // Only the change that never ended is in flight; every entry is audited.
  CHECK(db->changes_in_flight("db1")
        == std::vector<std::string>{R"({"outcome":"started"})"});
  CHECK(db->changes_in_flight("db2").size() == 1);
  CHECK(db->changes_in_flight("db").empty());
  CHECK(db->audit(10).size() == 4);
  CHECK(db->audit(1)[0] == R"({"outcome":"applied"})");
  CHECK(db->cleanups("db1") == std::vector<std::string>{R"({"name":"x"})"});
  CHECK(db->cleanups("db2").empty());
}

TEST_CASE("history another engine polled fills the gap and is rolled up",
          "[store][fleet]") {
  // This engine polled until 02:00 and had rolled up to 02:00; another
  // engine polled 02:00–03:00 and published metrics events; this engine
  // took the target back at 03:00 and reads them (json::metrics_payload
  // as the other engine wrote it, read_metrics_payload as it comes back).
  temp_dir dir;
  store_options opts;
  opts.raw_retention = std::chrono::hours{24};
  auto db = open(dir, opts);
  for (int i = 0; i < 6; ++i)
    REQUIRE(db->put_snapshot(snapshot(i * 20 * 60'000, 1)));
  REQUIRE(db->maintain(2 * hour + 60'000));
  auto now = 3 * hour;
  CHECK(db->backfill_from("db1", now) == 100 * 60'000 + 1);
  for (int i = 6; i < 9; ++i) {
    auto theirs = snapshot(i * 20 * 60'000, 4, "bbbb");
    theirs.interval_ms = 20 * 60'000;
    auto slice = read_metrics_payload(json::metrics_payload(theirs, 20));
    REQUIRE(slice);
    CHECK(slice->db.calls == 4);
    CHECK(slice->db.xact_commit == 4);
    REQUIRE(db->put_backfill("db1", *slice, now));
    // Twice changes nothing: the events are read again after a failure.
    REQUIRE(db->put_backfill("db1", *slice, now));
  }
  // One the other engine polled in an hour already rolled up here: the
  // hour is rolled up again.
  auto late = snapshot(110 * 60'000, 4, "bbbb");
  late.interval_ms = 10 * 60'000;
  REQUIRE(db->put_backfill(
    "db1", *read_metrics_payload(json::metrics_payload(late, 20)), now));
  CHECK(db->backfill_from("db1", now) == 160 * 60'000 + 1);
  // The other engine's statement has its points and its text, and the
  // database series runs without a gap; the hour is rolled up again.
  auto pts = db->history("db1", "bbbb", 0, now, resolution::raw);
  CHECK(pts.size() == 4);
  CHECK(db->statement_text("db1", "bbbb").value_or("")
        == "SELECT * FROM t WHERE a = $1");
  CHECK(db->database_history("db1", 0, now, resolution::raw).size() == 10);
  REQUIRE(db->maintain(now + 60'000));
  auto hourly = db->database_history("db1", 0, now, resolution::hourly);
  REQUIRE(hourly.size() == 3);
  CHECK(hourly[1].calls == 3 + 4);
  CHECK(hourly[2].calls == 12);
  // A slice older than the raw retention allows is not kept.
  auto old
    = read_metrics_payload(json::metrics_payload(snapshot(1, 1, "cccc"), 20));
  REQUIRE(old);
  REQUIRE(db->put_backfill("db1", *old, 30 * hour));
  CHECK(db->history("db1", "cccc", 0, now, resolution::raw).empty());
}

TEST_CASE("a metrics event that is not one leaves history alone",
          "[store][fleet]") {
  auto good = json::metrics_payload(snapshot(10 * hour, 3), 20);
  REQUIRE(read_metrics_payload(good));
  auto refused = [&](std::string from, std::string to) {
    auto text = good;
    auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    auto got = read_metrics_payload(text);
    return got ? std::string{} : got.error().message;
  };
  CHECK_THAT(refused("\"parse_error\":false,\"calls\":3",
                     "\"parse_error\":false,\"calls\":-3"),
             Catch::Contains("not counts"));
  CHECK_THAT(refused("\"fingerprint\":\"aaaa\"", "\"fingerprint\":\"../x\""),
             Catch::Contains("fingerprint"));
  CHECK_THAT(refused("\"interval_ms\":60000", "\"interval_ms\":0"),
             Catch::Contains("interval"));
  CHECK_THAT(refused("\"baseline\":false", "\"baseline\":true"),
             Catch::Contains("baseline"));
  CHECK_THAT(refused("\"database\":{", "\"databas\":{"),
             Catch::Contains("database"));
  CHECK_THAT(read_metrics_payload("[]").error().message,
             Catch::Contains("not a JSON object"));
}

TEST_CASE("hours the fleet rolled up fill history older than its events",
          "[store][fleet]") {
  // Engine A polled db1 from 00:00 to 06:00 and rolls the hours up for the
  // fleet; engine B never saw db1 and takes it over at 06:10.
  // (Hours from a day after the epoch: a time stamp of 0 is none.)
  constexpr int64_t day = 24 * hour;
  temp_dir a_dir, b_dir;
  auto a = open(a_dir);
  for (int i = 0; i < 18; ++i)
    REQUIRE(a->put_snapshot(snapshot(day + i * 20 * 60'000, 1)));
  auto now = day + 6 * hour + 10 * 60'000;
  auto report = a->maintain(now, 50);
  REQUIRE(report);
  REQUIRE(report->hours.size() == 6);
  for (auto& h : report->hours) {
    CHECK(h.target == "db1");
    CHECK(h.interval_ms == hour);
    REQUIRE(h.statements.size() == 1);
    CHECK(h.statements[0].delta.calls == 3);
    CHECK(h.statements[0].query == "SELECT * FROM t WHERE a = $1");
  }
  // Without a top N (no fleet), the report carries no hours.
  temp_dir c_dir;
  auto c = open(c_dir);
  REQUIRE(c->put_snapshot(snapshot(day, 1)));
  REQUIRE(c->maintain(now)->hours.empty());

  // What B reads back is what A wrote (the payload goes through NATS).
  auto b = open(b_dir);
  auto from = b->rollup_from("db1", now);
  CHECK(from <= day);
  // B polled 02:10 itself: its own point wins over the roll-up of hour 2.
  auto own = snapshot(day + 2 * hour + 10 * 60'000, 7, "bbbb");
  REQUIRE(b->put_snapshot(own));
  int kept = 0;
  for (auto& h : report->hours) {
    auto payload = rollup_payload("db1", h);
    auto back = read_metrics_payload(payload);
    INFO(payload);
    REQUIRE(back);
    CHECK(back->target == "db1");
    CHECK(back->ts_ms == h.ts_ms);
    CHECK(back->db.calls == h.db.calls);
    auto put = b->put_rollup("db1", *back, now);
    REQUIRE(put);
    kept += *put ? 1 : 0;
    // Twice changes nothing (read again after a failure, or from a second
    // engine that rolled the same hour up).
    REQUIRE(b->put_rollup("db1", *back, now));
    CHECK_FALSE(*b->put_rollup("db1", *back, now));
  }
  CHECK(kept == 5);
  auto hourly = b->history("db1", "aaaa", 0, now, resolution::hourly);
  REQUIRE(hourly.size() == 5);
  for (auto& p : hourly)
    CHECK(p.delta.calls == 3);
  CHECK(b->statement_text("db1", "aaaa").value_or("")
        == "SELECT * FROM t WHERE a = $1");
  auto db_hours = b->database_history("db1", 0, now, resolution::hourly);
  CHECK(db_hours.size() == 6); // five rolled up by A, one of B's own
  CHECK(b->rollup_from("db1", now) == day + 6 * hour);
  // B's maintenance rolls its own hour up and leaves A's hours be.
  REQUIRE(b->maintain(now));
  CHECK(b->history("db1", "aaaa", 0, now, resolution::hourly).size() == 5);
  CHECK(b->history("db1", "bbbb", 0, now, resolution::hourly).size() == 1);

  // Not kept: an hour not over yet, one that does not start on the hour,
  // one past the hourly retention.
  auto h = report->hours.back();
  h.ts_ms = day + 6 * hour;
  CHECK_FALSE(*b->put_rollup("db1", h, now));
  h.ts_ms = day + 3 * hour + 1;
  CHECK_FALSE(*b->put_rollup("db2", h, now));
  h.ts_ms = day;
  CHECK_FALSE(*b->put_rollup("db2", h, 60 * day));
  CHECK(b->database_history("db2", 0, now, resolution::hourly).empty());
}
