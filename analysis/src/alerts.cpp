#include "optischema/analysis/alerts.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/util/json_parse.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <tuple>

namespace optischema {

namespace {

double median(std::vector<double> xs) {
  if (xs.empty())
    return 0;
  auto mid = xs.begin() + static_cast<std::ptrdiff_t>(xs.size() / 2);
  std::nth_element(xs.begin(), mid, xs.end());
  auto m = *mid;
  if (xs.size() % 2 == 0)
    m = (m + *std::max_element(xs.begin(), mid)) / 2;
  return m;
}

/// Median and spread (1.4826 × the median absolute deviation: a standard
/// deviation for normal data, unmoved by a few outliers).
template <class T>
std::pair<double, double> robust(const std::vector<T>& window) {
  std::vector<double> xs{window.begin(), window.end()};
  auto m = median(xs);
  for (auto& x : xs)
    x = std::abs(x - m);
  return {m, 1.4826 * median(std::move(xs))};
}

/// plan_watch::usual of a restored plan change: even, so no shape's hash
/// (odd) is ever taken for it.
constexpr uint64_t restored_plan = 2;

/// The figure `name` of `a`'s evidence, if it has one (finite).
std::optional<double> figure(const alert& a, std::string_view name) {
  for (auto& [k, v] : a.evidence)
    if (k == name && std::isfinite(v))
      return v;
  return std::nullopt;
}

std::string id_of(const char* rule, const std::string& target,
                  const std::string& fingerprint = {}) {
  return fingerprint.empty()
    ? fmt::format("{}:{}", rule, target)
    : fmt::format("{}:{}:{}", rule, target, fingerprint);
}

/// A statement EXPLAIN plans (not BEGIN, COMMIT, SET, DDL…): by its first
/// keyword, past whitespace and comments.
bool plannable(std::string_view q) {
  for (;;) {
    while (!q.empty() && std::isspace(static_cast<unsigned char>(q.front())))
      q.remove_prefix(1);
    if (q.starts_with("--")) {
      auto nl = q.find('\n');
      q.remove_prefix(nl == q.npos ? q.size() : nl + 1);
    } else if (q.starts_with("/*")) {
      auto end = q.find("*/");
      if (end == q.npos)
        return false;
      q.remove_prefix(end + 2);
    } else {
      break;
    }
  }
  std::string word;
  for (auto c : q) {
    if (!std::isalpha(static_cast<unsigned char>(c)))
      break;
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  for (auto* k : {"SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "MERGE",
                  "VALUES", "TABLE"})
    if (word == k)
      return true;
  return false;
}

} // namespace

const char* to_string(alert_severity x) {
  switch (x) {
    case alert_severity::info: return "info";
    case alert_severity::warning: return "warning";
    case alert_severity::critical: return "critical";
  }
  return "warning";
}

std::optional<alert_severity> parse_alert_severity(std::string_view x) {
  for (auto s : {alert_severity::info, alert_severity::warning,
                 alert_severity::critical})
    if (x == to_string(s))
      return s;
  return std::nullopt;
}

void alert_rules::ring::add(double x, size_t capacity) {
  if (xs.size() < capacity) {
    xs.push_back(static_cast<float>(x));
    return;
  }
  if (xs.empty())
    return;
  xs[next % xs.size()] = static_cast<float>(x);
  next = (next + 1) % xs.size();
}

uint64_t alert_rules::key_of(const std::string& fingerprint) {
  uint64_t v = 0;
  auto [end, err] = std::from_chars(
    fingerprint.data(), fingerprint.data() + fingerprint.size(), v, 16);
  if (err == std::errc{} && end == fingerprint.data() + fingerprint.size()
      && fingerprint.size() == 16)
    return v;
  return std::hash<std::string>{}(fingerprint);
}

statement_past past_of(const std::vector<history_point>& hourly, int64_t now_ms,
                       int64_t min_calls) {
  constexpr int64_t hour = 3'600'000, day = 24 * hour, week = 7 * day;
  statement_past out;
  auto then = now_ms - week;
  // An hour counts in a window it overlaps; the one under way in none.
  for (auto& p : hourly) {
    auto span = std::max(p.interval_ms, hour);
    if (p.delta.calls < std::max<int64_t>(min_calls, 1)
        || p.ts_ms + span > now_ms)
      continue;
    auto mean = p.delta.mean_time_ms();
    if (p.ts_ms + span > now_ms - day)
      out.day_means.push_back(mean);
    else if (p.ts_ms <= then && then < p.ts_ms + span)
      out.last_week = mean;
    else if (p.ts_ms < then && p.ts_ms + span > then - day)
      out.week_day_means.push_back(mean);
  }
  return out;
}

alert_rules::alert_rules(std::string target, alert_thresholds t)
  : target_{std::move(target)}, t_{t} {}

void alert_rules::clear() {
  *this = alert_rules{std::move(target_), t_};
}

void alert_rules::restore(std::vector<alert> firing,
                          const std::vector<std::string>& grouped) {
  // The series' rings as they were: baseline_points copies of the median
  // the alert was judged against (the spread of those rules is unused).
  auto seed = [&](ring& r, std::optional<double> med) {
    if (med && r.xs.empty())
      for (int i = 0; i < t_.baseline_points; ++i)
        r.add(*med, t_.baseline_window);
  };
  for (auto& a : firing) {
    // rule:target, or rule:target:something (a fingerprint, a change).
    auto prefix = a.rule + ":" + target_;
    auto ours = a.id.starts_with(prefix)
      && (a.id.size() == prefix.size() || a.id[prefix.size()] == ':');
    if (!a.firing || a.target != target_ || !ours || firing_.count(a.id))
      continue;
    auto key = key_of(a.fingerprint);
    if (a.rule == "statement_regression" && !a.fingerprint.empty()) {
      auto med = figure(a, "mean_ms_baseline");
      auto spread = figure(a, "spread_ms");
      if (med && spread && *med >= 0 && *spread >= 0)
        statements_[key].kept = {*med, *spread};
      seen_.insert(key);
    } else if (a.rule == "calls_jump" && !a.fingerprint.empty()) {
      seed(statements_[key].calls_per_s, figure(a, "calls_per_s_baseline"));
      seen_.insert(key);
    } else if (a.rule == "new_heavy_statement") {
      seen_.insert(key); // judged while it fires, never new again
    } else if (a.rule == "plan_change" && !a.fingerprint.empty()
               && !a.plan_before.empty()) {
      auto& p = plans_[key];
      p.usual = restored_plan;
      p.usual_outline = a.plan_before;
      p.usual_cost = figure(a, "cost_before").value_or(0);
    } else if (a.rule == "cache_hit_drop") {
      seed(hit_ratio_, figure(a, "cache_hit_ratio_baseline"));
    } else if (a.rule == "temp_spills") {
      seed(temp_per_s_, figure(a, "temp_bytes_per_s_baseline"));
    }
    auto id = a.id;
    firing_.emplace(std::move(id), std::move(a));
  }
  for (auto& id : grouped)
    if (auto f = firing_.find(id);
        f != firing_.end() && f->second.rule == "statement_regression")
      grouped_.insert(id);
}

template <class Make>
void alert_rules::step(const std::string& id, bool holds, int needed,
                       int64_t ts, Make make, std::vector<alert>& out) {
  auto& w = watches_[id];
  w.quiet = 0;
  auto f = firing_.find(id);
  if (holds) {
    ++w.held;
    w.gone = 0;
    if (f == firing_.end() && w.held >= needed) {
      alert a = make();
      a.id = id;
      a.target = target_;
      a.firing = true;
      a.since_ms = ts;
      firing_.emplace(id, a);
      out.push_back(std::move(a));
    }
    return;
  }
  w.held = 0;
  ++w.gone;
  if (f == firing_.end()) {
    watches_.erase(id);
    return;
  }
  if (w.gone >= needed) {
    alert a = std::move(f->second);
    a.firing = false;
    a.resolved_ms = ts;
    firing_.erase(f);
    watches_.erase(id);
    out.push_back(std::move(a));
  }
}

template <class Worse, class Make>
void alert_rules::judge_series(ring& r, const char* rule, double now,
                               int64_t ts, Worse worse, Make make,
                               std::vector<alert>& out) {
  auto bad = false;
  if (r.xs.size() >= static_cast<size_t>(t_.baseline_points)) {
    auto med = robust(r.xs).first;
    bad = worse(med);
    step(
      id_of(rule, target_), bad, t_.sustain_polls, ts,
      [&] {
        alert a = make(med);
        a.rule = rule;
        a.severity = alert_severity::warning;
        return a;
      },
      out);
  }
  if (!bad)
    r.add(now, t_.baseline_window);
}

std::vector<const statement_metrics*>
alert_rules::followed(const metrics_snapshot& snap) const {
  std::vector<const statement_metrics*> ranked;
  for (auto& s : snap.statements)
    if (s.interval.calls > 0)
      ranked.push_back(&s);
  std::sort(ranked.begin(), ranked.end(), [](auto* a, auto* b) {
    return a->interval.exec_time_ms > b->interval.exec_time_ms;
  });
  if (ranked.size() > t_.tracked_statements)
    ranked.resize(t_.tracked_statements);
  return ranked;
}

alert_rules::regression_bar alert_rules::bar_of(const history& h) const {
  regression_bar out;
  if (h.mean_ms.xs.size() >= static_cast<size_t>(t_.baseline_points)) {
    std::tie(out.median, out.spread) = robust(h.mean_ms.xs);
  } else if (h.past
             && h.past->day_means.size()
               >= static_cast<size_t>(std::max(t_.past_hours, 1))) {
    // Hourly means are steadier than a poll's: their spread is smaller, so
    // the ratio and the minimum decide more often.
    std::tie(out.median, out.spread) = robust(h.past->day_means);
    out.from_past = true;
  } else if (h.kept) {
    std::tie(out.median, out.spread) = *h.kept;
    out.kept = true;
  } else {
    return out;
  }
  out.bar = std::max({out.median * t_.regression_ratio,
                      out.median + t_.regression_spreads * out.spread,
                      out.median + t_.regression_min_ms});
  return out;
}

bool alert_rules::weekly_peak(const history& h, double mean_ms) const {
  if (!h.past || !h.past->last_week
      || h.past->week_day_means.size()
        < static_cast<size_t>(std::max(t_.past_hours, 1)))
    return false;
  // A peak of its day a week ago (not a week when everything was slower:
  // an index added since should still be missed when it goes)...
  auto then = *h.past->last_week;
  auto usual_then = robust(h.past->week_day_means).first;
  // ...that this poll stays within.
  return then > t_.regression_ratio * usual_then
    && mean_ms <= t_.regression_ratio * then;
}

std::vector<std::string>
alert_rules::pasts_wanted(const metrics_snapshot& snap) {
  std::vector<std::string> out;
  if (snap.baseline || snap.interval_ms <= 0)
    return out;
  // Reads of the STORE a poll may cost (the costliest statements first).
  constexpr size_t most = 20;
  constexpr int64_t fresh_ms = 3'600'000;
  for (auto* s : followed(snap)) {
    if (out.size() >= most)
      break;
    if (s->interval.calls < t_.regression_min_calls
        || firing_.count(
          id_of("statement_regression", target_, s->fingerprint)))
      continue;
    auto& h = statements_[key_of(s->fingerprint)];
    if (h.past_ms > 0 && snap.ts_ms - h.past_ms < fresh_ms)
      continue;
    auto b = bar_of(h);
    if (b.bar == 0 || b.from_past || b.kept
        || s->interval.mean_time_ms() > b.bar)
      out.push_back(s->fingerprint);
  }
  return out;
}

void alert_rules::remember_past(const std::string& fingerprint,
                                statement_past p, int64_t ts_ms) {
  auto& h = statements_[key_of(fingerprint)];
  h.past = std::move(p);
  h.past_ms = ts_ms;
}

void alert_rules::learn(history& h, double mean_ms, double calls_per_s,
                        bool counts, bool regressed, bool stormy) const {
  // A regressed point stays out of the baseline: it would move the baseline
  // towards the regression and resolve the alert without a fix.
  if (counts && !regressed)
    h.mean_ms.add(mean_ms, t_.baseline_window);
  // Nor the calls of a slow point: clients waiting on a slow statement call
  // it less often, and its recovery would look like a storm.
  if (!stormy && !regressed)
    h.calls_per_s.add(calls_per_s, t_.baseline_window);
}

std::vector<alert> alert_rules::failed(int64_t ts_ms, const std::string& why) {
  std::vector<alert> out;
  ++failures_;
  step(
    id_of("target_down", target_), true, t_.down_polls, ts_ms,
    [&] {
      alert a;
      a.rule = "target_down";
      a.severity = alert_severity::critical;
      a.summary = fmt::format("{} cannot be polled: {}", target_, why);
      a.action = "check that the server is up and reachable from the engine, "
                 "and the engine's role and password";
      a.evidence = {{"failed_polls", static_cast<double>(failures_)}};
      return a;
    },
    out);
  return out;
}

std::vector<alert> alert_rules::raise(alert a, int64_t ts_ms) {
  std::vector<alert> out;
  a.target = target_;
  step(
    a.id, a.firing, 1, ts_ms, [&] { return a; }, out);
  return out;
}

std::vector<alert> alert_rules::observe(const metrics_snapshot& snap) {
  std::vector<alert> out;
  auto ts = snap.ts_ms;
  failures_ = 0;
  step(
    id_of("target_down", target_), false, 1, ts, [] { return alert{}; }, out);
  if (snap.baseline || snap.interval_ms <= 0) {
    for (auto& s : snap.statements)
      seen_.insert(key_of(s.fingerprint));
    return out;
  }
  ++polls_;
  auto seconds = static_cast<double>(snap.interval_ms) / 1000;

  // -- pg_stat_statements itself
  step(
    id_of("stats_reset", target_), snap.reset_detected, 1, ts,
    [&] {
      alert a;
      a.rule = "stats_reset";
      a.severity = alert_severity::info;
      a.summary = fmt::format("pg_stat_statements of {} was reset: the "
                              "counters start again from zero",
                              target_);
      a.action = "nothing, if someone meant to; deltas restart from the new "
                 "counters";
      return a;
    },
    out);
  step(
    id_of("statements_evicted", target_), snap.evicted > 0, 1, ts,
    [&] {
      alert a;
      a.rule = "statements_evicted";
      a.severity = alert_severity::warning;
      a.summary = fmt::format("{} pg_stat_statements entries of {} were "
                              "evicted in {:.0f} s: their last calls went "
                              "uncounted",
                              snap.evicted, target_, seconds);
      a.action = "raise pg_stat_statements.max (a restart) or find the "
                 "statements that vary only by their text";
      a.evidence = {{"evicted", static_cast<double>(snap.evicted)}};
      return a;
    },
    out);

  // -- statements: the costliest of this poll are followed
  auto ranked = followed(snap);
  double total_ms = 0;
  for (auto& s : snap.statements)
    total_ms += s.interval.exec_time_ms;
  for (size_t rank = 0; rank < ranked.size(); ++rank) {
    auto& s = *ranked[rank];
    auto key = key_of(s.fingerprint);
    auto& h = statements_[key];
    auto calls = s.interval.calls;
    auto mean = s.interval.mean_time_ms();
    auto per_s = static_cast<double>(calls) / seconds;
    auto counts = calls >= t_.regression_min_calls;

    // A statement's mean time, against its own median and spread (of the
    // polls since the start, else of the stored last day), unless it is
    // as slow as in the same hour a week ago, when that hour was a peak.
    bool regressed = false;
    if (auto b = bar_of(h); counts && b.bar > 0) {
      regressed = mean > b.bar && !weekly_peak(h, mean);
      auto med = b.median, spread = b.spread;
      step(
        id_of("statement_regression", target_, s.fingerprint), regressed,
        t_.sustain_polls, ts,
        [&] {
          alert a;
          a.rule = "statement_regression";
          a.fingerprint = s.fingerprint;
          a.query = s.query;
          a.severity = mean > 10 * med ? alert_severity::critical
                                       : alert_severity::warning;
          a.summary = fmt::format(
            "a statement of {} takes {:.2f} ms a call instead of {:.2f} ms "
            "({:.1f}×, {} calls in {:.0f} s)",
            target_, mean, med, med > 0 ? mean / med : 0.0, calls, seconds);
          a.action = "compare its plan with the one before (an index dropped, "
                     "statistics gone stale, a parameter that flipped the "
                     "plan); EXPLAIN it from the dashboard";
          a.evidence
            = {{"mean_ms_now", mean},
               {"mean_ms_baseline", med},
               {"spread_ms", spread},
               {"calls_now", static_cast<double>(calls)},
               {"baseline_points", static_cast<double>(h.mean_ms.xs.size())}};
          if (b.from_past)
            a.evidence.emplace_back(
              "baseline_hours", static_cast<double>(h.past->day_means.size()));
          if (h.past && h.past->last_week)
            a.evidence.emplace_back("mean_ms_same_hour_last_week",
                                    *h.past->last_week);
          return a;
        },
        out);
    }

    // A storm of calls (an N+1 loop, a retry storm).
    bool stormy = false;
    if (h.calls_per_s.xs.size() >= static_cast<size_t>(t_.baseline_points)) {
      auto [med, spread] = robust(h.calls_per_s.xs);
      stormy = per_s >= t_.calls_min_per_s
        && per_s >= t_.calls_jump_ratio * std::max(med, 0.1);
      step(
        id_of("calls_jump", target_, s.fingerprint), stormy, t_.sustain_polls,
        ts,
        [&, med = med] {
          alert a;
          a.rule = "calls_jump";
          a.fingerprint = s.fingerprint;
          a.query = s.query;
          a.severity = alert_severity::warning;
          a.summary = fmt::format("a statement of {} runs {:.1f} times a "
                                  "second instead of {:.1f}",
                                  target_, per_s, med);
          a.action = "look for a loop that runs it once per row (N+1), a "
                     "retry storm or a cache that stopped working";
          a.evidence = {{"calls_per_s_now", per_s},
                        {"calls_per_s_baseline", med}};
          return a;
        },
        out);
    }

    // A statement never seen here, among the costliest at once: with calls
    // enough in one poll, or a few in each of sustain_polls.
    if (seen_.insert(key).second && polls_ > t_.new_warmup_polls)
      newcomers_.emplace(s.fingerprint, polls_);
    auto new_id = id_of("new_heavy_statement", target_, s.fingerprint);
    auto share = total_ms > 0 ? s.interval.exec_time_ms / total_ms : 0.0;
    auto heavy = rank < t_.new_top_n && share >= t_.new_min_share;
    if (newcomers_.count(s.fingerprint) || firing_.count(new_id))
      step(
        new_id, heavy, calls >= t_.new_min_calls ? 1 : t_.sustain_polls, ts,
        [&] {
          alert a;
          a.rule = "new_heavy_statement";
          a.fingerprint = s.fingerprint;
          a.query = s.query;
          a.severity = alert_severity::warning;
          a.summary = fmt::format("a new statement takes {:.0f} % of {}'s "
                                  "time ({} calls, {:.2f} ms a call)",
                                  100 * share, target_, calls, mean);
          a.action = "check the release that brought it; the dashboard "
                     "shows its plan and what the advisor suggests";
          a.evidence = {{"share_of_time", share},
                        {"calls_now", static_cast<double>(calls)},
                        {"mean_ms_now", mean}};
          return a;
        },
        out);
    learn(h, mean, per_s, counts, regressed, stormy);
  }
  for (auto& s : snap.statements)
    seen_.insert(key_of(s.fingerprint));
  // New for sustain_polls polls: long enough to have held in all of them.
  // What did not fire by then (a one-off) leaves no watch behind.
  std::erase_if(newcomers_, [&](auto& x) {
    if (polls_ - x.second < std::max(t_.sustain_polls, 1))
      return false;
    auto id = id_of("new_heavy_statement", target_, x.first);
    if (!firing_.count(id))
      watches_.erase(id);
    return true;
  });
  // A statement alert whose statement did not run (or fell out of the
  // followed): a storm or a new heavy statement is over; a slow statement
  // may still be slow, but after a baseline window without a call there is
  // nothing left to watch.
  {
    std::unordered_set<std::string> judged;
    for (auto* s : ranked)
      judged.insert(s->fingerprint);
    std::vector<std::pair<std::string, std::string>> quiet; // id, rule
    for (auto& [id, a] : firing_)
      if (!a.fingerprint.empty() && a.rule != "plan_change"
          && !judged.count(a.fingerprint))
        quiet.emplace_back(id, a.rule);
    for (auto& [id, rule] : quiet) {
      auto needed = rule == "statement_regression"
        ? static_cast<int>(t_.baseline_window)
        : t_.sustain_polls;
      if (++watches_[id].quiet >= needed)
        step(
          id, false, 1, ts, [] { return alert{}; }, out);
    }
  }
  // Statements no longer among the followed are forgotten, in batches.
  if (statements_.size() > t_.tracked_statements + t_.tracked_statements / 2) {
    // Those followed now, and those with an alert firing (to resolve it).
    std::unordered_set<uint64_t> now;
    for (auto* s : ranked)
      now.insert(key_of(s->fingerprint));
    for (auto& [id, a] : firing_)
      if (!a.fingerprint.empty())
        now.insert(key_of(a.fingerprint));
    for (auto i = statements_.begin(); i != statements_.end();)
      if (!now.count(i->first))
        i = statements_.erase(i);
      else
        ++i;
  }

  group_regressions(ts, out);

  // -- the database
  auto& db = snap.db;
  auto blocks = db.blks_hit + db.blks_read;
  if (blocks >= t_.cache_min_blocks)
    judge_series(
      hit_ratio_, "cache_hit_drop", db.cache_hit_ratio, ts,
      [&](double med) {
        return db.cache_hit_ratio < t_.cache_hit_min
          && db.cache_hit_ratio < med - t_.cache_hit_drop;
      },
      [&](double med) {
        alert a;
        a.summary = fmt::format("{} finds {:.1f} % of its blocks in the "
                                "buffer cache instead of {:.1f} %",
                                target_, 100 * db.cache_hit_ratio, 100 * med);
        a.action = "look for a statement that reads much more than before "
                   "(the hot list by blocks read), or a working set that "
                   "outgrew shared_buffers";
        a.evidence = {{"cache_hit_ratio_now", db.cache_hit_ratio},
                      {"cache_hit_ratio_baseline", med}};
        return a;
      },
      out);
  auto temp_per_s = static_cast<double>(db.temp_bytes) / seconds;
  judge_series(
    temp_per_s_, "temp_spills", temp_per_s, ts,
    [&](double med) {
      return temp_per_s >= t_.temp_min_bytes_per_s
        && temp_per_s >= t_.temp_jump_ratio * med;
    },
    [&](double med) {
      alert a;
      a.summary = fmt::format("{} writes {:.1f} MB/s of temporary files "
                              "(usually {:.1f} MB/s)",
                              target_, temp_per_s / 1048576, med / 1048576);
      a.action = "find the sorts and hashes that spill (statements with "
                 "temp blocks in the hot list); raise work_mem for them "
                 "or add the index that avoids the sort";
      a.evidence = {{"temp_bytes_per_s_now", temp_per_s},
                    {"temp_bytes_per_s_baseline", med}};
      return a;
    },
    out);
  if (db.max_connections > 0) {
    auto share = static_cast<double>(db.numbackends)
      / static_cast<double>(db.max_connections);
    step(
      id_of("connections_near_max", target_), share >= t_.connections_ratio,
      t_.sustain_polls, ts,
      [&] {
        alert a;
        a.rule = "connections_near_max";
        a.severity = alert_severity::critical;
        a.summary = fmt::format("{} has {} of {} connections in use", target_,
                                db.numbackends, db.max_connections);
        a.action = "put a connection pooler in front, or find the clients "
                   "that hold idle connections";
        a.evidence
          = {{"connections", static_cast<double>(db.numbackends)},
             {"max_connections", static_cast<double>(db.max_connections)}};
        return a;
      },
      out);
  }
  return out;
}

void alert_rules::group_regressions(int64_t ts, std::vector<alert>& out) {
  if (t_.group_statements == 0)
    return;
  std::vector<const alert*> regressed;
  for (auto& [id, a] : firing_)
    if (a.rule == "statement_regression")
      regressed.push_back(&a);
  auto gid = id_of("statements_regressed", target_);
  auto was = firing_.count(gid) > 0;
  // Once it fires, it holds until half of them are back to normal.
  auto holds = regressed.size() * (was ? 2 : 1) >= t_.group_statements;
  auto ratio = [](const alert& a) {
    double now = 0, base = 0;
    for (auto& [k, v] : a.evidence) {
      if (k == "mean_ms_now")
        now = v;
      else if (k == "mean_ms_baseline")
        base = v;
    }
    return base > 0 ? now / base : 0.0;
  };
  step(
    gid, holds, 1, ts,
    [&] {
      std::sort(regressed.begin(), regressed.end(),
                [&](auto* x, auto* y) { return ratio(*x) > ratio(*y); });
      alert a;
      a.rule = "statements_regressed";
      a.severity = alert_severity::critical;
      a.summary = fmt::format("{} statements of {} got slower at once; the "
                              "worst {:.1f}× its usual time: {}",
                              regressed.size(), target_, ratio(*regressed[0]),
                              regressed[0]->query.substr(0, 200));
      a.action = "look at what they share: the server (CPU, I/O, locks, a "
                 "checkpoint or vacuum), a setting, statistics; GET "
                 "/api/alerts?target= lists each of them";
      a.evidence = {{"statements", static_cast<double>(regressed.size())},
                    {"worst_ratio", ratio(*regressed[0])}};
      return a;
    },
    out);
  auto is = firing_.count(gid) > 0;
  if (is) {
    // Its members are listed, not announced, and neither is their end.
    std::erase_if(out, [&](const alert& a) {
      if (a.rule != "statement_regression")
        return false;
      if (a.firing)
        return grouped_.insert(a.id), true;
      return grouped_.erase(a.id) > 0;
    });
  } else if (was) {
    // It resolved: members still firing are announced on their own now.
    std::erase_if(out, [&](const alert& a) {
      return a.rule == "statement_regression" && !a.firing
        && grouped_.erase(a.id) > 0;
    });
    for (auto& id : grouped_)
      if (auto f = firing_.find(id); f != firing_.end())
        out.push_back(f->second);
    grouped_.clear();
  }
}

std::vector<alert_rules::plan_check>
alert_rules::plans_to_check(const metrics_snapshot& snap) {
  std::vector<plan_check> out;
  if (snap.baseline || t_.plan_watch_n == 0)
    return out;
  std::vector<const statement_metrics*> hot;
  for (auto& s : snap.statements)
    if (s.interval.calls >= t_.regression_min_calls && !s.parse_error
        && plannable(s.query))
      hot.push_back(&s);
  auto n = std::min(hot.size(), t_.plan_watch_n);
  std::partial_sort(hot.begin(), hot.begin() + static_cast<ptrdiff_t>(n),
                    hot.end(), [](auto* a, auto* b) {
                      return a->interval.exec_time_ms
                        > b->interval.exec_time_ms;
                    });
  for (size_t i = 0; i < n; ++i) {
    auto i_plan = plans_.find(key_of(hot[i]->fingerprint));
    if (i_plan != plans_.end() && i_plan->second.skip_until > polls_)
      continue;
    out.push_back({hot[i]->fingerprint, hot[i]->query});
  }
  // Statements no longer checked are forgotten, unless a change of theirs
  // fires (it resolves when they are checked again).
  if (plans_.size() > 4 * t_.plan_watch_n + 16)
    for (auto i = plans_.begin(); i != plans_.end();) {
      auto stale = polls_ - i->second.checked_at
        > static_cast<int>(t_.baseline_window);
      auto fires = i->second.on_latest >= t_.sustain_polls;
      if (stale && !fires && i->second.skip_until <= polls_)
        i = plans_.erase(i);
      else
        ++i;
    }
  return out;
}

std::vector<alert> alert_rules::planned(int64_t ts_ms, const plan_check& c,
                                        const std::string& shape,
                                        const std::string& outline,
                                        double cost) {
  std::vector<alert> out;
  auto& fingerprint = c.fingerprint;
  auto& p = plans_[key_of(fingerprint)];
  p.checked_at = polls_;
  auto h = std::hash<std::string>{}(shape) | 1; // never 0 or restored_plan
  // A restored plan change knows the usual plan by its outline: seen
  // again, it is the usual one, and the alert resolves.
  if (p.usual == restored_plan && outline == p.usual_outline)
    p.usual = h;
  auto usual = [&] {
    p.usual = h;
    p.usual_outline = outline;
    p.usual_cost = cost;
    p.on_latest = 0;
  };
  if (p.usual == 0) {
    usual();
    return out;
  }
  auto differs = h != p.usual;
  p.on_latest = differs ? (h == p.latest ? p.on_latest : 0) + 1 : 0;
  p.latest = h;
  auto id = id_of("plan_change", target_, fingerprint);
  auto fires = firing_.count(id) > 0;
  auto costlier = cost > t_.plan_cost_ratio * p.usual_cost;
  if (differs && !costlier && !fires) {
    // Not dearer: held for sustain_polls checks, it is the usual plan.
    if (p.on_latest >= t_.sustain_polls)
      usual();
    return out;
  }
  step(
    id, differs, t_.sustain_polls, ts_ms,
    [&] {
      alert a;
      a.rule = "plan_change";
      a.fingerprint = fingerprint;
      a.query = c.query;
      // A plan that costs much more is what slows a statement down; one
      // that costs less is worth knowing, seldom worth waking anyone.
      a.severity = cost > 2 * p.usual_cost ? alert_severity::warning
                                           : alert_severity::info;
      a.summary = fmt::format(
        "the planner changed its plan for a hot statement of {}: estimated "
        "cost {:.0f} instead of {:.0f}",
        target_, cost, p.usual_cost);
      a.action = "compare the plans: an index dropped or no longer chosen, "
                 "statistics that moved (ANALYZE), a setting changed";
      a.evidence = {{"cost_before", p.usual_cost}, {"cost_now", cost}};
      a.plan_before = p.usual_outline;
      a.plan_after = outline;
      return a;
    },
    out);
  if (differs && p.on_latest >= t_.plan_settle_checks) {
    // Long enough on the new plan: it is the usual one now.
    usual();
    step(
      id, false, 1, ts_ms, [] { return alert{}; }, out);
  } else if (!differs) {
    p.usual_cost = cost; // the usual plan's cost drifts with the data
  }
  return out;
}

void alert_rules::unplannable(const std::string& fingerprint) {
  auto& p = plans_[key_of(fingerprint)];
  p.checked_at = polls_;
  p.skip_until = polls_ + static_cast<int>(t_.baseline_window);
}

std::optional<alert> alert_rules::acknowledge(const std::string& id,
                                              int64_t ts_ms,
                                              const std::string& by) {
  auto i = firing_.find(id);
  if (i == firing_.end())
    return std::nullopt;
  i->second.acknowledged_ms = ts_ms;
  i->second.acknowledged_by = by;
  return i->second;
}

bool alert_silence::matches(const alert& a) const {
  auto any = !rule.empty() || !target.empty() || !fingerprint.empty();
  return any && (rule.empty() || rule == a.rule)
    && (target.empty() || target == a.target)
    && (fingerprint.empty() || fingerprint == a.fingerprint);
}

std::string to_json(const alert_silence& x) {
  return json::object([&](json::writer& w) {
    json::field(w, "id", x.id);
    if (!x.rule.empty())
      json::field(w, "rule", x.rule);
    if (!x.target.empty())
      json::field(w, "target", x.target);
    if (!x.fingerprint.empty())
      json::field(w, "fingerprint", x.fingerprint);
    json::field(w, "until", x.until_ms);
    json::field(w, "created", x.created_ms);
    json::field(w, "comment", x.comment);
    json::field(w, "by", x.by);
  });
}

std::string silences_json(const std::vector<alert_silence>& xs) {
  rapidjson::StringBuffer buf;
  json::writer w{buf};
  w.StartArray();
  for (auto& s : xs) {
    auto j = to_json(s);
    w.RawValue(j.data(), j.size(), rapidjson::kObjectType);
  }
  w.EndArray();
  return json::text(buf);
}

std::vector<alert_silence> parse_silences(std::string_view text) {
  std::vector<alert_silence> out;
  rapidjson::Document d;
  if (text.empty() || !json::parse(d, text, "the stored silences")
      || !d.IsArray())
    return out;
  auto str = [](const rapidjson::Value& v, const char* k) {
    auto i = v.FindMember(k);
    return i != v.MemberEnd() && i->value.IsString()
      ? std::string{i->value.GetString(), i->value.GetStringLength()}
      : std::string{};
  };
  auto num = [](const rapidjson::Value& v, const char* k) {
    auto i = v.FindMember(k);
    return i != v.MemberEnd() && i->value.IsInt64() ? i->value.GetInt64()
                                                    : int64_t{0};
  };
  for (auto& v : d.GetArray()) {
    if (!v.IsObject())
      continue;
    alert_silence s;
    s.id = str(v, "id");
    s.rule = str(v, "rule");
    s.target = str(v, "target");
    s.fingerprint = str(v, "fingerprint");
    s.until_ms = num(v, "until");
    s.created_ms = num(v, "created");
    s.comment = str(v, "comment");
    s.by = str(v, "by");
    // One that matches nothing in particular would silence everything.
    if (s.id.empty() || s.until_ms <= 0
        || (s.rule.empty() && s.target.empty() && s.fingerprint.empty()))
      continue;
    out.push_back(std::move(s));
  }
  return out;
}

std::string to_json(const alert& x) {
  return json::object([&](json::writer& w) {
    json::field(w, "id", x.id);
    json::field(w, "rule", x.rule);
    json::field(w, "target", x.target);
    if (!x.fingerprint.empty())
      json::field(w, "fingerprint", x.fingerprint);
    if (!x.fingerprint.empty() || !x.query.empty())
      json::field(w, "query", x.query);
    json::field(w, "severity", to_string(x.severity));
    json::field(w, "state", x.firing ? "firing" : "resolved");
    json::field(w, "since", x.since_ms);
    if (!x.firing)
      json::field(w, "resolved", x.resolved_ms);
    json::field(w, "summary", x.summary);
    json::field(w, "action", x.action);
    json::key(w, "evidence");
    w.StartObject();
    for (auto& [k, v] : x.evidence)
      json::field(w, k.c_str(), v);
    w.EndObject();
    if (!x.plan_before.empty() || !x.plan_after.empty()) {
      json::field(w, "plan_before", x.plan_before);
      json::field(w, "plan_after", x.plan_after);
    }
    if (x.acknowledged_ms > 0) {
      json::field(w, "acknowledged", x.acknowledged_ms);
      json::field(w, "acknowledged_by", x.acknowledged_by);
    }
    if (!x.silenced_by.empty())
      json::field(w, "silenced_by", x.silenced_by);
  });
}

} // namespace optischema
