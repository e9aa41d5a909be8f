#include "libpq.hpp"

#include "optischema/util/redact.hpp"
#include "optischema/util/strings.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

extern char** environ;

namespace optischema::sandbox::detail {

namespace {

std::string trimmed(const char* x) {
  return trim(x != nullptr ? x : "");
}

/// libpq keyword → the environment variable libpq reads it from.
const std::map<std::string, std::string>& env_names() {
  static const std::map<std::string, std::string> xs = {
    {"host", "PGHOST"},
    {"hostaddr", "PGHOSTADDR"},
    {"port", "PGPORT"},
    {"dbname", "PGDATABASE"},
    {"user", "PGUSER"},
    {"password", "PGPASSWORD"},
    {"passfile", "PGPASSFILE"},
    {"options", "PGOPTIONS"},
    {"connect_timeout", "PGCONNECT_TIMEOUT"},
    {"sslmode", "PGSSLMODE"},
    {"sslcert", "PGSSLCERT"},
    {"sslkey", "PGSSLKEY"},
    {"sslrootcert", "PGSSLROOTCERT"},
    {"sslcrl", "PGSSLCRL"},
    {"service", "PGSERVICE"},
    {"target_session_attrs", "PGTARGETSESSIONATTRS"},
    {"gssencmode", "PGGSSENCMODE"},
  };
  return xs;
}

} // namespace

expected<conn_ptr> connect(const pg::conninfo& ci, const std::string& who) {
  conn_ptr c{PQconnectdb(ci.effective.c_str())};
  if (!c || PQstatus(c.get()) != CONNECTION_OK)
    return failure{
      ec::db_unreachable,
      fmt::format("cannot connect to {} ({}): {}", who, ci.display,
                  redact_secrets(trimmed(PQerrorMessage(c.get()))))};
  // Texts are read as libpg_query (which checked them) reads them, whatever
  // the server's default.
  if (auto r = exec(c.get(), "SET standard_conforming_strings = on",
                    "pinning standard_conforming_strings");
      !r)
    return r.error();
  return c;
}

namespace {

expected<result_ptr> checked(result_ptr r, const std::string& what) {
  auto st = PQresultStatus(r.get());
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN
      || st == PGRES_COPY_OUT)
    return r;
  auto* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
  std::string sqlstate = state != nullptr ? state : "";
  auto code = sqlstate == "57014"                      ? ec::timeout
    : sqlstate.rfind("08", 0) == 0 || sqlstate.empty() ? ec::db_unreachable
                                                       : ec::sql_error;
  return failure{
    code,
    fmt::format("{} failed: {}", what,
                redact_secrets(trimmed(PQresultErrorMessage(r.get()))))};
}

} // namespace

expected<result_ptr> exec(PGconn* c, const std::string& sql,
                          const std::string& what) {
  return checked(result_ptr{PQexec(c, ("/* optischema */ " + sql).c_str())},
                 what);
}

expected<result_ptr> exec_one(PGconn* c, const std::string& sql,
                              const std::string& what) {
  return checked(result_ptr{PQexecParams(c, ("/* optischema */ " + sql).c_str(),
                                         0, nullptr, nullptr, nullptr, nullptr,
                                         0)},
                 what);
}

std::map<std::string, std::string> keywords(const pg::conninfo& ci) {
  std::map<std::string, std::string> out;
  char* err = nullptr;
  auto* opts = PQconninfoParse(ci.raw.c_str(), &err);
  if (err != nullptr)
    PQfreemem(err);
  if (opts == nullptr)
    return out;
  for (auto* o = opts; o->keyword != nullptr; ++o)
    if (o->val != nullptr && *o->val != '\0')
      out[o->keyword] = o->val;
  PQconninfoFree(opts);
  return out;
}

expected<pg::conninfo> with_database(const pg::conninfo& ci,
                                     const std::string& dbname) {
  auto kw = keywords(ci);
  kw["dbname"] = dbname;
  std::string dsn;
  for (auto& [k, v] : kw)
    dsn += (dsn.empty() ? "" : " ") + k + "=" + pg::quote_conninfo_value(v);
  return pg::parse_conninfo(dsn);
}

std::string tool_path(const std::string& bin_dir, const std::string& name) {
  namespace fs = std::filesystem;
  if (!bin_dir.empty())
    return (fs::path{bin_dir} / name).string();
  // The newest installed server's tools: pg_dump must be at least as new as
  // the server it dumps.
  std::vector<int> versions;
  std::error_code ec;
  for (auto& e : fs::directory_iterator{"/usr/lib/postgresql", ec}) {
    auto v = e.path().filename().string();
    if (!v.empty() && std::all_of(v.begin(), v.end(), ::isdigit)
        && fs::exists(e.path() / "bin" / name))
      versions.push_back(std::stoi(v));
  }
  if (!versions.empty())
    return fmt::format("/usr/lib/postgresql/{}/bin/{}",
                       *std::max_element(versions.begin(), versions.end()),
                       name);
  return name;
}

expected<ok> run_tool(const std::string& program,
                      const std::vector<std::string>& args,
                      const pg::conninfo& ci) {
  // The environment: ours (PGPASSWORD, PGSSLROOTCERT … fill what the DSN
  // leaves out, as they do for the engine's own connections), with the
  // connection's settings in place of the same variables.
  std::map<std::string, std::string> vars;
  for (auto& [k, v] : keywords(ci))
    if (auto i = env_names().find(k); i != env_names().end())
      vars[i->second] = v;
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string x = *e;
    if (!vars.contains(x.substr(0, x.find('='))))
      env.push_back(std::move(x));
  }
  for (auto& [k, v] : vars)
    env.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env)
    envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_s{program};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0)
    return failure{ec::internal, "cannot create a pipe for " + program};
  auto pid = fork();
  if (pid < 0) {
    close(err_pipe[0]);
    close(err_pipe[1]);
    return failure{ec::internal, "cannot start " + program};
  }
  if (pid == 0) {
    dup2(err_pipe[1], STDERR_FILENO);
    auto devnull = open("/dev/null", O_RDWR);
    dup2(devnull, STDIN_FILENO);
    dup2(devnull, STDOUT_FILENO);
    execve(argv[0], argv.data(), envp.data());
    // Not found by path: try PATH (execvpe keeps our environment list).
    execvpe(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(err_pipe[1]);
  std::string err;
  char buf[4096];
  ssize_t n = 0;
  while ((n = read(err_pipe[0], buf, sizeof(buf))) > 0)
    if (err.size() < 16384)
      err.append(buf, static_cast<size_t>(n));
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return ok{};
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    return failure{ec::invalid_configuration,
                   fmt::format("cannot run {}: install postgresql-client (or "
                               "set --pg-bin-dir)",
                               program)};
  return failure{ec::sql_error,
                 fmt::format("{} failed: {}", program,
                             redact_secrets(trimmed(err.c_str())))};
}

} // namespace optischema::sandbox::detail
