#pragma once

// Private to optischema_pg: the libpqxx side of a session.

#include "optischema/pg/session.hpp"

#include <pqxx/pqxx>

#include <exception>
#include <memory>
#include <optional>
#include <string>

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
};

/// Maps a libpqxx/libpq exception to a failure with advice. `what` names the
/// operation ("reading pg_stat_statements") and `target` the database.
failure classify(const std::exception& e, const std::string& what,
                 const std::string& target);

} // namespace optischema::pg
