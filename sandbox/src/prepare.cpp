#include "optischema/sandbox/sandbox.hpp"
#include "libpq.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/util/clock.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

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

} // namespace

std::string to_json(const prepared& x) {
  rapidjson::StringBuffer buf;
  json::writer w{buf};
  w.StartObject();
  json::key(w, "database");
  json::str(w, x.database);
  json::key(w, "signature");
  json::str(w, x.signature);
  json::key(w, "percent");
  w.Double(x.percent);
  json::key(w, "tables");
  w.Int64(x.tables);
  json::key(w, "rows");
  w.Int64(x.rows);
  json::key(w, "orphans_deleted");
  w.Int64(x.orphans_deleted);
  json::key(w, "source_bytes");
  w.Int64(x.source_bytes);
  json::key(w, "prepared");
  w.Int64(x.prepared_ms);
  json::key(w, "duration_ms");
  w.Int64(x.duration_ms);
  w.EndObject();
  return json::text(buf);
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
  auto pre = (tmp.path / "pre.sql").string();
  auto post = (tmp.path / "post.sql").string();
  auto pg_dump = tool_path(opts.pg_bin_dir, "pg_dump");
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
  for (auto& [section, file] :
       {std::pair{"pre-data", pre}, {"post-data", post}})
    if (auto r = run_tool(
          pg_dump,
          {"--schema-only", "--no-owner", "--no-privileges", "--no-comments",
           "--no-publications", "--no-subscriptions", "--no-tablespaces",
           "--no-security-labels", "--snapshot", snapshot_id,
           // Never queue behind a migration's lock for long.
           "--lock-wait-timeout=30000", "--section", section, "--file", file},
          source);
        !r)
      return r.error();
  if (auto r = run_tool(psql, {"-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", pre},
                        *dst_ci);
      !r)
    return failure{r.error().code,
                   "loading the target's schema into the sandbox: "
                     + r.error().message};
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
  // VACUUM sets the visibility map index-only scans are costed on.
  if (auto r = exec(dst->get(), "VACUUM (ANALYZE)", "analysing the sandbox");
      !r)
    return r.error();
  out.prepared_ms = now_ms();
  out.duration_ms = elapsed_ms(start);
  return out;
}

} // namespace optischema::sandbox
