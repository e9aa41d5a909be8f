#include "cli.hpp"

#include "optischema/advice/advisor.hpp"
#include "optischema/analysis/candidates.hpp"
#include "optischema/analysis/change.hpp"
#include "optischema/analysis/statement.hpp"
#include "optischema/pg/catalog_reader.hpp"
#include "optischema/pg/safety.hpp"
#include "optischema/util/duration.hpp"
#include "optischema/util/logging.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace optischema::app {

bool apply_recommendation(const pg::conninfo& target, const recommendation& r,
                          bool undo, const pg::ddl_options& opts) {
  auto c = change_for(r, undo);
  // The advice's expressions run on every row as the table's owner
  // (pg/safety.hpp). (Undoing a drop rebuilds an index the schema had.)
  if (c && r.kind == "create_index" && !undo)
    if (auto safe = pg::check_index_expressions(target, c->sql); !safe)
      c = failure{ec::bad_request,
                  "not applied: the index " + safe.error().message};
  // The extension an index needs is a person's step (pg/ddl.hpp).
  if (c && r.kind == "create_index" && !undo)
    if (auto met = pg::check_prerequisites(target, r.prerequisites); !met)
      c = met.error();
  if (!c) {
    OPTISCHEMA_ERROR("{}", c.error().message);
    return false;
  }
  auto o = opts;
  o.estimated_bytes = r.size_bytes > 0 ? r.size_bytes : 0;
  std::printf("%s: %s\n", undo ? "rolling back" : "applying", c->sql.c_str());
  std::fflush(stdout);
  auto res = pg::run_index_change(target, *c, o);
  if (auto* f = std::get_if<pg::ddl_failure>(&res)) {
    for (auto& s : f->partial.steps)
      std::printf("  %s\n", s.c_str());
    OPTISCHEMA_ERROR("{}", f->error.message);
    return false;
  }
  auto& out = std::get<pg::ddl_outcome>(res);
  for (auto& s : out.steps)
    std::printf("  %s\n", s.c_str());
  if (out.changed && !out.index.name.empty())
    std::printf("  index %s.%s (oid %u): %s\n", out.index.schema.c_str(),
                out.index.name.c_str(), out.index.oid,
                out.index.definition.c_str());
  std::printf("  %s in %lld ms\n",
              !out.changed ? "nothing to do"
                : undo     ? "rolled back"
                           : "applied",
              static_cast<long long>(out.duration_ms));
  return true;
}

namespace {

/// After an apply, a fresh analysis no longer proposes the index (it
/// exists): find the index a create_index recommendation `id` built among
/// the target's indexes, by the id its definition gives.
std::optional<recommendation> applied_index(pg::session& s,
                                            const std::string& target,
                                            const std::string& id) {
  auto cat = pg::read_catalog(s);
  if (!cat)
    return std::nullopt;
  for (auto& t : cat->tables)
    for (auto& ix : t.indexes) {
      if (ix.primary || ix.constraint_backed)
        continue;
      index_candidate c;
      c.schema = ix.schema;
      c.table = t.name;
      c.method = ix.am;
      for (size_t k = 0; k < ix.keys.size(); ++k)
        c.keys.push_back(k < ix.opclasses.size() && !ix.opclasses[k].empty()
                           ? ix.keys[k] + " " + ix.opclasses[k]
                           : ix.keys[k]);
      c.include = ix.include;
      c.predicate = ix.predicate;
      if (recommendation_id(target, "create_index", c.key()) != id)
        continue;
      recommendation r;
      r.id = id;
      r.kind = "create_index";
      r.target = target;
      r.schema = ix.schema;
      r.table = t.name;
      r.index_name = ix.name;
      r.ddl = ix.definition;
      r.rollback_ddl = "DROP INDEX CONCURRENTLY IF EXISTS "
        + quote_qualified(ix.schema, ix.name);
      // Without the engine's audit log, the catalog is the record: the
      // index of this definition, as it is now.
      r.index_oid = ix.oid;
      r.index_definition = ix.definition;
      return r;
    }
  return std::nullopt;
}

} // namespace

int apply(const apply_flags& f) {
  if (auto err = empty_dsn("--dsn is empty", f.dsn)) {
    OPTISCHEMA_ERROR("{}", err->message);
    return 2;
  }
  auto ci = pg::parse_conninfo(f.dsn);
  if (!ci) {
    OPTISCHEMA_ERROR("{}", ci.error().message);
    return 2;
  }
  auto lock = parse_duration(f.lock_timeout);
  if (!lock || f.attempts < 1) {
    OPTISCHEMA_ERROR("--lock-timeout takes a duration (2s) and --attempts a "
                     "positive number");
    return 2;
  }
  // Ids are stable: the same advice on the same target has the same id, so
  // a fresh analysis finds the recommendation the API showed.
  advise_options opts;
  opts.target = f.target.empty() ? name_from(ci->dbname) : f.target;
  opts.min_confidence = 0;
  pg::session session{*ci};
  auto report = optischema::advise(session, opts);
  if (!report) {
    OPTISCHEMA_ERROR("{}", report.error().message);
    return 1;
  }
  std::optional<recommendation> found;
  for (auto* xs : {&report->actions, &report->other})
    for (auto& r : *xs)
      if (r.id == f.id)
        found = r;
  if (!found && f.rollback)
    found = applied_index(session, opts.target, f.id);
  if (!found) {
    OPTISCHEMA_ERROR("no recommendation {} in a fresh analysis of {} (target "
                     "'{}'): the workload or schema changed, or the target "
                     "name differs (--target)",
                     f.id, ci->display, opts.target);
    return 1;
  }
  pg::ddl_options d;
  d.lock_timeout = *lock;
  d.attempts = f.attempts;
  d.lock_key = f.lock_key;
  return apply_recommendation(*ci, *found, f.rollback, d) ? 0 : 1;
}

} // namespace optischema::app
