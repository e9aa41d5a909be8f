#include "optischema/sandbox/sandbox.hpp"
#include "libpq.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/util/clock.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace optischema::sandbox {

using namespace detail;

namespace {

constexpr const char* user_schemas
  = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname "
    "NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'";

/// A directory removed with its contents at scope exit.
struct scratch_dir {
  std::filesystem::path path;
  scratch_dir() {
    auto tmpl
      = (std::filesystem::temp_directory_path() / "optischema-sandbox-XXXXXX")
          .string();
    if (mkdtemp(tmpl.data()) != nullptr)
      path = tmpl;
  }
  ~scratch_dir() {
    std::error_code ec;
    if (!path.empty())
      std::filesystem::remove_all(path, ec);
  }
};

struct table_copy {
  std::string name; ///< schema-qualified, quoted
  std::string columns;
};

struct foreign_key {
  std::string child;
  std::string parent;
  std::vector<std::string> child_columns;
  std::vector<std::string> parent_columns;
};

std::vector<std::string> split(const std::string& x, char sep) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= x.size()) {
    auto next = x.find(sep, at);
    if (next == std::string::npos)
      next = x.size();
    out.push_back(x.substr(at, next - at));
    at = next + 1;
  }
  return out;
}

/// Copies one table from the source's snapshot into the sandbox.
expected<int64_t> copy_table(PGconn* src, PGconn* dst, const table_copy& t,
                             double percent) {
  auto sample = percent < 100
    ? fmt::format(" TABLESAMPLE BERNOULLI ({})", percent)
    : std::string{};
  auto out = exec(src,
                  fmt::format("COPY (SELECT {} FROM ONLY {}{}) TO STDOUT",
                              t.columns, t.name, sample),
                  "reading " + t.name + " from the target");
  if (!out)
    return out.error();
  auto in = exec(dst, fmt::format("COPY {} ({}) FROM STDIN", t.name, t.columns),
                 "writing " + t.name + " into the sandbox");
  if (!in) {
    // Drain the source's COPY so its connection stays usable.
    char* buf = nullptr;
    while (PQgetCopyData(src, &buf, 0) > 0)
      PQfreemem(buf);
    result_ptr{PQgetResult(src)};
    return in.error();
  }
  int64_t rows = 0;
  char* buf = nullptr;
  int n = 0;
  while ((n = PQgetCopyData(src, &buf, 0)) > 0) {
    PQputCopyData(dst, buf, n);
    PQfreemem(buf);
    ++rows;
  }
  result_ptr done_src{PQgetResult(src)};
  auto src_ok = PQresultStatus(done_src.get()) == PGRES_COMMAND_OK;
  PQputCopyEnd(dst, src_ok ? nullptr : "the source failed");
  result_ptr done_dst{PQgetResult(dst)};
  if (!src_ok)
    return failure{ec::sql_error,
                   fmt::format("reading {} from the target failed: {}", t.name,
                               PQresultErrorMessage(done_src.get()))};
  if (PQresultStatus(done_dst.get()) != PGRES_COMMAND_OK)
    return failure{ec::sql_error,
                   fmt::format("writing {} into the sandbox failed: {}", t.name,
                               PQresultErrorMessage(done_dst.get()))};
  return rows;
}

/// Deletes sampled rows whose parent row was not sampled, until every
/// foreign key holds (chains need several passes).
expected<int64_t> delete_orphans(PGconn* dst,
                                 const std::vector<foreign_key>& fks) {
  int64_t total = 0;
  for (int pass = 0; pass < 32; ++pass) {
    int64_t deleted = 0;
    for (auto& fk : fks) {
      std::string not_null;
      std::string match;
      for (size_t i = 0; i < fk.child_columns.size(); ++i) {
        not_null += fmt::format("{}c.{} IS NOT NULL", i == 0 ? "" : " AND ",
                                fk.child_columns[i]);
        match += fmt::format("{}p.{} = c.{}", i == 0 ? "" : " AND ",
                             fk.parent_columns[i], fk.child_columns[i]);
      }
      auto r = exec(dst,
                    fmt::format("DELETE FROM {} c WHERE {} AND NOT EXISTS "
                                "(SELECT 1 FROM {} p WHERE {})",
                                fk.child, not_null, fk.parent, match),
                    "deleting rows without a parent in " + fk.child);
      if (!r)
        return r.error();
      deleted += std::atoll(PQcmdTuples(r->get()));
    }
    total += deleted;
    if (deleted == 0)
      return total;
  }
  return total;
}

/// A key for psql's \restrict: while a script restores, psql refuses every
/// meta-command (\! runs a shell command) but the matching \unrestrict, so
/// names and bodies copied from the target cannot smuggle one in.
std::string restrict_key() {
  static constexpr char alphabet[]
    = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 32; ++i)
    out += alphabet[rd() % (sizeof(alphabet) - 1)];
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << text;
}

/// Objects of a dump's table of contents the sandbox role must not (or
/// cannot) create: extensions (created one by one, see below), and what
/// needs a superuser or reaches other servers.
bool left_out(const std::string& toc_line) {
  // "217; 1259 16442 TABLE public t postgres": the kind follows two numbers.
  auto at = toc_line.find("; ");
  if (at == std::string::npos || toc_line.starts_with(";"))
    return false;
  std::istringstream in{toc_line.substr(at + 2)};
  std::string catalog_oid;
  std::string object_oid;
  in >> catalog_oid >> object_oid;
  std::string rest;
  std::getline(in, rest);
  if (!rest.empty() && rest.front() == ' ')
    rest.erase(0, 1);
  for (auto* kind :
       {"EXTENSION ", "EVENT TRIGGER ", "PROCEDURAL LANGUAGE ",
        "FOREIGN DATA WRAPPER ", "SERVER ", "USER MAPPING ", "FOREIGN TABLE "})
    if (rest.starts_with(kind))
      return true;
  return false;
}

bool is_schema(const std::string& toc_line) {
  return toc_line.find(" SCHEMA - ") != std::string::npos
    && !toc_line.starts_with(";");
}

/// Writes the SQL of `section` of `dump` (the TOC entries of `list`) to
/// `file`, owned by whoever runs it, under \restrict; fails when the tools
/// predate \restrict.
expected<ok> restore_script(const std::string& pg_restore,
                            const std::string& dump, const std::string& list,
                            const char* section, const std::string& file,
                            const pg::conninfo& ci) {
  auto key = restrict_key();
  if (auto r = run_tool(pg_restore,
                        {"--section", section, "--use-list", list, "--no-owner",
                         "--no-privileges", "--no-comments",
                         "--no-publications", "--no-subscriptions",
                         "--no-tablespaces", "--no-security-labels",
                         "--restrict-key", key, "--file", file, dump},
                        ci);
      !r)
    return failure{r.error().code,
                   r.error().message
                     + " (pg_restore 15.14 or later is needed for "
                       "--restrict-key: install a current postgresql-client "
                       "or set --pg-bin-dir)"};
  if (read_file(file).find("\\restrict " + key) == std::string::npos)
    return failure{ec::invalid_configuration,
                   pg_restore
                     + " wrote no \\restrict line: a restore could run "
                       "meta-commands hidden in the target's schema; install "
                       "postgresql-client 15.14 or later (or set "
                       "--pg-bin-dir)"};
  return ok{};
}

} // namespace

expected<ok> check_role(const pg::conninfo& server) {
  auto c = connect(server, "the sandbox server");
  if (!c)
    return c.error();
  // Both roles count: a function may RESET ROLE to the login role.
  auto r = exec(
    c->get(),
    "SELECT r.rolname, r.rolsuper OR r.rolcreaterole OR pg_has_role(r.oid, "
    "'pg_execute_server_program', 'MEMBER') OR pg_has_role(r.oid, "
    "'pg_read_server_files', 'MEMBER') OR pg_has_role(r.oid, "
    "'pg_write_server_files', 'MEMBER'), r.rolsuper, r.rolcreaterole FROM "
    "pg_roles r WHERE r.rolname IN (current_user, session_user) ORDER BY 2 "
    "DESC",
    "reading the sandbox role's privileges");
  if (!r)
    return r.error();
  for (int i = 0; i < PQntuples(r->get()); ++i) {
    if (std::string{PQgetvalue(r->get(), i, 1)} != "t")
      continue;
    std::string role = PQgetvalue(r->get(), i, 0);
    auto what = std::string{PQgetvalue(r->get(), i, 2)} == "t"
      ? "is a superuser"
      : std::string{PQgetvalue(r->get(), i, 3)} == "t"
      ? "has CREATEROLE (it can grant itself pg_execute_server_program)"
      : "may run programs or read and write files on the server "
        "(pg_execute_server_program, pg_read_server_files or "
        "pg_write_server_files)";
    return failure{
      ec::invalid_configuration,
      fmt::format("the sandbox role {} {}: functions and triggers copied "
                  "from the target run as it in the sandbox, so a target's "
                  "function could run COPY … TO PROGRAM there; create an "
                  "unprivileged role for the sandbox (CREATE ROLE "
                  "optischema_sandbox LOGIN CREATEDB PASSWORD '…';) and name "
                  "it in --sandbox-dsn",
                  role, what)};
  }
  return ok{};
}

std::string to_json(const prepared& x) {
  return json::object([&](json::writer& w) {
    json::field(w, "database", x.database);
    json::field(w, "signature", x.signature);
    json::field(w, "percent", x.percent);
    json::field(w, "tables", x.tables);
    json::field(w, "rows", x.rows);
    json::field(w, "orphans_deleted", x.orphans_deleted);
    json::field(w, "source_bytes", x.source_bytes);
    json::field(w, "extensions_skipped", x.extensions_skipped);
    json::field(w, "triggers_disabled", x.triggers_disabled);
    json::field(w, "prepared", x.prepared_ms);
    json::field(w, "duration_ms", x.duration_ms);
  });
}

expected<pg::conninfo> database_conninfo(const pg::conninfo& server,
                                         const std::string& database) {
  return with_database(server, database);
}

expected<std::string> schema_signature(const pg::conninfo& source) {
  auto c = connect(source, "the target");
  if (!c)
    return c.error();
  auto r
    = exec(c->get(),
           fmt::format(
             "SELECT md5(coalesce(string_agg(x, E'\\n' ORDER BY x), '')) "
             "FROM (SELECT n.nspname || '.' || c.relname || ':' || "
             "c.relkind::text || ':' || coalesce((SELECT string_agg(a.attname "
             "|| ' ' || format_type(a.atttypid, a.atttypmod), ',' ORDER "
             "BY a.attnum) FROM pg_attribute a WHERE a.attrelid = c.oid "
             "AND a.attnum > 0 AND NOT a.attisdropped), '') AS x FROM "
             "pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
             "WHERE c.relkind IN ('r', 'p', 'v', 'm') AND {0} UNION ALL "
             "SELECT pg_get_indexdef(i.indexrelid) || i.indisvalid::text FROM "
             "pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN "
             "pg_namespace n ON n.oid = c.relnamespace WHERE {0} UNION "
             "ALL SELECT co.conname || pg_get_constraintdef(co.oid) FROM "
             "pg_constraint co JOIN pg_namespace n ON n.oid = "
             "co.connamespace WHERE {0}) s",
             user_schemas),
           "reading the schema signature");
  if (!r)
    return r.error();
  return std::string{PQgetvalue(r->get(), 0, 0)};
}

expected<prepared> prepare(const pg::conninfo& source,
                           const pg::conninfo& server,
                           const std::string& database, const options& opts) {
  auto start = std::chrono::steady_clock::now();
  prepared out;
  out.database = database;
  auto dst_ci = with_database(server, database);
  if (!dst_ci)
    return dst_ci.error();
  if (dst_ci->display == source.display || server.display == source.display)
    return failure{ec::invalid_configuration,
                   fmt::format("the sandbox ({}) is the target itself; give a "
                               "separate PostgreSQL with --sandbox-dsn",
                               server.display)};
  // The same server under another name (localhost vs 127.0.0.1, another
  // database of it): its cluster id tells, where the roles may read it.
  {
    auto id_of = [](const pg::conninfo& ci) -> std::string {
      auto c = connect(ci, "a server");
      if (!c)
        return {};
      auto r = exec(c->get(),
                    "SELECT system_identifier::text FROM pg_control_system()",
                    "reading the cluster id");
      return r ? std::string{PQgetvalue(r->get(), 0, 0)} : std::string{};
    };
    auto a = id_of(source);
    if (!a.empty() && a == id_of(server))
      return failure{ec::invalid_configuration,
                     fmt::format("the sandbox server ({}) is the target's own "
                                 "server (same cluster id): copies and EXPLAIN "
                                 "ANALYZE would load production; give a "
                                 "separate PostgreSQL with --sandbox-dsn",
                                 server.display)};
  }
  if (auto role = check_role(server); !role)
    return role.error();
  auto sig = schema_signature(source);
  if (!sig)
    return sig.error();
  out.signature = *sig;
  // -- a fresh database
  {
    auto admin = connect(server, "the sandbox server");
    if (!admin)
      return admin.error();
    auto q = quote_ident(database);
    if (auto r = exec(admin->get(),
                      "DROP DATABASE IF EXISTS " + q + " WITH (FORCE)",
                      "dropping the old sandbox database");
        !r)
      return r.error();
    // The target's encoding and collation, so plans (LIKE prefixes, sorts)
    // match; the server default when the sandbox lacks the locale.
    std::string locale;
    if (auto src = connect(source, "the target"))
      if (auto r = exec(src->get(),
                        "SELECT pg_encoding_to_char(encoding), datcollate, "
                        "datctype FROM pg_database WHERE datname = "
                        "current_database()",
                        "reading the target's encoding");
          r && PQntuples(r->get()) == 1)
        locale = fmt::format(" ENCODING {} LC_COLLATE {} LC_CTYPE {}",
                             quote_literal(PQgetvalue(r->get(), 0, 0)),
                             quote_literal(PQgetvalue(r->get(), 0, 1)),
                             quote_literal(PQgetvalue(r->get(), 0, 2)));
    auto created = exec(admin->get(),
                        "CREATE DATABASE " + q + " TEMPLATE template0" + locale,
                        "creating the sandbox database");
    if (!created && !locale.empty())
      created = exec(admin->get(),
                     "CREATE DATABASE " + q + " TEMPLATE template0",
                     "creating the sandbox database");
    if (!created)
      return failure{created.error().code,
                     created.error().message
                       + " (the sandbox role needs CREATEDB)"};
  }
  // -- schema before data (tables, types, functions)
  scratch_dir tmp;
  if (tmp.path.empty())
    return failure{ec::internal, "cannot create a temporary directory"};
  auto dump = (tmp.path / "schema.dump").string();
  auto toc = (tmp.path / "toc.list").string();
  auto schemas_list = (tmp.path / "schemas.list").string();
  auto rest_list = (tmp.path / "rest.list").string();
  auto schemas_sql = (tmp.path / "schemas.sql").string();
  auto pre = (tmp.path / "pre.sql").string();
  auto post = (tmp.path / "post.sql").string();
  auto pg_dump = tool_path(opts.pg_bin_dir, "pg_dump");
  auto pg_restore = tool_path(opts.pg_bin_dir, "pg_restore");
  auto psql = tool_path(opts.pg_bin_dir, "psql");
  // One snapshot of the source for everything: the transaction that copies
  // the data exports it, and pg_dump reads the schema as of it too.
  auto src = connect(source, "the target");
  if (!src)
    return src.error();
  auto dst = connect(*dst_ci, "the sandbox");
  if (!dst)
    return dst.error();
  for (auto* sql : {"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                    "SET LOCAL lock_timeout = 5000"})
    if (auto r = exec(src->get(), sql, "starting the copy"); !r)
      return r.error();
  if (auto r = exec(src->get(),
                    fmt::format("SET LOCAL statement_timeout = {}",
                                opts.statement_timeout.count()),
                    "starting the copy");
      !r)
    return r.error();
  auto snapshot = exec(src->get(), "SELECT pg_export_snapshot()",
                       "exporting the copy's snapshot");
  if (!snapshot)
    return snapshot.error();
  std::string snapshot_id = PQgetvalue(snapshot->get(), 0, 0);
  // The schema in pg_dump's archive format, restored in parts: schemas,
  // then the extensions the sandbox role may create, then the rest without
  // what needs a superuser. Restored by the sandbox role (--no-owner), so
  // every function and trigger of the copy is its own and runs with no
  // more than its privileges.
  if (auto r = run_tool(pg_dump,
                        {"--schema-only", "--format", "custom", "--snapshot",
                         snapshot_id,
                         // Never queue behind a migration's lock for long.
                         "--lock-wait-timeout=30000", "--file", dump},
                        source);
      !r)
    return r.error();
  if (auto r = run_tool(pg_restore, {"--list", "--file", toc, dump}, source);
      !r)
    return r.error();
  {
    std::istringstream lines{read_file(toc)};
    std::string schemas;
    std::string rest;
    for (std::string line; std::getline(lines, line);) {
      if (is_schema(line))
        schemas += line + "\n";
      else if (!left_out(line))
        rest += line + "\n";
    }
    write_file(schemas_list, schemas);
    write_file(rest_list, rest);
  }
  for (auto& [section, list, file] :
       {std::tuple{"pre-data", schemas_list, schemas_sql},
        {"pre-data", rest_list, pre},
        {"post-data", rest_list, post}})
    if (auto r = restore_script(pg_restore, dump, list, section, file, *dst_ci);
        !r)
      return r.error();
  if (auto r
      = run_tool(psql, {"-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", schemas_sql},
                 *dst_ci);
      !r)
    return failure{r.error().code,
                   "creating the target's schemas in the sandbox: "
                     + r.error().message};
  // Extensions the role may create (trusted ones: pg_trgm, citext,
  // hstore…); the others are left out and named in the copy's facts.
  if (auto exts = exec(src->get(),
                       "SELECT e.extname, n.nspname FROM pg_extension e JOIN "
                       "pg_namespace n ON n.oid = e.extnamespace WHERE "
                       "e.extname <> 'plpgsql' ORDER BY 1",
                       "listing the target's extensions"))
    for (int i = 0; i < PQntuples(exts->get()); ++i) {
      std::string name = PQgetvalue(exts->get(), i, 0);
      if (!exec(dst->get(),
                fmt::format("CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {}",
                            quote_ident(name),
                            quote_ident(PQgetvalue(exts->get(), i, 1))),
                "creating extension " + name))
        out.extensions_skipped.push_back(name);
    }
  if (auto r = run_tool(psql, {"-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", pre},
                        *dst_ci);
      !r)
    return failure{
      r.error().code,
      "loading the target's schema into the sandbox: " + r.error().message
        + (out.extensions_skipped.empty()
             ? std::string{}
             : fmt::format(" (the sandbox role could not create the "
                           "extension(s) {}: install them in the sandbox "
                           "server's template1 or make them trusted)",
                           fmt::join(out.extensions_skipped, ", ")))};
  auto tables = exec(
    src->get(),
    fmt::format(
      "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), "
      "string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum), "
      "pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON "
      "n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND "
      "a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' WHERE "
      "c.relkind = 'r' AND {} AND NOT EXISTS (SELECT 1 FROM pg_depend d "
      "WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND "
      "d.deptype = 'e') GROUP BY n.nspname, c.relname, c.oid ORDER BY 1",
      user_schemas),
    "listing the target's tables");
  if (!tables)
    return tables.error();
  std::vector<table_copy> copies;
  for (int i = 0; i < PQntuples(tables->get()); ++i) {
    copies.push_back(
      {PQgetvalue(tables->get(), i, 0), PQgetvalue(tables->get(), i, 1)});
    out.source_bytes += std::atoll(PQgetvalue(tables->get(), i, 2));
  }
  out.percent = 100;
  if (opts.sample_percent > 0 && opts.sample_percent < 100)
    out.percent = opts.sample_percent;
  else if (out.source_bytes > opts.full_copy_max_bytes
           && opts.full_copy_max_bytes > 0)
    out.percent = std::max(0.01,
                           100.0 * opts.full_copy_max_bytes
                             / static_cast<double>(out.source_bytes));
  for (auto& t : copies) {
    auto rows = copy_table(src->get(), dst->get(), t, out.percent);
    if (!rows)
      return rows.error();
    out.rows += *rows;
    ++out.tables;
  }
  if (out.percent < 100) {
    auto fks = exec(
      src->get(),
      "SELECT quote_ident(cn.nspname) || '.' || quote_ident(c.relname), "
      "quote_ident(pn.nspname) || '.' || quote_ident(p.relname), (SELECT "
      "string_agg(quote_ident(a.attname), chr(31) ORDER BY k.i) FROM "
      "unnest(co.conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON "
      "a.attrelid = co.conrelid AND a.attnum = k.n), (SELECT "
      "string_agg(quote_ident(a.attname), chr(31) ORDER BY k.i) FROM "
      "unnest(co.confkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON "
      "a.attrelid = co.confrelid AND a.attnum = k.n) FROM pg_constraint co "
      "JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace cn ON cn.oid "
      "= c.relnamespace JOIN pg_class p ON p.oid = co.confrelid JOIN "
      "pg_namespace pn ON pn.oid = p.relnamespace WHERE co.contype = 'f' AND "
      "co.conparentid = 0",
      "reading the target's foreign keys");
    if (!fks)
      return fks.error();
    std::vector<foreign_key> keys;
    for (int i = 0; i < PQntuples(fks->get()); ++i)
      keys.push_back({PQgetvalue(fks->get(), i, 0),
                      PQgetvalue(fks->get(), i, 1),
                      split(PQgetvalue(fks->get(), i, 2), '\x1f'),
                      split(PQgetvalue(fks->get(), i, 3), '\x1f')});
    auto deleted = delete_orphans(dst->get(), keys);
    if (!deleted)
      return deleted.error();
    out.orphans_deleted = *deleted;
    out.rows -= *deleted;
  }
  // Sequences as far as the target's: inserts timed in the sandbox take
  // new keys, not ones the copied rows hold.
  auto seqs = exec(src->get(),
                   "SELECT format('%I.%I', schemaname, sequencename), "
                   "last_value FROM pg_sequences WHERE last_value IS NOT NULL",
                   "reading the target's sequences");
  if (!seqs)
    return seqs.error();
  for (int i = 0; i < PQntuples(seqs->get()); ++i)
    if (auto r = exec(dst->get(),
                      fmt::format("SELECT setval({}::regclass, {})",
                                  quote_literal(PQgetvalue(seqs->get(), i, 0)),
                                  PQgetvalue(seqs->get(), i, 1)),
                      "setting a sequence in the sandbox");
        !r)
      return r.error();
  exec(src->get(), "ROLLBACK", "ending the copy");
  // -- indexes and constraints, then statistics
  if (auto r = run_tool(psql, {"-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", post},
                        *dst_ci);
      !r)
    return failure{r.error().code,
                   "adding the target's indexes and constraints to the "
                   "sandbox: "
                     + r.error().message};
  // User triggers stay quiet on the copy: timed writes measure the
  // statement and its index maintenance, and code copied from the target
  // does not run on every measured write (it would run without privilege
  // anyway). Foreign keys (internal triggers) still hold.
  auto triggers = exec(dst->get(),
                       "SELECT DISTINCT format('ALTER TABLE %I.%I DISABLE "
                       "TRIGGER USER', n.nspname, c.relname) FROM pg_trigger "
                       "t JOIN pg_class c ON c.oid = t.tgrelid JOIN "
                       "pg_namespace n ON n.oid = c.relnamespace WHERE NOT "
                       "t.tgisinternal AND c.relkind IN ('r', 'p')",
                       "listing the copy's triggers");
  if (!triggers)
    return triggers.error();
  for (int i = 0; i < PQntuples(triggers->get()); ++i)
    if (auto r = exec(dst->get(), PQgetvalue(triggers->get(), i, 0),
                      "disabling the copy's triggers");
        !r)
      return r.error();
  if (auto n = exec(dst->get(),
                    "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal",
                    "counting the copy's triggers"))
    out.triggers_disabled = std::atoll(PQgetvalue(n->get(), 0, 0));
  // VACUUM sets the visibility map index-only scans are costed on.
  if (auto r = exec(dst->get(), "VACUUM (ANALYZE)", "analysing the sandbox");
      !r)
    return r.error();
  out.prepared_ms = now_ms();
  out.duration_ms = elapsed_ms(start);
  return out;
}

} // namespace optischema::sandbox
