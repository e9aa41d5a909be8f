// The newcomer path: a connection string that is empty (an unset variable
// in a script, a blank line in a config file) is refused with what to pass,
// before anything starts.

#include "engine_process.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace optischema::test;
using namespace std::chrono_literals;

namespace {

/// Runs the engine with `args`; its exit code (nullopt when it kept running)
/// and its log.
std::pair<std::optional<int>, std::string> run(std::vector<std::string> args) {
  engine_process p{std::move(args)};
  auto rc = p.wait_exit(10s);
  return {rc, p.log()};
}

} // namespace

TEST_CASE("an empty DSN is refused with what to pass") {
  temp_dir data;
  std::vector<std::string> serve{"serve", "--listen", "127.0.0.1:0",
                                 "--data-dir", data.str()};
  auto with = [&](std::vector<std::string> extra) {
    auto args = serve;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  SECTION("--dsn ''") {
    auto [rc, log] = run(with({"--dsn", ""}));
    CHECK(rc == 2);
    CHECK_THAT(log, Catch::Contains("--dsn is empty"));
    CHECK_THAT(log, Catch::Contains("postgresql://"));
    CHECK_THAT(log, !Catch::Contains("serving"));
  }
  SECTION("--target NAME=") {
    auto [rc, log] = run(with({"--target", "prod="}));
    CHECK(rc == 2);
    CHECK_THAT(log, Catch::Contains("--target prod= has an empty DSN"));
  }
  SECTION("an empty dsn in the config file") {
    auto file = data.path / "optischema.toml";
    std::ofstream{file} << "[serve]\ndsn = \"\"\n";
    auto [rc, log] = run({"--config", file.string(), "serve", "--listen",
                          "127.0.0.1:0", "--data-dir", data.str()});
    CHECK(rc == 2);
    CHECK_THAT(log, Catch::Contains("--dsn is empty"));
  }
  SECTION("apply --dsn ''") {
    auto [rc, log] = run({"apply", "--dsn", "", "--id", "00000000000000aa"});
    CHECK(rc == 2);
    CHECK_THAT(log, Catch::Contains("--dsn is empty"));
  }
}
