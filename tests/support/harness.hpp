#pragma once

// The test harness from C++: a throwaway PostgreSQL 15 cluster (and a NATS
// server) started by scripts/harness.sh. Tests share one cluster that ctest
// starts once (fixture "harness"); each test makes its own database in it.
// Tests that stop the server or need an unusual configuration start a
// private cluster. Every cluster is stopped when its owner exits, also on a
// crash (the script's watchdog).

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace optischema::test {

struct harness_options {
  bool nats = true;
  /// Without shared_preload_libraries = 'pg_stat_statements'.
  bool preload = true;
};

class harness {
public:
  /// The cluster ctest started (OPTISCHEMA_HARNESS_DIR), or one started for
  /// this process on first use.
  static harness& shared();

  /// A cluster of its own, stopped by the destructor.
  static std::unique_ptr<harness> start_private(harness_options opts = {});

  ~harness();
  harness(const harness&) = delete;
  harness& operator=(const harness&) = delete;

  /// A libpq key=value string for `dbname` as the superuser.
  std::string dsn(const std::string& dbname = "postgres") const;
  const std::string& nats_url() const {
    return env_.at("OPTISCHEMA_NATS_URL");
  }
  int port() const;
  const std::string& dir() const {
    return dir_;
  }

  /// A libpq key=value string for `dbname` as an unprivileged role with
  /// CREATEDB (created on first use): what a sandbox server's role must be,
  /// since functions and triggers copied from a target run as it.
  std::string sandbox_dsn(const std::string& dbname = "postgres");

  /// Creates a fresh database named `<prefix>_<pid>_<n>` with the
  /// extensions pg_stat_statements and hypopg; returns its name.
  std::string create_database(const std::string& prefix);

  /// A fresh database (create_database) loaded by `setup` (several
  /// statements allowed), then vacuumed with FREEZE until every table's
  /// visibility map is set (index-only scans are costed on it; the first
  /// VACUUM after a bulk load may leave pages out) and analysed. With
  /// `every_row`, statistics of every row (a target of 1000): estimates, and
  /// the advice made of them, do not change between runs.
  std::string loaded_database(const std::string& prefix,
                              const std::string& setup, bool every_row = false);

  /// loaded_database, made once per test process and shared by its tests
  /// (by prefix: the first call's setup makes it).
  const std::string& shared_database(const std::string& prefix,
                                     const std::string& setup,
                                     bool every_row = false);

  /// Forgets what `dbname` ran, so a test's workload starts from zero: its
  /// pg_stat_statements entries, and with `tables` its table counters too
  /// (pg_stat_reset: scans, tuples, last vacuum and analyse times).
  void reset_statements(const std::string& dbname, bool tables = false) const;

  /// Runs SQL (several statements allowed) and returns the rows of the last
  /// one as text; throws on error.
  std::vector<std::vector<std::string>> exec(const std::string& dbname,
                                             const std::string& sql) const;

  void pg_stop();
  void pg_start();
  void nats_stop();
  void nats_start();

private:
  harness(std::string dir, bool owned);
  void run(const std::string& args) const;

  std::string dir_;
  bool owned_;
  std::map<std::string, std::string> env_;
};

/// scripts/harness.sh of this source tree.
std::string harness_script();

/// The engine binary under test (OPTISCHEMA_BINARY, else build/optischema).
std::string engine_binary();

} // namespace optischema::test
