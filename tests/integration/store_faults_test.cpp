// The history database on a disk that fills up: RocksDB stops writing
// after a failed write, and stays stopped until it is resumed. The engine
// must keep serving, say what happened, resume by itself once space is
// back, and lose no interval of pg_stat_statements in between.

#include "engine_process.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

using namespace optischema::test;
using namespace std::chrono_literals;

namespace {

/// A small tmpfs mounted on a temporary directory: a disk that can be
/// filled and emptied at will.
struct small_disk {
  temp_dir dir;
  bool mounted = false;
  explicit small_disk(const std::string& size) {
    mounted = ::mount("tmpfs", dir.str().c_str(), "tmpfs", 0,
                      ("size=" + size).c_str())
      == 0;
    if (!mounted)
      FAIL("mounting a tmpfs failed (" << std::strerror(errno)
                                       << "): the test runs as root");
  }
  ~small_disk() {
    if (mounted)
      ::umount2(dir.str().c_str(), MNT_DETACH);
  }
  /// Writes a file until the disk is full.
  void fill(const std::string& name) {
    std::ofstream out{dir.str() + "/" + name, std::ios::binary};
    std::string block(1 << 16, 'x');
    while (out.write(block.data(), static_cast<std::streamsize>(block.size())))
      ;
  }
};

} // namespace

TEST_CASE("a full disk stops history writes, which resume and catch up",
          "[store][faults]") {
  if (geteuid() != 0) {
    WARN("not root: cannot mount a tmpfs to fill; skipped");
    return;
  }
  auto& h = harness::shared();
  auto db = h.create_database("diskfull");
  h.exec(db,
         "CREATE TABLE items (id int PRIMARY KEY, name text);"
         "INSERT INTO items SELECT g, 'n' || g "
         "FROM generate_series(1, 1000) g");
  // RocksDB recovers from a full disk by itself once it sees room for a
  // memtable flush (16 MB) free again: the disk is larger than that.
  small_disk disk{"48m"};
  auto data = disk.dir.str() + "/data";
  engine_process e{{"serve", "--dsn", h.dsn(db), "--listen", "127.0.0.1:0",
                    "--data-dir", data, "--poll-interval", "300ms",
                    "--analysis-interval", "0"}};
  auto url = e.wait_ready();
  // The store's part of /api/status.
  auto store = [&] {
    auto status = parse_json(http_get(url, "/api/status").body);
    rapidjson::Document out;
    out.CopyFrom(status["store"], out.GetAllocator());
    return out;
  };
  pqxx::connection c{h.dsn(db)};
  auto run = [&](int n) {
    pqxx::nontransaction tx{c};
    for (int i = 0; i < n; ++i)
      tx.exec("SELECT name FROM items WHERE id = " + std::to_string(i + 1));
  };
  REQUIRE(eventually(
    [&] { return store()["snapshots_written"].GetUint64() >= 2; }, 10s));
  run(7);
  std::this_thread::sleep_for(700ms);

  disk.fill("filler");
  run(11);
  // Writes fail, the engine says why and what to do, and keeps serving.
  auto degraded = eventually(
    [&] { return e.running() && store()["state"] == "degraded"; }, 15s);
  if (!e.running())
    FAIL("the engine died on a full disk:\n" << e.log());
  REQUIRE(degraded);
  auto s = store();
  INFO(http_get(url, "/api/status").body);
  CHECK_THAT(std::string{s["message"].GetString()},
             Catch::Contains("full") && Catch::Contains("free space"));
  CHECK(s["backlog"].GetUint64() >= 1);
  CHECK(http_get(url, "/api/metrics/hot").status == 200);
  run(13);
  std::this_thread::sleep_for(1s);

  std::filesystem::remove(disk.dir.str() + "/filler");
  REQUIRE(eventually(
    [&] {
      auto s = store();
      return s["state"] == "ok" && s["resumes"].GetUint64() >= 1
        && s["backlog"].GetUint64() == 0;
    },
    30s));
  CHECK(store()["backlog_written"].GetUint64() >= 1);
  run(17);

  // Every call of every interval is in the history, the outage's too.
  auto hot = parse_json(http_get(url, "/api/metrics/hot?limit=100").body);
  std::string fp;
  for (auto& st : hot["statements"].GetArray())
    if (std::string{st["query"].GetString()}.find("FROM items WHERE id")
        != std::string::npos)
      fp = st["fingerprint"].GetString();
  REQUIRE_FALSE(fp.empty());
  int64_t calls = 0;
  REQUIRE(eventually(
    [&] {
      auto doc = parse_json(
        http_get(url, "/api/metrics/history?range=1h&fingerprint=" + fp).body);
      calls = 0;
      for (auto& p : doc["points"].GetArray())
        calls += p["calls"].GetInt64();
      return calls == 7 + 11 + 13 + 17;
    },
    10s));
  CHECK(calls == 48);
  CHECK(e.stop() == 0);
}
