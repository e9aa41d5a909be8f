#include "optischema/store/history_db.hpp"

#include "optischema/analysis/deltas.hpp"
#include "optischema/analysis/workload.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/util/logging.hpp"
#include "codec.hpp"

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/utilities/options_util.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <map>

namespace optischema {

namespace {

constexpr int64_t hour_ms = 3'600'000;
constexpr const char* format_key = "format";
constexpr const char* format_version = "1";
constexpr int64_t catalogue_refresh_ms = hour_ms;

/// Column families, in the order of impl::cf.
enum cf_id : size_t {
  cf_meta,            ///< format version, per-target roll-up progress
  cf_snapshots,       ///< target -> latest metrics_snapshot
  cf_baselines,       ///< target -> collector's last raw counters
  cf_statements,      ///< target\0fp -> text, flags, last seen
  cf_raw,             ///< target\0fp\0ts -> history_point
  cf_hourly,          ///< target\0fp\0hour -> history_point
  cf_db_raw,          ///< target\0ts -> database_point
  cf_db_hourly,       ///< target\0hour -> database_point
  cf_recommendations, ///< id -> recommendation (JSON)
  cf_analyses,        ///< target -> ts + analysis report (JSON)
  cf_llm_cache,       ///< key -> created, expires, answer
  cf_audit,           ///< ts\0seq -> audit entry (JSON)
  cf_in_flight,       ///< target\0op -> "started" audit entry (JSON)
  cf_cleanups,        ///< target\0key -> INVALID index to drop (JSON)
  cf_count,
};

const char* cf_names[cf_count] = {
  rocksdb::kDefaultColumnFamilyName.c_str(),
  "snapshots",
  "baselines",
  "statements",
  "raw",
  "hourly",
  "db_raw",
  "db_hourly",
  "recommendations",
  "analyses",
  "llm_cache",
  "audit",
  "in_flight",
  "cleanups",
};

std::string series_prefix(const std::string& target, const std::string& fp) {
  std::string k = target;
  k += '\0';
  k += fp;
  k += '\0';
  return k;
}

std::string target_prefix(const std::string& target) {
  std::string k = target;
  k += '\0';
  return k;
}

/// A statement's entry in the catalogue: its text, and when it was seen.
std::string catalogue_entry(const std::string& query, bool parse_error,
                            int64_t ts_ms) {
  codec::encoder e;
  e.u8(1);
  e.str(query);
  e.u8(parse_error ? 1 : 0);
  e.i64(ts_ms);
  return e.data();
}

int64_t floor_hour(int64_t ts) {
  return ts - ((ts % hour_ms) + hour_ms) % hour_ms;
}

/// Hourly points up to the roll-up mark `rolled`, then the raw points' sums
/// (`tail`). Past the mark, hourly points are hours the fleet rolled up
/// (put_rollup): kept where no raw point says otherwise, in time order.
template <class Point>
void merge_hours(std::vector<Point>& hourly, int64_t rolled,
                 std::vector<Point> tail) {
  std::erase_if(hourly, [&](const Point& p) {
    return p.ts_ms >= rolled
      && std::any_of(tail.begin(), tail.end(),
                     [&](const Point& t) { return t.ts_ms == p.ts_ms; });
  });
  hourly.insert(hourly.end(), tail.begin(), tail.end());
  std::stable_sort(hourly.begin(), hourly.end(),
                   [](const Point& x, const Point& y) {
                     return x.ts_ms < y.ts_ms;
                   });
}

/// RocksDB's own log, into the engine's: no LOG file in the data dir. Such
/// a file is one more thing that fails on a full disk, and Debian's RocksDB
/// (built with assertions) aborts the process on the next line written to
/// a log file whose write once failed.
class rocksdb_log final : public rocksdb::Logger {
public:
  rocksdb_log() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {
    // nop
  }
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format,
            va_list ap) override {
    if (level < GetInfoLogLevel())
      return;
    char line[1024];
    std::vsnprintf(line, sizeof(line), format, ap);
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL)
      OPTISCHEMA_ERROR("rocksdb: {}", line);
    else
      OPTISCHEMA_WARN("rocksdb: {}", line);
  }
};

failure store_failure(const rocksdb::Status& st, const std::string& what) {
  return {ec::store_error, fmt::format("{}: {}", what, st.ToString())};
}

} // namespace

struct history_db::impl {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> cf;
  /// When each statement's catalogue entry was last written.
  std::unordered_map<std::string, int64_t> catalogue_written;
  uint64_t snapshots_written = 0;
  int64_t last_maintenance_ms = 0;
  std::string last_error;
  history_db::cache_stats cache;
  // -- writes stopped by a failure RocksDB keeps (see write()) --
  bool stopped = false;
  int64_t stopped_since_ms = 0;
  bool no_space = false;
  uint64_t resumes = 0;
  int64_t last_resume_ms = 0;

  ~impl() {
    for (auto* h : cf)
      if (h != nullptr)
        db->DestroyColumnFamilyHandle(h);
    if (db)
      db->Close();
  }

  rocksdb::ColumnFamilyHandle* h(cf_id id) {
    return cf[id];
  }

  /// Every write goes through here. After a write fails (a full disk, an
  /// I/O error) RocksDB refuses all writes until it is resumed; so each
  /// later write first asks it to resume, and writes go on by themselves
  /// once space is back.
  rocksdb::Status write(rocksdb::WriteBatch& batch,
                        const rocksdb::WriteOptions& options = {}) {
    if (stopped) {
      // Never write to a stopped database: Debian's RocksDB is built with
      // assertions, and a write after a failed one aborts the process.
      // Busy: RocksDB's own recovery from a full disk is under way (it
      // waits for free space); the error that stopped writes still says why.
      auto r = db->Resume();
      if (r.IsBusy())
        return rocksdb::Status::Aborted("writes stopped after: " + last_error);
      if (!r.ok()) {
        last_error = r.ToString();
        return r;
      }
      stopped = false;
      no_space = false;
      ++resumes;
      last_resume_ms = now_ms();
    }
    auto st = db->Write(options, &batch);
    if (!st.ok()) {
      last_error = st.ToString();
      if (!stopped)
        stopped_since_ms = now_ms();
      stopped = true;
      no_space = no_space || st.IsNoSpace()
        || last_error.find("No space left") != std::string::npos;
    }
    return st;
  }

  rocksdb::Status put(cf_id id, const rocksdb::Slice& k,
                      const rocksdb::Slice& v,
                      const rocksdb::WriteOptions& options = {}) {
    rocksdb::WriteBatch batch;
    batch.Put(h(id), k, v);
    return write(batch, options);
  }

  template <class F>
  void scan(cf_id id, const std::string& from, const std::string& to, F f) {
    std::unique_ptr<rocksdb::Iterator> it{
      db->NewIterator(rocksdb::ReadOptions{}, h(id))};
    for (it->Seek(from); it->Valid() && it->key().compare(to) < 0; it->Next())
      f(it->key().ToStringView(), it->value().ToStringView());
  }

  template <class F>
  void scan_prefix(cf_id id, const std::string& prefix, F f) {
    std::unique_ptr<rocksdb::Iterator> it{
      db->NewIterator(rocksdb::ReadOptions{}, h(id))};
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
         it->Next())
      f(it->key().ToStringView(), it->value().ToStringView());
  }

  std::vector<std::string> fingerprints(const std::string& target) {
    std::vector<std::string> out;
    auto prefix = target_prefix(target);
    scan_prefix(cf_statements, prefix,
                [&](std::string_view k, std::string_view) {
                  out.emplace_back(k.substr(prefix.size()));
                });
    return out;
  }

  std::vector<history_point> raw_points(cf_id id, const std::string& target,
                                        const std::string& fp, int64_t from,
                                        int64_t to) {
    std::vector<history_point> out;
    auto prefix = series_prefix(target, fp);
    scan(id, prefix + codec::be64(from), prefix + codec::be64(to),
         [&](std::string_view k, std::string_view v) {
           auto ts = codec::from_be64(k.substr(prefix.size()));
           if (auto p = codec::decode_history_point(v, ts))
             out.push_back(*p);
         });
    return out;
  }

  std::vector<database_point> db_points(cf_id id, const std::string& target,
                                        int64_t from, int64_t to) {
    std::vector<database_point> out;
    auto prefix = target_prefix(target);
    scan(id, prefix + codec::be64(from), prefix + codec::be64(to),
         [&](std::string_view k, std::string_view v) {
           auto ts = codec::from_be64(k.substr(prefix.size()));
           if (auto p = codec::decode_database_point(v, ts))
             out.push_back(*p);
         });
    return out;
  }

  /// The time of `target`'s newest database point in `id`, if any.
  std::optional<int64_t> newest_point(cf_id id, const std::string& target) {
    auto prefix = target_prefix(target);
    std::unique_ptr<rocksdb::Iterator> it{
      db->NewIterator(rocksdb::ReadOptions{}, h(id))};
    it->SeekForPrev(prefix + codec::be64(std::numeric_limits<int64_t>::max()));
    if (!it->Valid() || !it->key().starts_with(prefix))
      return std::nullopt;
    std::string_view k{it->key().data(), it->key().size()};
    return codec::from_be64(k.substr(prefix.size()));
  }

  /// Adds points another engine collected (a metrics event's statements or
  /// an hour's) to `batch`, in `id` at `ts_ms`, with each statement's
  /// catalogue entry unless this engine has seen the statement.
  void put_statements(rocksdb::WriteBatch& batch, cf_id id,
                      const std::string& target,
                      const std::vector<statement_point>& statements,
                      int64_t ts_ms, int64_t interval_ms) {
    auto ts = codec::be64(ts_ms);
    for (auto& st : statements) {
      auto key = series_prefix(target, st.fingerprint);
      if (st.delta.calls > 0 || st.delta.exec_time_ms > 0)
        batch.Put(h(id), key + ts,
                  codec::encode(history_point{ts_ms, interval_ms, st.delta}));
      key.pop_back(); // target\0fp
      std::string known;
      if (!db->Get(rocksdb::ReadOptions{}, h(cf_statements), key, &known).ok())
        batch.Put(h(cf_statements), key,
                  catalogue_entry(st.query, st.parse_error, ts_ms));
    }
  }

  /// Whether `target` has a database point in [from, to) in `id`.
  bool any_point(cf_id id, const std::string& target, int64_t from,
                 int64_t to) {
    auto prefix = target_prefix(target);
    std::unique_ptr<rocksdb::Iterator> it{
      db->NewIterator(rocksdb::ReadOptions{}, h(id))};
    it->Seek(prefix + codec::be64(from));
    return it->Valid() && it->key().compare(prefix + codec::be64(to)) < 0;
  }

  int64_t rolled_until(const std::string& target) {
    std::string v;
    if (db->Get(rocksdb::ReadOptions{}, h(cf_meta), "rolled/" + target, &v)
          .ok())
      return codec::from_be64(v);
    return -1;
  }
};

history_db::history_db(store_options opts, std::unique_ptr<impl> ptr)
  : opts_(std::move(opts)), impl_(std::move(ptr)) {
  // nop
}

history_db::~history_db() = default;

expected<std::unique_ptr<history_db>>
history_db::open(const store_options& opts) {
  namespace fs = std::filesystem;
  std::error_code err;
  fs::create_directories(opts.dir, err);
  if (err)
    return failure{ec::store_error,
                   fmt::format("cannot create data dir {}: {}; pass a writable "
                               "--data-dir",
                               opts.dir, err.message())};
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.info_log = std::make_shared<rocksdb_log>();
  // A full disk shows at the next write rather than once a preallocated
  // log block is used up, and RocksDB's recovery from it (which waits for
  // one memtable's worth of free space) needs 8 MB free, not 64. The
  // engine writes little: small memtables also keep its memory small (24 MB
  // in all: the benchmark of 10 targets of 5,000 statements, bench/README).
  options.allow_fallocate = false;
  options.write_buffer_size = 8 << 20;
  options.db_write_buffer_size = 24 << 20;
  options.compression = rocksdb::kLZ4Compression;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (auto* name : cf_names)
    cfs.emplace_back(name, rocksdb::ColumnFamilyOptions{options});
  auto x = std::make_unique<impl>();
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::Open(options, opts.dir, cfs, &x->cf, &raw);
  if (!st.ok()) {
    auto msg = st.ToString();
    if (st.IsIOError() && msg.find("lock") != std::string::npos)
      return failure{ec::store_error,
                     fmt::format("data dir {} is in use by another process "
                                 "(its LOCK is held: {}); stop the other "
                                 "optischema or pass another --data-dir",
                                 opts.dir, msg)};
    if (st.IsCorruption())
      return failure{
        ec::store_error,
        fmt::format("data dir {} is corrupt ({}); move it aside to "
                    "start with empty history, or restore a backup",
                    opts.dir, msg)};
    return failure{
      ec::store_error,
      fmt::format("cannot open data dir {}: {}; check the path and "
                  "its permissions, or pass another --data-dir",
                  opts.dir, msg)};
  }
  x->db.reset(raw);
  x->scan(cf_llm_cache, "", std::string(1, '\xff'),
          [&](std::string_view, std::string_view v) {
            ++x->cache.entries;
            x->cache.bytes += v.size();
          });
  std::string version;
  auto got = x->db->Get(rocksdb::ReadOptions{}, x->h(cf_meta), format_key,
                        &version);
  if (got.IsNotFound()) {
    x->db->Put(rocksdb::WriteOptions{}, x->h(cf_meta), format_key,
               format_version);
  } else if (!got.ok() || version != format_version) {
    return failure{ec::store_error,
                   fmt::format("data dir {} holds history in format '{}', this "
                               "engine reads format {}; use a matching "
                               "optischema or another --data-dir",
                               opts.dir, version, format_version)};
  }
  return std::unique_ptr<history_db>{new history_db(opts, std::move(x))};
}

expected<ok> history_db::put_snapshot(const metrics_snapshot& x,
                                      const raw_sample* base) {
  rocksdb::WriteBatch batch;
  auto& d = *impl_;
  if (!x.baseline && x.interval_ms > 0) {
    auto ts = codec::be64(x.ts_ms);
    for (auto& st : x.statements) {
      if (st.interval.calls == 0 && st.interval.exec_time_ms == 0)
        continue;
      history_point p{x.ts_ms, x.interval_ms, st.interval};
      batch.Put(d.h(cf_raw), series_prefix(x.target, st.fingerprint) + ts,
                codec::encode(p));
    }
    batch.Put(d.h(cf_db_raw), target_prefix(x.target) + ts,
              codec::encode(to_database_point(x)));
  }
  for (auto& st : x.statements) {
    auto key = series_prefix(x.target, st.fingerprint);
    key.pop_back(); // target\0fp
    auto& written = d.catalogue_written[key];
    if (x.ts_ms - written < catalogue_refresh_ms)
      continue;
    written = x.ts_ms;
    batch.Put(d.h(cf_statements), key,
              catalogue_entry(st.query, st.parse_error, x.ts_ms));
  }
  batch.Put(d.h(cf_snapshots), x.target, codec::encode(x));
  if (base != nullptr)
    batch.Put(d.h(cf_baselines), x.target, codec::encode(*base));
  auto st = d.write(batch);
  if (!st.ok())
    return store_failure(st, "writing a snapshot");
  ++d.snapshots_written;
  return ok{};
}

expected<ok> history_db::put_backfill(const std::string& target,
                                      const history_slice& x, int64_t now_ms) {
  auto& d = *impl_;
  if (x.ts_ms < oldest_backfill(now_ms))
    return ok{};
  rocksdb::WriteBatch batch;
  d.put_statements(batch, cf_raw, target, x.statements, x.ts_ms, x.interval_ms);
  batch.Put(d.h(cf_db_raw), target_prefix(target) + codec::be64(x.ts_ms),
            codec::encode(x.db));
  // Maintenance rolls up hours from this mark on: back to the slice's hour.
  if (auto rolled = d.rolled_until(target); rolled > floor_hour(x.ts_ms))
    batch.Put(d.h(cf_meta), "rolled/" + target,
              codec::be64(floor_hour(x.ts_ms)));
  auto st = d.write(batch);
  if (!st.ok())
    return store_failure(st, "writing history from the fleet");
  return ok{};
}

expected<bool> history_db::put_rollup(const std::string& target,
                                      const history_slice& x, int64_t now_ms) {
  auto& d = *impl_;
  auto hour = x.ts_ms;
  if (x.interval_ms != hour_ms || floor_hour(hour) != hour
      || hour < now_ms - opts_.hourly_retention.count()
      || hour + hour_ms > floor_hour(now_ms))
    return false;
  // Points of this engine's in the hour win: they are per poll.
  if (d.any_point(cf_db_raw, target, hour, hour + hour_ms)
      || d.any_point(cf_db_hourly, target, hour, hour + hour_ms))
    return false;
  rocksdb::WriteBatch batch;
  d.put_statements(batch, cf_hourly, target, x.statements, hour, hour_ms);
  auto db = x.db;
  db.ts_ms = hour;
  db.interval_ms = hour_ms;
  // The roll-up mark stays: hours past it read both resolutions (merge),
  // and maintenance, rolling raw points up, leaves an hour without any be.
  batch.Put(d.h(cf_db_hourly), target_prefix(target) + codec::be64(hour),
            codec::encode(db));
  auto st = d.write(batch);
  if (!st.ok())
    return store_failure(st, "writing hourly history from the fleet");
  return true;
}

int64_t history_db::rollup_from(const std::string& target, int64_t now_ms) {
  auto& d = *impl_;
  auto from = floor_hour(now_ms - opts_.hourly_retention.count()) + hour_ms;
  for (auto cf : {cf_db_raw, cf_db_hourly})
    if (auto newest = d.newest_point(cf, target))
      from = std::max(from, floor_hour(*newest) + hour_ms);
  return from;
}

int64_t history_db::backfill_from(const std::string& target, int64_t now_ms) {
  auto& d = *impl_;
  auto from = oldest_backfill(now_ms);
  if (auto newest = d.newest_point(cf_db_raw, target))
    from = std::max(from, *newest + 1);
  return from;
}

int64_t history_db::oldest_backfill(int64_t now_ms) const {
  // An hour inside the raw retention: maintenance may roll the slice's
  // hour up again, and needs all of that hour's raw points for it.
  return now_ms - opts_.raw_retention.count() + hour_ms;
}

std::optional<metrics_snapshot> history_db::latest(const std::string& target) {
  std::string v;
  if (!impl_->db
         ->Get(rocksdb::ReadOptions{}, impl_->h(cf_snapshots), target, &v)
         .ok())
    return std::nullopt;
  auto snap = codec::decode_snapshot(v);
  if (snap)
    for (auto& st : snap->statements)
      if (auto text = statement_text(target, st.fingerprint))
        st.query = std::move(*text);
  return snap;
}

std::vector<std::string> history_db::targets() {
  std::vector<std::string> out;
  impl_->scan(cf_snapshots, "", std::string(1, '\xff'),
              [&](std::string_view k, std::string_view) {
                out.emplace_back(k);
              });
  return out;
}

std::optional<raw_sample> history_db::baseline(const std::string& target) {
  std::string v;
  if (!impl_->db
         ->Get(rocksdb::ReadOptions{}, impl_->h(cf_baselines), target, &v)
         .ok())
    return std::nullopt;
  return codec::decode_raw_sample(v);
}

std::vector<history_point>
history_db::history(const std::string& target, const std::string& fingerprint,
                    int64_t from_ms, int64_t to_ms, resolution res) {
  auto& d = *impl_;
  if (res == resolution::raw)
    return d.raw_points(cf_raw, target, fingerprint, from_ms, to_ms);
  auto rolled = std::max<int64_t>(d.rolled_until(target), floor_hour(from_ms));
  auto out = d.raw_points(cf_hourly, target, fingerprint, floor_hour(from_ms),
                          to_ms);
  if (to_ms > rolled)
    // Hours not rolled up yet: sum their raw points on the fly.
    merge_hours(
      out, rolled,
      downsample(d.raw_points(cf_raw, target, fingerprint, rolled, to_ms),
                 hour_ms));
  return out;
}

std::vector<database_point>
history_db::database_history(const std::string& target, int64_t from_ms,
                             int64_t to_ms, resolution res) {
  auto& d = *impl_;
  if (res == resolution::raw)
    return d.db_points(cf_db_raw, target, from_ms, to_ms);
  auto rolled = std::max<int64_t>(d.rolled_until(target), floor_hour(from_ms));
  auto out = d.db_points(cf_db_hourly, target, floor_hour(from_ms), to_ms);
  if (to_ms > rolled)
    merge_hours(out, rolled,
                downsample(d.db_points(cf_db_raw, target, rolled, to_ms),
                           hour_ms));
  return out;
}

std::optional<std::string> history_db::statement_text(const std::string& target,
                                                      const std::string& fp) {
  auto key = series_prefix(target, fp);
  key.pop_back();
  std::string v;
  if (!impl_->db->Get(rocksdb::ReadOptions{}, impl_->h(cf_statements), key, &v)
         .ok())
    return std::nullopt;
  codec::decoder dec{v};
  uint8_t fmt = 0;
  std::string text;
  if (!dec.u8(fmt) || !dec.str(text))
    return std::nullopt;
  return text;
}

expected<ok> history_db::put_analysis(const std::string& target, int64_t ts_ms,
                                      const std::string& report_json,
                                      std::vector<recommendation>& recs) {
  auto& d = *impl_;
  rocksdb::WriteBatch batch;
  for (auto& r : recs) {
    if (auto old = recommendation_by_id(r.id))
      keep_history(r, *old);
    batch.Put(d.h(cf_recommendations), r.id, to_json(r));
  }
  codec::encoder e;
  e.u8(1);
  e.i64(ts_ms);
  e.str(report_json);
  batch.Put(d.h(cf_analyses), target, e.data());
  auto st = d.write(batch);
  if (!st.ok())
    return store_failure(st, "writing an analysis");
  return ok{};
}

std::optional<std::pair<int64_t, std::string>>
history_db::analysis(const std::string& target) {
  std::string v;
  if (!impl_->db->Get(rocksdb::ReadOptions{}, impl_->h(cf_analyses), target, &v)
         .ok())
    return std::nullopt;
  codec::decoder dec{v};
  uint8_t fmt = 0;
  int64_t ts = 0;
  std::string json;
  if (!dec.u8(fmt) || !dec.i64(ts) || !dec.str(json))
    return std::nullopt;
  return std::make_pair(ts, std::move(json));
}

std::optional<recommendation>
history_db::recommendation_by_id(const std::string& id) {
  std::string v;
  if (!impl_->db
         ->Get(rocksdb::ReadOptions{}, impl_->h(cf_recommendations), id, &v)
         .ok())
    return std::nullopt;
  return recommendation_from_json(v);
}

std::vector<recommendation>
history_db::recommendations(const std::string& target) {
  std::vector<recommendation> out;
  impl_->scan(cf_recommendations, "", std::string(1, '\xff'),
              [&](std::string_view, std::string_view v) {
                if (auto r = recommendation_from_json(v))
                  if (target.empty() || r->target == target)
                    out.push_back(std::move(*r));
              });
  return out;
}

std::string history_db::audit_key(int64_t ts_ms) {
  // ts then a counter: entries of the same millisecond keep their order.
  return codec::be64(ts_ms) + codec::be64(static_cast<int64_t>(++audit_seq_));
}

expected<ok> history_db::append_audit(int64_t ts_ms, const std::string& json) {
  auto st = impl_->put(cf_audit, audit_key(ts_ms), json);
  if (!st.ok())
    return store_failure(st, "writing the audit log");
  return ok{};
}

namespace {

rocksdb::WriteOptions synced() {
  rocksdb::WriteOptions w;
  w.sync = true;
  return w;
}

} // namespace

expected<ok> history_db::begin_change(const std::string& target,
                                      const std::string& op, int64_t ts_ms,
                                      const std::string& entry) {
  auto& d = *impl_;
  rocksdb::WriteBatch batch;
  batch.Put(d.h(cf_audit), audit_key(ts_ms), entry);
  batch.Put(d.h(cf_in_flight), target_prefix(target) + op, entry);
  auto st = d.write(batch, synced());
  if (!st.ok())
    return store_failure(st, "writing the audit log");
  return ok{};
}

expected<ok> history_db::end_change(const std::string& target,
                                    const std::string& op, int64_t ts_ms,
                                    const std::string& entry) {
  auto& d = *impl_;
  rocksdb::WriteBatch batch;
  batch.Put(d.h(cf_audit), audit_key(ts_ms), entry);
  batch.Delete(d.h(cf_in_flight), target_prefix(target) + op);
  auto st = d.write(batch, synced());
  if (!st.ok())
    return store_failure(st, "writing the audit log");
  return ok{};
}

std::vector<std::string>
history_db::changes_in_flight(const std::string& target) {
  std::vector<std::string> out;
  impl_->scan_prefix(cf_in_flight, target_prefix(target),
                     [&](std::string_view, std::string_view v) {
                       out.emplace_back(v);
                     });
  return out;
}

expected<ok> history_db::put_cleanup(const std::string& target,
                                     const std::string& key,
                                     const std::string& json) {
  auto st = impl_->put(cf_cleanups, target_prefix(target) + key, json,
                       synced());
  if (!st.ok())
    return store_failure(st, "keeping a pending cleanup");
  return ok{};
}

expected<ok> history_db::erase_cleanup(const std::string& target,
                                       const std::string& key) {
  rocksdb::WriteBatch batch;
  batch.Delete(impl_->h(cf_cleanups), target_prefix(target) + key);
  auto st = impl_->write(batch, synced());
  if (!st.ok())
    return store_failure(st, "forgetting a pending cleanup");
  return ok{};
}

std::vector<std::string> history_db::cleanups(const std::string& target) {
  std::vector<std::string> out;
  impl_->scan_prefix(cf_cleanups, target_prefix(target),
                     [&](std::string_view, std::string_view v) {
                       out.emplace_back(v);
                     });
  return out;
}

std::vector<std::string> history_db::audit(size_t limit) {
  std::vector<std::string> out;
  std::unique_ptr<rocksdb::Iterator> it{
    impl_->db->NewIterator(rocksdb::ReadOptions{}, impl_->h(cf_audit))};
  for (it->SeekToLast(); it->Valid() && out.size() < limit; it->Prev())
    out.emplace_back(it->value().ToString());
  return out;
}

history_db::audit_page history_db::audit(size_t offset, size_t limit) {
  audit_page out;
  std::unique_ptr<rocksdb::Iterator> it{
    impl_->db->NewIterator(rocksdb::ReadOptions{}, impl_->h(cf_audit))};
  // One pass: the count is the total the API pages through.
  for (it->SeekToLast(); it->Valid(); it->Prev(), ++out.total)
    if (out.total >= offset && out.entries.size() < limit)
      out.entries.emplace_back(it->value().ToString());
  return out;
}

expected<ok> history_db::put_recommendation(const recommendation& x) {
  auto st = impl_->put(cf_recommendations, x.id, to_json(x));
  if (!st.ok())
    return store_failure(st, "writing a recommendation");
  return ok{};
}

namespace {

struct cache_entry {
  int64_t created = 0;
  int64_t expires = 0;
  std::string value;
};

std::string encode_entry(const cache_entry& x) {
  codec::encoder e;
  e.u8(1);
  e.i64(x.created);
  e.i64(x.expires);
  e.str(x.value);
  return std::move(e.data());
}

std::optional<cache_entry> decode_entry(std::string_view v) {
  codec::decoder d{v};
  uint8_t fmt = 0;
  cache_entry x;
  if (!d.u8(fmt) || !d.i64(x.created) || !d.i64(x.expires) || !d.str(x.value))
    return std::nullopt;
  return x;
}

} // namespace

std::optional<std::string> history_db::cache_get(const std::string& key,
                                                 int64_t now_ms) {
  auto& d = *impl_;
  std::string v;
  if (!d.db->Get(rocksdb::ReadOptions{}, d.h(cf_llm_cache), key, &v).ok()) {
    ++d.cache.misses;
    return std::nullopt;
  }
  auto x = decode_entry(v);
  if (!x || x->expires <= now_ms) {
    d.db->Delete(rocksdb::WriteOptions{}, d.h(cf_llm_cache), key);
    ++d.cache.expired;
    ++d.cache.misses;
    if (d.cache.entries > 0)
      --d.cache.entries;
    d.cache.bytes -= std::min<uint64_t>(d.cache.bytes, v.size());
    return std::nullopt;
  }
  ++d.cache.hits;
  return std::move(x->value);
}

expected<ok> history_db::cache_put(const std::string& key,
                                   const std::string& value, int64_t now_ms,
                                   int64_t ttl_ms, int64_t max_bytes) {
  auto& d = *impl_;
  auto encoded = encode_entry({now_ms, now_ms + ttl_ms, value});
  auto st = d.put(cf_llm_cache, key, encoded);
  if (!st.ok())
    return store_failure(st, "writing the LLM cache");
  ++d.cache.entries;
  d.cache.bytes += encoded.size();
  if (static_cast<int64_t>(d.cache.bytes) <= max_bytes)
    return ok{};
  // Over the cap: drop expired entries, then the oldest, until it fits.
  std::vector<std::tuple<int64_t, std::string, size_t>> all;
  d.scan(cf_llm_cache, "", std::string(1, '\xff'),
         [&](std::string_view k, std::string_view v) {
           auto x = decode_entry(v);
           auto created = x && x->expires > now_ms ? x->created : INT64_MIN;
           all.emplace_back(created, std::string{k}, v.size());
         });
  std::sort(all.begin(), all.end());
  uint64_t bytes = 0;
  for (auto& e : all)
    bytes += std::get<2>(e);
  rocksdb::WriteBatch batch;
  size_t i = 0;
  while (static_cast<int64_t>(bytes) > max_bytes && i < all.size()) {
    batch.Delete(d.h(cf_llm_cache), std::get<1>(all[i]));
    bytes -= std::get<2>(all[i]);
    ++d.cache.evictions;
    ++i;
  }
  d.write(batch);
  d.cache.entries = all.size() - i;
  d.cache.bytes = bytes;
  return ok{};
}

history_db::cache_stats history_db::llm_cache_stats() const {
  return impl_->cache;
}

expected<ok> history_db::put_silences(const std::string& json) {
  auto st = impl_->put(cf_meta, "alert_silences", json);
  if (!st.ok())
    return store_failure(st, "keeping the alert silences");
  return ok{};
}

std::string history_db::silences() {
  std::string v;
  if (!impl_->db
         ->Get(rocksdb::ReadOptions{}, impl_->h(cf_meta), "alert_silences", &v)
         .ok())
    return {};
  return v;
}

expected<ok> history_db::put_firing(const std::string& target,
                                    const std::string& json) {
  auto key = "alerts_firing/" + target;
  rocksdb::WriteBatch batch;
  if (json.empty())
    batch.Delete(impl_->h(cf_meta), key);
  else
    batch.Put(impl_->h(cf_meta), key, json);
  if (auto st = impl_->write(batch); !st.ok())
    return store_failure(st, "keeping the firing alerts of " + target);
  return ok{};
}

std::string history_db::firing(const std::string& target) {
  std::string v;
  if (!impl_->db
         ->Get(rocksdb::ReadOptions{}, impl_->h(cf_meta),
               "alerts_firing/" + target, &v)
         .ok())
    return {};
  return v;
}

history_db::spend history_db::spent(const std::string& day) {
  std::string v;
  spend s;
  if (impl_->db
        ->Get(rocksdb::ReadOptions{}, impl_->h(cf_meta), "llm_spend/" + day, &v)
        .ok()) {
    codec::decoder dec{v};
    uint8_t fmt = 0;
    if (!dec.u8(fmt) || !dec.i64(s.tokens) || !dec.f64(s.usd))
      return {};
  }
  return s;
}

expected<history_db::spend> history_db::add_spend(const std::string& day,
                                                  int64_t tokens, double usd) {
  auto s = spent(day);
  s.tokens += tokens;
  s.usd += usd;
  codec::encoder e;
  e.u8(1);
  e.i64(s.tokens);
  e.f64(s.usd);
  auto st = impl_->put(cf_meta, "llm_spend/" + day, e.data());
  if (!st.ok())
    return store_failure(st, "recording LLM spend");
  return s;
}

expected<maintenance_report> history_db::maintain(int64_t now_ms,
                                                  size_t top_n) {
  auto& d = *impl_;
  maintenance_report report;
  rocksdb::WriteBatch batch;
  auto end = floor_hour(now_ms);
  auto raw_cutoff = now_ms - opts_.raw_retention.count();
  auto hourly_cutoff = now_ms - opts_.hourly_retention.count();
  for (auto& target : targets()) {
    auto rolled = d.rolled_until(target);
    if (rolled < 0) // first run: roll up whatever raw points are kept
      rolled = floor_hour(hourly_cutoff);
    auto fps = d.fingerprints(target);
    if (end > rolled) {
      report.hours_rolled += static_cast<uint64_t>((end - rolled) / hour_ms);
      // The hours rolled, for the fleet: by hour, then trimmed.
      std::map<int64_t, history_slice> hours;
      for (auto& fp : fps) {
        auto prefix = series_prefix(target, fp);
        for (auto& p : downsample(d.raw_points(cf_raw, target, fp, rolled, end),
                                  hour_ms)) {
          batch.Put(d.h(cf_hourly), prefix + codec::be64(p.ts_ms),
                    codec::encode(p));
          ++report.hourly_points_written;
          if (top_n > 0)
            hours[p.ts_ms].statements.push_back({fp, {}, false, p.delta});
        }
      }
      auto prefix = target_prefix(target);
      for (auto& p :
           downsample(d.db_points(cf_db_raw, target, rolled, end), hour_ms)) {
        batch.Put(d.h(cf_db_hourly), prefix + codec::be64(p.ts_ms),
                  codec::encode(p));
        if (top_n == 0)
          continue;
        auto& h = hours[p.ts_ms];
        h.target = target;
        h.ts_ms = p.ts_ms;
        h.interval_ms = hour_ms;
        h.db = p;
        auto& sts = h.statements;
        auto n = std::min(top_n, sts.size());
        std::partial_sort(sts.begin(), sts.begin() + static_cast<long>(n),
                          sts.end(), [](auto& x, auto& y) {
                            return x.delta.exec_time_ms > y.delta.exec_time_ms;
                          });
        sts.resize(n);
        for (auto& st : sts)
          if (auto text = statement_text(target, st.fingerprint))
            st.query = std::move(*text);
        std::erase_if(sts, [](auto& st) { return st.query.empty(); });
        report.hours.push_back(std::move(h));
      }
      batch.Put(d.h(cf_meta), "rolled/" + target, codec::be64(end));
      rolled = end;
    }
    // Never delete raw points that are not rolled up yet.
    auto raw_until = std::min(raw_cutoff, rolled);
    auto lowest = codec::be64(std::numeric_limits<int64_t>::min());
    for (auto& fp : fps) {
      auto prefix = series_prefix(target, fp);
      batch.DeleteRange(d.h(cf_raw), prefix + lowest,
                        prefix + codec::be64(raw_until));
      batch.DeleteRange(d.h(cf_hourly), prefix + lowest,
                        prefix + codec::be64(hourly_cutoff));
    }
    auto prefix = target_prefix(target);
    batch.DeleteRange(d.h(cf_db_raw), prefix + lowest,
                      prefix + codec::be64(raw_until));
    batch.DeleteRange(d.h(cf_db_hourly), prefix + lowest,
                      prefix + codec::be64(hourly_cutoff));
    // Forget statements not seen for the whole hourly retention.
    d.scan_prefix(
      cf_statements, prefix, [&](std::string_view k, std::string_view v) {
        codec::decoder dec{v};
        uint8_t fmt = 0;
        uint8_t pe = 0;
        std::string text;
        int64_t last_seen = 0;
        if (dec.u8(fmt) && dec.str(text) && dec.u8(pe) && dec.i64(last_seen)
            && last_seen < hourly_cutoff) {
          batch.Delete(d.h(cf_statements), rocksdb::Slice{k.data(), k.size()});
          d.catalogue_written.erase(std::string{k});
          ++report.statements_forgotten;
        }
      });
  }
  // The audit log and recommendations nobody needs any more.
  auto lowest = codec::be64(std::numeric_limits<int64_t>::min());
  auto audit_cutoff = codec::be64(now_ms - opts_.audit_retention.count());
  d.scan(cf_audit, lowest, audit_cutoff,
         [&](std::string_view, std::string_view) {
           ++report.audit_entries_pruned;
         });
  if (report.audit_entries_pruned > 0)
    batch.DeleteRange(d.h(cf_audit), lowest, audit_cutoff);
  auto rec_cutoff = now_ms - opts_.recommendation_retention.count();
  d.scan(cf_recommendations, "", std::string(1, '\xff'),
         [&](std::string_view k, std::string_view v) {
           // A recommendation without a time (0) is never judged stale.
           auto r = recommendation_from_json(v);
           auto seen = r ? std::max(r->updated_ms, r->created_ms) : 0;
           if (r && r->status != "applied" && seen > 0 && seen < rec_cutoff) {
             batch.Delete(d.h(cf_recommendations),
                          rocksdb::Slice{k.data(), k.size()});
             ++report.recommendations_pruned;
           }
         });
  auto st = d.write(batch);
  if (!st.ok())
    return store_failure(st, "maintaining history");
  d.last_maintenance_ms = now_ms;
  return report;
}

store_stats history_db::stats() {
  auto& d = *impl_;
  store_stats s;
  s.dir = opts_.dir;
  s.snapshots_written = d.snapshots_written;
  s.last_maintenance_ms = d.last_maintenance_ms;
  s.last_error = d.last_error;
  s.stopped = d.stopped;
  s.stopped_since_ms = d.stopped_since_ms;
  s.no_space = d.no_space;
  s.resumes = d.resumes;
  s.last_resume_ms = d.last_resume_ms;
  uint64_t v = 0;
  if (d.db->GetIntProperty(d.h(cf_raw), "rocksdb.estimate-num-keys", &v))
    s.raw_points = v;
  if (d.db->GetIntProperty(d.h(cf_hourly), "rocksdb.estimate-num-keys", &v))
    s.hourly_points = v;
  std::error_code err;
  for (auto& e : std::filesystem::directory_iterator(opts_.dir, err))
    if (e.is_regular_file(err))
      s.size_bytes += e.file_size(err);
  return s;
}

} // namespace optischema
