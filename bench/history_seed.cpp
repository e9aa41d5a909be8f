// Writes a day (or more) of history into an engine's data directory for the
// statements a database's pg_stat_statements holds, as polls every
// INTERVAL_S seconds would have: the dashboard benchmark measures the
// dashboard against that much history without waiting a day.
//
// usage: optischema-history-seed DATA_DIR TARGET DSN [HOURS=24]
//                                [INTERVAL_S=30] [ACTIVE=300]
// ACTIVE statements run in each poll (the 20 hottest in every one).

#include "optischema/analysis/fingerprint.hpp"
#include "optischema/analysis/metrics.hpp"
#include "optischema/store/history_db.hpp"
#include "optischema/util/clock.hpp"

#include <pqxx/pqxx>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace optischema;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: %s DATA_DIR TARGET DSN [HOURS] [INTERVAL_S] "
                 "[ACTIVE]\n",
                 argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  std::string target = argv[2];
  std::string dsn = argv[3];
  int hours = argc > 4 ? std::atoi(argv[4]) : 24;
  int interval_s = argc > 5 ? std::atoi(argv[5]) : 30;
  size_t active = argc > 6 ? static_cast<size_t>(std::atol(argv[6])) : 300;
  // The statements, fingerprinted as the engine does.
  std::vector<fingerprint_result> stmts;
  {
    pqxx::connection c{dsn};
    pqxx::nontransaction tx{c};
    auto r = tx.exec("SELECT query FROM pg_stat_statements WHERE dbid = "
                     "(SELECT oid FROM pg_database WHERE datname = "
                     "current_database())");
    std::set<std::string> seen;
    for (auto row : r) {
      auto fp = fingerprint_statement(row[0].as<std::string>());
      if (seen.insert(fp.fingerprint).second)
        stmts.push_back(std::move(fp));
    }
  }
  if (stmts.empty()) {
    std::fprintf(stderr, "no statements in pg_stat_statements of %s\n",
                 dsn.c_str());
    return 1;
  }
  store_options opts;
  opts.dir = dir;
  auto db = history_db::open(opts);
  if (!db) {
    std::fprintf(stderr, "%s\n", db.error().message.c_str());
    return 1;
  }
  std::mt19937 rng{42};
  std::vector<counters> totals(stmts.size());
  auto interval_ms = int64_t{interval_s} * 1000;
  auto end = now_ms() - interval_ms;
  auto polls = int64_t{hours} * 3600 / interval_s;
  size_t points = 0;
  for (int64_t k = polls; k > 0; --k) {
    metrics_snapshot snap;
    snap.target = target;
    snap.ts_ms = end - k * interval_ms;
    snap.interval_ms = interval_ms;
    snap.db.numbackends = 5 + static_cast<int64_t>(rng() % 20);
    snap.db.max_connections = 100;
    snap.db.cache_hit_ratio = 0.97 + (rng() % 300) / 10000.0;
    snap.db.xact_commit = 1000 + static_cast<int64_t>(rng() % 500);
    snap.db.commits_per_s = static_cast<double>(snap.db.xact_commit)
      / interval_s;
    for (size_t n = 0; n < active && n < stmts.size(); ++n) {
      // The hottest 20 in every poll, the others by turns.
      auto i = n < 20 ? n
                      : 20
          + (rng() % (stmts.size() - std::min<size_t>(20, stmts.size()) + 1));
      if (i >= stmts.size())
        continue;
      counters delta;
      delta.calls = 1 + static_cast<int64_t>(rng() % (i < 20 ? 500 : 20));
      delta.exec_time_ms = static_cast<double>(delta.calls)
        * (0.05 + (rng() % 1000) / 100.0);
      delta.rows = delta.calls * 10;
      delta.shared_blks_hit = delta.calls * 30;
      delta.shared_blks_read = delta.calls;
      totals[i] += delta;
      statement_metrics m;
      m.fingerprint = stmts[i].fingerprint;
      m.query = stmts[i].normalized;
      m.total = totals[i];
      m.interval = delta;
      snap.statements.push_back(std::move(m));
      ++points;
    }
    if (auto ok = (*db)->put_snapshot(snap); !ok) {
      std::fprintf(stderr, "%s\n", ok.error().message.c_str());
      return 1;
    }
  }
  // Roll finished hours into hourly sums, as the engine's maintenance does.
  (void)(*db)->maintain(now_ms());
  std::printf("seeded %lld polls, %zu points for %zu statements of %s\n",
              static_cast<long long>(polls), points, stmts.size(),
              target.c_str());
  return 0;
}
