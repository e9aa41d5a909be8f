// Secrets a database user writes into statements: pg_stat_statements before
// PostgreSQL 16 keeps utility statements verbatim, so `ALTER ROLE …
// PASSWORD '…'` arrives with the password. It must reach none of RocksDB,
// the API, the WebSocket, NATS or the logs.

#include "engine_process.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "nats_process.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>
#include <rocksdb/db.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>

using namespace optischema::test;
using namespace std::chrono_literals;

namespace {

/// Every key and value of every column family of a RocksDB directory, read
/// through RocksDB itself (its files are LZ4-compressed, so grep would not
/// see a secret), plus the raw bytes of every file (the write-ahead log is
/// not compressed).
std::string rocksdb_contents(const std::string& dir) {
  std::string all;
  std::vector<std::string> names;
  auto s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions{}, dir, &names);
  REQUIRE(s.ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (auto& n : names)
    cfs.emplace_back(n, rocksdb::ColumnFamilyOptions{});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions{}, dir, cfs, &handles,
                                   &raw);
  REQUIRE(s.ok());
  std::unique_ptr<rocksdb::DB> db{raw};
  size_t entries = 0;
  for (auto* h : handles) {
    std::unique_ptr<rocksdb::Iterator> it{
      db->NewIterator(rocksdb::ReadOptions{}, h)};
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++entries) {
      all += it->key().ToString();
      all += it->value().ToString();
    }
    db->DestroyColumnFamilyHandle(h);
  }
  CHECK(entries > 0);
  for (auto& f : std::filesystem::recursive_directory_iterator(dir))
    if (f.is_regular_file()) {
      std::ifstream in{f.path(), std::ios::binary};
      all.append(std::istreambuf_iterator<char>{in}, {});
    }
  return all;
}

} // namespace

TEST_CASE("a password in a statement reaches no store, answer, event or log",
          "[secrets]") {
  // A cluster of its own: in the shared one, other tests' statements fill
  // pg_stat_statements.max and may evict the entries this test counts.
  auto own = harness::start_private();
  auto& h = *own;
  auto db = h.create_database("pwtext");
  auto role = db + "_role";
  h.exec(db,
         "CREATE ROLE " + role
           + " LOGIN; CREATE TABLE items (id int PRIMARY KEY, v text);"
             "CREATE FOREIGN DATA WRAPPER "
           + db + "_fdw");
  temp_dir data;

  // Everything the engine publishes on NATS for this target.
  nats_inbox got{h.nats_url(), "optischema." + db + ".>"};

  engine_process e{{"serve", "--dsn", h.dsn(db), "--listen", "127.0.0.1:0",
                    "--data-dir", data.str(), "--poll-interval", "300ms",
                    "--nats", h.nats_url(), "--log-level", "debug",
                    "--analysis-interval", "1s"}};
  auto url = e.wait_ready();
  ws_client ws{url};
  REQUIRE(ws.read(5s)); // hello; the default subscription is everything

  // What a database user (or its migration tool) runs.
  h.exec(db, "ALTER ROLE " + role + " PASSWORD 'S3cretAlterRole'");
  h.exec(db,
         "CREATE SERVER " + db + "_srv FOREIGN DATA WRAPPER " + db
           + "_fdw OPTIONS (host 'h', password 'S3cretServerOpt')");
  h.exec(db, "SELECT v FROM items WHERE v = 'S3cretLiteral'");

  // Wait until the ALTER ROLE has been collected.
  REQUIRE(eventually(
    [&] {
      return http_get(url, "/api/metrics/raw?limit=10000")
               .body.find("ALTER ROLE " + role)
        != std::string::npos;
    },
    15s));
  // An analysis keeps recommendations and reports: let one run.
  REQUIRE(eventually(
    [&] {
      auto s = parse_json(http_get(url, "/api/status").body);
      return s["advisors"][0]["runs"].GetUint64() >= 1;
    },
    30s));

  std::string answers;
  for (auto* path :
       {"/api/status", "/api/metrics/hot?limit=1000",
        "/api/metrics/raw?limit=10000", "/api/metrics/summary",
        "/api/suggestions/latest", "/api/analysis/status", "/api/audit"})
    answers += http_get(url, path).body;
  std::string frames;
  while (auto f = ws.read(200ms))
    frames += *f;
  REQUIRE_FALSE(frames.empty());
  std::string events;
  for (auto& m : got.messages())
    events += m.body;
  CHECK_FALSE(events.empty());
  REQUIRE(e.stop() == 0);
  auto stored = rocksdb_contents(data.str());

  for (auto* secret : {"S3cretAlterRole", "S3cretServerOpt", "S3cretLiteral"}) {
    INFO(secret);
    CHECK(answers.find(secret) == std::string::npos);
    CHECK(frames.find(secret) == std::string::npos);
    CHECK(events.find(secret) == std::string::npos);
    CHECK(e.log().find(secret) == std::string::npos);
    CHECK(stored.find(secret) == std::string::npos);
  }
  // The ALTER ROLE is kept with its constant masked; the server's options
  // cannot be masked by libpg_query, so that text is withheld and counted.
  CHECK_THAT(answers, Catch::Contains("ALTER ROLE " + role + " PASSWORD $1"));
  CHECK_THAT(stored, Catch::Contains("PASSWORD $1"));
  CHECK_THAT(answers, Catch::Contains("\"texts_withheld\":1"));
}
