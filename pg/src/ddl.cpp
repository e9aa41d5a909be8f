#include "optischema/pg/ddl.hpp"

#include "session_impl.hpp"

#include "optischema/analysis/statement.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/util/redact.hpp"

#include <fmt/format.h>

#include <set>
#include <thread>

namespace optischema::pg {

namespace {

bool retryable(const pqxx::sql_error& e) {
  return e.sqlstate() == "55P03" || e.sqlstate() == "40P01";
}

/// The server went away or ended the session (connection failure, admin or
/// crash shutdown, pg_terminate_backend): a new connection may succeed.
bool connection_lost(const pqxx::sql_error& e) {
  auto& s = e.sqlstate();
  return s.rfind("08", 0) == 0 || s == "57P01" || s == "57P02" || s == "57P03";
}

/// A connection that changes a target: autocommit, lock and statement
/// timeouts, an application_name other engines' dashboards show, the
/// search_path where the checks looked, and the advisory lock, taken again
/// on every new connection: no DDL ever runs without it.
class change_session {
public:
  change_session(const conninfo& target, const ddl_options& opts,
                 std::string schema)
    : target_(target), opts_(opts), schema_(std::move(schema)) {
    // nop
  }

  /// Connects (again, after a lost connection); with `lock`, takes the
  /// advisory lock, failing (ec::conflict) when another session holds it.
  std::optional<failure> connect(bool lock) {
    conn_.reset();
    try {
      auto conn = std::make_unique<pqxx::connection>(target_.effective);
      pqxx::nontransaction tx{*conn};
      tx.exec(
        own_marker
        + fmt::format("SET lock_timeout = {}", opts_.lock_timeout.count()));
      tx.exec(own_marker
              + fmt::format("SET statement_timeout = {}",
                            opts_.statement_timeout.count()));
      tx.exec(own_marker + "SET application_name = 'optischema-apply'");
      // Unqualified names in the DDL resolve where the checks looked.
      if (!schema_.empty())
        tx.exec(own_marker + "SET search_path = " + quote_ident(schema_));
      if (lock) {
        auto r = tx.exec_params(own_marker + "SELECT pg_try_advisory_lock($1)",
                                opts_.lock_key);
        if (!r[0][0].as<bool>())
          return held_by_another(tx);
      }
      conn_ = std::move(conn);
      return std::nullopt;
    } catch (const std::exception& e) {
      return classify(e, "connecting to change indexes", target_.display);
    }
  }

  bool connected() const {
    return conn_ != nullptr;
  }

  /// After an error that ended the session.
  void disconnect() {
    conn_.reset();
  }

  pqxx::result run(const std::string& sql) {
    pqxx::nontransaction tx{*conn_};
    return tx.exec(own_marker + sql);
  }

  /// The relation named `schema.name`, if any.
  std::optional<index_facts> find(const std::string& name) {
    auto found = relations("n.nspname = $1 AND c.relname = $2", name);
    if (found.empty())
      return std::nullopt;
    return found.front();
  }

  /// Every index of `schema.table`.
  std::vector<index_facts> indexes_of(const std::string& table) {
    return relations("i.indrelid = to_regclass(format('%I.%I', $1::text, "
                     "$2::text))",
                     table);
  }

  /// A name like `base` that no relation of the schema holds: base1,
  /// base2, … (shortened to fit PostgreSQL's 63 bytes).
  std::string free_name(const std::string& base) {
    for (int n = 1;; ++n) {
      auto suffix = std::to_string(n);
      auto name = base.substr(0, 63 - suffix.size()) + suffix;
      if (!find(name))
        return name;
    }
  }

  void unlock() {
    try {
      if (conn_)
        run(fmt::format("SELECT pg_advisory_unlock({})", opts_.lock_key));
    } catch (const std::exception&) {
      // nop: the lock goes with the session
    }
  }

private:
  /// The relations `where` selects ($1: the schema, $2: `arg`).
  std::vector<index_facts> relations(const char* where,
                                     const std::string& arg) {
    pqxx::nontransaction tx{*conn_};
    auto r = tx.exec_params(
      own_marker
        + "SELECT c.oid, c.relname, c.relkind IN ('i', 'I'), "
          "coalesce(i.indisvalid, false), CASE WHEN c.relkind IN ('i', 'I') "
          "THEN pg_get_indexdef(c.oid) ELSE '' END FROM pg_class c JOIN "
          "pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_index i ON "
          "i.indexrelid = c.oid WHERE "
        + where,
      schema_, arg);
    std::vector<index_facts> out;
    for (const auto& row : r)
      out.push_back({schema_, row[1].as<std::string>(), row[0].as<uint32_t>(),
                     row[2].as<bool>(), row[3].as<bool>(),
                     row[4].as<std::string>()});
    return out;
  }

  failure held_by_another(pqxx::nontransaction& tx) {
    std::string pids;
    try {
      // A bigint key is held as classid (high half), objid (low half).
      auto r = tx.exec_params(
        own_marker
          + "SELECT string_agg(pid::text, ', ') FROM pg_locks WHERE locktype "
            "= 'advisory' AND granted AND objsubid = 1 AND classid::bigint = "
            "(($1::bigint >> 32) & 4294967295) AND objid::bigint = "
            "($1::bigint & 4294967295)",
        opts_.lock_key);
      if (!r.empty() && !r[0][0].is_null())
        pids = r[0][0].as<std::string>();
    } catch (const std::exception&) {
      // nop: the message below without the pid
    }
    return {ec::conflict,
            fmt::format("another OptiSchema engine is changing {} right now "
                        "(advisory lock {} is held{}); try again when it is "
                        "done",
                        target_.display, opts_.lock_key,
                        pids.empty() ? "" : " by pid " + pids)};
  }

  const conninfo& target_;
  const ddl_options& opts_;
  std::string schema_;
  std::unique_ptr<pqxx::connection> conn_;
};

/// Pids holding a lock on `schema.table` (pg_locks is readable by anyone).
std::string lock_holders(const conninfo& target, const ddl_options& opts,
                         const std::string& schema, const std::string& table) {
  if (table.empty())
    return {};
  change_session s{target, opts, schema};
  if (s.connect(false))
    return {};
  try {
    auto r = s.run(fmt::format(
      "SELECT string_agg(DISTINCT l.pid::text, ', ') FROM pg_locks l "
      "WHERE l.relation = to_regclass({}) AND l.granted AND l.pid <> "
      "pg_backend_pid()",
      quote_literal(quote_qualified(schema, table))));
    return r.empty() || r[0][0].is_null() ? std::string{}
                                          : r[0][0].as<std::string>();
  } catch (const std::exception&) {
    return {};
  }
}

/// Runs `f`, again while a lock is busy or a deadlock aborted it, up to
/// opts.attempts times (k × retry_delay before attempt k + 1); throws the
/// last error.
template <class F>
auto with_retries(const ddl_options& opts, F f) {
  for (int attempt = 1;; ++attempt) {
    try {
      return f();
    } catch (const pqxx::sql_error& e) {
      if (!retryable(e) || attempt >= opts.attempts)
        throw;
    }
    std::this_thread::sleep_for(opts.retry_delay * attempt);
  }
}

/// A lock on `c`'s table stayed busy for `attempts` attempts.
failure lock_busy(const conninfo& target, const ddl_options& opts,
                  const index_change& c, int attempts) {
  auto pids = lock_holders(target, opts, c.schema, c.table);
  return {ec::conflict,
          fmt::format("could not get a lock on {}.{} within {} ms ({} "
                      "attempt{}){}: another session holds it; try again "
                      "when it is done or raise --apply-lock-timeout",
                      c.schema, c.table.empty() ? c.index_name : c.table,
                      opts.lock_timeout.count(), attempts,
                      attempts == 1 ? "" : "s",
                      pids.empty() ? "" : " (held by pid " + pids + ")")};
}

/// What the catalog says about running `c` now (see plan_index_change).
struct decision {
  ddl_plan plan;
  /// An INVALID index of the change's name and definition: a failed
  /// build's leftover, dropped before building again.
  std::optional<index_facts> leftover;
  /// The index a drop drops.
  index_facts dropping;
  /// The target is not as the change expects (the index to drop is another
  /// one, the name was taken since the plan): nothing may run.
  std::optional<failure> refusal;
};

std::string dropped_by_someone(const index_change& c, const index_facts& f) {
  auto what = f.oid != c.expect_oid
    ? fmt::format("it has oid {}, not {}", f.oid, c.expect_oid)
    : fmt::format("it is defined as {}", f.definition);
  return fmt::format("index {}.{} is not the index the engine built ({}): "
                     "someone replaced it; nothing was dropped (drop it by "
                     "hand if it should go)",
                     c.schema, c.index_name, what);
}

expected<decision> decide(change_session& s, const index_change& c,
                          const ddl_options& opts) {
  decision d;
  d.plan.change = c;
  auto done = [&](std::string step, index_facts x) {
    ddl_outcome out;
    out.steps.push_back(std::move(step));
    out.sql = c.sql;
    out.index = std::move(x);
    d.plan.done = std::move(out);
    return d;
  };
  auto named = s.find(c.index_name);
  if (c.what == index_change::action::drop) {
    if (!named || !named->is_index)
      return done(fmt::format("index {}.{} does not exist: nothing to do",
                              c.schema, c.index_name),
                  {});
    auto refuse = [&](std::string why) {
      d.refusal = failure{ec::conflict, std::move(why)};
      return d;
    };
    if (c.expect_oid != 0 && named->oid != c.expect_oid)
      return refuse(dropped_by_someone(c, *named));
    if (!c.expect_definition.empty()
        && !same_index_definition(c.expect_definition, named->definition,
                                  c.schema))
      return refuse(c.expect_oid != 0
                      ? dropped_by_someone(c, *named)
                      : fmt::format("index {}.{} is not the index the "
                                    "analysis advised dropping: it is "
                                    "defined as {} now; nothing was "
                                    "dropped (re-run the analysis)",
                                    c.schema, c.index_name, named->definition));
    d.plan.steps.push_back(
      fmt::format("dropping {} (oid {})", named->definition, named->oid));
    d.dropping = *named;
    return d;
  }
  if (named && named->is_index
      && same_index_definition(c.sql, named->definition, c.schema)) {
    if (named->valid)
      return done(fmt::format("index {}.{} exists with the advised "
                              "definition (oid {}): nothing to do",
                              c.schema, c.index_name, named->oid),
                  *named);
    d.leftover = named;
    return d;
  }
  if (!c.table.empty())
    for (auto& x : s.indexes_of(c.table))
      if (x.valid && same_index_definition(c.sql, x.definition, c.schema))
        return done(fmt::format("{}.{} already has this index, as {} (oid "
                                "{}): nothing to do",
                                c.schema, c.table, x.name, x.oid),
                    x);
  if (!named)
    return d;
  auto holder = named->is_index ? "another index (" + named->definition + ")"
                                : std::string{"a relation that is no index"};
  if (!opts.may_rename) {
    d.refusal = failure{ec::conflict,
                        fmt::format("the name {}.{} was taken by {} after "
                                    "the engine checked it; nothing was "
                                    "built: apply again to build it under a "
                                    "free name",
                                    c.schema, c.index_name, holder)};
    return d;
  }
  auto name = s.free_name(c.index_name);
  auto sql = with_index_name(c, name);
  if (!sql)
    return sql.error();
  d.plan.change.index_name = name;
  d.plan.change.sql = *sql;
  d.plan.steps.push_back(fmt::format("the name {} belongs to {}: building "
                                     "the advised index as {} instead",
                                     c.index_name, holder, name));
  return d;
}

/// decide() on `s`, again while a lock on the table is busy (reading an
/// index's definition waits for a lock someone holds on its table).
expected<decision> decide_now(const conninfo& target, change_session& s,
                              const index_change& c, const ddl_options& opts) {
  try {
    return with_retries(opts, [&] { return decide(s, c, opts); });
  } catch (const pqxx::sql_error& e) {
    if (retryable(e))
      return lock_busy(target, opts, c, opts.attempts);
    return classify(e, "reading the catalog", target.display);
  } catch (const std::exception& e) {
    return classify(e, "reading the catalog", target.display);
  }
}

} // namespace

std::variant<ddl_plan, ddl_failure> plan_index_change(const conninfo& target,
                                                      const index_change& c,
                                                      const ddl_options& opts) {
  change_session s{target, opts, c.schema};
  if (auto err = s.connect(false))
    return ddl_failure{std::move(*err), {}, std::nullopt};
  auto d = decide_now(target, s, c, opts);
  if (!d)
    return ddl_failure{d.error(), {}, std::nullopt};
  if (d->refusal)
    return ddl_failure{std::move(*d->refusal), {}, std::nullopt, true};
  auto plan = std::move(d->plan);
  if (d->leftover)
    plan.steps.push_back(fmt::format("an INVALID index {} with the advised "
                                     "definition (an earlier failed build) "
                                     "is dropped and built again",
                                     c.index_name));
  return plan;
}

expected<std::optional<index_facts>> find_index(const conninfo& target,
                                                const std::string& schema,
                                                const std::string& name) {
  ddl_options opts;
  change_session s{target, opts, schema};
  if (auto err = s.connect(false))
    return *err;
  try {
    return s.find(name);
  } catch (const std::exception& e) {
    return classify(e, "reading pg_index", target.display);
  }
}

expected<std::vector<std::string>>
prerequisite_extensions(const std::vector<std::string>& prerequisites) {
  // Only extensions the advisor itself may name (index_model/candidates).
  static const std::set<std::string> known{"pg_trgm", "btree_gin",
                                           "btree_gist"};
  static const std::string form = "CREATE EXTENSION IF NOT EXISTS ";
  std::vector<std::string> names;
  for (auto& p : prerequisites) {
    auto name = p.starts_with(form) ? p.substr(form.size()) : std::string{};
    if (known.count(name) == 0)
      return failure{ec::bad_request,
                     "unknown prerequisite \"" + p.substr(0, 80)
                       + "\": the engine only knows CREATE EXTENSION IF NOT "
                         "EXISTS of pg_trgm, btree_gin or btree_gist"};
    names.push_back(name);
  }
  return names;
}

expected<std::vector<std::string>>
missing_extensions(const conninfo& target,
                   const std::vector<std::string>& prerequisites) {
  auto listed = prerequisite_extensions(prerequisites);
  if (!listed)
    return listed.error();
  auto& names = *listed;
  if (names.empty())
    return names;
  ddl_options opts;
  change_session s{target, opts, "public"};
  if (auto err = s.connect(false))
    return *err;
  try {
    std::vector<std::string> missing;
    for (auto& n : names)
      if (s.run("SELECT 1 FROM pg_extension WHERE extname = "
                + quote_literal(n))
            .empty())
        missing.push_back(n);
    return missing;
  } catch (const std::exception& e) {
    return classify(e, "reading pg_extension", target.display);
  }
}

expected<ok> check_prerequisites(const conninfo& target,
                                 const std::vector<std::string>& prerequisites) {
  if (prerequisites.empty())
    return ok{};
  auto missing = missing_extensions(target, prerequisites);
  if (!missing)
    return missing.error();
  if (missing->empty())
    return ok{};
  return failure{
    ec::conflict,
    fmt::format("not applied: the index needs the {} extension, which {} "
                "does not have: have a superuser (or the database owner, for "
                "trusted extensions) run {} in that database, then apply again",
                fmt::join(*missing, ", "), target.display,
                fmt::join(prerequisites, "; "))};
}

expected<bool> drop_invalid_index(const conninfo& target, const index_facts& x,
                                  const ddl_options& opts) {
  change_session s{target, opts, x.schema};
  if (auto err = s.connect(true))
    return *err;
  try {
    return with_retries(opts, [&] {
      auto now = s.find(x.name);
      // Gone, valid, or another index under its name: not ours to drop.
      if (!now || now->oid != x.oid || now->valid)
        return false;
      s.run("DROP INDEX CONCURRENTLY IF EXISTS "
            + quote_qualified(x.schema, x.name));
      s.unlock();
      return true;
    });
  } catch (const std::exception& e) {
    return classify(e, "dropping the INVALID index " + x.name, target.display);
  }
}

std::variant<ddl_outcome, ddl_failure>
run_index_change(const conninfo& target, const index_change& c,
                 const ddl_options& opts) {
  auto start = std::chrono::steady_clock::now();
  ddl_outcome out;
  out.sql = c.sql;
  auto creating = c.what == index_change::action::create;
  auto what = fmt::format("{} index {}", creating ? "creating" : "dropping",
                          c.index_name);
  auto fail = [&](failure f, std::optional<index_facts> left = {}) {
    out.duration_ms = elapsed_ms(start);
    return ddl_failure{std::move(f), out, std::move(left)};
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
  change_session s{target, opts, c.schema};
  if (auto err = s.connect(true))
    return fail(std::move(*err));
  out.steps.push_back(fmt::format("advisory lock {} taken", opts.lock_key));
  auto d = decide_now(target, s, c, opts);
  if (!d)
    return fail(d.error());
  if (d->refusal)
    return fail(std::move(*d->refusal));
  index_change ch;
  try {
    auto& steps = d->plan.steps;
    out.steps.insert(out.steps.end(), steps.begin(), steps.end());
    if (auto& done = d->plan.done) {
      out.steps.insert(out.steps.end(), done->steps.begin(), done->steps.end());
      out.index = done->index;
      out.duration_ms = elapsed_ms(start);
      s.unlock();
      return out;
    }
    ch = d->plan.change;
    out.sql = ch.sql;
    out.index = d->dropping;
    if (d->leftover) {
      // A leftover of an earlier failed build: it must go before a new one
      // (its name is taken) and it slows every write meanwhile.
      s.run("DROP INDEX CONCURRENTLY IF EXISTS "
            + quote_qualified(ch.schema, ch.index_name));
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
  what = fmt::format("{} index {}", creating ? "creating" : "dropping",
                     ch.index_name);
  for (int attempt = 1;; ++attempt) {
    out.attempts = attempt;
    std::optional<failure> error;
    auto retry = false;
    auto lost = false;
    try {
      // A new connection holds the lock again before it runs anything.
      if (!s.connected())
        if (auto err = s.connect(true))
          return fail(
            {err->code,
             fmt::format("the build could not go on: {}", err->message)});
      s.run(ch.sql);
    } catch (const pqxx::sql_error& e) {
      lost = connection_lost(e);
      retry = (retryable(e) || lost) && attempt < opts.attempts;
      auto f = classify(e, what, target.display);
      // A concurrent build that registered its index timed out waiting for
      // transactions older than itself, not for the table's lock.
      auto waited_for_snapshots = false;
      if (e.sqlstate() == "55P03" && creating && ch.concurrently)
        try {
          auto left = s.find(ch.index_name);
          waited_for_snapshots = left && !left->valid;
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
                         ch.index_name, opts.lock_timeout.count(), attempt,
                         attempt == 1 ? "" : "s")};
      } else if (e.sqlstate() == "55P03") {
        f = lock_busy(target, opts, ch, attempt);
      } else if (e.sqlstate() == "42501") {
        f = {ec::permission_denied,
             fmt::format("the role of {} may not {} (only the table's owner "
                         "may): give the engine the owner's DSN with "
                         "--apply-dsn; {}",
                         target.display, what, redact_secrets(e.what()))};
      }
      error = std::move(f);
    } catch (const std::exception& e) {
      error = classify(e, what, target.display);
      lost = true;
      retry = attempt < opts.attempts;
    }
    if (!error) {
      out.steps.emplace_back(fmt::format("{} ({} attempt{})", ch.sql, attempt,
                                         attempt == 1 ? "" : "s"));
      break;
    }
    out.steps.emplace_back(
      fmt::format("attempt {} failed: {}", attempt, error->message));
    if (lost)
      s.disconnect();
    // A concurrent build that fails half-way leaves an INVALID index behind:
    // drop it, holding the lock (again, on a new connection).
    if (creating && ch.concurrently) {
      std::optional<index_facts> left;
      std::optional<failure> locked;
      if (!s.connected())
        locked = s.connect(true);
      try {
        if (!locked)
          left = s.find(ch.index_name);
        else if (auto x = find_index(target, ch.schema, ch.index_name))
          left = *x;
      } catch (const std::exception&) {
        // nop: nothing known about a leftover
      }
      // Only an INVALID index defined as ours: the name was free or ours
      // when the build began.
      if (left
          && (!left->is_index || left->valid
              || !same_index_definition(ch.sql, left->definition, ch.schema)))
        left.reset();
      if (left && locked) {
        out.steps.emplace_back("the INVALID index it left could not be "
                               "dropped yet: "
                               + locked->message);
        if (lost && locked->code == ec::conflict)
          error = failure{ec::conflict,
                          fmt::format("the connection was lost during the "
                                      "build ({}), and {}; nothing more was "
                                      "run: the engine drops the INVALID "
                                      "index it left once the lock is free",
                                      error->message, locked->message)};
        return fail(std::move(*error), std::move(left));
      }
      if (locked) {
        if (lost && locked->code == ec::conflict)
          return fail({ec::conflict,
                       fmt::format("the connection was lost during the build "
                                   "({}), and {}; nothing more was run",
                                   error->message, locked->message)});
        return fail(std::move(*error));
      }
      if (left) {
        try {
          s.run("DROP INDEX CONCURRENTLY IF EXISTS "
                + quote_qualified(ch.schema, ch.index_name));
          out.steps.emplace_back("dropped the INVALID index the failed build "
                                 "left behind");
        } catch (const std::exception& e) {
          out.steps.emplace_back(
            "the INVALID index it left could not be dropped yet: "
            + classify(e, "dropping the INVALID index " + ch.index_name,
                       target.display)
                .message);
          return fail(std::move(*error), std::move(left));
        }
      }
    }
    if (!retry)
      return fail(std::move(*error));
    std::this_thread::sleep_for(opts.retry_delay * attempt);
  }
  try {
    if (!s.connected())
      if (auto err = s.connect(true))
        return fail(std::move(*err));
    auto now = s.find(ch.index_name);
    if (creating && (!now || !now->valid))
      return fail({ec::sql_error,
                   fmt::format("index {} is {} after the build; drop it and "
                               "try again",
                               ch.index_name, now ? "INVALID" : "missing")});
    if (!creating && now)
      return fail(
        {ec::sql_error,
         fmt::format("index {} still exists after the drop", ch.index_name)});
    if (creating)
      out.index = *now;
    s.unlock();
  } catch (const std::exception& e) {
    return fail(classify(e, "checking " + ch.index_name, target.display));
  }
  out.changed = true;
  out.duration_ms = elapsed_ms(start);
  return out;
}

} // namespace optischema::pg
