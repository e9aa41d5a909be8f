// The config file reader (app/config_file.hpp): what the docs and the
// shipped manifests write must read as meant, and a mistake must name its
// line.

#include "config_file.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace optischema;
using namespace optischema::app;

namespace {

std::vector<config_entry> entries(std::string_view text) {
  auto r = parse_config_file(text);
  INFO((r ? std::string{} : r.error().message));
  REQUIRE(r);
  return *r;
}

std::string error_of(std::string_view text) {
  auto r = parse_config_file(text);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ec::invalid_configuration);
  return r.error().message;
}

} // namespace

TEST_CASE("an array over several lines keeps every item", "[config]") {
  // CLI11 2.1 read this as the one string "[" and dropped the DSNs.
  auto e = entries(R"([serve]
target = [
  "orders=postgresql://optischema:pw@orders-db:5432/orders",  # the shop
  "billing=postgresql://optischema:pw@billing-db:5432/billing",
]
listen = "0.0.0.0:8080"
)");
  REQUIRE(e.size() == 2);
  CHECK(e[0].section == std::vector<std::string>{"serve"});
  CHECK(e[0].key == "target");
  CHECK(e[0].values
        == std::vector<std::string>{
          "orders=postgresql://optischema:pw@orders-db:5432/orders",
          "billing=postgresql://optischema:pw@billing-db:5432/billing"});
  CHECK(e[1].key == "listen");
  CHECK(e[1].values == std::vector<std::string>{"0.0.0.0:8080"});
  CHECK(e[1].line == 6);
}

TEST_CASE("a # inside a quoted value is part of the value", "[config]") {
  auto e = entries("[serve]\n"
                   "dsn = \"postgresql://u:pa#ss@db/app\" # a comment\n"
                   "sandbox-dsn = 'host=s password=x#y'\n");
  REQUIRE(e.size() == 2);
  CHECK(e[0].values[0] == "postgresql://u:pa#ss@db/app");
  CHECK(e[1].values[0] == "host=s password=x#y");
}

TEST_CASE("bare values, escapes and INI comments read as TOML says",
          "[config]") {
  auto e = entries("; an INI comment\n"
                   "[serve]\n"
                   "poll-interval = 30s\n"
                   "insecure-listen = true\n"
                   "min-confidence = 0.7   # trailing\n"
                   "api-token = \"a\\\"b\\\\c\\u00e9\"\n"
                   "allow-extension = [citext, postgis]\n"
                   "cors-origin = []\n");
  REQUIRE(e.size() == 6);
  CHECK(e[0].values[0] == "30s");
  CHECK(e[1].values[0] == "true");
  CHECK(e[2].values[0] == "0.7");
  CHECK(e[3].values[0] == "a\"b\\c\xc3\xa9");
  CHECK(e[4].values == std::vector<std::string>{"citext", "postgis"});
  CHECK(e[5].values.empty());
}

TEST_CASE("dotted keys and sections name the command", "[config]") {
  auto e = entries("serve.listen = \"127.0.0.1:9\"\n[a.b]\nc = 1\n");
  REQUIRE(e.size() == 2);
  CHECK(e[0].section == std::vector<std::string>{"serve"});
  CHECK(e[0].key == "listen");
  CHECK(e[1].section == std::vector<std::string>{"a", "b"});
}

TEST_CASE("a mistake in the file names its line and the fix", "[config]") {
  CHECK_THAT(error_of("[serve]\ndsn = \"postgresql://db\n"),
             Catch::Contains("line 2") && Catch::Contains("not closed"));
  CHECK_THAT(error_of("[serve]\ntarget = [\"a=x\",\n"),
             Catch::Contains("not closed"));
  CHECK_THAT(error_of("[serve]\ndsn = \"a\"\ndsn = \"b\"\n"),
             Catch::Contains("line 3") && Catch::Contains("set twice")
               && Catch::Contains("array"));
  CHECK_THAT(error_of("[serve]\nlisten\n"), Catch::Contains("`=`"));
  CHECK_THAT(error_of("[serve]\ndsn =\n"), Catch::Contains("missing"));
  CHECK_THAT(error_of("[serve]\ndsn = \"a\" \"b\"\n"),
             Catch::Contains("unexpected"));
  CHECK_THAT(error_of("[serve]\napi-token = \"a\\qb\"\n"),
             Catch::Contains("escape"));
  CHECK_THAT(error_of("[serve]\napi-token = \"a\\u0000b\"\n"),
             Catch::Contains("U+0"));
  CHECK_THAT(error_of(std::string_view{"[serve]\ndsn = a\0b\n", 16}),
             Catch::Contains("control character"));
  CHECK_THAT(error_of("[[serve]]\n"), Catch::Contains("[serve]"));
  CHECK_THAT(error_of("[serve]\nx = [[1]]\n"), Catch::Contains("nested"));
}

TEST_CASE("CLI11 receives the entries with its section markers", "[config]") {
  std::istringstream in{"[serve]\ntarget = [\n \"a=x\",\n \"b=y\"\n]\n"};
  auto items = config_reader{}.from_config(in);
  REQUIRE(items.size() == 2);
  CHECK(items[0].parents == std::vector<std::string>{"serve"});
  CHECK(items[0].name == "target");
  CHECK(items[0].inputs == std::vector<std::string>{"a=x", "b=y"});
  CHECK(items[1].name == "--");
  std::istringstream bad{"[serve]\ndsn = \"open\n"};
  CHECK_THROWS_AS(config_reader{}.from_config(bad), CLI::ConfigError);
}
