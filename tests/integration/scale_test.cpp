// Many targets on one engine: beyond --keep-connections, the targets of one
// server share one connection and one read of pg_stat_statements, a target
// alone on its server connects only while polling, and polls take turns over
// the interval, so connections stay bounded however many databases one
// engine watches. Real engine, real PostgreSQL (pg_stat_database.sessions
// counts every connection made).

#include "engine_process.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <algorithm>
#include <map>
#include <string>
#include <thread>
#include <vector>

using namespace optischema::test;
using namespace std::chrono_literals;

namespace {

int64_t sessions(const std::string& db) {
  auto rows = harness::shared().exec(
    "postgres",
    "SELECT sessions FROM pg_stat_database WHERE datname = '" + db + "'");
  return rows.empty() ? -1 : std::stoll(rows[0][0]);
}

int64_t open_connections(const std::vector<std::string>& dbs) {
  std::string list;
  for (auto& d : dbs)
    list += (list.empty() ? "'" : ",'") + d + "'";
  auto rows = harness::shared().exec(
    "postgres",
    "SELECT count(*) FROM pg_stat_activity WHERE datname IN (" + list
      + ") AND pid <> pg_backend_pid()");
  return std::stoll(rows[0][0]);
}

} // namespace

TEST_CASE("beyond --keep-connections the targets of one server share a "
          "connection and polls take turns",
          "[scale]") {
  auto& h = harness::shared();
  std::vector<std::string> dbs,
    args{"serve", "--listen",           "127.0.0.1:0", "--poll-interval",
         "2s",    "--keep-connections", "2",           "--analysis-interval",
         "1h"};
  for (int i = 0; i < 4; ++i) {
    dbs.push_back(h.create_database("many"));
    h.exec(dbs.back(), "CREATE TABLE t (id int PRIMARY KEY)");
    args.push_back("--target");
    args.push_back("m" + std::to_string(i) + "=" + h.dsn(dbs.back()));
  }
  // The same server reached with other settings: not the same connection,
  // so this one connects per poll.
  auto alone = h.create_database("alone");
  args.push_back("--target");
  args.push_back("lone=" + h.dsn(alone) + " sslmode=disable");
  temp_dir data;
  args.push_back("--data-dir");
  args.push_back(data.str());
  std::map<std::string, int64_t> sessions_before;
  for (auto& d : dbs)
    sessions_before[d] = sessions(d);
  auto alone_before = sessions(alone);
  engine_process e{args};
  auto url = e.wait_ready();
  auto ready_at = std::chrono::steady_clock::now();
  // The first poll of each target, as the status shows it: one every 400 ms
  // (2 s over 5 targets), not all at once.
  std::map<std::string, int64_t> first;
  REQUIRE(eventually(
    [&] {
      auto d = parse_json(http_get(url, "/api/status").body);
      for (auto& t : d["targets"].GetArray())
        if (t["polls"].GetInt64() > 0 && !first.count(t["name"].GetString()))
          first[t["name"].GetString()] = t["last_poll"].GetInt64();
      return first.size() == 5;
    },
    10s, 20ms));
  std::vector<int64_t> starts;
  for (auto& [_, ts] : first)
    starts.push_back(ts);
  std::sort(starts.begin(), starts.end());
  INFO("first polls at +" << starts[1] - starts[0] << ", +"
                          << starts[2] - starts[0] << ", +"
                          << starts[3] - starts[0] << ", +"
                          << starts[4] - starts[0] << " ms");
  CHECK(starts[4] - starts[0] >= 1200);
  // Each database's statements reach its own target only, counted exactly.
  for (int i = 0; i < 4; ++i) {
    pqxx::connection c{h.dsn(dbs[i])};
    pqxx::nontransaction tx{c};
    for (int k = 0; k < 3 + i; ++k)
      tx.exec("SELECT count(*) FROM t WHERE id > " + std::to_string(k));
  }
  auto calls_in = [&](const std::string& target) {
    auto doc = parse_json(
      http_get(url, "/api/metrics/hot?limit=100&target=" + target).body);
    int64_t calls = 0;
    for (auto& st : doc["statements"].GetArray())
      if (std::string{st["query"].GetString()}
          == "SELECT count(*) FROM t WHERE id > $1")
        calls += st["calls"].GetInt64();
    return calls;
  };
  REQUIRE(eventually(
    [&] {
      for (int i = 0; i < 4; ++i)
        if (calls_in("m" + std::to_string(i)) != 3 + i)
          return false;
      return true;
    },
    15s));
  CHECK(calls_in("lone") == 0);
  // Three more polls each, once the first target's ADVISOR (5 s after the
  // start, the others' an hour away) has made its connection of its own.
  std::this_thread::sleep_until(ready_at + 7s);
  std::map<std::string, int64_t> polls_then;
  for (auto& t :
       parse_json(http_get(url, "/api/status").body)["targets"].GetArray())
    polls_then[t["name"].GetString()] = t["polls"].GetInt64();
  for (auto& d : dbs)
    sessions_before[d] = sessions(d);
  alone_before = sessions(alone);
  REQUIRE(eventually(
    [&] {
      auto d = parse_json(http_get(url, "/api/status").body);
      for (auto& t : d["targets"].GetArray())
        if (t["polls"].GetInt64() < polls_then[t["name"].GetString()] + 3)
          return false;
      return true;
    },
    15s));
  auto d = parse_json(http_get(url, "/api/status").body);
  for (auto& t : d["targets"].GetArray()) {
    INFO(t["name"].GetString());
    CHECK(t["failures"].GetInt64() == 0);
    CHECK(std::string{t["server_version"].GetString()}.rfind("15", 0) == 0);
  }
  // The four targets of one server: one connection in all, kept over
  // three polls each. The target alone: a session per poll, and none held
  // between polls.
  for (auto& db : dbs) {
    INFO(db);
    CHECK(sessions(db) == sessions_before[db]);
  }
  // A session is counted when its backend exits, which may come a moment
  // after the poll that closed it has been reported.
  CHECK(eventually([&] { return sessions(alone) - alone_before >= 3; }, 5s));
  int64_t most = 0, least = 99;
  for (int i = 0; i < 20; ++i) {
    auto now = open_connections(dbs);
    most = std::max(most, now);
    least = std::min(least, now);
    CHECK(open_connections({alone}) <= 1);
    std::this_thread::sleep_for(100ms);
  }
  CHECK(most == 1);
  CHECK(least == 1);
}
