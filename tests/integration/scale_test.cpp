// Many targets on one engine: beyond --keep-connections, a connection only
// while polling and polls taking turns over the interval, so connections stay
// bounded however many databases one engine watches. Real engine, real
// PostgreSQL (pg_stat_database.sessions counts every connection made).

#include "engine_process.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
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

TEST_CASE("beyond --keep-connections each poll has its own connection and "
          "polls take turns",
          "[scale]") {
  auto& h = harness::shared();
  std::vector<std::string> dbs,
    args{"serve", "--listen",           "127.0.0.1:0", "--poll-interval",
         "2s",    "--keep-connections", "2",           "--analysis-interval",
         "1h"};
  for (int i = 0; i < 4; ++i) {
    dbs.push_back(h.create_database("many"));
    args.push_back("--target");
    args.push_back("m" + std::to_string(i) + "=" + h.dsn(dbs.back()));
  }
  temp_dir data;
  args.push_back("--data-dir");
  args.push_back(data.str());
  std::map<std::string, int64_t> sessions_before;
  for (auto& d : dbs)
    sessions_before[d] = sessions(d);
  engine_process e{args};
  auto url = e.wait_ready();
  // The first poll of each target, as the status shows it: one every half
  // second (2 s over 4 targets), not all at once.
  std::map<std::string, int64_t> first;
  REQUIRE(eventually(
    [&] {
      auto d = parse_json(http_get(url, "/api/status").body);
      for (auto& t : d["targets"].GetArray())
        if (t["polls"].GetInt64() > 0 && !first.count(t["name"].GetString()))
          first[t["name"].GetString()] = t["last_poll"].GetInt64();
      return first.size() == 4;
    },
    10s, 20ms));
  std::vector<int64_t> starts;
  for (auto& [_, ts] : first)
    starts.push_back(ts);
  std::sort(starts.begin(), starts.end());
  INFO("first polls at +" << starts[1] - starts[0] << ", +"
                          << starts[2] - starts[0] << ", +"
                          << starts[3] - starts[0] << " ms");
  CHECK(starts[3] - starts[0] >= 1200);
  // Three more polls each: every poll made a session of its own, and
  // between polls the engine holds next to no connection to them.
  REQUIRE(eventually(
    [&] {
      auto d = parse_json(http_get(url, "/api/status").body);
      for (auto& t : d["targets"].GetArray())
        if (t["polls"].GetInt64() < 4)
          return false;
      return true;
    },
    15s));
  auto d = parse_json(http_get(url, "/api/status").body);
  for (auto& t : d["targets"].GetArray()) {
    INFO(t["name"].GetString());
    CHECK(t["failures"].GetInt64() == 0);
    CHECK(t["statements"].GetInt64() > 0);
  }
  for (auto& db : dbs) {
    INFO(db);
    // The collector's sessions (one per poll); the engine's advisor made
    // none (an hour away), the harness' own reads one each.
    CHECK(sessions(db) - sessions_before[db] >= 4);
  }
  int64_t most = 0;
  for (int i = 0; i < 20; ++i) {
    most = std::max(most, open_connections(dbs));
    std::this_thread::sleep_for(100ms);
  }
  CHECK(most <= 2);
}
