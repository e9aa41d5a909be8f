#pragma once

#include "optischema/analysis/history_slice.hpp"
#include "optischema/analysis/metrics.hpp"
#include "optischema/analysis/recommendation.hpp"
#include "optischema/util/defaults.hpp"
#include "optischema/util/error.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace optischema {

/// Where and how long history is kept.
struct store_options {
  std::string dir;
  /// Raw points (one per poll) are kept this long...
  std::chrono::milliseconds raw_retention = defaults::retention_raw;
  /// ...then live on as hourly sums for this long.
  std::chrono::milliseconds hourly_retention = defaults::retention_hourly;
  /// Audit entries older than this are deleted.
  std::chrono::milliseconds audit_retention = defaults::retention_audit;
  /// Recommendations no analysis has produced (or anyone changed) for this
  /// long are deleted, dismissed ones included; applied ones are kept for
  /// as long as they are applied (a rollback needs them).
  std::chrono::milliseconds recommendation_retention
    = defaults::retention_recommendations;
};

/// Which points a history query returns.
enum class resolution { raw, hourly };

/// Figures about the database for /api/status.
struct store_stats {
  std::string dir;
  uint64_t size_bytes = 0;
  uint64_t raw_points = 0;    ///< estimate
  uint64_t hourly_points = 0; ///< estimate
  uint64_t snapshots_written = 0;
  int64_t last_maintenance_ms = 0;
  std::string last_error;
  /// Writes stopped: RocksDB keeps a write failure (a full disk, an I/O
  /// error) until it is resumed; every later write first tries to resume.
  bool stopped = false;
  int64_t stopped_since_ms = 0;
  /// The failure stopped writes because the disk was full.
  bool no_space = false;
  uint64_t resumes = 0;
  int64_t last_resume_ms = 0;
};

/// What one maintenance run did.
struct maintenance_report {
  /// The hours rolled up from raw points, each with the statements that
  /// took the most time in it (maintain's `top_n`, texts included): what a
  /// fleet keeps in JetStream for engines that take the target over later.
  std::vector<history_slice> hours;
  uint64_t hours_rolled = 0;
  uint64_t hourly_points_written = 0;
  uint64_t statements_forgotten = 0;
  uint64_t audit_entries_pruned = 0;
  uint64_t recommendations_pruned = 0;
};

/// The history database (RocksDB, one column family per kind of record).
/// Writes go through RocksDB's write-ahead log, so a killed engine loses at
/// most the poll it was writing. Not thread-safe: the STORE actor owns it.
class history_db {
public:
  /// Opens or creates the database in `opts.dir`. A held lock (another
  /// engine) or a corrupt directory is a failure that says what to do.
  static expected<std::unique_ptr<history_db>> open(const store_options& opts);

  ~history_db();

  /// Keeps a processed poll: its history points (statements with calls in
  /// the interval and the database series), the statement catalogue, the
  /// latest snapshot of its target and, when given, the raw counters the
  /// snapshot came from (the next delta base). One atomic write: a crash
  /// never leaves a base that disagrees with the history.
  expected<ok> put_snapshot(const metrics_snapshot& x,
                            const raw_sample* base = nullptr);

  /// Keeps history another engine of a fleet collected (a metrics event it
  /// published): the points of the slice's interval and the texts of its
  /// statements, never the latest snapshot nor the delta base (this
  /// engine's own polls own those). Idempotent. Hours already rolled up are
  /// rolled up again at the next maintenance; a slice older than the raw
  /// retention (less an hour, whose raw points may be gone) is skipped.
  expected<ok> put_backfill(const std::string& target, const history_slice& x,
                            int64_t now_ms);

  /// Keeps an hour of `target`'s history the fleet rolled up (another
  /// engine's roll-up, from JetStream) as its hourly points and its
  /// statements' texts, unless this engine has points of its own in that
  /// hour (its own, or raw points read back from the events stream: finer)
  /// or the hour is past the hourly retention. Returns whether it was kept.
  expected<bool> put_rollup(const std::string& target, const history_slice& x,
                            int64_t now_ms);

  /// Where hourly history of `target` from the fleet would start: after
  /// its newest database point of either resolution, and no earlier than
  /// the hourly retention.
  int64_t rollup_from(const std::string& target, int64_t now_ms);

  /// Where history of `target` from the fleet would start: after its
  /// newest database point (its own polls' or backfilled), and no earlier
  /// than put_backfill keeps.
  int64_t backfill_from(const std::string& target, int64_t now_ms);

  /// The last snapshot of `target`, if any.
  std::optional<metrics_snapshot> latest(const std::string& target);

  /// Every target that has a snapshot.
  std::vector<std::string> targets();

  /// The collector's last raw counters for `target`: after a restart the
  /// first poll computes deltas against them, so no interval is lost.
  std::optional<raw_sample> baseline(const std::string& target);

  /// Points of one statement in [from_ms, to_ms).
  std::vector<history_point>
  history(const std::string& target, const std::string& fingerprint,
          int64_t from_ms, int64_t to_ms, resolution res);

  /// Database-level points of `target` in [from_ms, to_ms).
  std::vector<database_point> database_history(const std::string& target,
                                               int64_t from_ms, int64_t to_ms,
                                               resolution res);

  /// The text of a statement seen before (also after it left the snapshot).
  std::optional<std::string> statement_text(const std::string& target,
                                            const std::string& fingerprint);

  /// Keeps an analysis of `target`: its report (JSON) and its
  /// recommendations. A recommendation seen before keeps its status and
  /// creation time (re-analysis updates, never duplicates); `recs` is
  /// updated with what was kept. One atomic write.
  expected<ok> put_analysis(const std::string& target, int64_t ts_ms,
                            const std::string& report_json,
                            std::vector<recommendation>& recs);

  /// The last analysis report of `target` (JSON) and when it ran.
  std::optional<std::pair<int64_t, std::string>>
  analysis(const std::string& target);

  /// One recommendation by id.
  std::optional<recommendation> recommendation_by_id(const std::string& id);

  /// Every stored recommendation of `target` (all targets when empty).
  std::vector<recommendation> recommendations(const std::string& target);

  /// Replaces a stored recommendation (status changes).
  expected<ok> put_recommendation(const recommendation& x);

  // -- the audit log (apply, rollback, sandbox tests) ----------------------

  /// Appends an entry (a JSON object: who, what, when, DDL, outcome,
  /// duration). Entries are never rewritten.
  expected<ok> append_audit(int64_t ts_ms, const std::string& json);

  /// The newest `limit` entries, newest first.
  std::vector<std::string> audit(size_t limit);

  // -- changes in flight and pending cleanups: the APPLIER's memory ----------
  // Written synced (fsync before returning), so a crash or a power loss never
  // loses them: DDL runs on a target only after its "started" entry is on
  // disk.

  /// Appends the "started" entry of change `op` of `target` to the audit log
  /// and keeps it as in flight, in one synced write.
  expected<ok> begin_change(const std::string& target, const std::string& op,
                            int64_t ts_ms, const std::string& entry);

  /// Appends the entry that ends change `op` and forgets it as in flight, in
  /// one synced write.
  expected<ok> end_change(const std::string& target, const std::string& op,
                          int64_t ts_ms, const std::string& entry);

  /// The "started" entries of `target`'s changes that never ended: the
  /// engine stopped during them.
  std::vector<std::string> changes_in_flight(const std::string& target);

  /// Keeps a pending cleanup of `target` (an INVALID index to drop, as
  /// JSON) under `key`, synced.
  expected<ok> put_cleanup(const std::string& target, const std::string& key,
                           const std::string& json);

  /// Forgets a pending cleanup (done, or nothing left to drop), synced.
  expected<ok> erase_cleanup(const std::string& target, const std::string& key);

  /// The pending cleanups of `target` (JSON).
  std::vector<std::string> cleanups(const std::string& target);
  /// A page of the log, newest first, and how many entries it holds.
  struct audit_page {
    size_t total = 0;
    std::vector<std::string> entries;
  };
  audit_page audit(size_t offset, size_t limit);

  // -- the LLM cache ---------------------------------------------------------

  /// A cached LLM answer, or nullopt when absent or expired (an expired
  /// entry is removed).
  std::optional<std::string> cache_get(const std::string& key, int64_t now_ms);

  /// Keeps an answer until `now_ms + ttl_ms`; evicts the oldest entries
  /// while the cache is over `max_bytes`.
  expected<ok> cache_put(const std::string& key, const std::string& value,
                         int64_t now_ms, int64_t ttl_ms, int64_t max_bytes);

  struct cache_stats {
    uint64_t entries = 0;
    uint64_t bytes = 0;
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t evictions = 0;
    uint64_t expired = 0;
  };
  cache_stats llm_cache_stats() const;

  // -- the ALERTER's silences (a person's decisions: they outlive restarts)

  /// Replaces the stored silences (a JSON text, silences_json()).
  expected<ok> put_silences(const std::string& json);
  /// The stored silences ("" when none were ever stored).
  std::string silences();

  // -- the ALERTER's firing alerts (a restart takes them up again)

  /// Replaces what fires on `target` (stored_alerts_json(); "" removes it).
  expected<ok> put_firing(const std::string& target, const std::string& json);
  /// What fires on `target`, as put_firing() kept it ("" for nothing).
  std::string firing(const std::string& target);

  // -- LLM spend per UTC day
  // ---------------------------------------------------

  struct spend {
    int64_t tokens = 0;
    double usd = 0;
  };
  /// What was spent on `day` ("2026-11-25").
  spend spent(const std::string& day);
  /// Adds to the spend of `day` and returns the new total.
  expected<spend> add_spend(const std::string& day, int64_t tokens, double usd);

  /// Rolls finished hours of raw points into hourly sums, then deletes raw
  /// points and hourly sums past their retention, audit entries past
  /// theirs, and recommendations no analysis produced for their retention
  /// (unless applied).
  /// `top_n` > 0: the report also holds each rolled hour with at least a
  /// raw database point, and its top `top_n` statements.
  expected<maintenance_report> maintain(int64_t now_ms, size_t top_n = 0);

  store_stats stats();

  const store_options& options() const {
    return opts_;
  }

private:
  struct impl;
  history_db(store_options opts, std::unique_ptr<impl> ptr);
  /// A key of the audit log: entries of one millisecond keep their order.
  std::string audit_key(int64_t ts_ms);
  /// The oldest slice put_backfill keeps.
  int64_t oldest_backfill(int64_t now_ms) const;
  store_options opts_;
  std::unique_ptr<impl> impl_;
  uint64_t audit_seq_ = 0;
};

} // namespace optischema
