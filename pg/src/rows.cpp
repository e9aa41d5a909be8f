#include "optischema/pg/rows.hpp"

#include "session_impl.hpp"

#include "optischema/pg/safety.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace optischema::pg {

namespace {

constexpr const char* types_statement = "optischema_parameter_types";

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
  for (auto& q : qs)
    if (auto safe = check_statement(s, q.sql); !safe)
      return failure{safe.error().code,
                     fmt::format("{} {}", q.name, safe.error().message)};
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
  else
    s.reset_state(); // cursors are closed; nothing else may stay either
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
  if (auto safe = check_statement(s, sql); !safe)
    return safe.error();
  auto broken = false;
  std::string what = "reading the parameter types of a statement";
  auto result
    = guarded<std::vector<std::string>>(s, what, [&](pqxx::connection& c) {
        return rolled_back(
          c, "BEGIN READ ONLY", opts.statement_timeout, opts.lock_timeout,
          broken, [&](pqxx::nontransaction& tx) {
            tx.exec_params(own_marker + "PREPARE " + types_statement + " AS "
                           + sql);
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
  // Prepared statements outlive transactions: DISCARD ALL removes ours.
  if (broken)
    s.disconnect();
  else
    s.reset_state();
  return result;
}

} // namespace optischema::pg
