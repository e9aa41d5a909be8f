#pragma once

// Private to optischema_pg: the libpqxx side of a session.

#include "optischema/pg/session.hpp"

#include <pqxx/pqxx>

#include <fmt/format.h>

#include <chrono>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

namespace optischema::pg {

/// Where pg_stat_statements lives and which columns this server has.
struct pgss_layout {
  std::string schema;           ///< quoted identifier
  bool has_info = false;        ///< pg_stat_statements_info (PG 14+)
  bool has_toplevel = false;    ///< PG 14+
  bool has_plan_time = false;   ///< total_plan_time (PG 13+)
  std::string exec_time_column; ///< total_exec_time (13+) or total_time
};

/// Starts every statement the engine sends, so the collector can leave the
/// engine's own statements out of the workload it reports.
inline const std::string own_marker = "/* optischema */ ";

struct session::impl {
  std::unique_ptr<pqxx::connection> conn;
  std::optional<pgss_layout> layout;
  /// queryids of the engine's own statements in pg_stat_statements: a read
  /// without texts cannot tell them by their marker. Kept across
  /// reconnects, as queryids are.
  std::unordered_set<int64_t> own_queryids;
  /// check_statement's verdicts by text: when, and the refusal if any.
  std::map<
    std::string,
    std::pair<std::chrono::steady_clock::time_point, std::optional<failure>>>
    verdicts;
};

/// The schema extension `name` is installed in, quoted for use in SQL;
/// empty when it is not installed in this database.
inline std::optional<std::string> extension_schema(pqxx::nontransaction& tx,
                                                   const std::string& name) {
  auto r = tx.exec_params(own_marker
                            + "SELECT quote_ident(n.nspname) FROM pg_extension "
                              "e JOIN pg_namespace n ON n.oid = e.extnamespace "
                              "WHERE e.extname = $1",
                          name);
  if (r.empty())
    return std::nullopt;
  return r[0][0].as<std::string>();
}

/// Maps a libpqxx/libpq exception to a failure with advice. `what` names the
/// operation ("reading pg_stat_statements") and `target` the database.
failure classify(const std::exception& e, const std::string& what,
                 const std::string& target);

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

} // namespace optischema::pg
