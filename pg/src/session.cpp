#include "session_impl.hpp"

#include "optischema/util/redact.hpp"
#include "optischema/util/strings.hpp"

#include <fmt/format.h>

namespace optischema::pg {

namespace {

bool contains(const std::string& haystack, const char* needle) {
  return haystack.find(needle) != std::string::npos;
}

/// The engine's settings on a connection: its timeouts, and
/// standard_conforming_strings on, so the server reads every text as
/// libpg_query (which checked it) does: with it off, `'\' || '` is one
/// literal and what follows would be another statement.
void pin(pqxx::connection& c, const session::options& opts) {
  pqxx::nontransaction tx{c};
  tx.exec(own_marker
          + fmt::format("SELECT pg_catalog.set_config('statement_timeout', "
                        "'{}', false), pg_catalog.set_config('lock_timeout', "
                        "'{}', false), pg_catalog.set_config("
                        "'standard_conforming_strings', 'on', false)",
                        opts.statement_timeout.count(),
                        opts.lock_timeout.count()));
}

} // namespace

failure classify(const std::exception& e, const std::string& what,
                 const std::string& target) {
  auto msg = redact_secrets(trim(e.what()));
  if (auto* x = dynamic_cast<const pqxx::sql_error*>(&e)) {
    auto& state = x->sqlstate();
    if (state == "42501")
      return {ec::permission_denied,
              fmt::format("permission denied while {} on {}: {}; grant the "
                          "monitoring role pg_monitor (GRANT pg_monitor TO "
                          "<role>;)",
                          what, target, msg)};
    if (state == "55000" && contains(msg, "shared_preload_libraries"))
      return {ec::missing_extension,
              fmt::format("pg_stat_statements is not preloaded on {}: add "
                          "shared_preload_libraries = 'pg_stat_statements' to "
                          "postgresql.conf and restart PostgreSQL",
                          target)};
    if (state == "57014")
      return {ec::timeout,
              fmt::format("timed out while {} on {}: {}", what, target, msg)};
    if (state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02"
        || state == "57P03")
      return {ec::db_unreachable,
              fmt::format("lost {} while {}: {}", target, what, msg)};
    if (state == "28P01" || state == "28000")
      return {ec::db_unreachable,
              fmt::format("authentication to {} failed: {}; check the user and "
                          "password (PGPASSWORD, ~/.pgpass or the DSN)",
                          target, msg)};
    if (state == "3D000")
      return {ec::db_unreachable,
              fmt::format("database of {} does not exist: {}", target, msg)};
    return {ec::sql_error,
            fmt::format("error while {} on {}: {} (SQLSTATE {})", what, target,
                        msg, state)};
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    if (contains(msg, "password authentication failed")
        || contains(msg, "no password supplied"))
      return {ec::db_unreachable,
              fmt::format("authentication to {} failed: {}; check the user and "
                          "password (PGPASSWORD, ~/.pgpass or the DSN)",
                          target, msg)};
    if (contains(msg, "permission denied"))
      return {ec::permission_denied,
              fmt::format("{} refused the connection: {}; GRANT CONNECT ON "
                          "DATABASE to the monitoring role",
                          target, msg)};
    if (contains(msg, "does not exist"))
      return {ec::db_unreachable,
              fmt::format("cannot connect to {}: {}", target, msg)};
    return {ec::db_unreachable,
            fmt::format("cannot reach {}: {}; check that the server runs and "
                        "accepts connections from this host",
                        target, msg)};
  }
  return {ec::sql_error,
          fmt::format("error while {} on {}: {}", what, target, msg)};
}

session::session(conninfo target) : session(std::move(target), options{}) {
  // nop
}

session::session(conninfo target, options opts)
  : target_(std::move(target)), opts_(opts), impl_(std::make_unique<impl>()) {
  // nop
}

session::~session() = default;
session::session(session&&) noexcept = default;
session& session::operator=(session&&) noexcept = default;

bool session::connected() const {
  return impl_->conn != nullptr && impl_->conn->is_open();
}

void session::disconnect() {
  impl_->conn.reset();
  impl_->layout.reset();
}

void session::reset_state() {
  if (!connected())
    return;
  try {
    {
      pqxx::nontransaction tx{*impl_->conn};
      tx.exec(own_marker + "DISCARD ALL");
    }
    pin(*impl_->conn, opts_);
  } catch (const std::exception&) {
    disconnect(); // a session in an unknown state is not reused
  }
}

expected<server_facts> session::connect() {
  if (connected())
    return facts_;
  disconnect();
  try {
    auto conn = std::make_unique<pqxx::connection>(target_.effective);
    pin(*conn, opts_);
    pqxx::nontransaction tx{*conn};
    auto r = tx.exec(
      own_marker
      + "SELECT current_setting('server_version_num')::int, "
        "current_setting('server_version'), current_database(), current_user, "
        "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user), "
        "pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')");
    server_facts f;
    f.version_num = r[0][0].as<int>();
    f.version = r[0][1].as<std::string>();
    f.database = r[0][2].as<std::string>();
    f.user = r[0][3].as<std::string>();
    f.superuser = r[0][4].as<bool>();
    f.read_all_stats = f.superuser || r[0][5].as<bool>();
    impl_->conn = std::move(conn);
    facts_ = f;
    return f;
  } catch (const std::exception& e) {
    disconnect();
    return classify(e, "connecting", target_.display);
  }
}

} // namespace optischema::pg
