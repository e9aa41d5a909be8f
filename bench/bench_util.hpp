#pragma once

// What the benchmarks share: percentiles, a process's CPU time, and a
// workload of structurally distinct statements in pg_stat_statements.

#include "harness.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace optischema::bench {

/// The `p` quantile of `xs` (nearest rank); 0 when empty.
inline double percentile(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto idx = static_cast<size_t>(p * static_cast<double>(xs.size() - 1) + 0.5);
  return xs[std::min(idx, xs.size() - 1)];
}

/// User plus system CPU time of `pid`, in seconds.
inline double cpu_seconds(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  std::getline(in, line);
  // Fields after the command name (which may hold spaces) in parentheses.
  std::istringstream rest{line.substr(line.rfind(')') + 2)};
  std::vector<std::string> f{std::istream_iterator<std::string>{rest}, {}};
  if (f.size() < 13)
    return 0;
  auto ticks = std::stod(f[11]) + std::stod(f[12]); // utime, stime
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// A table name without digits: libpg_query's fingerprint deliberately
/// treats names that differ only in digits (partitions, shards: events_2024,
/// events_2025) as one, which would group this synthetic workload.
inline std::string table_name(int t) {
  std::string name = "t_";
  do {
    name += static_cast<char>('a' + t % 26);
    t /= 26;
  } while (t > 0);
  return name;
}

/// Fills pg_stat_statements with `n` structurally distinct statements run
/// in `db`: `n / 10` tables, ten query shapes each. `reset` empties the
/// view first (the whole cluster's).
inline void make_workload(test::harness& h, const std::string& db, int n,
                          bool reset = true) {
  pqxx::connection c{h.dsn(db)};
  pqxx::nontransaction tx{c};
  int tables = std::max(1, n / 10);
  std::string ddl;
  for (int t = 0; t < tables; ++t)
    ddl += fmt::format("CREATE TABLE {} (a int, b int, c text, d timestamptz);",
                       table_name(t));
  tx.exec(ddl);
  if (reset)
    tx.exec("SELECT pg_stat_statements_reset()");
  const char* shapes[] = {
    "SELECT a FROM {} WHERE a = 1",
    "SELECT a, b FROM {} WHERE b = 2",
    "SELECT count(*) FROM {} WHERE c LIKE 'x%'",
    "SELECT * FROM {} ORDER BY d DESC LIMIT 10",
    "SELECT b, count(*) FROM {} GROUP BY b",
    "UPDATE {} SET b = b + 1 WHERE a = 3",
    "DELETE FROM {} WHERE a = 4",
    "INSERT INTO {} (a, b) VALUES (5, 6)",
    "SELECT a FROM {} WHERE a IN (1, 2, 3) AND b > 0",
    "SELECT max(d) FROM {} WHERE c = 'y' AND a < 9",
  };
  int made = 0;
  for (int t = 0; t < tables && made < n; ++t)
    for (auto* shape : shapes) {
      if (made++ >= n)
        break;
      tx.exec(fmt::format(fmt::runtime(shape), table_name(t)));
    }
}

} // namespace optischema::bench
