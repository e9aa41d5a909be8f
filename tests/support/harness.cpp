#include "harness.hpp"

#include <pqxx/pqxx>

#include <unistd.h>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>

#ifndef OPTISCHEMA_SOURCE_DIR
#error "OPTISCHEMA_SOURCE_DIR must be defined by CMake"
#endif

namespace optischema::test {

namespace {

std::string capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr)
    throw std::runtime_error("cannot run: " + cmd);
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
    out.append(buf, n);
  auto rc = pclose(p);
  if (rc != 0)
    throw std::runtime_error("command failed (" + std::to_string(rc)
                             + "): " + cmd + "\n" + out);
  return out;
}

std::map<std::string, std::string> read_env(const std::string& dir) {
  std::map<std::string, std::string> env;
  std::ifstream in{dir + "/env"};
  if (!in)
    throw std::runtime_error("no harness env file in " + dir);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("export ", 0) == 0)
      line = line.substr(7);
    auto eq = line.find('=');
    if (eq == std::string::npos)
      continue;
    auto value = line.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\''))
      value = value.substr(1, value.size() - 2);
    env[line.substr(0, eq)] = value;
  }
  return env;
}

std::string fresh_dir() {
  static std::atomic<int> counter{0};
  auto base = std::filesystem::temp_directory_path()
    / ("optischema-harness-" + std::to_string(getpid()) + "-"
       + std::to_string(counter++));
  return base.string();
}

} // namespace

std::string harness_script() {
  return std::string{OPTISCHEMA_SOURCE_DIR} + "/scripts/harness.sh";
}

std::string engine_binary() {
  if (const char* b = std::getenv("OPTISCHEMA_BINARY"); b != nullptr && *b)
    return b;
  return std::string{OPTISCHEMA_BINARY_DIR} + "/optischema";
}

harness::harness(std::string dir, bool owned)
  : dir_(std::move(dir)), owned_(owned), env_(read_env(dir_)) {
  // nop
}

harness::~harness() {
  if (owned_)
    std::system(
      (harness_script() + " down " + dir_ + " >/dev/null 2>&1").c_str());
}

harness& harness::shared() {
  static std::unique_ptr<harness> instance;
  static std::once_flag once;
  std::call_once(once, [] {
    if (const char* d = std::getenv("OPTISCHEMA_HARNESS_DIR");
        d != nullptr && *d)
      instance.reset(new harness(d, false));
    else
      instance = start_private();
  });
  return *instance;
}

std::unique_ptr<harness> harness::start_private(harness_options opts) {
  auto dir = fresh_dir();
  std::string cmd = harness_script() + " up " + dir + " --owner "
    + std::to_string(getpid());
  if (!opts.nats)
    cmd += " --no-nats";
  if (!opts.preload)
    cmd += " --no-preload";
  capture(cmd + " 2>&1");
  return std::unique_ptr<harness>{new harness(dir, true)};
}

int harness::port() const {
  return std::stoi(env_.at("PGPORT"));
}

std::string harness::dsn(const std::string& dbname) const {
  return "host=" + env_.at("PGHOST") + " port=" + env_.at("PGPORT")
    + " user=" + env_.at("PGUSER") + " dbname=" + dbname;
}

std::string harness::sandbox_dsn(const std::string& dbname) {
  exec("postgres",
       "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
       "'optischema_sandbox') THEN CREATE ROLE optischema_sandbox LOGIN "
       "CREATEDB; END IF; END $$");
  return "host=" + env_.at("PGHOST") + " port=" + env_.at("PGPORT")
    + " user=optischema_sandbox dbname=" + dbname;
}

std::string harness::create_database(const std::string& prefix) {
  static std::atomic<int> counter{0};
  auto name = prefix + "_" + std::to_string(getpid()) + "_"
    + std::to_string(counter++);
  exec("postgres", "CREATE DATABASE " + name);
  // Creating pg_stat_statements works without the preload too; reading it
  // then fails, which is what the tests of that case want.
  exec(name, "CREATE EXTENSION pg_stat_statements; CREATE EXTENSION hypopg");
  return name;
}

std::string harness::loaded_database(const std::string& prefix,
                                     const std::string& setup, bool every_row) {
  auto db = create_database(prefix);
  exec(db, setup);
  if (every_row)
    exec(db, "ALTER DATABASE " + db + " SET default_statistics_target = 1000");
  // VACUUM cannot share a multi-statement string (an implicit transaction).
  for (int i = 0; i < 5; ++i) {
    exec(db, "VACUUM (FREEZE, ANALYZE)");
    if (exec(db,
             "SELECT coalesce(bool_and(relallvisible = relpages), true) "
             "FROM pg_class WHERE relkind = 'r' "
             "AND relnamespace = 'public'::regnamespace")[0][0]
        == "t")
      break;
  }
  return db;
}

const std::string& harness::shared_database(const std::string& prefix,
                                            const std::string& setup,
                                            bool every_row) {
  static std::mutex mutex;
  static std::map<std::string, std::string> made;
  std::lock_guard lock{mutex};
  auto i = made.find(prefix);
  if (i == made.end())
    i = made.emplace(prefix, loaded_database(prefix, setup, every_row)).first;
  return i->second;
}

void harness::reset_statements(const std::string& dbname, bool tables) const {
  exec(dbname,
       std::string{tables ? "SELECT pg_stat_reset(), " : "SELECT "}
         + "pg_stat_statements_reset(0, (SELECT oid FROM pg_database "
           "WHERE datname = current_database()), 0)");
}

std::vector<std::vector<std::string>>
harness::exec(const std::string& dbname, const std::string& sql) const {
  pqxx::connection conn{dsn(dbname)};
  pqxx::nontransaction tx{conn};
  auto r = tx.exec(sql);
  std::vector<std::vector<std::string>> rows;
  for (auto row : r) {
    auto& out = rows.emplace_back();
    for (auto field : row)
      out.emplace_back(field.is_null() ? "" : field.c_str());
  }
  return rows;
}

void harness::run(const std::string& args) const {
  capture(harness_script() + " " + args + " " + dir_ + " 2>&1");
}

void harness::pg_stop() {
  run("pg-stop");
}
void harness::pg_start() {
  run("pg-start");
}
void harness::nats_stop() {
  run("nats-stop");
}
void harness::nats_start() {
  run("nats-start");
}

} // namespace optischema::test
