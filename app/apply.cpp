#include "cli.hpp"

#include "optischema/advice/advisor.hpp"
#include "optischema/analysis/change.hpp"
#include "optischema/util/duration.hpp"
#include "optischema/util/logging.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace optischema::app {

bool apply_recommendation(const pg::conninfo& target, const recommendation& r,
                          bool undo, const pg::ddl_options& opts) {
  auto c = change_for(r, undo);
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
  std::printf("  %s in %lld ms\n",
              !out.changed ? "nothing to do"
              : undo       ? "rolled back"
                           : "applied",
              static_cast<long long>(out.duration_ms));
  return true;
}

int apply(const apply_flags& f) {
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
  const recommendation* found = nullptr;
  for (auto* xs : {&report->actions, &report->other})
    for (auto& r : *xs)
      if (r.id == f.id)
        found = &r;
  if (found == nullptr) {
    OPTISCHEMA_ERROR("no recommendation {} in a fresh analysis of {} (target "
                     "'{}'): the workload or schema changed, or the target "
                     "name differs (--target)",
                     f.id, ci->display, opts.target);
    return 1;
  }
  pg::ddl_options d;
  d.lock_timeout = *lock;
  d.attempts = f.attempts;
  return apply_recommendation(*ci, *found, f.rollback, d) ? 0 : 1;
}

} // namespace optischema::app
