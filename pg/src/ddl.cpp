#include "optischema/pg/ddl.hpp"

#include "session_impl.hpp"

#include "optischema/analysis/statement.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/util/redact.hpp"

#include <fmt/format.h>

#include <thread>

namespace optischema::pg {

namespace {

/// Key of the advisory lock every engine takes before changing a database
/// (a constant, so engines of any version agree): "OptiSchm" in ASCII.
constexpr int64_t apply_lock_key = 0x4F70746953636D;

std::unique_ptr<pqxx::connection> open(const conninfo& target,
                                       const ddl_options& opts) {
  auto conn = std::make_unique<pqxx::connection>(target.effective);
  pqxx::nontransaction tx{*conn};
  tx.exec(own_marker
          + fmt::format("SET lock_timeout = {}", opts.lock_timeout.count()));
  tx.exec(own_marker
          + fmt::format("SET statement_timeout = {}",
                        opts.statement_timeout.count()));
  // Other engines' dashboards show who is building what.
  tx.exec(own_marker + "SET application_name = 'optischema-apply'");
  return conn;
}

pqxx::result run(pqxx::connection& conn, const std::string& sql) {
  pqxx::nontransaction tx{conn};
  return tx.exec(own_marker + sql);
}

std::string state_of(pqxx::connection& conn, const std::string& schema,
                     const std::string& name) {
  pqxx::nontransaction tx{conn};
  auto r = tx.exec_params(
    own_marker
      + "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = "
        "i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
        "n.nspname = $1 AND c.relname = $2",
    schema, name);
  if (r.empty())
    return "absent";
  return r[0][0].as<bool>() ? "valid" : "invalid";
}

/// Pids holding a lock on `schema.table` (pg_locks is readable by anyone).
std::string lock_holders(const conninfo& target, const ddl_options& opts,
                         const std::string& schema, const std::string& table) {
  if (table.empty())
    return {};
  try {
    auto conn = open(target, opts);
    pqxx::nontransaction tx{*conn};
    auto r = tx.exec_params(
      own_marker
        + "SELECT string_agg(DISTINCT l.pid::text, ', ') FROM pg_locks l "
          "WHERE l.relation = to_regclass(format('%I.%I', $1::text, "
          "$2::text)) AND l.granted AND l.pid <> pg_backend_pid()",
      schema, table);
    return r.empty() || r[0][0].is_null() ? std::string{}
                                          : r[0][0].as<std::string>();
  } catch (const std::exception&) {
    return {};
  }
}

bool retryable(const pqxx::sql_error& e) {
  return e.sqlstate() == "55P03" || e.sqlstate() == "40P01";
}

/// Drops an INVALID `schema.name` on a fresh connection, retrying busy
/// locks; true when dropped, false when none was there.
expected<bool> drop_invalid(const conninfo& target, const std::string& schema,
                            const std::string& name, const ddl_options& opts) {
  for (int attempt = 1;; ++attempt) {
    try {
      auto conn = open(target, opts);
      if (state_of(*conn, schema, name) != "invalid")
        return false;
      run(*conn,
          "DROP INDEX CONCURRENTLY IF EXISTS " + quote_qualified(schema, name));
      return true;
    } catch (const pqxx::sql_error& e) {
      if (!retryable(e) || attempt >= opts.attempts)
        return classify(e, "dropping the INVALID index " + name,
                        target.display);
    } catch (const std::exception& e) {
      return classify(e, "dropping the INVALID index " + name, target.display);
    }
    std::this_thread::sleep_for(opts.retry_delay * attempt);
  }
}

} // namespace

expected<std::string> index_state(const conninfo& target,
                                  const std::string& schema,
                                  const std::string& name) {
  try {
    auto conn = open(target, {});
    return state_of(*conn, schema, name);
  } catch (const std::exception& e) {
    return classify(e, "reading pg_index", target.display);
  }
}

expected<bool>
drop_invalid_index(const conninfo& target, const std::string& schema,
                   const std::string& name, const ddl_options& opts) {
  return drop_invalid(target, schema, name, opts);
}

std::variant<ddl_outcome, ddl_failure>
run_index_change(const conninfo& target, const index_change& c,
                 const ddl_options& opts) {
  auto start = std::chrono::steady_clock::now();
  ddl_outcome out;
  auto creating = c.what == index_change::action::create;
  auto what = fmt::format("{} index {}", creating ? "creating" : "dropping",
                          c.index_name);
  auto fail = [&](failure f, bool invalid_left = false) {
    out.duration_ms = elapsed_ms(start);
    return ddl_failure{std::move(f), out, invalid_left};
  };
  if (!c.concurrently && !opts.allow_blocking)
    return fail({ec::conflict,
                 fmt::format("{} cannot run CONCURRENTLY (a partitioned "
                             "table): it would block writes to the table for "
                             "the whole build, so the engine does not run it; "
                             "build it per partition off-peak "
                             "(CREATE INDEX ON ONLY, then CONCURRENTLY per "
                             "partition, then ATTACH)",
                             c.index_name)});
  std::unique_ptr<pqxx::connection> conn;
  try {
    conn = open(target, opts);
    // Unqualified names in the DDL resolve where the checks looked.
    if (!c.schema.empty())
      run(*conn, "SET search_path = " + quote_ident(c.schema));
    auto locked = run(
      *conn, fmt::format("SELECT pg_try_advisory_lock({})", apply_lock_key));
    if (!locked[0][0].as<bool>())
      return fail({ec::conflict,
                   fmt::format("another OptiSchema engine is changing {} right "
                               "now (advisory lock {} is held); try again "
                               "when it is done",
                               target.display, apply_lock_key)});
    out.steps.emplace_back("advisory lock taken");
    auto state = state_of(*conn, c.schema, c.index_name);
    if (creating && state == "valid") {
      out.steps.emplace_back("the index exists and is valid: nothing to do");
      out.duration_ms = elapsed_ms(start);
      return out;
    }
    if (!creating && state == "absent") {
      out.steps.emplace_back("the index does not exist: nothing to do");
      out.duration_ms = elapsed_ms(start);
      return out;
    }
    if (creating && state == "invalid") {
      // A leftover of an earlier failed build: it must go before a new one
      // (its name is taken) and it slows every write meanwhile.
      run(*conn,
          "DROP INDEX CONCURRENTLY IF EXISTS "
            + quote_qualified(c.schema, c.index_name));
      out.steps.emplace_back(
        "dropped the INVALID index an earlier failed build left behind");
    }
    if (creating && opts.max_index_bytes > 0
        && opts.estimated_bytes > opts.max_index_bytes)
      return fail({ec::conflict,
                   fmt::format("the index is estimated at {:.1f} MB, above the "
                               "limit of {:.1f} MB (--apply-max-index-mb); "
                               "check free disk space, then raise the limit",
                               opts.estimated_bytes / 1048576.0,
                               opts.max_index_bytes / 1048576.0)});
  } catch (const std::exception& e) {
    return fail(classify(e, what, target.display));
  }
  for (int attempt = 1;; ++attempt) {
    out.attempts = attempt;
    std::optional<failure> error;
    auto retry = false;
    auto lost = false;
    try {
      if (!conn)
        conn = open(target, opts);
      run(*conn, c.sql);
    } catch (const pqxx::sql_error& e) {
      retry = retryable(e) && attempt < opts.attempts;
      auto f = classify(e, what, target.display);
      // A concurrent build that registered its index timed out waiting for
      // transactions older than itself, not for the table's lock.
      auto waited_for_snapshots = false;
      if (e.sqlstate() == "55P03" && creating && c.concurrently)
        try {
          auto probe = open(target, opts);
          waited_for_snapshots = state_of(*probe, c.schema, c.index_name)
            == "invalid";
        } catch (const std::exception&) {
          // nop: the plain lock message below
        }
      if (waited_for_snapshots) {
        f = {ec::conflict,
             fmt::format("CREATE INDEX CONCURRENTLY of {} waited more than {} "
                         "ms ({} attempt{}) for transactions that were open "
                         "when it started (long-running or idle in "
                         "transaction: see pg_stat_activity.xact_start); try "
                         "again when they end or raise --apply-lock-timeout",
                         c.index_name, opts.lock_timeout.count(), attempt,
                         attempt == 1 ? "" : "s")};
      } else if (e.sqlstate() == "55P03") {
        auto pids = lock_holders(target, opts, c.schema, c.table);
        f = {ec::conflict,
             fmt::format("could not get a lock on {}.{} within {} ms ({} "
                         "attempt{}){}: another session holds it; try again "
                         "when it is done or raise --apply-lock-timeout",
                         c.schema, c.table.empty() ? c.index_name : c.table,
                         opts.lock_timeout.count(), attempt,
                         attempt == 1 ? "" : "s",
                         pids.empty() ? "" : " (held by pid " + pids + ")")};
      } else if (e.sqlstate() == "42501") {
        f = {ec::permission_denied,
             fmt::format("the role of {} may not {} (only the table's owner "
                         "may): give the engine the owner's DSN with "
                         "--apply-dsn; {}",
                         target.display, what, redact_secrets(e.what()))};
      }
      error = std::move(f);
      lost = e.sqlstate().rfind("08", 0) == 0 || e.sqlstate() == "57P01";
    } catch (const std::exception& e) {
      error = classify(e, what, target.display);
      lost = true;
    }
    if (!error) {
      out.steps.emplace_back(fmt::format("{} ({} attempt{})", c.sql, attempt,
                                         attempt == 1 ? "" : "s"));
      break;
    }
    out.steps.emplace_back(
      fmt::format("attempt {} failed: {}", attempt, error->message));
    if (lost)
      conn.reset();
    // A concurrent build that fails half-way leaves an INVALID index behind.
    if (creating && c.concurrently) {
      auto dropped = drop_invalid(target, c.schema, c.index_name, opts);
      if (!dropped) {
        out.steps.emplace_back("the INVALID index it left could not be "
                               "dropped yet: "
                               + dropped.error().message);
        return fail(std::move(*error), true);
      }
      if (*dropped)
        out.steps.emplace_back("dropped the INVALID index the failed build "
                               "left behind");
    }
    if (!retry)
      return fail(std::move(*error));
    std::this_thread::sleep_for(opts.retry_delay * attempt);
  }
  try {
    if (!conn)
      conn = open(target, opts);
    auto state = state_of(*conn, c.schema, c.index_name);
    if (creating && state != "valid")
      return fail({ec::sql_error,
                   fmt::format("index {} is {} after the build; drop it and "
                               "try again",
                               c.index_name, state)});
    if (!creating && state != "absent")
      return fail(
        {ec::sql_error,
         fmt::format("index {} still exists after the drop", c.index_name)});
    run(*conn, fmt::format("SELECT pg_advisory_unlock({})", apply_lock_key));
  } catch (const std::exception& e) {
    return fail(classify(e, "checking " + c.index_name, target.display));
  }
  out.changed = true;
  out.duration_ms = elapsed_ms(start);
  return out;
}

} // namespace optischema::pg
