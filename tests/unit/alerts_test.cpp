// Alert rules on made-up polls: each rule fires when its condition holds for
// long enough, once, with its evidence, and resolves when it is gone; a
// steady but noisy workload raises nothing.

#include "optischema/analysis/alert_notice.hpp"
#include "optischema/analysis/alerts.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <tuple>

using namespace optischema;

namespace {

struct stmt {
  std::string fingerprint;
  int64_t calls;
  double mean_ms;
};

/// A 30 s poll at the `n`-th interval with these statements.
metrics_snapshot poll(int n, const std::vector<stmt>& xs) {
  metrics_snapshot s;
  s.target = "shop";
  s.ts_ms = 1'000'000 + int64_t{n} * 30'000;
  s.interval_ms = 30'000;
  s.db.max_connections = 100;
  s.db.numbackends = 10;
  for (auto& x : xs) {
    auto& m = s.statements.emplace_back();
    m.fingerprint = x.fingerprint;
    m.query = "SELECT " + x.fingerprint;
    m.interval.calls = x.calls;
    m.interval.exec_time_ms = x.mean_ms * static_cast<double>(x.calls);
  }
  return s;
}

std::vector<std::string> ids(const std::vector<alert>& xs) {
  std::vector<std::string> out;
  for (auto& x : xs)
    out.push_back(x.id + (x.firing ? " firing" : " resolved"));
  return out;
}

/// Twenty statements, their means and calls jittered by ±30 % and ±50 %.
std::vector<stmt> noisy(std::mt19937& rng) {
  std::uniform_real_distribution<double> jitter{0.7, 1.3}, calls{0.5, 1.5};
  std::vector<stmt> out;
  for (int i = 0; i < 20; ++i)
    out.push_back({"f" + std::to_string(i),
                   static_cast<int64_t>(100 * (i + 1) * calls(rng)),
                   (0.2 + i) * jitter(rng)});
  return out;
}

/// Thirty statements at 1, 2 and 3 ms a call, times `slow`.
std::vector<stmt> all(double slow) {
  std::vector<stmt> xs;
  for (int i = 0; i < 30; ++i)
    xs.push_back({"g" + std::to_string(i), 100, (1.0 + i % 3) * slow});
  return xs;
}

} // namespace

TEST_CASE("a steady noisy workload raises no alert", "[alerts]") {
  alert_rules rules{"shop", {}};
  std::mt19937 rng{42};
  std::vector<alert> all;
  for (int n = 0; n < 600; ++n) {
    auto got = rules.observe(poll(n, noisy(rng)));
    all.insert(all.end(), got.begin(), got.end());
  }
  CHECK(ids(all).empty());
  CHECK(rules.firing().empty());
}

TEST_CASE("a regressed statement fires on its second slow poll and resolves",
          "[alerts]") {
  alert_rules rules{"shop", {}};
  std::mt19937 rng{7};
  int n = 0;
  for (; n < 20; ++n)
    REQUIRE(rules.observe(poll(n, noisy(rng))).empty());
  auto slow = [&] {
    auto xs = noisy(rng);
    xs[3].mean_ms = 40; // about 3.2 ms usually
    return rules.observe(poll(n++, xs));
  };
  CHECK(slow().empty());
  auto fired = slow();
  REQUIRE(fired.size() == 1);
  auto& a = fired[0];
  CHECK(a.id == "statement_regression:shop:f3");
  CHECK(a.rule == "statement_regression");
  CHECK(a.fingerprint == "f3");
  CHECK(a.query == "SELECT f3");
  CHECK(a.firing);
  CHECK(a.severity == alert_severity::critical); // over 10× its median
  CHECK(a.summary.find("40.00 ms") != std::string::npos);
  REQUIRE(a.evidence.size() >= 2);
  CHECK(a.evidence[0] == std::pair<std::string, double>{"mean_ms_now", 40});
  CHECK(a.evidence[1].second == Approx(3.2).epsilon(0.3));
  // Still slow: nothing new to say.
  CHECK(slow().empty());
  CHECK(slow().empty());
  CHECK(rules.firing().count("statement_regression:shop:f3") == 1);
  // Back to normal: resolved after two polls, under the same id. The slow
  // points never entered the baseline.
  CHECK(rules.observe(poll(n++, noisy(rng))).empty());
  auto resolved = rules.observe(poll(n++, noisy(rng)));
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].id == a.id);
  CHECK_FALSE(resolved[0].firing);
  CHECK(resolved[0].resolved_ms > resolved[0].since_ms);
  CHECK(rules.firing().empty());
  CHECK(to_json(resolved[0]).find(R"("state":"resolved")")
        != std::string::npos);
}

TEST_CASE("a slow statement with few calls raises nothing", "[alerts]") {
  alert_rules rules{"shop", {}};
  for (int n = 0; n < 10; ++n)
    rules.observe(poll(n, {{"a", 3, 1.0}, {"b", 100, 1.0}}));
  for (int n = 10; n < 15; ++n)
    CHECK(rules.observe(poll(n, {{"a", 3, 50.0}, {"b", 100, 1.0}})).empty());
}

TEST_CASE("a new statement among the costliest fires once after the warm-up",
          "[alerts]") {
  alert_rules rules{"shop", {}};
  std::vector<stmt> base{{"a", 100, 1.0}, {"b", 100, 2.0}};
  // Early on, everything is new to the engine: nothing fires.
  auto first = base;
  first.push_back({"early", 100, 50.0});
  CHECK(rules.observe(poll(0, first)).empty());
  int n = 1;
  for (; n < 10; ++n)
    CHECK(rules.observe(poll(n, base)).empty());
  auto xs = base;
  xs.push_back({"light", 5, 0.1});
  xs.push_back({"heavy", 100, 10.0});
  auto got = rules.observe(poll(n++, xs));
  REQUIRE(got.size() == 1);
  CHECK(got[0].id == "new_heavy_statement:shop:heavy");
  CHECK(got[0].evidence[0].second == Approx(1000.0 / 1300.5));
  CHECK(rules.observe(poll(n++, xs)).empty());
  // Once it is no longer among the costliest, it resolves.
  xs.back().mean_ms = 0.01;
  auto gone = rules.observe(poll(n++, xs));
  REQUIRE(gone.size() == 1);
  CHECK_FALSE(gone[0].firing);
}

TEST_CASE("a storm of calls fires, a busy but usual statement does not",
          "[alerts]") {
  alert_rules rules{"shop", {}};
  int n = 0;
  for (; n < 10; ++n)
    rules.observe(poll(n, {{"loop", 300, 0.1}, {"busy", 30'000, 0.1}}));
  CHECK(rules.observe(poll(n++, {{"loop", 6000, 0.1}, {"busy", 30'000, 0.1}}))
          .empty());
  auto got
    = rules.observe(poll(n++, {{"loop", 6000, 0.1}, {"busy", 30'000, 0.1}}));
  REQUIRE(got.size() == 1);
  CHECK(got[0].id == "calls_jump:shop:loop");
  CHECK(got[0].evidence[0].second == Approx(200));
  CHECK(got[0].evidence[1].second == Approx(10));
  // The loop stops altogether: the storm is over, two polls later.
  CHECK(rules.observe(poll(n++, {{"busy", 30'000, 0.1}})).empty());
  auto over = rules.observe(poll(n++, {{"busy", 30'000, 0.1}}));
  REQUIRE(ids(over)
          == std::vector<std::string>{"calls_jump:shop:loop resolved"});
}

TEST_CASE("a statement that recovers from a long regression runs more often "
          "again and that is no storm",
          "[alerts]") {
  alert_rules rules{"shop", {}};
  // A closed loop of clients: a slow statement is called less often.
  auto at = [&](int n, double mean_ms) {
    auto calls = static_cast<int64_t>(3000 / mean_ms);
    return rules.observe(poll(n, {{"q", calls, mean_ms}, {"b", 100, 1.0}}));
  };
  int n = 0;
  std::vector<alert> all;
  auto add = [&](std::vector<alert> xs) {
    all.insert(all.end(), xs.begin(), xs.end());
  };
  for (; n < 10; ++n)
    add(at(n, 0.1));
  // Slow for longer than the calls' window of 120 polls.
  for (int k = 0; k < 150; ++k)
    add(at(n++, 10.0));
  add(at(n++, 0.1));
  add(at(n++, 0.1));
  add(at(n++, 0.1));
  CHECK(ids(all)
        == std::vector<std::string>{"statement_regression:shop:q firing",
                                    "statement_regression:shop:q resolved"});
}

TEST_CASE("a target that cannot be polled is down after two failures",
          "[alerts]") {
  alert_rules rules{"shop", {}};
  rules.observe(poll(0, {{"a", 10, 1.0}}));
  CHECK(rules.failed(2'000'000, "connection refused").empty());
  auto down = rules.failed(2'030'000, "connection refused");
  REQUIRE(down.size() == 1);
  CHECK(down[0].id == "target_down:shop");
  CHECK(down[0].severity == alert_severity::critical);
  CHECK(down[0].summary.find("connection refused") != std::string::npos);
  CHECK(rules.failed(2'060'000, "connection refused").empty());
  auto up = rules.observe(poll(100, {{"a", 10, 1.0}}));
  REQUIRE(up.size() == 1);
  CHECK(up[0].id == "target_down:shop");
  CHECK_FALSE(up[0].firing);
  // One failure alone says nothing.
  CHECK(rules.failed(5'000'000, "timeout").empty());
  CHECK(rules.observe(poll(200, {{"a", 10, 1.0}})).empty());
}

TEST_CASE("resets evictions and connections near the maximum", "[alerts]") {
  alert_rules rules{"shop", {}};
  rules.observe(poll(0, {{"a", 10, 1.0}}));
  auto s = poll(1, {{"a", 10, 1.0}});
  s.reset_detected = true;
  s.evicted = 12;
  auto got = rules.observe(s);
  CHECK(ids(got)
        == std::vector<std::string>{"stats_reset:shop firing",
                                    "statements_evicted:shop firing"});
  got = rules.observe(poll(2, {{"a", 10, 1.0}}));
  CHECK(ids(got)
        == std::vector<std::string>{"stats_reset:shop resolved",
                                    "statements_evicted:shop resolved"});
  auto full = [&](int n) {
    auto x = poll(n, {{"a", 10, 1.0}});
    x.db.numbackends = 95;
    return rules.observe(x);
  };
  CHECK(full(3).empty());
  CHECK(ids(full(4))
        == std::vector<std::string>{"connections_near_max:shop firing"});
}

TEST_CASE("a cache hit ratio that drops fires", "[alerts]") {
  alert_rules rules{"shop", {}};
  auto with_ratio = [&](int n, double r) {
    auto x = poll(n, {{"a", 10, 1.0}});
    x.db.blks_hit = static_cast<int64_t>(100'000 * r);
    x.db.blks_read = 100'000 - x.db.blks_hit;
    x.db.cache_hit_ratio = r;
    return rules.observe(x);
  };
  int n = 0;
  for (; n < 10; ++n)
    CHECK(with_ratio(n, 0.99 - 0.002 * (n % 3)).empty());
  CHECK(with_ratio(n++, 0.7).empty());
  CHECK(ids(with_ratio(n++, 0.7))
        == std::vector<std::string>{"cache_hit_drop:shop firing"});
}

TEST_CASE("a one-off statement that takes most of an interval is no new "
          "workload",
          "[alerts]") {
  alert_rules rules{"shop", {}};
  int n = 0;
  for (; n < 10; ++n)
    rules.observe(poll(n, {{"a", 100, 1.0}}));
  CHECK(rules.observe(poll(n++, {{"a", 100, 1.0}, {"ddl", 1, 900.0}})).empty());
  for (int i = 0; i < 5; ++i)
    CHECK(rules.observe(poll(n++, {{"a", 100, 1.0}})).empty());
}

TEST_CASE("a new slow statement with a few calls in each of two polls fires",
          "[alerts]") {
  alert_rules rules{"shop", {}};
  int n = 0;
  for (; n < 10; ++n)
    rules.observe(poll(n, {{"a", 100, 1.0}}));
  // Three calls of 400 ms a poll (a scan of a table grown large).
  std::vector<stmt> xs{{"a", 100, 1.0}, {"scan", 3, 400.0}};
  CHECK(rules.observe(poll(n++, xs)).empty());
  auto got = rules.observe(poll(n++, xs));
  REQUIRE(ids(got)
          == std::vector<std::string>{"new_heavy_statement:shop:scan firing"});
  CHECK(rules.observe(poll(n++, xs)).empty());
  // Gone for two polls: resolved.
  CHECK(rules.observe(poll(n++, {{"a", 100, 1.0}})).empty());
  CHECK(ids(rules.observe(poll(n++, {{"a", 100, 1.0}})))
        == std::vector<std::string>{"new_heavy_statement:shop:scan resolved"});
}

TEST_CASE("an alert decided elsewhere fires once and resolves", "[alerts]") {
  alert_rules rules{"shop", {}};
  alert a;
  a.id = "applied_index_regressed:shop:r1";
  a.rule = "applied_index_regressed";
  a.severity = alert_severity::critical;
  auto fired = rules.raise(a, 100);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].target == "shop");
  CHECK(fired[0].since_ms == 100);
  CHECK(rules.raise(a, 200).empty());
  CHECK(rules.firing().count(a.id) == 1);
  // Polls leave it be.
  CHECK(rules.observe(poll(1, {{"x", 10, 1.0}})).empty());
  a.firing = false;
  auto resolved = rules.raise(a, 300);
  REQUIRE(resolved.size() == 1);
  CHECK_FALSE(resolved[0].firing);
  CHECK(resolved[0].since_ms == 100);
  CHECK(resolved[0].resolved_ms == 300);
  CHECK(rules.raise(a, 400).empty());
}

TEST_CASE("a target with thousands of statements follows its costliest",
          "[alerts]") {
  alert_thresholds t;
  t.tracked_statements = 10;
  alert_rules rules{"shop", t};
  // 500 statements; "top" is the costliest of each poll.
  auto many = [](double top_mean) {
    std::vector<stmt> xs;
    for (int i = 0; i < 500; ++i)
      xs.push_back({"s" + std::to_string(i), 10, 1.0 * (i % 7 + 1)});
    xs.push_back({"top", 50, top_mean});
    return xs;
  };
  int n = 0;
  for (; n < 10; ++n)
    CHECK(rules.observe(poll(n, many(5.0))).empty());
  CHECK(rules.observe(poll(n++, many(60.0))).empty());
  auto fired = rules.observe(poll(n++, many(60.0)));
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].fingerprint == "top");
  // Rarely called since, out of the costliest: it stays followed until it
  // is judged again.
  for (int k = 0; k < 5; ++k) {
    auto xs = many(60.0);
    xs.back().calls = 1;
    CHECK(rules.observe(poll(n++, xs)).empty());
  }
  CHECK(rules.observe(poll(n++, many(5.0))).empty());
  auto resolved = rules.observe(poll(n++, many(5.0)));
  REQUIRE(resolved.size() == 1);
  CHECK_FALSE(resolved[0].firing);
}

TEST_CASE("a hot statement whose plan changes fires on the second check and "
          "resolves when the plan is back",
          "[alerts]") {
  alert_rules rules{"shop", {}};
  // The three costliest with calls enough are checked; "rare" costs the
  // most, in one call.
  auto snap = poll(0,
                   {{"f1", 100, 1.0},
                    {"f2", 100, 3.0},
                    {"f3", 100, 2.0},
                    {"f4", 100, 0.5},
                    {"rare", 1, 1e6}});
  // Nor does EXPLAIN plan a COMMIT, however long it takes.
  auto& commit = snap.statements.emplace_back();
  commit.fingerprint = "c0";
  commit.query = "/* app */ COMMIT";
  commit.interval.calls = 1000;
  commit.interval.exec_time_ms = 1e5;
  rules.observe(snap);
  auto checks = rules.plans_to_check(snap);
  REQUIRE(checks.size() == 3);
  CHECK(checks[0].fingerprint == "f2");
  CHECK(checks[0].query == "SELECT f2");
  CHECK(checks[1].fingerprint == "f3");
  CHECK(checks[2].fingerprint == "f1");

  auto& f = checks[0];
  const std::string index = "Index Scan using items_k on items\n";
  const std::string seq = "Seq Scan on items  (Filter: (k = $1))\n";
  int64_t ts = 1'000;
  // The first plan is the usual one; its cost drifting is no change.
  for (int i = 0; i < 5; ++i)
    REQUIRE(rules.planned(ts++, f, "idx", index, 8.0 + i).empty());
  // Flapping plans (one check each way) never fire.
  for (int i = 0; i < 5; ++i) {
    REQUIRE(rules.planned(ts++, f, "seq", seq, 900).empty());
    REQUIRE(rules.planned(ts++, f, "idx", index, 8).empty());
  }
  CHECK(rules.planned(ts++, f, "seq", seq, 900).empty());
  auto fired = rules.planned(ts++, f, "seq", seq, 900);
  REQUIRE(ids(fired) == std::vector<std::string>{"plan_change:shop:f2 firing"});
  auto& a = fired[0];
  CHECK(a.severity == alert_severity::warning); // 100× the cost
  CHECK(a.query == "SELECT f2");
  CHECK(a.plan_before == index);
  CHECK(a.plan_after == seq);
  CHECK(a.evidence
        == std::vector<std::pair<std::string, double>>{{"cost_before", 8.0},
                                                       {"cost_now", 900.0}});
  CHECK(rules.planned(ts++, f, "seq", seq, 900).empty()); // once
  CHECK(rules.planned(ts++, f, "idx", index, 8).empty());
  auto back = rules.planned(ts++, f, "idx", index, 8);
  REQUIRE(ids(back)
          == std::vector<std::string>{"plan_change:shop:f2 resolved"});
  CHECK(rules.firing().empty());
}

TEST_CASE("a new plan held long enough becomes the usual one", "[alerts]") {
  alert_thresholds t;
  t.plan_settle_checks = 4;
  alert_rules rules{"shop", t};
  alert_rules::plan_check f{"f1", "SELECT 1"};
  REQUIRE(rules.planned(1, f, "a", "A\n", 100).empty());
  CHECK(rules.planned(2, f, "b", "B\n", 180).empty());
  auto fired = rules.planned(3, f, "b", "B\n", 180);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].severity == alert_severity::info); // dearer, not 2×
  CHECK(rules.planned(4, f, "b", "B\n", 180).empty());
  auto settled = rules.planned(5, f, "b", "B\n", 180);
  REQUIRE(ids(settled)
          == std::vector<std::string>{"plan_change:shop:f1 resolved"});
  for (int i = 0; i < 5; ++i)
    CHECK(rules.planned(6 + i, f, "b", "B\n", 180).empty());
  // Going back to A, dearer than B by half again, is a change again.
  CHECK(rules.planned(20, f, "a", "A\n", 300).empty());
  CHECK(rules.planned(21, f, "a", "A\n", 300).size() == 1);
}

TEST_CASE("a cheaper plan is no alert and becomes the usual one", "[alerts]") {
  alert_rules rules{"shop", {}};
  alert_rules::plan_check f{"f1", "SELECT 1"};
  REQUIRE(rules.planned(1, f, "a", "A\n", 100).empty());
  // Fresh statistics: the planner prefers B, estimated cheaper (or about
  // the same).
  for (int i = 0; i < 10; ++i)
    CHECK(rules.planned(2 + i, f, "b", "B\n", 90 + i * 5).empty());
  CHECK(rules.firing().empty());
  // B is the usual plan now: A back at its old cost is no change for the
  // worse either, but a plan that costs ten times B's is.
  CHECK(rules.planned(20, f, "a", "A\n", 100).empty());
  CHECK(rules.planned(21, f, "a", "A\n", 100).empty());
  CHECK(rules.planned(22, f, "c", "C\n", 1500).empty());
  auto fired = rules.planned(23, f, "c", "C\n", 1500);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].severity == alert_severity::warning);
  CHECK(fired[0].plan_before == "A\n");
}

TEST_CASE("a statement that cannot be planned is not asked for again soon",
          "[alerts]") {
  alert_rules rules{"shop", {}};
  std::mt19937 rng{5};
  auto snap = poll(0, noisy(rng));
  rules.observe(snap);
  auto checks = rules.plans_to_check(snap);
  REQUIRE(checks.size() == 3);
  rules.unplannable(checks[0].fingerprint);
  for (int n = 1; n < 10; ++n) {
    auto s = poll(n, noisy(rng));
    rules.observe(s);
    for (auto& c : rules.plans_to_check(s))
      CHECK(c.fingerprint != checks[0].fingerprint);
  }
}

TEST_CASE("a silence matches by every field it sets and never by none",
          "[alerts]") {
  alert a;
  a.rule = "plan_change";
  a.target = "shop";
  a.fingerprint = "f1";
  alert_silence s;
  CHECK_FALSE(s.matches(a)); // an empty silence silences nothing
  s.rule = "plan_change";
  CHECK(s.matches(a));
  s.target = "bank";
  CHECK_FALSE(s.matches(a));
  s.target = "shop";
  s.fingerprint = "f1";
  CHECK(s.matches(a));
  s.fingerprint = "f2";
  CHECK_FALSE(s.matches(a));
}

TEST_CASE("an acknowledged alert says when and who until it resolves",
          "[alerts]") {
  alert_rules rules{"shop", {}};
  rules.observe(poll(0, {{"a", 10, 1.0}}));
  CHECK_FALSE(rules.acknowledge("target_down:shop", 5, "api"));
  rules.failed(2'000'000, "refused");
  rules.failed(2'030'000, "refused");
  auto acked = rules.acknowledge("target_down:shop", 2'040'000,
                                 "api (1.2.3.4)");
  REQUIRE(acked);
  CHECK(acked->acknowledged_ms == 2'040'000);
  CHECK(rules.firing().at("target_down:shop").acknowledged_by
        == "api (1.2.3.4)");
  auto up = rules.observe(poll(100, {{"a", 10, 1.0}}));
  REQUIRE(up.size() == 1);
  CHECK(up[0].acknowledged_by == "api (1.2.3.4)"); // the resolution says so
  CHECK_FALSE(rules.acknowledge("target_down:shop", 1, "api"));
}

TEST_CASE("many statements that regress at once are one alert of the target",
          "[alerts]") {
  alert_rules rules{"shop", {}};
  int n = 0;
  for (; n < 10; ++n)
    REQUIRE(rules.observe(poll(n, all(1.0))).empty());
  CHECK(rules.observe(poll(n++, all(5.0))).empty());
  auto fired = rules.observe(poll(n++, all(5.0)));
  REQUIRE(ids(fired)
          == std::vector<std::string>{"statements_regressed:shop firing"});
  CHECK(fired[0].evidence[0]
        == std::pair<std::string, double>{"statements", 30});
  CHECK(fired[0].evidence[1].second == Approx(5.0));
  CHECK(fired[0].severity == alert_severity::critical);
  // Each statement is still judged and listed.
  CHECK(rules.firing().size() == 31);
  for (int k = 0; k < 3; ++k)
    CHECK(rules.observe(poll(n++, all(5.0))).empty());
  // All back: the group resolves, its members with it, unannounced.
  CHECK(rules.observe(poll(n++, all(1.0))).empty());
  auto back = rules.observe(poll(n++, all(1.0)));
  REQUIRE(ids(back)
          == std::vector<std::string>{"statements_regressed:shop resolved"});
  CHECK(rules.firing().empty());
}

TEST_CASE("a group that ends while some of its statements are still slow "
          "announces those",
          "[alerts]") {
  alert_thresholds t;
  t.group_statements = 4;
  alert_rules rules{"shop", t};
  auto mix = [](int slow) {
    std::vector<stmt> xs;
    for (int i = 0; i < 6; ++i)
      xs.push_back({"m" + std::to_string(i), 100, i < slow ? 5.0 : 1.0});
    return xs;
  };
  int n = 0;
  for (; n < 10; ++n)
    REQUIRE(rules.observe(poll(n, mix(0))).empty());
  rules.observe(poll(n++, mix(6)));
  REQUIRE(ids(rules.observe(poll(n++, mix(6))))
          == std::vector<std::string>{"statements_regressed:shop firing"});
  // Five recover (after two polls each), one stays slow: below half.
  rules.observe(poll(n++, mix(1)));
  auto split = rules.observe(poll(n++, mix(1)));
  CHECK(ids(split)
        == std::vector<std::string>{"statements_regressed:shop resolved",
                                    "statement_regression:shop:m0 firing"});
}

namespace {

constexpr int64_t hour_ms = 3'600'000;

/// An hourly point of `calls` calls at `mean_ms`, `hours_ago` whole hours
/// before the hour of `now_ms`.
history_point hour_point(int64_t now_ms, int hours_ago, int64_t calls,
                         double mean_ms) {
  history_point p;
  p.ts_ms = now_ms - now_ms % hour_ms - int64_t{hours_ago} * hour_ms;
  p.interval_ms = hour_ms;
  p.delta.calls = calls;
  p.delta.exec_time_ms = mean_ms * static_cast<double>(calls);
  return p;
}

/// Feeds `rules` poll `n` of statement "slow" at `mean_ms` (20 calls),
/// answering its wish for a past with `past`; returns what changed.
std::vector<alert> poll_with_past(alert_rules& rules, int n, double mean_ms,
                                  const std::vector<history_point>& past,
                                  int* asked = nullptr) {
  auto snap = poll(n, {{"slow", 20, mean_ms}});
  for (auto& fp : rules.pasts_wanted(snap)) {
    rules.remember_past(fp, past_of(past, snap.ts_ms, 5), snap.ts_ms);
    if (asked)
      ++*asked;
  }
  return rules.observe(snap);
}

} // namespace

TEST_CASE("a statement's past reads the last day and the same hour a week "
          "ago",
          "[alerts]") {
  int64_t now = 1'700'000'000'000 + 20 * 60'000;
  std::vector<history_point> hourly;
  for (int h = 1; h <= 24 * 8; ++h)
    hourly.push_back(hour_point(now, h, h == 3 ? 2 : 100, 1.0 + h % 3));
  auto p = past_of(hourly, now, 5);
  // The 24 hours that overlap the day before `now`, less the one with 2
  // calls.
  CHECK(p.day_means.size() == 23);
  REQUIRE(p.last_week);
  CHECK(*p.last_week == Approx(1.0 + (24 * 7) % 3));
  CHECK(p.week_day_means.size() == 24);
  // Only hours before `now` count (the one under way is no past).
  CHECK(past_of({hour_point(now, 0, 100, 9)}, now, 5).day_means.empty());
  CHECK_FALSE(past_of({}, now, 5).last_week);
}

TEST_CASE("after a restart the stored last day is the baseline until the "
          "polls make one",
          "[alerts]") {
  alert_rules rules{"shop", {}};
  int64_t now = poll(0, {}).ts_ms;
  std::vector<history_point> day;
  for (int h = 1; h <= 24; ++h)
    day.push_back(hour_point(now, h, 500, 2.0 + 0.1 * (h % 3)));
  int asked = 0;
  // The first poll after the start: the past is read, nothing fires yet.
  CHECK(poll_with_past(rules, 0, 20.0, day, &asked).empty());
  CHECK(asked == 1);
  // The second slow poll fires, against the stored day (no baseline of
  // polls yet: without the past it would wait for 6 of them).
  auto got = poll_with_past(rules, 1, 20.0, day, &asked);
  REQUIRE(ids(got)
          == std::vector<std::string>{"statement_regression:shop:slow firing"});
  CHECK(asked == 1); // read once an hour at most
  bool from_past = false;
  for (auto& [k, v] : got[0].evidence)
    from_past |= k == "baseline_hours" && v == 24;
  CHECK(from_past);
  // Without a stored past: nothing before six polls.
  alert_rules blind{"shop", {}};
  for (int n = 0; n < 5; ++n)
    CHECK(poll_with_past(blind, n, 20.0, {}).empty());
}

TEST_CASE("a statement as slow as in its weekly peak hour is no regression, "
          "one slower than then is",
          "[alerts]") {
  int64_t now = poll(30, {}).ts_ms;
  // A week ago: 2 ms all day but 20 ms in this hour (a weekly report).
  std::vector<history_point> past;
  for (int h = 24 * 6 + 1; h <= 24 * 8; ++h)
    past.push_back(hour_point(now, h, 500, h == 24 * 7 ? 20.0 : 2.0));
  auto run = [&](double peak_ms) {
    alert_rules rules{"shop", {}};
    std::vector<alert> all;
    for (int n = 0; n < 20; ++n)
      poll_with_past(rules, n, 2.0, past);
    for (int n = 20; n < 30; ++n) {
      auto got = poll_with_past(rules, n, peak_ms, past);
      all.insert(all.end(), got.begin(), got.end());
    }
    return ids(all);
  };
  CHECK(run(20.0).empty());
  CHECK(run(100.0)
        == std::vector<std::string>{"statement_regression:shop:slow firing"});
  // A week when everything was slower (an index added since) is no peak:
  // losing the index again fires.
  std::vector<history_point> slower;
  for (int h = 24 * 6 + 1; h <= 24 * 8; ++h)
    slower.push_back(hour_point(now, h, 500, 20.0));
  alert_rules rules{"shop", {}};
  for (int n = 0; n < 20; ++n)
    poll_with_past(rules, n, 2.0, slower);
  std::vector<alert> all;
  for (int n = 20; n < 23; ++n) {
    auto got = poll_with_past(rules, n, 20.0, slower);
    all.insert(all.end(), got.begin(), got.end());
  }
  CHECK(ids(all)
        == std::vector<std::string>{"statement_regression:shop:slow firing"});
}

TEST_CASE("stored silences read back, and a damaged one never silences "
          "everything",
          "[alerts]") {
  alert_silence a{"s1", "target_down", "shop",    "",
                  5000, 1000,          "upgrade", "api"};
  alert_silence b{"s2", "", "", "abcd", 6000, 1000, "", "api"};
  auto text = silences_json({a, b});
  CHECK(parse_silences(text) == std::vector<alert_silence>{a, b});
  CHECK(parse_silences("").empty());
  CHECK(parse_silences("[{\"id\":").empty());
  CHECK(parse_silences("{}").empty());
  // No field to match by, no end, no id, the wrong types: left out.
  CHECK(parse_silences(R"([{"id":"x","until":5000},)"
                       R"({"id":"y","rule":"r"},)"
                       R"({"rule":"r","until":5000},)"
                       R"({"id":"z","rule":7,"until":"5000"}, 3])")
          .empty());
}

namespace {

/// What fires in `rules`, as the ALERTER stores it and reads it back after
/// a restart.
std::vector<alert>
kept_over_restart(const alert_rules& rules,
                  std::vector<std::string>* grouped = nullptr) {
  stored_alerts x{"shop", {}, {}, {}};
  for (auto& [id, a] : rules.firing())
    x.firing.push_back(a);
  x.grouped.assign(rules.grouped().begin(), rules.grouped().end());
  auto back = read_stored_alerts(stored_alerts_json(x));
  REQUIRE(back);
  if (grouped)
    *grouped = back->grouped;
  return back->firing;
}

} // namespace

TEST_CASE("after a restart a regression still slow fires on unannounced and "
          "resolves when the statement is fast again",
          "[alerts][restore]") {
  alert_rules before{"shop", {}};
  std::mt19937 rng{7};
  int n = 0;
  for (; n < 20; ++n)
    before.observe(poll(n, noisy(rng)));
  auto slow = [&](alert_rules& rules) {
    auto xs = noisy(rng);
    xs[3].mean_ms = 40; // about 3.2 ms usually
    return rules.observe(poll(n++, xs));
  };
  slow(before);
  REQUIRE(ids(slow(before))
          == std::vector<std::string>{"statement_regression:shop:f3 firing"});
  auto since = before.firing().begin()->second.since_ms;
  REQUIRE(before.acknowledge("statement_regression:shop:f3", 5, "dba"));

  alert_rules after{"shop", {}};
  after.restore(kept_over_restart(before), {});
  // Still slow for longer than a baseline takes to make: without the
  // baseline it fired on, the slow polls would have become the usual.
  for (int k = 0; k < 20; ++k)
    REQUIRE(slow(after).empty());
  REQUIRE(after.firing().size() == 1);
  auto& a = after.firing().begin()->second;
  CHECK(a.since_ms == since);
  CHECK(a.acknowledged_by == "dba");
  after.observe(poll(n++, noisy(rng)));
  CHECK(ids(after.observe(poll(n++, noisy(rng))))
        == std::vector<std::string>{"statement_regression:shop:f3 resolved"});
}

TEST_CASE("after a restart a storm and temp spills fire on while they last",
          "[alerts][restore]") {
  alert_rules before{"shop", {}};
  auto at = [](int n, int64_t loop_calls, int64_t temp_bytes) {
    auto x = poll(n, {{"loop", loop_calls, 0.1}, {"busy", 30'000, 0.1}});
    x.db.temp_bytes = temp_bytes;
    return x;
  };
  int n = 0;
  for (; n < 10; ++n)
    before.observe(at(n, 300, 1'000'000 * (1 + n % 3)));
  before.observe(at(n++, 6000, 900'000'000));
  REQUIRE(ids(before.observe(at(n++, 6000, 900'000'000)))
          == std::vector<std::string>{"calls_jump:shop:loop firing",
                                      "temp_spills:shop firing"});

  alert_rules after{"shop", {}};
  after.restore(kept_over_restart(before), {});
  for (int k = 0; k < 12; ++k)
    REQUIRE(after.observe(at(n++, 6000, 900'000'000)).empty());
  CHECK(after.firing().size() == 2);
  after.observe(at(n++, 300, 1'000'000));
  CHECK(ids(after.observe(at(n++, 300, 1'000'000)))
        == std::vector<std::string>{"calls_jump:shop:loop resolved",
                                    "temp_spills:shop resolved"});
}

TEST_CASE("after a restart a plan change holds on the new plan and resolves "
          "when the usual plan is back",
          "[alerts][restore]") {
  alert_rules before{"shop", {}};
  auto snap = poll(0, {{"f1", 100, 1.0}});
  before.observe(snap);
  auto checks = before.plans_to_check(snap);
  REQUIRE(checks.size() == 1);
  auto& f = checks[0];
  const std::string index = "Index Scan using items_k on items\n";
  const std::string seq = "Seq Scan on items  (Filter: (k = $1))\n";
  int64_t ts = 1'000;
  before.planned(ts++, f, "idx", index, 8);
  before.planned(ts++, f, "seq", seq, 900);
  REQUIRE(ids(before.planned(ts++, f, "seq", seq, 900))
          == std::vector<std::string>{"plan_change:shop:f1 firing"});

  alert_rules after{"shop", {}};
  after.restore(kept_over_restart(before), {});
  after.observe(snap);
  // The new plan is not taken for the usual one.
  for (int k = 0; k < 5; ++k)
    REQUIRE(after.planned(ts++, f, "seq", seq, 900).empty());
  CHECK(after.firing().count("plan_change:shop:f1") == 1);
  CHECK(after.planned(ts++, f, "idx", index, 8).empty());
  CHECK(ids(after.planned(ts++, f, "idx", index, 8))
        == std::vector<std::string>{"plan_change:shop:f1 resolved"});
}

TEST_CASE("after a restart the statements of a group stay unannounced",
          "[alerts][restore]") {
  alert_rules before{"shop", {}};
  int n = 0;
  for (; n < 10; ++n)
    before.observe(poll(n, all(1.0)));
  before.observe(poll(n++, all(5.0)));
  REQUIRE(ids(before.observe(poll(n++, all(5.0))))
          == std::vector<std::string>{"statements_regressed:shop firing"});

  std::vector<std::string> grouped;
  auto firing = kept_over_restart(before, &grouped);
  CHECK(grouped.size() == 30);
  alert_rules after{"shop", {}};
  after.restore(firing, grouped);
  CHECK(after.firing().size() == 31);
  CHECK(after.observe(poll(n++, all(5.0))).empty());
  CHECK(after.observe(poll(n++, all(1.0))).empty());
  CHECK(ids(after.observe(poll(n++, all(1.0))))
        == std::vector<std::string>{"statements_regressed:shop resolved"});
  CHECK(after.firing().empty());
}

TEST_CASE("a restore takes only firing alerts of its target under their own "
          "ids",
          "[alerts][restore]") {
  alert_rules rules{"shop", {}};
  auto make = [](std::string id, std::string rule, std::string target,
                 bool firing = true) {
    alert a;
    a.id = std::move(id);
    a.rule = std::move(rule);
    a.target = std::move(target);
    a.firing = firing;
    a.since_ms = 10;
    return a;
  };
  rules.restore({make("target_down:shop", "target_down", "shop"),
                 make("target_down:shopping", "target_down", "shopping"),
                 make("target_down:shopx", "target_down", "shop"),
                 make("stats_reset:shop", "target_down", "shop"),
                 make("apply_failed:shop:r1", "apply_failed", "shop", false),
                 make("apply_failed:shop:r2", "apply_failed", "shop")},
                {"target_down:shop", "statement_regression:shop:zz"});
  std::vector<std::string> got;
  for (auto& [id, a] : rules.firing())
    got.push_back(id);
  CHECK(
    got
    == std::vector<std::string>{"apply_failed:shop:r2", "target_down:shop"});
  // Ids that fire are not taken again, and grouped only names regressions
  // that fire.
  auto again = make("target_down:shop", "target_down", "shop");
  again.since_ms = 99;
  rules.restore({again}, {});
  CHECK(rules.firing().at("target_down:shop").since_ms == 10);
  CHECK(rules.grouped().empty());
  // A raised alert restored resolves when its source says so.
  auto done = make("apply_failed:shop:r2", "apply_failed", "shop", false);
  CHECK(ids(rules.raise(done, 50))
        == std::vector<std::string>{"apply_failed:shop:r2 resolved"});
  // A poll resolves a restored outage.
  CHECK(ids(rules.observe(poll(1, {{"a", 10, 1.0}})))
        == std::vector<std::string>{"target_down:shop resolved"});
}

TEST_CASE("stored alerts read back only when they are what the engine wrote",
          "[alerts][restore]") {
  CHECK_FALSE(read_stored_alerts(""));
  CHECK_FALSE(read_stored_alerts("{\"target\":"));
  CHECK_FALSE(read_stored_alerts(R"({"firing":[]})"));
  CHECK_FALSE(read_stored_alerts(R"({"target":"shop","firing":{}})"));
  CHECK_FALSE(read_stored_alerts(R"({"target":"shop","firing":[],)"
                                 R"("grouped":[3]})"));
  // An alert of another target inside.
  auto other = R"({"target":"shop","firing":[{"id":"target_down:x",)"
               R"("rule":"target_down","target":"x","severity":"critical",)"
               R"("state":"firing","since":1,"summary":"","action":""}]})";
  auto got = read_stored_alerts(other);
  REQUIRE_FALSE(got);
  CHECK_THAT(got.error().message, Catch::Contains("another target"));
  CHECK(read_stored_alerts(R"({"target":"shop","firing":[]})")->firing.empty());
}
