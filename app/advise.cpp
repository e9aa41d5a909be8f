#include "cli.hpp"

#include "optischema/advice/advisor.hpp"
#include "optischema/analysis/fingerprint.hpp"
#include "optischema/pg/conninfo.hpp"
#include "optischema/pg/safety.hpp"
#include "optischema/sandbox/sandbox.hpp"
#include "optischema/util/logging.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace optischema::app {

namespace {

/// At most this many indexes are measured per run: each is a copy of its
/// statements' work, several times over.
constexpr size_t max_measured = 10;

/// The copy's database: one per target name, recreated by each run.
std::string copy_database(const std::string& target) {
  std::string out = "optischema_advise_";
  for (unsigned char c : target.substr(0, 40))
    out += std::isalnum(c) ? static_cast<char>(std::tolower(c)) : '_';
  return out;
}

/// With --sandbox-dsn: each proposed index, and each index idea hypopg could
/// not cost (GIN, GiST: the model's estimate or none), is built on a copy of
/// the target and its statements are timed before and after. The measurement
/// wins: a measured gain of 30% makes an idea an action, no gain or a
/// regression makes an action an idea. A failure leaves the estimates and says
/// why.
expected<ok> measure_in_sandbox(const pg::conninfo& target,
                                const advise_flags& f, advice_report& report) {
  auto server = pg::parse_conninfo(f.sandbox_dsn);
  if (!server)
    return failure{server.error().code,
                   "--sandbox-dsn: " + server.error().message};
  sandbox::options opts;
  opts.sample_percent = f.sandbox_sample_percent;
  opts.runs = f.sandbox_runs;
  auto database = copy_database(report.target);
  auto copy = sandbox::prepare(target, *server, database, opts);
  if (!copy)
    return copy.error();
  auto db = sandbox::database_conninfo(*server, database);
  if (!db)
    return db.error();
  size_t measured = 0;
  auto measure = [&](recommendation& r) {
    if (r.kind != "create_index" || measured >= max_measured)
      return;
    ++measured;
    auto res = sandbox::test(*db, r, {}, opts);
    if (!res) {
      report.warnings.push_back(fmt::format(
        "{}: not measured in the sandbox: {}", r.title, res.error().message));
      return;
    }
    res->copy = *copy;
    r.sandbox = to_json(*res);
    r.measured_speedup = res->speedup;
    r.reasons.push_back("measured in the sandbox: " + res->summary);
    weigh_sandbox_verdict(r);
    if (res->verdict == "faster" && res->speedup >= 1.3)
      r.confidence = std::max(r.confidence, 0.8);
  };
  for (auto& r : report.actions)
    measure(r);
  // Ideas the planner could not cost (the model's, or nobody's); not
  // those whose hypopg estimate already said no.
  for (auto& r : report.other)
    if (r.benefit_source != "hypopg")
      measure(r);
  // The measurement decides which side each one is on.
  std::vector<recommendation> all;
  std::move(report.actions.begin(), report.actions.end(),
            std::back_inserter(all));
  std::move(report.other.begin(), report.other.end(), std::back_inserter(all));
  report.actions.clear();
  report.other.clear();
  for (auto& r : all)
    (r.confidence >= f.min_confidence ? report.actions : report.other)
      .push_back(std::move(r));
  return ok{};
}

} // namespace

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
  auto rc = 0;
  if (!f.sandbox_dsn.empty())
    if (auto m = measure_in_sandbox(*ci, f, *report); !m) {
      // The estimates still stand; the exit code says the proof is missing.
      report->warnings.push_back("not measured in the sandbox: "
                                 + m.error().message);
      rc = 1;
    }
  auto out = f.format == "json" ? to_json(*report) + "\n" : to_text(*report);
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (!f.create || rc != 0)
    return rc;
  // Like Dexter's --create: build the proposed indexes (drops stay advice).
  auto failed = 0;
  for (auto& r : report->actions)
    if (r.kind == "create_index"
        && !apply_recommendation(*ci, r, false, pg::ddl_options{}))
      ++failed;
  return failed == 0 ? 0 : 1;
}

} // namespace optischema::app
