// Targets managed while the engine runs: the targets file (--targets-file)
// is re-read, so a database added to it is polled and one removed is let go
// without a restart; POST and DELETE /api/targets edit the file. Passwords
// never go in it. Real engine, real PostgreSQL.

#include "engine_process.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

using namespace optischema::test;
using namespace std::chrono_literals;

namespace {

const std::string token = "targets-token-0123456789";

std::map<std::string, std::string> with_token() {
  return {{"Authorization", "Bearer " + token},
          {"Content-Type", "application/json"}};
}

/// The targets the engine polls, by its status: name -> polls.
std::map<std::string, int64_t> polled(const std::string& url) {
  std::map<std::string, int64_t> out;
  auto d = parse_json(http_get(url, "/api/status").body);
  for (auto& t : d["targets"].GetArray())
    out[t["name"].GetString()] = t["polls"].GetInt64();
  return out;
}

std::set<std::string> listed(const std::string& url) {
  std::set<std::string> out;
  for (auto& t :
       parse_json(http_get(url, "/api/targets").body)["targets"].GetArray())
    out.insert(t.GetString());
  return out;
}

std::string read_all(const std::string& path) {
  std::ifstream in{path};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

} // namespace

TEST_CASE("targets come and go with the targets file, no restart",
          "[targets]") {
  auto& h = harness::shared();
  auto one = h.create_database("tfile");
  auto two = h.create_database("tfile");
  temp_dir dir;
  auto file = dir.str() + "/targets";
  {
    std::ofstream out{file};
    out << "# databases of the shop\none=" << h.dsn(one) << "\n";
  }
  engine_process e{{"serve", "--targets-file", file, "--listen", "127.0.0.1:0",
                    "--data-dir", dir.str() + "/data", "--poll-interval", "1s",
                    "--analysis-interval", "1h", "--api-token", token}};
  auto url = e.wait_ready();
  CHECK(listed(url) == std::set<std::string>{"one"});

  // A line added by hand (a ConfigMap updated): polled within seconds.
  {
    std::ofstream out{file, std::ios::app};
    out << "two=" << h.dsn(two) << "\n";
  }
  CHECK(eventually([&] { return polled(url)["two"] > 0; }, 10s));
  CHECK(listed(url) == std::set<std::string>{"one", "two"});

  // Through the API: a password in the DSN is refused, with what to do.
  auto secret = http_request(url, "POST", "/api/targets",
                             R"({"name":"three","dsn":")" + h.dsn(two)
                               + R"( password=hunter22"})",
                             with_token());
  CHECK(secret.status == 400);
  CHECK_THAT(secret.body, Catch::Contains(".pgpass"));
  CHECK_THAT(secret.body, !Catch::Contains("hunter22"));
  CHECK(http_request(url, "POST", "/api/targets",
                     R"({"name":"three","dsn":")" + h.dsn(two) + R"("})")
          .status
        == 401);
  CHECK(http_request(url, "POST", "/api/targets",
                     R"({"name":"bad name","dsn":"dbname=x"})", with_token())
          .status
        == 400);
  auto added = http_request(url, "POST", "/api/targets",
                            R"({"name":"three","dsn":")" + h.dsn(two) + R"("})",
                            with_token());
  INFO(added.body);
  CHECK(added.status == 200);
  CHECK_THAT(added.body, Catch::Contains("\"three\""));
  CHECK_THAT(read_all(file), Catch::Contains("three="));
  CHECK_THAT(read_all(file), Catch::Contains("# databases of the shop"));
  CHECK(eventually([&] { return polled(url)["three"] > 0; }, 10s));

  // Removed: no longer polled nor listed; its history stays.
  auto gone = http_request(url, "DELETE", "/api/targets/one", "", with_token());
  INFO(gone.body);
  CHECK(gone.status == 200);
  CHECK(listed(url) == std::set<std::string>{"two", "three"});
  CHECK(polled(url).count("one") == 0);
  CHECK_THAT(read_all(file), !Catch::Contains("one="));
  CHECK(http_request(url, "DELETE", "/api/targets/one", "", with_token()).status
        == 404);

  // A file that does not read leaves the targets as they are and says why.
  {
    std::ofstream out{file, std::ios::app};
    out << "this line has no equals sign\n";
  }
  CHECK(eventually(
    [&] {
      auto d = parse_json(http_get(url, "/api/status").body);
      return d.HasMember("targets_file") && d["targets_file"].HasMember("error")
        && std::string{d["targets_file"]["error"].GetString()}.find("line")
        != std::string::npos;
    },
    10s));
  CHECK(listed(url) == std::set<std::string>{"two", "three"});
  CHECK(e.running());
}

TEST_CASE("without a targets file, targets are not changed through the API",
          "[targets]") {
  auto& h = harness::shared();
  temp_dir dir;
  engine_process e{{"serve", "--dsn", h.dsn(h.create_database("tfile")),
                    "--listen", "127.0.0.1:0", "--data-dir", dir.str(),
                    "--analysis-interval", "1h", "--api-token", token}};
  auto url = e.wait_ready();
  auto res = http_request(url, "POST", "/api/targets",
                          R"({"name":"x","dsn":"dbname=x"})", with_token());
  CHECK(res.status == 409);
  CHECK_THAT(res.body, Catch::Contains("--targets-file"));
}
