#include "optischema/pg/explain.hpp"

#include "session_impl.hpp"

#include "optischema/pg/safety.hpp"

#include <fmt/format.h>

#include <map>
#include <regex>
#include <set>

namespace optischema::pg {

namespace {

/// True if `sql` contains a $n parameter outside quotes and comments.
bool has_parameters(const std::string& sql) {
  bool in_string = false;
  for (size_t i = 0; i < sql.size(); ++i) {
    auto c = sql[i];
    if (in_string) {
      if (c == '\'')
        in_string = false;
      continue;
    }
    if (c == '\'')
      in_string = true;
    else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-')
      i = sql.find('\n', i) == std::string::npos ? sql.size()
                                                 : sql.find('\n', i);
    else if (c == '$' && i + 1 < sql.size()
             && std::isdigit(static_cast<unsigned char>(sql[i + 1])))
      return true;
  }
  return false;
}

} // namespace

namespace {

/// The parameters that are an operand of arithmetic (`$1 / $2`, `$3 + 1`).
std::set<int> arithmetic_parameters(const std::string& sql) {
  static const std::regex around{
    R"re(\$([0-9]+)\s*[-+*/%^]|[-+*/%^]\s*\$([0-9]+))re"};
  std::set<int> out;
  for (auto it = std::sregex_iterator(sql.begin(), sql.end(), around);
       it != std::sregex_iterator(); ++it) {
    auto& m = *it;
    auto digits = m[1].matched ? m[1].str() : m[2].str();
    if (digits.size() <= 5)
      out.insert(std::stoi(digits));
  }
  return out;
}

/// PREPAREs `sql` (with $n parameters) as optischema_explain. A text from
/// pg_stat_statements has lost the types of its constants, and PostgreSQL
/// refuses what it cannot resolve without them where the application's
/// literals were fine: `$1 / $2` is ambiguous between two unknowns
/// (42725), and a parameter of a variadic "any" function such as
/// jsonb_build_object has no type at all (42P18). The arithmetic operands
/// are then declared bigint, the untyped ones text: the types those
/// constants most often were. A few rounds at most, one kind of fix each.
void prepare_for_explain(pqxx::nontransaction& tx, const std::string& sql) {
  static const std::regex untyped{R"re(data type of parameter \$([0-9]+))re"};
  std::map<int, std::string> types;
  for (int round = 0;; ++round) {
    std::string list;
    if (!types.empty()) {
      auto last = types.rbegin()->first;
      for (int i = 1; i <= last; ++i) {
        auto t = types.find(i);
        list += (i > 1 ? ", " : "")
          + (t != types.end() ? t->second : std::string{"unknown"});
      }
      list = " (" + list + ")";
    }
    tx.exec(own_marker + "SAVEPOINT optischema_prepare");
    try {
      tx.exec_params(own_marker + "PREPARE optischema_explain" + list + " AS "
                     + sql);
      return;
    } catch (const pqxx::sql_error& e) {
      auto state = e.sqlstate();
      if (round >= 4 || (state != "42725" && state != "42P18"))
        throw;
      tx.exec(own_marker + "ROLLBACK TO SAVEPOINT optischema_prepare");
      auto before = types.size();
      if (state == "42725") {
        for (auto n : arithmetic_parameters(sql))
          types.emplace(n, "bigint");
      } else {
        std::smatch m;
        std::string what = e.what();
        if (std::regex_search(what, m, untyped) && m[1].length() <= 5)
          types.emplace(std::stoi(m[1].str()), "text");
      }
      // Nothing new to declare: the same error would come back.
      if (types.size() == before || types.rbegin()->first > 65535)
        throw;
    }
  }
}

/// EXPLAIN of `sql` inside a read-only transaction with timeouts, rolled
/// back whatever happens; `values` bind its $n through the extended
/// protocol when given.
expected<std::string> explain_guarded(session& s, const std::string& sql,
                                      const std::vector<std::string>* values,
                                      const explain_options& opts) {
  // The text comes from a request, an LLM or pg_stat_statements: planning
  // it may run what it calls (safety.hpp).
  if (auto safe = check_statement(s, sql); !safe)
    return safe.error();
  auto result = guarded<std::string>(
    s, "explaining a statement", [&](pqxx::connection& c) {
      // A read-only transaction, timeouts, and a rollback whatever happens:
      // EXPLAIN without ANALYZE runs nothing, and this makes sure of it. The
      // transaction is ours (not libpqxx's) so every statement carries the
      // marker that keeps it out of the reported workload. The text itself is
      // sent with the extended protocol (exec_params), which takes exactly
      // one statement whatever the text holds.
      pqxx::nontransaction tx{c};
      tx.exec(own_marker + "BEGIN READ ONLY");
      try {
        tx.exec(own_marker
                + fmt::format("SET LOCAL statement_timeout = {}",
                              opts.statement_timeout.count()));
        tx.exec(own_marker
                + fmt::format("SET LOCAL lock_timeout = {}",
                              opts.lock_timeout.count()));
        std::string json;
        if (values != nullptr) {
          // A custom plan for these values: the planner sees them as
          // constants, pg_stat_statements (which keeps EXPLAIN's text) only
          // the $n.
          json
            = tx.exec_params(own_marker + "EXPLAIN (FORMAT JSON) " + sql,
                             pqxx::prepare::make_dynamic_params(*values))[0][0]
                .c_str();
        } else if (!has_parameters(sql)) {
          json
            = tx.exec_params(own_marker + "EXPLAIN (FORMAT JSON) " + sql)[0][0]
                .c_str();
        } else if (s.facts().version_num >= 160000) {
          json = tx.exec_params(own_marker
                                + "EXPLAIN (GENERIC_PLAN, FORMAT JSON) "
                                + sql)[0][0]
                   .c_str();
        } else {
          prepare_for_explain(tx, sql);
          auto types = tx.exec(own_marker
                               + "SELECT cardinality(parameter_types) FROM "
                                 "pg_prepared_statements WHERE name = "
                                 "'optischema_explain'");
          auto n = types.empty() ? 0 : types[0][0].as<int>();
          tx.exec(own_marker
                  + "SET LOCAL plan_cache_mode = force_generic_plan");
          std::string args;
          for (int i = 0; i < n; ++i)
            args += i == 0 ? "NULL" : ", NULL";
          json = tx.exec(own_marker
                         + "EXPLAIN (FORMAT JSON) EXECUTE optischema_explain"
                         + (n > 0 ? "(" + args + ")" : std::string{}))[0][0]
                   .c_str();
        }
        tx.exec(own_marker + "ROLLBACK");
        return json;
      } catch (const pqxx::broken_connection&) {
        throw;
      } catch (...) {
        tx.exec(own_marker + "ROLLBACK");
        throw;
      }
    });
  // Nothing of the check outlives it on this long-lived session: the
  // prepared statement, and whatever the planner ran (advisory locks,
  // settings), goes; hypothetical indexes stay.
  s.reset_state();
  return result;
}

} // namespace

expected<std::string> explain_json(session& s, const std::string& sql,
                                   const explain_options& opts) {
  return explain_guarded(s, sql, nullptr, opts);
}

expected<std::string> explain_json_bound(session& s, const std::string& sql,
                                         const std::vector<std::string>& values,
                                         const explain_options& opts) {
  return explain_guarded(s, sql, &values, opts);
}

expected<hypothetical_index> hypo_create(session& s, const std::string& ddl) {
  hypothetical_index out;
  auto r = guarded<std::string>(
    s, "creating a hypothetical index", [&](pqxx::connection& c) {
      pqxx::nontransaction tx{c};
      auto rows = tx.exec(own_marker
                          + "SELECT indexrelid, indexname FROM "
                            "hypopg_create_index("
                          + tx.quote(ddl) + ")");
      if (rows.empty())
        throw std::runtime_error("hypopg created no index for: " + ddl);
      out.oid = rows[0][0].as<uint32_t>();
      out.name = rows[0][1].c_str();
      return std::string{};
    });
  if (!r)
    return r.error();
  return out;
}

expected<ok> hypo_drop(session& s, uint32_t oid) {
  auto r = guarded<std::string>(
    s, "dropping a hypothetical index", [&](pqxx::connection& c) {
      pqxx::nontransaction tx{c};
      tx.exec(own_marker + fmt::format("SELECT hypopg_drop_index({})", oid));
      return std::string{};
    });
  if (!r)
    return r.error();
  return ok{};
}

expected<ok> hypo_reset(session& s) {
  auto r = guarded<std::string>(s, "resetting hypothetical indexes",
                                [&](pqxx::connection& c) {
                                  pqxx::nontransaction tx{c};
                                  tx.exec(own_marker + "SELECT hypopg_reset()");
                                  return std::string{};
                                });
  if (!r)
    return r.error();
  return ok{};
}

expected<int64_t> hypo_size(session& s, uint32_t oid) {
  int64_t size = 0;
  auto r = guarded<std::string>(
    s, "estimating an index size", [&](pqxx::connection& c) {
      pqxx::nontransaction tx{c};
      auto rows = tx.exec(
        own_marker + fmt::format("SELECT hypopg_relation_size({})", oid));
      size = rows[0][0].as<int64_t>();
      return std::string{};
    });
  if (!r)
    return r.error();
  return size;
}

} // namespace optischema::pg
