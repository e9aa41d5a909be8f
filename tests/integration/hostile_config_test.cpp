// Config files and flags the fuzzer of fuzz/config.cpp broke: the real
// binary must refuse them with a message naming the flag, not start with a
// budget that never runs out or a size cast it cannot hold.

#include "engine_process.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <string>

using namespace optischema::test;
using namespace std::chrono_literals;

TEST_CASE("a config file with nan or 1e300 for a number is refused",
          "[config][hostile]") {
  // Found by fuzz: config. CLI11 reads nan and inf; nan passed every "< 0"
  // check (a daily LLM budget of nan is never used up), and sizes such as
  // 1e300 MB were cast to int64 bytes: undefined behaviour.
  temp_dir dir{"optischema-hostile-config"};
  // A target that is down: the engine would start and keep trying.
  auto dsn = "host=127.0.0.1 port=" + std::to_string(closed_port())
    + " dbname=app user=nobody connect_timeout=1";
  for (auto [flag, value] : {std::pair{"llm-cache-mb", "1e300"},
                             std::pair{"apply-max-index-mb", "1e300"},
                             std::pair{"sandbox-full-copy-mb", "nan"},
                             std::pair{"min-confidence", "nan"},
                             std::pair{"llm-daily-usd", "nan"},
                             std::pair{"llm-price-input", "inf"}}) {
    INFO(flag << " = " << value);
    auto file = dir.path / (std::string{flag} + ".toml");
    std::ofstream{file} << "[serve]\ndsn = \"" << dsn << "\"\n"
                        << flag << " = " << value << "\n";
    engine_process e{{"--config", file.string(), "serve", "--listen",
                      "127.0.0.1:0", "--data-dir",
                      (dir.path / "data").string()}};
    auto code = e.wait_exit(15s);
    INFO(e.log());
    REQUIRE(code.has_value());
    CHECK(*code == 2);
    CHECK(e.log().find(std::string{"--"} + flag) != std::string::npos);
  }
}
