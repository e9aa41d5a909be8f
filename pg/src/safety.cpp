#include "optischema/pg/safety.hpp"

#include "session_impl.hpp"

#include "optischema/analysis/references.hpp"
#include "optischema/util/json_parse.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <mutex>
#include <set>

// How it works: analysis/references.cpp reads the names off the parse tree;
// here they are resolved the way PostgreSQL resolves them (unqualified:
// every schema of the search_path, so any overload counts), in one
// read-only transaction whose own search_path is pg_catalog alone, so
// neither these lookups nor pg_get_viewdef/pg_get_expr (which then qualify
// every other name) can be steered by objects a database user planted.
// Views, policies and column defaults are parsed again, to a fixed depth.

namespace optischema::pg {

namespace {


/// VOLATILE pg_catalog functions whose effects end with the statement (or,
/// for nextval, with a sequence of the sandbox's copy): EXPLAIN never runs
/// a volatile call, and INSERTs into serial columns need nextval.
const std::set<std::string> harmless_volatile = {
  "random",          "nextval",         "currval",   "lastval",
  "gen_random_uuid", "clock_timestamp", "timeofday",
};

/// STABLE pg_catalog functions that run queries of their own over whole
/// tables, schemas or databases (the planner may fold them to estimate a
/// clause): as unwelcome on production as a volatile call.
bool reads_whole_relations(const std::string& name) {
  for (auto* prefix : {"table_to_xml", "schema_to_xml", "database_to_xml",
                       "query_to_xml", "cursor_to_xml"})
    if (name.starts_with(prefix))
      return true;
  return false;
}

constexpr int max_depth = 16;
/// Short: a verdict rests on the catalog as it was (a new overload in the
/// search_path could change it), yet the what-if loop plans one statement
/// many times within seconds.
constexpr auto verdict_ttl = std::chrono::seconds{10};
constexpr size_t max_verdicts = 2000;

/// A function the statement can run, and the words that say how.
struct reached_function {
  /// "calls", "uses operator public.===, which calls", …
  std::string how;
  std::string schema;
  std::string name;
  char volatility = 'v';
  std::string extension;
  /// pg_language.lanname: "c" and "internal" need a superuser to create.
  std::string language;
};

/// The names still to resolve, each with how the statement reaches it.
struct pending {
  std::map<qualified_name, std::string> functions;
  std::map<qualified_name, std::string> operators;
  std::map<qualified_name, std::string> casts;
  std::map<qualified_name, std::string> relations;

  bool empty() const {
    return functions.empty() && operators.empty() && casts.empty()
      && relations.empty();
  }

  /// Adds what `refs` names; `prefix` says where it sits ("" for the
  /// statement itself, "reads view public.v, which ").
  void add(const statement_references& refs, const std::string& prefix) {
    for (auto& f : refs.functions)
      functions.emplace(f, prefix + "calls");
    for (auto& o : refs.operators)
      operators.emplace(o,
                        prefix + "uses operator " + o.text() + ", which calls");
    for (auto& t : refs.casts)
      casts.emplace(t, prefix + "casts to " + t.text() + " with");
    for (auto& r : refs.relations)
      relations.emplace(r, prefix);
  }
};

std::string names_json(const std::map<qualified_name, std::string>& xs) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartArray();
  for (auto& [n, _] : xs) {
    w.StartObject();
    w.Key("schema");
    w.String(n.schema.c_str(),
             static_cast<rapidjson::SizeType>(n.schema.size()));
    w.Key("name");
    w.String(n.name.c_str(), static_cast<rapidjson::SizeType>(n.name.size()));
    w.EndObject();
  }
  w.EndArray();
  return {buf.GetString(), buf.GetSize()};
}

/// Joins the wanted names ($1) with `table`'s `name_column`, resolved in
/// the search_path ($2) when unqualified.
std::string wanted(const char* table, const char* name_column,
                   const char* schema_column) {
  return fmt::format(
    "FROM jsonb_to_recordset($1::jsonb) AS w(schema text, name text) "
    "JOIN {0} ON {1} = w.name JOIN pg_namespace n ON n.oid = {2} AND CASE "
    "WHEN w.schema = '' THEN n.nspname IN (SELECT "
    "jsonb_array_elements_text($2::jsonb)) ELSE n.nspname = w.schema END",
    table, name_column, schema_column);
}

/// The facts of a function row: its schema, name, volatility, extension.
constexpr const char* function_facts
  = "fn.nspname, p.proname, p.provolatile::text, coalesce((SELECT e.extname "
    "FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid WHERE "
    "d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e' "
    "LIMIT 1), ''), coalesce((SELECT l.lanname::text FROM pg_language l WHERE "
    "l.oid = p.prolang), '')";

reached_function fact(const pqxx::row& r, pqxx::row::size_type at,
                      std::string how) {
  reached_function f;
  f.how = std::move(how);
  f.schema = r[at].c_str();
  f.name = r[at + 1].c_str();
  auto v = std::string{r[at + 2].c_str()};
  f.volatility = v.empty() ? 'v' : v[0];
  f.extension = r[at + 3].c_str();
  f.language = r[at + 4].c_str();
  return f;
}

bool allowed_by_name(const execution_policy& p, const reached_function& f) {
  auto full = f.schema + "." + f.name;
  return std::find(p.functions.begin(), p.functions.end(), full)
    != p.functions.end();
}

/// Extensions that ship with PostgreSQL (contrib) whose IMMUTABLE and STABLE
/// C functions are pure computations on their arguments: trusted without
/// --allow-extension. Only in C (or internal), which only a superuser can
/// create: an extension's owner can add a function of their own to it
/// (ALTER EXTENSION … ADD FUNCTION), but not one in C.
bool trusted_contrib(const reached_function& f) {
  static const std::set<std::string> contrib{
    "pg_trgm", "btree_gin", "btree_gist", "citext", "hstore",
    "intarray", "ltree",    "cube",       "fuzzystrmatch"};
  return contrib.count(f.extension) != 0
    && (f.language == "c" || f.language == "internal");
}

bool is_dblink(const reached_function& f) {
  return f.extension == "dblink" || f.name.starts_with("dblink");
}

/// Why `f` must not run, or nothing when it may.
std::optional<std::string> refusal(const reached_function& f,
                                   const execution_policy& p) {
  auto name = f.schema + "." + f.name + "()";
  auto allow = fmt::format("allow it with --allow-function {}.{}", f.schema,
                           f.name);
  if (is_dblink(f))
    return fmt::format("{} {}, which opens a connection of its own (dblink): "
                       "never run by the engine",
                       f.how, name);
  if (allowed_by_name(p, f))
    return std::nullopt;
  auto in_catalog = f.schema == "pg_catalog";
  auto in_allowed_extension = !f.extension.empty()
    && std::find(p.extensions.begin(), p.extensions.end(), f.extension)
      != p.extensions.end();
  if (f.volatility == 'v') {
    if (in_catalog && harmless_volatile.contains(f.name))
      return std::nullopt;
    return fmt::format("{} {}, which is VOLATILE; {}", f.how, name, allow);
  }
  if (in_catalog && reads_whole_relations(f.name))
    return fmt::format("{} {}, which runs queries of its own over whole "
                       "tables; {}",
                       f.how, name, allow);
  if (in_catalog || in_allowed_extension || trusted_contrib(f))
    return std::nullopt;
  if (!f.extension.empty())
    return fmt::format("{} {} of extension {}, which is not PostgreSQL's "
                       "own: allow it with --allow-extension {} (or "
                       "--allow-function {}.{})",
                       f.how, name, f.extension, f.extension, f.schema, f.name);
  return fmt::format("{} {}, which is not in pg_catalog: the planner runs "
                     "IMMUTABLE and STABLE calls while planning, so EXPLAIN "
                     "alone would run it; {}",
                     f.how, name, allow);
}

/// Everything the statement can run, resolved in the catalog; or the
/// first refusal found on the way (a foreign table).
class resolver {
public:
  /// `estimators`: operators' selectivity estimators count (they run
  /// while planning, not while building an index).
  resolver(pqxx::nontransaction& tx, std::string path, bool estimators)
    : tx_(tx), path_(std::move(path)), estimators_(estimators) {
    // nop
  }

  expected<std::vector<reached_function>> run(pending todo,
                                              const statement_references& top) {
    if (top.insert_target)
      if (auto r = defaults(*top.insert_target, todo); !r)
        return r.error();
    for (int depth = 0; !todo.empty(); ++depth) {
      if (depth == max_depth)
        return failure{ec::bad_request,
                       fmt::format("reads views nested more than {} deep",
                                   max_depth)};
      pending next;
      resolve_functions(todo.functions);
      resolve_operators(todo.operators);
      resolve_casts(todo.casts);
      if (auto r = relations(todo.relations, next); !r)
        return r.error();
      todo = std::move(next);
    }
    return std::move(out_);
  }

private:
  pqxx::result query(const std::string& sql,
                     const std::map<qualified_name, std::string>& names) {
    return tx_.exec_params(own_marker + sql, names_json(names), path_);
  }

  /// The how of a resolved row: the first wanted name it matched.
  static std::string how_of(const std::map<qualified_name, std::string>& xs,
                            const pqxx::row& r) {
    auto i = xs.find({r[0].c_str(), r[1].c_str()});
    return i != xs.end() ? i->second : "calls";
  }

  void resolve_functions(const std::map<qualified_name, std::string>& xs) {
    if (xs.empty())
      return;
    for (const auto& r :
         query(fmt::format("SELECT w.schema, w.name, {} {} JOIN pg_namespace "
                           "fn ON fn.oid = p.pronamespace",
                           function_facts,
                           wanted("pg_proc p", "p.proname", "p.pronamespace")),
               xs))
      out_.push_back(fact(r, 2, how_of(xs, r)));
  }

  void resolve_operators(const std::map<qualified_name, std::string>& xs) {
    if (xs.empty())
      return;
    // The operator's function, and the selectivity estimators the planner
    // calls with the operator's constant arguments.
    auto functions = estimators_
      ? "(o.oprcode::oid), (o.oprrest::oid), (o.oprjoin::oid)"
      : "(o.oprcode::oid)";
    for (const auto& r : query(
           fmt::format("SELECT w.schema, w.name, {} {} CROSS JOIN LATERAL "
                       "(VALUES {}) AS f(fn) JOIN pg_proc p ON p.oid = f.fn "
                       "JOIN pg_namespace fn ON fn.oid = p.pronamespace",
                       function_facts,
                       wanted("pg_operator o", "o.oprname", "o.oprnamespace"),
                       functions),
           xs))
      out_.push_back(fact(r, 2, how_of(xs, r)));
  }

  void resolve_casts(const std::map<qualified_name, std::string>& xs) {
    if (xs.empty())
      return;
    for (const auto& r : query(
           fmt::format("SELECT w.schema, w.name, {} {} JOIN pg_cast c ON "
                       "c.casttarget = t.oid AND c.castfunc <> 0 JOIN pg_proc "
                       "p ON p.oid = c.castfunc JOIN pg_namespace fn ON fn.oid "
                       "= p.pronamespace",
                       function_facts,
                       wanted("pg_type t", "t.typname", "t.typnamespace")),
           xs))
      out_.push_back(fact(r, 2, how_of(xs, r)));
  }

  /// Parses `expression` (a default, a policy) into `next`; with
  /// `constant_only`, only what the planner folds (see references.hpp).
  expected<ok> add_expression(const std::string& expression,
                              const std::string& prefix, pending& next,
                              bool constant_only = false) {
    auto refs = expression_references(expression, constant_only);
    if (!refs)
      return failure{ec::bad_request,
                     prefix + "holds an expression the engine cannot read: "
                       + refs.error().message};
    next.add(*refs, prefix);
    return ok{};
  }

  /// Column defaults (and generated columns) of the table an INSERT writes.
  expected<ok> defaults(const qualified_name& table, pending& next) {
    std::map<qualified_name, std::string> one{{table, ""}};
    for (const auto& r : query(
           fmt::format("SELECT n.nspname, c.relname, pg_get_expr(d.adbin, "
                       "d.adrelid) {} JOIN pg_attrdef d ON d.adrelid = c.oid",
                       wanted("pg_class c", "c.relname", "c.relnamespace")),
           one)) {
      auto prefix = fmt::format("inserts into {}.{}, whose column default ",
                                r[0].c_str(), r[1].c_str());
      if (auto x = add_expression(r[2].c_str(), prefix, next); !x)
        return x;
    }
    return ok{};
  }

  /// Views (their definitions), foreign tables (refused) and row-level
  /// security policies of what the statement reads. pg_catalog's and
  /// information_schema's views are PostgreSQL's own.
  expected<ok> relations(const std::map<qualified_name, std::string>& xs,
                         pending& next) {
    std::map<qualified_name, std::string> fresh;
    for (auto& [n, how] : xs)
      if (seen_.insert(n).second)
        fresh.emplace(n, how);
    if (fresh.empty())
      return ok{};
    for (const auto& r : query(
           fmt::format(
             "SELECT w.schema, w.name, n.nspname, c.relname, c.relkind::text, "
             "CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) ELSE '' "
             "END, (SELECT coalesce(jsonb_agg(x), '[]') FROM (SELECT "
             "pg_get_expr(e, p.polrelid) FROM pg_policy p, LATERAL (VALUES "
             "(p.polqual), (p.polwithcheck)) AS v(e) WHERE c.relrowsecurity "
             "AND p.polrelid = c.oid AND e IS NOT NULL) s(x))::text, (SELECT "
             "coalesce(jsonb_agg(x), '[]') FROM (SELECT pg_get_expr(e, "
             "i.indrelid) FROM pg_index i, LATERAL (VALUES (i.indexprs), "
             "(i.indpred)) AS v(e) WHERE i.indrelid = c.oid AND e IS NOT NULL "
             "UNION ALL SELECT pg_get_expr(k.conbin, k.conrelid) FROM "
             "pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'c') "
             "s(x))::text {} WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND "
             "n.nspname NOT IN ('pg_catalog', 'information_schema')",
             wanted("pg_class c", "c.relname", "c.relnamespace")),
           fresh)) {
      auto how = how_of(fresh, r);
      auto name = fmt::format("{}.{}", r[2].c_str(), r[3].c_str());
      auto kind = std::string{r[4].c_str()};
      if (kind == "f")
        return failure{ec::bad_request,
                       fmt::format("{}reads foreign table {}: planning or "
                                   "running it reaches another server",
                                   how, name)};
      if (kind == "v") {
        auto def = std::string{r[5].c_str()};
        auto refs = collect_references(def);
        if (!refs)
          return failure{ec::bad_request,
                         fmt::format("{}reads view {}, whose definition the "
                                     "engine cannot read: {}",
                                     how, name, refs.error().message)};
        next.add(*refs, fmt::format("{}reads view {}, which ", how, name));
      }
      // Policies join the query; index expressions and predicates and
      // CHECK constraints are constant-folded when the planner loads the
      // table (relcache), whatever the statement asks.
      for (auto [column, whose, folded] :
           {std::tuple{6, "row-level security policy", false},
            {7, "index or CHECK constraint", true}})
        if (auto x = add_expressions(r[column].c_str(),
                                     fmt::format("{}reads {}, whose {} ", how,
                                                 name, whose),
                                     next, folded);
            !x)
          return x;
    }
    return ok{};
  }

  /// Each expression of a JSON array (from jsonb_agg) into `next`.
  expected<ok> add_expressions(const char* json_array,
                               const std::string& prefix, pending& next,
                               bool constant_only) {
    rapidjson::Document xs;
    if (!json::parse(xs, json_array, "expressions") || !xs.IsArray())
      return failure{ec::internal, "unreadable expressions of " + prefix};
    for (auto& x : xs.GetArray())
      if (x.IsString())
        if (auto r = add_expression(x.GetString(), prefix, next, constant_only);
            !r)
          return r;
    return ok{};
  }

  pqxx::nontransaction& tx_;
  /// The session's search_path as a JSON array (current_schemas(true)).
  std::string path_;
  bool estimators_ = true;
  std::set<qualified_name> seen_;
  std::vector<reached_function> out_;
};

/// Runs `f` (the lookups) in one read-only, rolled-back transaction whose
/// search_path is pg_catalog alone; `f` gets the session's own path.
template <class F>
expected<ok> with_catalog(session& s, const char* what, F f) {
  auto broken = false;
  auto out = guarded<expected<ok>>(s, what, [&](pqxx::connection& c) {
    return rolled_back(
      c, "BEGIN READ ONLY", s.opts().statement_timeout, s.opts().lock_timeout,
      broken, [&](pqxx::nontransaction& tx) {
        auto path = std::string{tx.exec(own_marker
                                        + "SELECT pg_catalog.array_to_json("
                                          "pg_catalog.current_schemas(true))::"
                                          "text")[0][0]
                                  .c_str()};
        tx.exec(own_marker
                + "SET LOCAL search_path = pg_catalog, "
                  "pg_temp");
        return f(tx, path);
      });
  });
  if (broken)
    s.disconnect();
  if (!out)
    return out.error();
  return *out;
}

expected<ok> decide(session& s, const std::string& sql) {
  auto refs = collect_references(sql);
  if (!refs)
    return failure{ec::bad_request, refs.error().message};
  auto& type = refs->type;
  if (type != "SelectStmt" && type != "InsertStmt" && type != "UpdateStmt"
      && type != "DeleteStmt")
    return failure{ec::bad_request,
                   fmt::format("is a {}: only SELECT, INSERT, UPDATE and "
                               "DELETE are ever explained or run",
                               type)};
  if (!refs->locks.empty())
    return failure{ec::bad_request,
                   fmt::format("takes row locks ({}): the engine never locks "
                               "rows",
                               refs->locks.front())};
  if (refs->select_into)
    return failure{ec::bad_request, "creates a table (SELECT … INTO)"};
  auto policy = s.opts().policy ? *s.opts().policy : default_policy();
  return with_catalog(
    s, "checking what a statement calls",
    [&](pqxx::nontransaction& tx, const std::string& path) -> expected<ok> {
      pending todo;
      todo.add(*refs, "");
      auto reached = resolver{tx, path, true}.run(std::move(todo), *refs);
      if (!reached)
        return reached.error();
      for (auto& f : *reached)
        if (auto why = refusal(f, policy))
          return failure{ec::bad_request, *why};
      return ok{};
    });
}

} // namespace

expected<ok> check_statement(session& s, const std::string& sql) {
  auto& cache = s.get_impl().verdicts;
  auto now = std::chrono::steady_clock::now();
  if (auto i = cache.find(sql);
      i != cache.end() && now - i->second.first < verdict_ttl) {
    if (i->second.second)
      return *i->second.second;
    return ok{};
  }
  auto verdict = decide(s, sql);
  // Only verdicts count: a lost connection is asked again next time.
  if (verdict || verdict.error().code == ec::bad_request) {
    if (cache.size() >= max_verdicts)
      cache.clear();
    cache[sql]
      = {now, verdict ? std::nullopt : std::optional<failure>{verdict.error()}};
  }
  return verdict;
}

expected<ok> check_index_expressions(session& s,
                                     const std::string& create_index) {
  auto refs = index_expression_references(create_index);
  if (!refs)
    return failure{ec::bad_request,
                   "the index definition cannot be read: "
                     + refs.error().message};
  if (refs->functions.empty() && refs->operators.empty() && refs->casts.empty())
    return ok{};
  return with_catalog(
    s, "checking an index's expressions",
    [&](pqxx::nontransaction& tx, const std::string& path) -> expected<ok> {
      pending todo;
      todo.add(*refs, "");
      todo.relations.clear();
      auto reached = resolver{tx, path, false}.run(std::move(todo), {});
      if (!reached)
        return reached.error();
      // PostgreSQL itself refuses a function that is not IMMUTABLE in an
      // index; what it cannot tell is a user's function falsely declared so.
      for (auto& f : *reached)
        if (f.schema != "pg_catalog")
          return failure{
            ec::bad_request,
            fmt::format("its expression {} {}.{}(), which is not "
                        "PostgreSQL's own (pg_catalog): building the index "
                        "would run it on every row as the table's owner",
                        f.how, f.schema, f.name)};
      return ok{};
    });
}

expected<ok> check_index_expressions(const conninfo& target,
                                     const std::string& ddl) {
  auto refs = index_expression_references(ddl);
  if (!refs
      || (refs->functions.empty() && refs->operators.empty()
          && refs->casts.empty()))
    return ok{}; // not a CREATE INDEX (DROP INDEX), or nothing to run
  session s{target};
  return check_index_expressions(s, ddl);
}

} // namespace optischema::pg
