#include "codec.hpp"

#include <cstring>

namespace optischema::codec {

namespace {
constexpr uint8_t format_v1 = 1;
}

void encoder::i64(int64_t x) {
  // zig-zag varint: small counts take one or two bytes.
  auto u = (static_cast<uint64_t>(x) << 1) ^ static_cast<uint64_t>(x >> 63);
  while (u >= 0x80) {
    out_.push_back(static_cast<char>((u & 0x7f) | 0x80));
    u >>= 7;
  }
  out_.push_back(static_cast<char>(u));
}

void encoder::f64(double x) {
  char buf[8];
  std::memcpy(buf, &x, 8);
  out_.append(buf, 8);
}

void encoder::str(std::string_view x) {
  i64(static_cast<int64_t>(x.size()));
  out_.append(x);
}

bool decoder::u8(uint8_t& x) {
  if (pos_ >= in_.size())
    return false;
  x = static_cast<uint8_t>(in_[pos_++]);
  return true;
}

bool decoder::i64(int64_t& x) {
  uint64_t u = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= in_.size())
      return false;
    auto b = static_cast<uint8_t>(in_[pos_++]);
    u |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      x = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
      return true;
    }
  }
  return false;
}

bool decoder::f64(double& x) {
  if (pos_ + 8 > in_.size())
    return false;
  std::memcpy(&x, in_.data() + pos_, 8);
  pos_ += 8;
  return true;
}

bool decoder::str(std::string& x) {
  int64_t n = 0;
  if (!i64(n) || n < 0 || pos_ + static_cast<size_t>(n) > in_.size())
    return false;
  x.assign(in_.data() + pos_, static_cast<size_t>(n));
  pos_ += static_cast<size_t>(n);
  return true;
}

namespace {

/// Writes through the reader's interface, so one field list (below) serves
/// both directions and a record is read back in the order it was written.
struct writing {
  encoder& e;
  bool i64(int64_t x) {
    e.i64(x);
    return true;
  }
  bool f64(double x) {
    e.f64(x);
    return true;
  }
};

/// The stored fields of each record, in order; `C` is `writing` or a
/// decoder, `X` the record (const when writing).
template <class C, class X>
bool counter_fields(C& c, X& x) {
  return c.i64(x.calls) && c.f64(x.exec_time_ms) && c.f64(x.plan_time_ms)
    && c.i64(x.rows) && c.i64(x.shared_blks_hit) && c.i64(x.shared_blks_read)
    && c.i64(x.temp_blks_read) && c.i64(x.temp_blks_written);
}

template <class C, class X>
bool database_fields(C& c, X& x) {
  return c.i64(x.numbackends) && c.i64(x.max_connections) && c.i64(x.size_bytes)
    && c.f64(x.cache_hit_ratio) && c.f64(x.commits_per_s)
    && c.f64(x.rollbacks_per_s) && c.i64(x.xact_commit)
    && c.i64(x.xact_rollback) && c.i64(x.blks_hit) && c.i64(x.blks_read)
    && c.i64(x.temp_bytes) && c.i64(x.deadlocks);
}

template <class C, class X>
bool database_point_fields(C& c, X& x) {
  return c.i64(x.interval_ms) && c.i64(x.xact_commit) && c.i64(x.xact_rollback)
    && c.i64(x.blks_hit) && c.i64(x.blks_read) && c.f64(x.exec_time_ms)
    && c.i64(x.calls) && c.i64(x.max_backends);
}

} // namespace

void put(encoder& e, const counters& x) {
  writing w{e};
  counter_fields(w, x);
}

bool get(decoder& d, counters& x) {
  return counter_fields(d, x);
}

std::string encode(const history_point& x) {
  encoder e;
  e.u8(format_v1);
  e.i64(x.interval_ms);
  put(e, x.delta);
  return std::move(e.data());
}

std::optional<history_point> decode_history_point(std::string_view x,
                                                  int64_t ts) {
  decoder d{x};
  uint8_t fmt = 0;
  history_point p;
  p.ts_ms = ts;
  if (!d.u8(fmt) || fmt != format_v1 || !d.i64(p.interval_ms)
      || !get(d, p.delta))
    return std::nullopt;
  return p;
}

std::string encode(const database_point& x) {
  encoder e;
  e.u8(format_v1);
  writing w{e};
  database_point_fields(w, x);
  return std::move(e.data());
}

std::optional<database_point> decode_database_point(std::string_view x,
                                                    int64_t ts) {
  decoder d{x};
  uint8_t fmt = 0;
  database_point p;
  p.ts_ms = ts;
  if (!d.u8(fmt) || fmt != format_v1 || !database_point_fields(d, p))
    return std::nullopt;
  return p;
}

namespace {

void put(encoder& e, const database_metrics& x) {
  writing w{e};
  database_fields(w, x);
}

bool get(decoder& d, database_metrics& x) {
  return database_fields(d, x);
}

} // namespace

std::string encode(const metrics_snapshot& x) {
  encoder e;
  size_t bytes = 256;
  for (auto& st : x.statements)
    bytes += st.fingerprint.size() + 8 * st.queryids.size() + 80;
  e.reserve(bytes);
  e.u8(format_v1);
  e.str(x.target);
  e.i64(x.ts_ms);
  e.i64(x.interval_ms);
  e.u8(static_cast<uint8_t>((x.baseline ? 1 : 0) | (x.reset_detected ? 2 : 0)));
  e.i64(x.evicted);
  e.i64(x.hidden_rows);
  put(e, x.db);
  e.i64(static_cast<int64_t>(x.statements.size()));
  for (auto& st : x.statements) {
    e.str(st.fingerprint);
    // The text lives in the statement catalogue (written when first seen);
    // leaving it out halves what every poll writes.
    e.str({});
    e.u8(st.parse_error ? 1 : 0);
    e.i64(static_cast<int64_t>(st.queryids.size()));
    for (auto id : st.queryids)
      e.i64(id);
    put(e, st.total);
    put(e, st.interval);
  }
  return std::move(e.data());
}

std::optional<metrics_snapshot> decode_snapshot(std::string_view x) {
  decoder d{x};
  metrics_snapshot s;
  uint8_t fmt = 0;
  uint8_t flags = 0;
  int64_t n = 0;
  if (!d.u8(fmt) || fmt != format_v1 || !d.str(s.target) || !d.i64(s.ts_ms)
      || !d.i64(s.interval_ms) || !d.u8(flags) || !d.i64(s.evicted)
      || !d.i64(s.hidden_rows) || !get(d, s.db) || !d.i64(n) || n < 0)
    return std::nullopt;
  s.baseline = (flags & 1) != 0;
  s.reset_detected = (flags & 2) != 0;
  s.statements.resize(static_cast<size_t>(n));
  for (auto& st : s.statements) {
    uint8_t pe = 0;
    int64_t ids = 0;
    if (!d.str(st.fingerprint) || !d.str(st.query) || !d.u8(pe) || !d.i64(ids)
        || ids < 0)
      return std::nullopt;
    st.parse_error = pe != 0;
    st.queryids.resize(static_cast<size_t>(ids));
    for (auto& id : st.queryids)
      if (!d.i64(id))
        return std::nullopt;
    if (!get(d, st.total) || !get(d, st.interval))
      return std::nullopt;
  }
  return s;
}

std::string encode(const raw_sample& x) {
  encoder e;
  e.reserve(256 + 64 * x.rows.size());
  e.u8(format_v1);
  e.i64(x.ts_ms);
  e.u8(x.info.available ? 1 : 0);
  e.i64(x.info.dealloc);
  e.i64(x.info.stats_reset_ms);
  auto& db = x.db;
  for (auto v :
       {db.numbackends, db.max_connections, db.xact_commit, db.xact_rollback,
        db.blks_read, db.blks_hit, db.tup_returned, db.tup_fetched,
        db.tup_inserted, db.tup_updated, db.tup_deleted, db.temp_files,
        db.temp_bytes, db.deadlocks, db.size_bytes, db.stats_reset_ms})
    e.i64(v);
  e.i64(x.hidden_rows);
  e.i64(static_cast<int64_t>(x.rows.size()));
  for (auto& r : x.rows) {
    e.i64(r.key.userid);
    e.i64(r.key.dbid);
    e.i64(r.key.queryid);
    e.u8(r.key.toplevel ? 1 : 0);
    // The text is not needed to compute deltas; it would double the size.
    put(e, r.total);
  }
  return std::move(e.data());
}

std::optional<raw_sample> decode_raw_sample(std::string_view x) {
  decoder d{x};
  raw_sample s;
  uint8_t fmt = 0;
  uint8_t avail = 0;
  if (!d.u8(fmt) || fmt != format_v1 || !d.i64(s.ts_ms) || !d.u8(avail)
      || !d.i64(s.info.dealloc) || !d.i64(s.info.stats_reset_ms))
    return std::nullopt;
  s.info.available = avail != 0;
  auto& db = s.db;
  for (auto* v :
       {&db.numbackends, &db.max_connections, &db.xact_commit,
        &db.xact_rollback, &db.blks_read, &db.blks_hit, &db.tup_returned,
        &db.tup_fetched, &db.tup_inserted, &db.tup_updated, &db.tup_deleted,
        &db.temp_files, &db.temp_bytes, &db.deadlocks, &db.size_bytes,
        &db.stats_reset_ms})
    if (!d.i64(*v))
      return std::nullopt;
  int64_t n = 0;
  if (!d.i64(s.hidden_rows) || !d.i64(n) || n < 0)
    return std::nullopt;
  s.rows.resize(static_cast<size_t>(n));
  for (auto& r : s.rows) {
    uint8_t top = 0;
    if (!d.i64(r.key.userid) || !d.i64(r.key.dbid) || !d.i64(r.key.queryid)
        || !d.u8(top) || !get(d, r.total))
      return std::nullopt;
    r.key.toplevel = top != 0;
  }
  return s;
}

std::string be64(int64_t x) {
  auto u = static_cast<uint64_t>(x) ^ (1ULL << 63); // negative times sort first
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(u & 0xff);
    u >>= 8;
  }
  return out;
}

int64_t from_be64(std::string_view x) {
  uint64_t u = 0;
  for (size_t i = 0; i < 8 && i < x.size(); ++i)
    u = (u << 8) | static_cast<uint8_t>(x[i]);
  return static_cast<int64_t>(u ^ (1ULL << 63));
}

} // namespace optischema::codec
