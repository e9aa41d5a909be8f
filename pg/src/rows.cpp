#include "optischema/pg/rows.hpp"

#include "session_impl.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace optischema::pg {

namespace {

constexpr const char* types_statement = "optischema_parameter_types";

/// Runs `f` on the session's connection and turns exceptions into failures.
/// `what` is read when something fails, so `f` can say what it was doing.
template <class T, class F>
expected<T> guarded(session& s, const std::string& what, F f) {
  auto facts = s.connect();
  if (!facts)
    return facts.error();
  try {
    return f(*s.get_impl().conn);
  } catch (const pqxx::broken_connection& e) {
    s.disconnect();
    return classify(e, what, s.target().display);
  } catch (const std::exception& e) {
    auto out = classify(e, what, s.target().display);
    if (!s.connected())
      s.disconnect();
    return out;
  }
}

/// Runs `body` inside `begin` (a BEGIN … READ ONLY) with local timeouts and
/// rolls back whatever happens. The transaction is ours, not libpqxx's, so
/// every statement carries the marker that keeps it out of the reported
/// workload. When even the rollback fails the connection is in an unknown
/// state: `broken` tells the caller to drop it (not here: `tx` still uses
/// it).
template <class F>
auto rolled_back(pqxx::connection& c, const std::string& begin,
                 std::chrono::milliseconds statement_timeout,
                 std::chrono::milliseconds lock_timeout, bool& broken, F body) {
  pqxx::nontransaction tx{c};
  tx.exec(own_marker + begin);
  try {
    tx.exec(own_marker
            + fmt::format("SET LOCAL statement_timeout = {}",
                          statement_timeout.count()));
    tx.exec(own_marker
            + fmt::format("SET LOCAL lock_timeout = {}", lock_timeout.count()));
    auto out = body(tx);
    tx.exec(own_marker + "ROLLBACK");
    return out;
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (...) {
    try {
      tx.exec(own_marker + "ROLLBACK");
    } catch (const std::exception&) {
      broken = true;
    }
    throw;
  }
}

result_set to_result_set(const pqxx::result& r, int64_t limit) {
  result_set out;
  for (pqxx::row::size_type i = 0; i < r.columns(); ++i)
    out.columns.emplace_back(r.column_name(i));
  for (const auto& row : r) {
    if (static_cast<int64_t>(out.rows.size()) == limit) {
      out.more = true;
      break;
    }
    auto& values = out.rows.emplace_back();
    values.reserve(row.size());
    for (const auto& field : row)
      if (field.is_null())
        values.emplace_back(std::nullopt);
      else
        values.emplace_back(std::string{field.c_str(), field.size()});
  }
  return out;
}

} // namespace

expected<std::vector<result_set>> fetch_rows(session& s,
                                             const std::vector<row_query>& qs,
                                             const fetch_options& opts) {
  auto broken = false;
  std::string what = "starting a read-only transaction";
  auto limit = std::max<int64_t>(opts.limit, 0);
  auto result
    = guarded<std::vector<result_set>>(s, what, [&](pqxx::connection& c) {
        // One snapshot for every query: rows that differ then differ because
        // of the queries, not because of writes in between.
        return rolled_back(
          c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
          opts.statement_timeout, opts.lock_timeout, broken,
          [&](pqxx::nontransaction& tx) {
            std::vector<result_set> out;
            for (size_t i = 0; i < qs.size(); ++i) {
              what = "running " + qs[i].name;
              auto cursor = fmt::format("optischema_rows_{}", i);
              // The extended protocol (exec_params) takes exactly one
              // statement: a text that smuggles a second one fails here.
              tx.exec_params(own_marker + "DECLARE " + cursor
                             + " NO SCROLL CURSOR FOR " + qs[i].sql);
              auto r = tx.exec(
                own_marker
                + fmt::format("FETCH FORWARD {} FROM {}", limit + 1, cursor));
              out.push_back(to_result_set(r, limit));
              tx.exec(own_marker + "CLOSE " + cursor);
            }
            return out;
          });
      });
  if (broken)
    s.disconnect();
  return result;
}

expected<result_set> fetch_rows(session& s, const std::string& sql,
                                const fetch_options& opts) {
  auto r = fetch_rows(s, {row_query{"a query", sql}}, opts);
  if (!r)
    return r.error();
  return std::move(r->front());
}

expected<std::vector<std::string>>
parameter_types(session& s, const std::string& sql,
                const explain_options& opts) {
  auto broken = false;
  auto prepared = false;
  std::string what = "reading the parameter types of a statement";
  auto result
    = guarded<std::vector<std::string>>(s, what, [&](pqxx::connection& c) {
        return rolled_back(
          c, "BEGIN READ ONLY", opts.statement_timeout, opts.lock_timeout,
          broken, [&](pqxx::nontransaction& tx) {
            tx.exec_params(own_marker + "PREPARE " + types_statement + " AS "
                           + sql);
            prepared = true;
            auto rows = tx.exec(
              own_marker
              + fmt::format("SELECT u.t::text FROM pg_prepared_statements p, "
                            "unnest(p.parameter_types) WITH ORDINALITY "
                            "AS u(t, i) WHERE p.name = '{}' ORDER BY u.i",
                            types_statement));
            std::vector<std::string> out;
            for (const auto& row : rows)
              out.emplace_back(row[0].c_str());
            return out;
          });
      });
  if (prepared && !broken && s.connected()) {
    // Prepared statements outlive transactions: remove ours.
    try {
      pqxx::nontransaction tx{*s.get_impl().conn};
      tx.exec(own_marker + "DEALLOCATE " + types_statement);
    } catch (const std::exception&) {
      broken = true; // a session in an unknown state is not reused
    }
  }
  if (broken)
    s.disconnect();
  return result;
}

} // namespace optischema::pg
