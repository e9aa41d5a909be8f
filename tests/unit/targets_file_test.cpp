// The targets file: what it accepts, how it is edited, what it refuses.

#include "optischema/messages/targets_file.hpp"

#include <catch2/catch.hpp>

using namespace optischema;

TEST_CASE("the targets file reads NAME=DSN lines and skips comments") {
  auto got = parse_targets_file(
    "# the shop\n\nshop=host=db1 dbname=shop\r\n"
    "  billing = postgresql://monitor@db2/billing\n");
  REQUIRE(got);
  REQUIRE(got->size() == 2);
  CHECK((*got)[0].name == "shop");
  CHECK((*got)[0].conn.dbname == "shop");
  CHECK((*got)[1].name == "billing");
  CHECK((*got)[1].conn.display.find("db2") != std::string::npos);
  CHECK(parse_targets_file("")->empty());
}

TEST_CASE("the targets file refuses what it cannot run, naming the line") {
  auto refused = [](const std::string& text, const std::string& says) {
    auto got = parse_targets_file(text);
    INFO(text);
    REQUIRE_FALSE(got);
    CHECK_THAT(got.error().message, Catch::Contains(says));
  };
  refused("shop=dbname=a\nno equals sign\n", "line 2");
  refused("bad name=dbname=a\n", "letters, digits");
  refused("shop=\n", "empty DSN");
  refused("a=dbname=a\na=dbname=b\n", "listed twice");
  refused("a=dbname='unterminated\n", "line 1");
  // A password is never stored with the targets, nor echoed.
  auto secret = parse_targets_file("a=host=x dbname=y password=hunter22\n");
  REQUIRE_FALSE(secret);
  CHECK_THAT(secret.error().message, Catch::Contains("PGPASSFILE"));
  CHECK_THAT(secret.error().message, !Catch::Contains("hunter22"));
  CHECK_FALSE(
    parse_targets_file("a=postgresql://u:hunter22@h/db\n").has_value());
  CHECK(dsn_secret_problem("host=x dbname=y").empty());
  CHECK_THAT(dsn_secret_problem("host=x sslkey=/etc/ssl/private/engine.key"),
             Catch::Contains("sets sslkey"));
  CHECK_THAT(dsn_secret_problem("postgresql://h/db?passfile=/etc/shadow"),
             Catch::Contains("sets passfile"));
}

TEST_CASE("editing the targets file keeps the other lines") {
  std::string text = "# shop\nshop=dbname=shop\nbilling=dbname=billing\n";
  auto added = edit_targets_file(text, "crm", std::string{"dbname=crm"});
  REQUIRE(added);
  CHECK(*added == text + "crm=dbname=crm\n");
  auto changed = edit_targets_file(*added, "shop", std::string{"dbname=s2"});
  REQUIRE(changed);
  CHECK(*changed
        == "# shop\nshop=dbname=s2\nbilling=dbname=billing\ncrm=dbname=crm\n");
  auto removed = edit_targets_file(*changed, "billing", std::nullopt);
  REQUIRE(removed);
  CHECK(*removed == "# shop\nshop=dbname=s2\ncrm=dbname=crm\n");
  auto missing = edit_targets_file(*removed, "billing", std::nullopt);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ec::not_found);
}
