#pragma once

// Private to optischema_sandbox: plain libpq for what libpqxx 6.4 makes
// awkward here (COPY between two servers, savepoints around EXPLAIN
// ANALYZE), and running pg_dump/psql with a target's connection settings.

#include "optischema/analysis/statement.hpp"
#include "optischema/pg/conninfo.hpp"
#include "optischema/util/error.hpp"

#include <libpq-fe.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace optischema::sandbox::detail {

struct conn_deleter {
  void operator()(PGconn* c) const {
    PQfinish(c);
  }
};
using conn_ptr = std::unique_ptr<PGconn, conn_deleter>;

struct result_deleter {
  void operator()(PGresult* r) const {
    PQclear(r);
  }
};
using result_ptr = std::unique_ptr<PGresult, result_deleter>;

/// Connects with standard_conforming_strings on; the failure names `who`
/// ("the sandbox", "the target").
expected<conn_ptr> connect(const pg::conninfo& ci, const std::string& who);

/// Runs one command; the failure carries PostgreSQL's message.
expected<result_ptr> exec(PGconn* c, const std::string& sql,
                          const std::string& what);

/// Runs a text from outside (a workload statement) with the extended
/// protocol, which takes exactly one statement whatever the text holds.
expected<result_ptr> exec_one(PGconn* c, const std::string& sql,
                              const std::string& what);

/// The connection parameters of `ci` as libpq keywords (PQconninfoParse).
std::map<std::string, std::string> keywords(const pg::conninfo& ci);

/// `ci` naming another database on the same server.
expected<pg::conninfo> with_database(const pg::conninfo& ci,
                                     const std::string& dbname);

/// Runs `program` with `args`; the connection settings of `ci` reach it as
/// PG* environment variables (never on the command line, where `ps` shows
/// them). Fails with the program's stderr when it exits non-zero.
expected<ok> run_tool(const std::string& program,
                      const std::vector<std::string>& args,
                      const pg::conninfo& ci);

/// `name` in the configured or newest PostgreSQL bin directory.
std::string tool_path(const std::string& bin_dir, const std::string& name);

} // namespace optischema::sandbox::detail
