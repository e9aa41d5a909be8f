#include "optischema/pg/stats_reader.hpp"

#include "optischema/util/clock.hpp"
#include "session_impl.hpp"

#include <fmt/format.h>

#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace optischema::pg {

namespace {

constexpr const char* hidden_text = "<insufficient privilege>";

// Finds pg_stat_statements in this database and learns its columns.
expected<pgss_layout> detect_layout(pqxx::nontransaction& tx,
                                    const std::string& target) {
  auto schema = extension_schema(tx, "pg_stat_statements");
  if (!schema) {
    auto avail = tx.exec(own_marker
                         + "SELECT 1 FROM pg_available_extensions "
                           "WHERE name = 'pg_stat_statements'");
    if (avail.empty())
      return failure{ec::missing_extension,
                     fmt::format("pg_stat_statements is not available on the "
                                 "server of {}: install the PostgreSQL contrib "
                                 "package, add shared_preload_libraries = "
                                 "'pg_stat_statements' to postgresql.conf, "
                                 "restart, then run CREATE EXTENSION "
                                 "pg_stat_statements;",
                                 target)};
    return failure{ec::missing_extension,
                   fmt::format("pg_stat_statements is not installed in {}: run "
                               "CREATE EXTENSION pg_stat_statements; in that "
                               "database (it must also be listed in "
                               "shared_preload_libraries)",
                               target)};
  }
  pgss_layout l;
  l.schema = *schema;
  std::set<std::string> cols;
  for (auto row :
       tx.exec(own_marker
               + fmt::format(
                 "SELECT attname FROM pg_attribute WHERE attrelid = "
                 "'{}.pg_stat_statements'::regclass AND attnum > 0 AND NOT "
                 "attisdropped",
                 l.schema)))
    cols.insert(row[0].as<std::string>());
  l.has_toplevel = cols.count("toplevel") != 0;
  l.has_plan_time = cols.count("total_plan_time") != 0;
  l.exec_time_column = cols.count("total_exec_time") != 0 ? "total_exec_time"
                                                          : "total_time";
  auto info
    = tx.exec(own_marker
              + fmt::format(
                "SELECT to_regclass('{}.pg_stat_statements_info') IS NOT NULL",
                l.schema));
  l.has_info = info[0][0].as<bool>();
  return l;
}

int64_t as_i64(const pqxx::field& f) {
  return f.is_null() ? 0 : f.as<int64_t>();
}
double as_f64(const pqxx::field& f) {
  return f.is_null() ? 0.0 : f.as<double>();
}

/// Fills in the texts of the rows of `out` whose queryid `known` does not
/// know, read by queryid. A row whose text is the engine's own is dropped
/// and its queryid remembered; a row whose entry was evicted in between
/// (no text to fingerprint) is dropped too, and its calls are counted by
/// the next poll, which sees it as new.
void read_new_texts(pqxx::nontransaction& tx, const pgss_layout& l,
                    session::impl& impl, const known_text& known,
                    const std::string& dbid, raw_sample& out) {
  std::string ids;
  std::unordered_set<int64_t> wanted;
  for (auto& r : out.rows)
    if (!known(r.key.queryid) && wanted.insert(r.key.queryid).second)
      ids += fmt::format("{}{}", ids.empty() ? "" : ",", r.key.queryid);
  if (wanted.empty())
    return;
  std::unordered_map<int64_t, std::string> text;
  // The ids are integers formatted here, never text from outside.
  for (auto row : tx.exec(
         own_marker
         + fmt::format(
           "SELECT DISTINCT ON (queryid) queryid, query, query LIKE '{}%' "
           "FROM {}.pg_stat_statements(true) WHERE dbid = {} AND queryid = "
           "ANY('{{{}}}'::bigint[])",
           own_marker, l.schema, dbid, ids))) {
    auto queryid = as_i64(row[0]);
    if (row[2].as<bool>(false))
      impl.own_queryids.insert(queryid);
    else
      text.emplace(queryid, row[1].is_null() ? hidden_text : row[1].c_str());
  }
  std::erase_if(out.rows, [&](pgss_row& r) {
    if (!wanted.count(r.key.queryid))
      return false;
    auto i = text.find(r.key.queryid);
    if (i == text.end())
      return true;
    r.query = i->second;
    return false;
  });
}

/// The counters of pg_stat_statements rows matching `where_db` (an SQL
/// condition on `dbid`), with pg_stat_statements_info around them. Rows
/// carry their text only with `texts`; without, the engine's own statements
/// are left out by the queryids learnt so far.
struct counters {
  std::vector<pgss_row> rows;
  int64_t hidden_rows = 0;
  /// Hidden rows by dbid (a server-wide read).
  std::unordered_map<int64_t, int64_t> hidden_by_db;
  pgss_info info;
};

counters read_counters(pqxx::nontransaction& tx, const pgss_layout& l,
                       const session::impl& impl, bool texts,
                       const std::string& where_db, const char*& step) {
  auto sql = fmt::format(
    "SELECT userid::bigint, dbid::bigint, queryid, {}, {}, calls, {}, {}, "
    "rows, shared_blks_hit, shared_blks_read, temp_blks_read, "
    "temp_blks_written FROM {}.pg_stat_statements({}) "
    "WHERE {} AND {}{}",
    l.has_toplevel ? "toplevel" : "true", texts ? "query" : "NULL::text",
    l.exec_time_column, l.has_plan_time ? "total_plan_time" : "0::float8",
    l.schema, texts ? "true" : "false", where_db,
    // Nested statements (track = all) are inside their caller's time:
    // counting them too would inflate every total.
    l.has_toplevel ? "toplevel" : "true",
    // The engine's own statements: by text here, by queryid without
    // texts (learnt when their texts were fetched).
    texts ? fmt::format(" AND query NOT LIKE '{}%'", own_marker) : "");
  counters out;
  // pg_stat_statements_info first and again after the rows: a reset
  // between them would pair the old counts with the new reset time, and
  // the deltas would count every call before the reset twice. Straddled,
  // the rows are read again, after the reset.
  auto read_info = [&] {
    pgss_info i;
    if (!l.has_info)
      return i;
    step = "reading pg_stat_statements_info";
    auto info = tx.exec(
      own_marker
      + fmt::format(
        "SELECT dealloc, (extract(epoch FROM stats_reset) * 1000)::bigint "
        "FROM {}.pg_stat_statements_info",
        l.schema));
    if (!info.empty()) {
      i.available = true;
      i.dealloc = as_i64(info[0][0]);
      i.stats_reset_ms = as_i64(info[0][1]);
    }
    return i;
  };
  auto read_rows = [&] {
    step = "reading pg_stat_statements";
    out.rows.clear();
    out.hidden_rows = 0;
    out.hidden_by_db.clear();
    auto rows = tx.exec(own_marker + sql);
    out.rows.reserve(rows.size());
    for (auto row : rows) {
      // Without pg_read_all_stats, other roles' entries have no queryid and
      // a placeholder text: count them, they cannot be grouped.
      if (row[2].is_null()) {
        ++out.hidden_rows;
        ++out.hidden_by_db[as_i64(row[1])];
        continue;
      }
      auto queryid = as_i64(row[2]);
      if (!texts && impl.own_queryids.count(queryid) != 0)
        continue;
      auto& r = out.rows.emplace_back();
      r.key.userid = as_i64(row[0]);
      r.key.dbid = as_i64(row[1]);
      r.key.queryid = queryid;
      r.key.toplevel = row[3].as<bool>();
      if (texts)
        r.query = row[4].is_null() ? hidden_text : row[4].c_str();
      r.total.calls = as_i64(row[5]);
      r.total.exec_time_ms = as_f64(row[6]);
      r.total.plan_time_ms = as_f64(row[7]);
      r.total.rows = as_i64(row[8]);
      r.total.shared_blks_hit = as_i64(row[9]);
      r.total.shared_blks_read = as_i64(row[10]);
      r.total.temp_blks_read = as_i64(row[11]);
      r.total.temp_blks_written = as_i64(row[12]);
    }
  };
  auto before = read_info();
  read_rows();
  out.info = read_info();
  if (out.info.stats_reset_ms != before.stats_reset_ms) {
    read_rows();
    out.info = read_info();
  }
  return out;
}

/// The pg_stat_database row of the database `where` (an SQL condition on
/// pg_stat_database) selects.
void read_database(pqxx::nontransaction& tx, const std::string& where,
                   database_sample& d) {
  auto db = tx.exec(
    own_marker
    + "SELECT numbackends, xact_commit, xact_rollback, blks_read, blks_hit, "
      "tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted, "
      "temp_files, temp_bytes, deadlocks, "
      "coalesce((extract(epoch FROM stats_reset) * 1000)::bigint, 0), "
      "pg_database_size(datid), current_setting('max_connections')::bigint "
      "FROM pg_stat_database WHERE "
    + where);
  if (db.empty())
    return;
  auto row = db[0];
  d.numbackends = as_i64(row[0]);
  d.xact_commit = as_i64(row[1]);
  d.xact_rollback = as_i64(row[2]);
  d.blks_read = as_i64(row[3]);
  d.blks_hit = as_i64(row[4]);
  d.tup_returned = as_i64(row[5]);
  d.tup_fetched = as_i64(row[6]);
  d.tup_inserted = as_i64(row[7]);
  d.tup_updated = as_i64(row[8]);
  d.tup_deleted = as_i64(row[9]);
  d.temp_files = as_i64(row[10]);
  d.temp_bytes = as_i64(row[11]);
  d.deadlocks = as_i64(row[12]);
  d.stats_reset_ms = as_i64(row[13]);
  d.size_bytes = as_i64(row[14]);
  d.max_connections = as_i64(row[15]);
}

/// Finds pg_stat_statements on the session's connection the first time.
expected<const pgss_layout*>
layout(pqxx::nontransaction& tx, session::impl& impl, const std::string& target,
       const char*& step) {
  if (!impl.layout) {
    step = "looking for pg_stat_statements";
    auto l = detect_layout(tx, target);
    if (!l)
      return l.error();
    impl.layout = *l;
  }
  return &*impl.layout;
}

/// Turns what a read threw into a failure, and leaves the session ready
/// for the next read: reconnecting after a lost connection, looking for the
/// extension again after an SQL error (it may have been dropped or created).
failure read_failed(session& s, const std::exception& e, const char* step) {
  auto out = classify(e, step, s.target().display);
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr
      || out.code == ec::db_unreachable || !s.connected())
    s.disconnect();
  else
    s.get_impl().layout.reset();
  return out;
}

const std::string this_database
  = "dbid = (SELECT oid FROM pg_database WHERE datname = current_database())";

} // namespace

expected<raw_sample> read_sample(session& s, const known_text& known) {
  auto facts = s.connect();
  if (!facts)
    return facts.error();
  auto& impl = s.get_impl();
  const char* step = "reading pg_stat_statements";
  try {
    pqxx::nontransaction tx{*impl.conn};
    auto found = layout(tx, impl, s.target().display, step);
    if (!found)
      return found.error();
    auto& l = **found;
    raw_sample out;
    out.ts_ms = now_ms();
    // Without `known`, every row comes with its text in one read. With it,
    // the rows come without texts (pg_stat_statements(false): no read of
    // the texts file into the result, no text on the wire) and a second
    // read fetches the texts of the queryids the caller has not seen.
    auto c = read_counters(tx, l, impl, !known, this_database, step);
    out.rows = std::move(c.rows);
    out.hidden_rows = c.hidden_rows;
    out.info = c.info;
    if (known) {
      step = "reading new texts of pg_stat_statements";
      read_new_texts(tx, l, impl, known,
                     "(SELECT oid FROM pg_database WHERE datname = "
                     "current_database())",
                     out);
    }
    step = "reading pg_stat_database";
    read_database(tx, "datname = current_database()", out.db);
    return out;
  } catch (const std::exception& e) {
    return read_failed(s, e, step);
  }
}

// -- server_reader ------------------------------------------------------------

struct server_reader::impl {
  std::chrono::milliseconds fresh_for;
  mutable std::mutex mtx;
  /// Connected to the database of the target that found it disconnected.
  std::unique_ptr<session> conn;
  /// The last server-wide read, shared by reads within `fresh_for`.
  struct shared_read {
    std::chrono::steady_clock::time_point at;
    int64_t ts_ms = 0;
    counters c;
    /// Each database's rows, and dbids by name.
    std::unordered_map<int64_t, std::vector<pgss_row>> rows;
    std::unordered_map<std::string, int64_t> dbids;
  };
  std::optional<shared_read> last;
  uint64_t server_reads = 0;
  /// The read each database was last served from: never the same one
  /// twice, so a target's samples always move forward in time.
  std::unordered_map<std::string, uint64_t> served;

  void refresh(pqxx::nontransaction& tx, const pgss_layout& l,
               const char*& step) {
    shared_read r;
    r.at = std::chrono::steady_clock::now();
    r.ts_ms = now_ms();
    step = "reading pg_database";
    for (auto row :
         tx.exec(own_marker + "SELECT datname, oid::bigint FROM pg_database"))
      r.dbids.emplace(row[0].c_str(), as_i64(row[1]));
    r.c = read_counters(tx, l, conn->get_impl(), false, "true", step);
    for (auto& row : r.c.rows)
      r.rows[row.key.dbid].push_back(std::move(row));
    r.c.rows.clear();
    last = std::move(r);
    ++server_reads;
  }
};

server_reader::server_reader(std::chrono::milliseconds fresh_for)
  : impl_{std::make_unique<impl>()} {
  impl_->fresh_for = fresh_for;
}

server_reader::~server_reader() = default;

expected<raw_sample> server_reader::read(const conninfo& target,
                                         const known_text& known) {
  auto& m = *impl_;
  std::lock_guard<std::mutex> guard{m.mtx};
  if (!m.conn || !m.conn->connected())
    m.conn = std::make_unique<session>(target);
  auto facts = m.conn->connect();
  if (!facts) {
    m.conn.reset();
    return facts.error();
  }
  auto& s = *m.conn;
  auto& impl = s.get_impl();
  const char* step = "reading pg_stat_statements";
  try {
    pqxx::nontransaction tx{*impl.conn};
    auto found = layout(tx, impl, s.target().display, step);
    if (!found) {
      // Another target's database may have the extension.
      m.conn.reset();
      return found.error();
    }
    auto& l = **found;
    auto now = std::chrono::steady_clock::now();
    auto fresh = false;
    auto served = m.served.find(target.dbname);
    if (!m.last || now - m.last->at >= m.fresh_for
        || (served != m.served.end() && served->second == m.server_reads)) {
      m.refresh(tx, l, step);
      fresh = true;
    }
    auto id = m.last->dbids.find(target.dbname);
    if (id == m.last->dbids.end() && !fresh) {
      // Created since the last read.
      m.refresh(tx, l, step);
      id = m.last->dbids.find(target.dbname);
    }
    if (id == m.last->dbids.end())
      return failure{ec::db_unreachable,
                     fmt::format("database \"{}\" does not exist on the "
                                 "server of {}: create it, or remove the "
                                 "target",
                                 target.dbname, target.display)};
    auto dbid = id->second;
    m.served[target.dbname] = m.server_reads;
    raw_sample out;
    out.ts_ms = m.last->ts_ms;
    out.info = m.last->c.info;
    if (auto rows = m.last->rows.find(dbid); rows != m.last->rows.end())
      out.rows = rows->second;
    if (auto h = m.last->c.hidden_by_db.find(dbid);
        h != m.last->c.hidden_by_db.end())
      out.hidden_rows = h->second;
    step = "reading new texts of pg_stat_statements";
    read_new_texts(
      tx, l, impl, known ? known : [](int64_t) { return false; },
      std::to_string(dbid), out);
    step = "reading pg_stat_database";
    read_database(tx, fmt::format("datid = {}", dbid), out.db);
    return out;
  } catch (const std::exception& e) {
    auto f = read_failed(s, e, step);
    m.last.reset();
    // Another target's database may have the extension, or be reachable.
    if (f.code == ec::missing_extension || !s.connected())
      m.conn.reset();
    return f;
  }
}

std::optional<server_facts> server_reader::facts() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  if (!impl_->conn || !impl_->conn->connected())
    return std::nullopt;
  return impl_->conn->facts();
}

uint64_t server_reader::server_reads() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->server_reads;
}

expected<std::string> server_key(const conninfo& target) {
  auto settings = conninfo_settings(target.raw);
  if (!settings)
    return settings.error();
  settings->erase("dbname");
  // Settings the engine adds or that do not change whom it reaches.
  settings->erase("application_name");
  std::string key;
  for (auto& [k, v] : *settings)
    key += fmt::format("{}={}\n", k, v);
  return key;
}

} // namespace optischema::pg
