#include "optischema/pg/conninfo.hpp"

#include <catch2/catch.hpp>

using namespace optischema;

TEST_CASE("URIs and key=value strings parse, display hides the password",
          "[conninfo]") {
  auto uri = pg::parse_conninfo("postgresql://app:s3cret@db.example:6432/shop");
  REQUIRE(uri);
  CHECK(uri->display == "app@db.example:6432/shop");
  CHECK(uri->dbname == "shop");
  CHECK(uri->effective.find("application_name='optischema'")
        != std::string::npos);
  CHECK(uri->display.find("s3cret") == std::string::npos);
  auto kv = pg::parse_conninfo("host=10.0.0.1 port=5433 user=mon dbname=app "
                               "password=s3cret application_name=mine");
  REQUIRE(kv);
  CHECK(kv->display == "mon@10.0.0.1:5433/app");
  // A value the user gave wins over ours.
  CHECK(kv->effective.find("application_name='mine'") != std::string::npos);
  CHECK(kv->effective.find("optischema") == std::string::npos);
}

TEST_CASE("a malformed DSN says what is wrong without leaking", "[conninfo]") {
  auto bad = pg::parse_conninfo("host=db password=s3cret bogus_key=1");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == ec::invalid_configuration);
  CHECK_THAT(bad.error().message, Catch::Contains("bogus_key"));
  CHECK(bad.error().message.find("s3cret") == std::string::npos);
  CHECK_FALSE(pg::parse_conninfo("postgresql://[::1"));
}
