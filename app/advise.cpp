#include "cli.hpp"

#include "optischema/advice/advisor.hpp"
#include "optischema/analysis/fingerprint.hpp"
#include "optischema/pg/conninfo.hpp"
#include "optischema/pg/safety.hpp"
#include "optischema/util/logging.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace optischema::app {

int advise(const advise_flags& f) {
  auto ci = pg::parse_conninfo(f.dsn);
  if (!ci) {
    OPTISCHEMA_ERROR("{}", ci.error().message);
    return 2;
  }
  if (f.format != "text" && f.format != "json") {
    OPTISCHEMA_ERROR("--format takes text or json, got '{}'", f.format);
    return 2;
  }
  auto policy = pg::make_policy(f.allow_functions, f.allow_extensions);
  if (!policy) {
    OPTISCHEMA_ERROR("{}", policy.error().message);
    return 2;
  }
  pg::set_default_policy(std::move(*policy));
  advise_options opts;
  opts.statements = f.statements;
  for (auto& file : f.files) {
    std::ifstream in{file};
    if (!in) {
      OPTISCHEMA_ERROR("cannot read --file {}", file);
      return 2;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    auto stmts = split_statements(ss.str());
    if (!stmts) {
      OPTISCHEMA_ERROR("{}: {}", file, stmts.error().message);
      return 2;
    }
    opts.statements.insert(opts.statements.end(), stmts->begin(), stmts->end());
  }
  // Like Dexter: pg_stat_statements when asked, or when nothing else is given.
  opts.use_pg_stat_statements = f.pg_stat_statements || opts.statements.empty();
  opts.min_calls = f.min_calls;
  opts.min_time_ms = f.min_time_ms;
  if (f.budget_mb > 0)
    opts.budget_mb = f.budget_mb;
  opts.include_tables = f.include;
  opts.exclude_tables = f.exclude;
  opts.min_confidence = f.min_confidence;
  opts.target = f.target.empty() ? name_from(ci->dbname) : f.target;
  pg::session session{*ci};
  auto report = optischema::advise(session, opts);
  if (!report) {
    OPTISCHEMA_ERROR("{}", report.error().message);
    return 1;
  }
  auto out = f.format == "json" ? to_json(*report) + "\n" : to_text(*report);
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (!f.create)
    return 0;
  // Like Dexter's --create: build the proposed indexes (drops stay advice).
  auto failed = 0;
  for (auto& r : report->actions)
    if (r.kind == "create_index"
        && !apply_recommendation(*ci, r, false, pg::ddl_options{}))
      ++failed;
  return failed == 0 ? 0 : 1;
}

} // namespace optischema::app
