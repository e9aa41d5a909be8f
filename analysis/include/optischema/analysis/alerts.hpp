#pragma once

// Alert rules: what a DBA wants to hear about a target before its users
// notice, decided from the target's polls alone (pure: no actors, no I/O).
// The ALERTER feeds each target's polls and failures to its `alert_rules`
// and publishes what changed.

#include "optischema/analysis/metrics.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace optischema {

enum class alert_severity { info, warning, critical };

/// The target of alerts about the engine itself, not one of its targets
/// (the LLM's budget): a name no target may take.
inline constexpr const char* engine_alerts = "_engine";

const char* to_string(alert_severity x);
std::optional<alert_severity> parse_alert_severity(std::string_view x);

/// The rules' thresholds (the `[alerts]` configuration). The defaults favour
/// silence: a rule fires on a change far outside a statement's own spread,
/// sustained over polls, with enough calls for a mean to mean something.
struct alert_thresholds {
  /// Polls a condition must hold before it fires, and be gone before it
  /// resolves: 2 finds a regression within two polls.
  int sustain_polls = 2;
  /// Points a statement needs before its baseline counts.
  int baseline_points = 6;
  /// Points kept per statement: an hour of 30 s polls.
  size_t baseline_window = 120;
  /// Statements followed per target: the costliest this many of each poll
  /// (a statement that regresses climbs among them). Bounds the memory of
  /// a target with thousands of statements (about 1 KB each).
  size_t tracked_statements = 100;

  // -- a statement's mean time regressed
  /// Calls in an interval for its mean to count, there and in the baseline.
  int64_t regression_min_calls = 5;
  /// The mean must be this many times the baseline median...
  double regression_ratio = 2.0;
  /// ...and this many spreads (1.4826 × MAD) above it...
  double regression_spreads = 6.0;
  /// ...and slower by at least this much.
  double regression_min_ms = 0.5;
  /// Hours of the stored last day (with regression_min_calls) that make a
  /// baseline while the polls since a start have not made one yet.
  int past_hours = 3;

  // -- a new statement among the costliest
  /// A statement never seen before in the top this many by time...
  size_t new_top_n = 5;
  /// ...taking at least this share of the interval's time...
  double new_min_share = 0.2;
  /// ...in this many calls at least (a one-off DDL or report is no
  /// workload), or in sustain_polls polls in a row (a slow one that keeps
  /// running, a few calls each poll).
  int64_t new_min_calls = 5;
  /// Polls of a target before anything counts as new.
  int new_warmup_polls = 5;

  // -- a statement's calls jumped (N+1 storms)
  double calls_jump_ratio = 10.0;
  double calls_min_per_s = 20.0;

  // -- the database
  /// Consecutive failed polls before "down".
  int down_polls = 2;
  /// Cache hit ratio below this, and this far below its own median.
  double cache_hit_min = 0.90;
  double cache_hit_drop = 0.05;
  /// Blocks an interval needs before its hit ratio counts.
  int64_t cache_min_blocks = 1000;
  /// Temporary files written per second, and times the usual.
  double temp_min_bytes_per_s = 1024.0 * 1024;
  double temp_jump_ratio = 4.0;
  /// Connections at this share of max_connections.
  double connections_ratio = 0.9;
  /// The LLM's daily budget (tokens or dollars) spent to this share: its
  /// explanations and rewrites stop soon (judged by the LLM actor).
  double llm_budget_share = 0.8;
  /// This many statement regressions of a target at once become one alert
  /// (the database got slower, not a statement): their own alerts are
  /// listed but not announced while it fires. 0: never grouped.
  size_t group_statements = 10;

  // -- a hot statement's plan changed
  /// The costliest statements of each poll (with regression_min_calls)
  /// whose generic plans are checked: an EXPLAIN each, on the target.
  size_t plan_watch_n = 3;
  /// Checks on a new plan after which it is the usual one: its alert
  /// resolves, and a change back would fire again.
  int plan_settle_checks = 120;
  /// A new plan fires only when its estimated cost is this many times the
  /// usual plan's: the planner choosing a cheaper plan (fresh statistics)
  /// is no trouble, and becomes the usual plan after sustain_polls checks.
  /// A statement it made slower fires statement_regression anyway.
  double plan_cost_ratio = 1.5;
};

/// What a statement's stored history says of its mean time (hourly points
/// from the STORE): a baseline while the polls since a start have not made
/// one, and a weekly rhythm to respect.
struct statement_past {
  /// Means of the last day's hours that had enough calls.
  std::vector<double> day_means;
  /// The mean of the same hour a week before, when it had enough calls...
  std::optional<double> last_week;
  /// ...and of the hours of the day before that one.
  std::vector<double> week_day_means;

  friend bool operator==(const statement_past&, const statement_past&)
    = default;
};

/// How far back past_of() reads: 8 days.
inline constexpr int64_t past_span_ms = 8LL * 24 * 3600 * 1000;

/// A statement's past from its hourly points of the past_span_ms before
/// `now_ms`, each hour counting with `min_calls` calls or more.
statement_past past_of(const std::vector<history_point>& hourly, int64_t now_ms,
                       int64_t min_calls);

/// One alert: stable across polls (`id`), firing until it resolves.
struct alert {
  /// rule:target[:fingerprint]: the same condition keeps its id, so a
  /// receiver deduplicates and resolves by it.
  std::string id;
  std::string rule;
  std::string target;
  /// The statement's fingerprint, for statement rules.
  std::string fingerprint;
  /// Its normalised text (constants as $n).
  std::string query;
  alert_severity severity = alert_severity::warning;
  bool firing = true;
  int64_t since_ms = 0;
  int64_t resolved_ms = 0;
  /// One line, with the figures.
  std::string summary;
  /// What to do about it.
  std::string action;
  /// Figures before and now, and the window they come from.
  std::vector<std::pair<std::string, double>> evidence;
  /// A plan change's plans, as plan::outline() writes them.
  std::string plan_before;
  std::string plan_after;
  /// Someone is on it (POST /api/alerts/ack): when, and who.
  int64_t acknowledged_ms = 0;
  std::string acknowledged_by;
  /// The silence that keeps it from being announced, if one does (set by
  /// the ALERTER when it lists alerts).
  std::string silenced_by;

  friend bool operator==(const alert&, const alert&) = default;
};

/// Keeps the alerts it matches from being announced until `until_ms`
/// (they are still judged and listed). Empty fields match anything; at
/// least one is set.
struct alert_silence {
  std::string id;
  std::string rule;
  std::string target;
  std::string fingerprint;
  int64_t until_ms = 0;
  int64_t created_ms = 0;
  std::string comment;
  std::string by;

  bool matches(const alert& a) const;

  friend bool operator==(const alert_silence&, const alert_silence&) = default;
};

/// The rules for one target: fed its polls in order, returns the alerts
/// that fired or resolved with each.
class alert_rules {
public:
  alert_rules(std::string target, alert_thresholds t);

  /// A processed poll. Baseline polls only teach.
  std::vector<alert> observe(const metrics_snapshot& snap);

  /// The statements of `snap` (before observing it) whose stored past
  /// would change how they are judged: followed, with enough calls, no
  /// past read in the last hour, no regression firing, and either no
  /// baseline in memory yet or a mean above it. The caller reads each
  /// one's hourly history (past_of) and answers with remember_past().
  std::vector<std::string> pasts_wanted(const metrics_snapshot& snap);

  /// A statement's stored past, read at `ts_ms`.
  void remember_past(const std::string& fingerprint, statement_past p,
                     int64_t ts_ms);

  /// A poll that failed at `ts_ms`, and why.
  std::vector<alert> failed(int64_t ts_ms, const std::string& why);

  /// A statement whose generic plan to check: the caller EXPLAINs it and
  /// answers with planned() or unplannable().
  struct plan_check {
    std::string fingerprint;
    std::string query;
  };
  /// The statements of `snap` (observed first) whose plans to check: the
  /// costliest few that ran often enough, not those that could not be
  /// planned lately.
  std::vector<plan_check> plans_to_check(const metrics_snapshot& snap);

  /// A checked plan, by its shape (plan::shape(), compared), its outline
  /// (plan::outline(), shown) and its estimated cost: fires a plan change
  /// when the shape differs from the usual one for sustain_polls checks,
  /// resolves it when the usual one is back (or the new one has become
  /// usual).
  std::vector<alert> planned(int64_t ts_ms, const plan_check& c,
                             const std::string& shape,
                             const std::string& outline, double cost);

  /// A plan that could not be had (not a plannable statement, refused,
  /// timed out): not asked for again for a while.
  void unplannable(const std::string& fingerprint);

  /// An alert decided elsewhere (an applied index that regressed): fires
  /// `a` at `ts_ms` unless it fires already, or resolves it when
  /// `a.firing` is false.
  std::vector<alert> raise(alert a, int64_t ts_ms);

  /// What fires now, by id.
  const std::map<std::string, alert>& firing() const {
    return firing_;
  }

  /// Marks the firing alert `id` acknowledged at `ts_ms` by `by`: the
  /// alert, or nullopt when none fires by that id.
  std::optional<alert> acknowledge(const std::string& id, int64_t ts_ms,
                                   const std::string& by);

  /// Forgets everything (the target moved to another engine).
  void clear();

  /// The alerts of `firing` that fired here before a restart (as firing()
  /// was then), firing again without being announced, and `grouped`, those
  /// of them folded into the target's statements_regressed (as grouped()
  /// was). Each takes the baseline its evidence names, so the rules judge
  /// it as before the restart: it resolves when its condition is gone, not
  /// when a baseline made of the new polls has learnt the trouble. An alert
  /// of another target, not firing, whose id is not its rule's and
  /// target's, or firing here already is left out.
  void restore(std::vector<alert> firing,
               const std::vector<std::string>& grouped);

  /// The statement regressions folded into statements_regressed (listed,
  /// never announced on their own).
  const std::unordered_set<std::string>& grouped() const {
    return grouped_;
  }

private:
  /// A condition under watch: how many polls in a row it held, or not.
  struct watch {
    int held = 0;
    int gone = 0;
    /// Polls in a row its statement was not judged (no calls, or out of
    /// the followed): no evidence either way.
    int quiet = 0;
  };
  /// The latest points of a series, oldest overwritten first (floats: a
  /// thousand series per target stay small).
  struct ring {
    std::vector<float> xs;
    size_t next = 0;
    void add(double x, size_t capacity);
  };
  /// A statement's recent points.
  struct history {
    ring mean_ms;
    ring calls_per_s;
    /// Its stored past, and when it was read (0: never).
    std::optional<statement_past> past;
    int64_t past_ms = 0;
    /// The baseline (median, spread) of a regression restored after a
    /// restart, until the polls make one.
    std::optional<std::pair<double, double>> kept;
  };
  /// The statements of `snap` the rules follow: the costliest with calls.
  std::vector<const statement_metrics*>
  followed(const metrics_snapshot& snap) const;
  /// The mean a statement's call may take before it counts as regressed
  /// (0: no baseline yet), and the baseline's median and spread.
  struct regression_bar {
    double bar = 0;
    double median = 0;
    double spread = 0;
    /// From the stored last day (no baseline in memory yet).
    bool from_past = false;
    /// From a restored regression's evidence (neither polls nor past yet).
    bool kept = false;
  };
  regression_bar bar_of(const history& h) const;
  /// Whether `mean_ms` is no more than the same hour a week before, when
  /// that hour was a peak of its day: a weekly rhythm, not a regression.
  bool weekly_peak(const history& h, double mean_ms) const;

  /// Counts `holds` for `id` and fires or resolves `make()` when it has
  /// held (or been gone) long enough.
  template <class Make>
  void step(const std::string& id, bool holds, int needed, int64_t ts,
            Make make, std::vector<alert>& out);
  /// Judges `now`, a poll's figure of a database series, against the
  /// series' median (once it has baseline_points): fires the warning
  /// `rule`, made by `make(median)`, when `worse(median)` holds for
  /// sustain_polls. A poll that is not worse teaches the series.
  template <class Worse, class Make>
  void judge_series(ring& r, const char* rule, double now, int64_t ts,
                    Worse worse, Make make, std::vector<alert>& out);
  /// Folds many statement regressions of this poll into one alert of the
  /// target (thresholds' group_statements), or unfolds them when it ends.
  void group_regressions(int64_t ts, std::vector<alert>& out);
  void learn(history& h, double mean_ms, double calls_per_s, bool counts,
             bool regressed, bool stormy) const;
  /// A fingerprint as a number (they are 16 hex digits; anything else is
  /// hashed): what the rules key statements by.
  static uint64_t key_of(const std::string& fingerprint);

  /// A statement's usual plan, and how long another one has held.
  struct plan_watch {
    /// Hash of the usual shape (0: none yet; restored_plan: a restored
    /// plan change's, known by its outline until it is seen again).
    uint64_t usual = 0;
    std::string usual_outline;
    double usual_cost = 0;
    uint64_t latest = 0; ///< hash of the shape of the last check
    int on_latest = 0;   ///< checks in a row on `latest`, when not usual
    int checked_at = 0;  ///< polls_ at the last check
    int skip_until = 0;  ///< polls_ before which not to plan it again
  };

  std::string target_;
  alert_thresholds t_;
  std::unordered_map<uint64_t, plan_watch> plans_;
  int polls_ = 0;
  int failures_ = 0;
  std::map<std::string, alert> firing_;
  std::map<std::string, watch> watches_;
  std::unordered_map<uint64_t, history> statements_;
  /// Every fingerprint seen since the target's first poll here.
  std::unordered_set<uint64_t> seen_;
  /// Those first seen after the warm-up, within the last few polls, by
  /// fingerprint, and the poll they were first seen at: still new.
  std::unordered_map<std::string, int> newcomers_;
  /// Statement regressions folded into the target's statements_regressed
  /// alert: never announced on their own.
  std::unordered_set<std::string> grouped_;
  ring hit_ratio_;
  ring temp_per_s_;
};

/// An alert as JSON (the API, events and the subscriber's sinks).
std::string to_json(const alert& x);
std::string to_json(const alert_silence& x);

/// Silences as the STORE keeps them: a JSON array of to_json(silence).
std::string silences_json(const std::vector<alert_silence>& xs);

/// Reads silences_json() back (from disk: a damaged entry is left out,
/// a damaged text is an empty list, never a silence of everything).
std::vector<alert_silence> parse_silences(std::string_view text);

} // namespace optischema
