#include "optischema/pg/stats_reader.hpp"

#include "optischema/util/clock.hpp"
#include "session_impl.hpp"

#include <fmt/format.h>

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
                    raw_sample& out) {
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
           "FROM {}.pg_stat_statements(true) WHERE dbid = (SELECT oid FROM "
           "pg_database WHERE datname = current_database()) AND queryid = "
           "ANY('{{{}}}'::bigint[])",
           own_marker, l.schema, ids))) {
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

} // namespace

expected<raw_sample> read_sample(session& s, const known_text& known) {
  auto facts = s.connect();
  if (!facts)
    return facts.error();
  auto& impl = s.get_impl();
  const auto& target = s.target().display;
  const char* step = "reading pg_stat_statements";
  try {
    pqxx::nontransaction tx{*impl.conn};
    if (!impl.layout) {
      step = "looking for pg_stat_statements";
      auto l = detect_layout(tx, target);
      if (!l)
        return l.error();
      impl.layout = *l;
    }
    auto& l = *impl.layout;
    raw_sample out;
    out.ts_ms = now_ms();
    step = "reading pg_stat_statements";
    // Without `known`, every row comes with its text in one read. With it,
    // the rows come without texts (pg_stat_statements(false): no read of
    // the texts file into the result, no text on the wire) and a second
    // read fetches the texts of the queryids the caller has not seen.
    auto texts = !known;
    auto sql = fmt::format(
      "SELECT userid::bigint, dbid::bigint, queryid, {}, {}, calls, {}, {}, "
      "rows, shared_blks_hit, shared_blks_read, temp_blks_read, "
      "temp_blks_written FROM {}.pg_stat_statements({}) "
      "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = "
      "current_database()) AND {}{}",
      l.has_toplevel ? "toplevel" : "true", texts ? "query" : "NULL::text",
      l.exec_time_column, l.has_plan_time ? "total_plan_time" : "0::float8",
      l.schema, texts ? "true" : "false",
      // Nested statements (track = all) are inside their caller's time:
      // counting them too would inflate every total.
      l.has_toplevel ? "toplevel" : "true",
      // The engine's own statements: by text here, by queryid without
      // texts (learnt when their texts were fetched).
      texts ? fmt::format(" AND query NOT LIKE '{}%'", own_marker) : "");
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
      auto rows = tx.exec(own_marker + sql);
      out.rows.reserve(rows.size());
      for (auto row : rows) {
        // Without pg_read_all_stats, other roles' entries have no queryid and
        // a placeholder text: count them, they cannot be grouped.
        if (row[2].is_null()) {
          ++out.hidden_rows;
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
    if (!texts) {
      step = "reading new texts of pg_stat_statements";
      read_new_texts(tx, l, impl, known, out);
    }
    step = "reading pg_stat_database";
    auto db = tx.exec(
      own_marker
      + "SELECT numbackends, xact_commit, xact_rollback, blks_read, blks_hit, "
        "tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted, "
        "temp_files, temp_bytes, deadlocks, "
        "coalesce((extract(epoch FROM stats_reset) * 1000)::bigint, 0), "
        "pg_database_size(datid), current_setting('max_connections')::bigint "
        "FROM pg_stat_database WHERE datname = current_database()");
    if (!db.empty()) {
      auto row = db[0];
      auto& d = out.db;
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
    return out;
  } catch (const pqxx::broken_connection& e) {
    s.disconnect();
    return classify(e, step, target);
  } catch (const std::exception& e) {
    auto f = classify(e, step, target);
    // A dropped server surfaces as sql errors too; reconnect next time.
    if (f.code == ec::db_unreachable || !s.connected())
      s.disconnect();
    else
      impl.layout.reset(); // the extension may have been dropped/created
    return f;
  }
}

} // namespace optischema::pg
