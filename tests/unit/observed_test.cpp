// What pg_qualstats saw a workload compare columns with (observed.hpp):
// its constants are written by whoever ran the query, so they are parsed,
// never pasted; cut-short ones are refused but still counted.

#include "optischema/analysis/observed.hpp"

#include <catch2/catch.hpp>

using namespace optischema;

TEST_CASE("constant_value reads pg_qualstats constants and refuses the rest",
          "[observed]") {
  CHECK(constant_value("'paid'::text") == "paid");
  CHECK(constant_value("'it''s'::character varying") == "it's");
  CHECK(constant_value("5::integer") == "5");
  CHECK(constant_value("'-3'::integer") == "-3");
  CHECK(constant_value("-2.5") == "-2.5");
  CHECK(constant_value("true") == "true");
  CHECK(constant_value("'2024-01-01 00:00:00+00'::timestamp with time zone")
        == "2024-01-01 00:00:00+00");
  // pg_qualstats cuts constants at 80 bytes: an unterminated quote.
  CHECK_FALSE(constant_value("'" + std::string(78, 'x')));
  // Anything but one literal and a cast.
  CHECK_FALSE(constant_value("'a'::text; DROP TABLE t"));
  CHECK_FALSE(constant_value("'a' OR 1=1"));
  CHECK_FALSE(constant_value("NULL::text"));
  CHECK_FALSE(constant_value("lower('x')"));
  CHECK_FALSE(constant_value(""));
}

TEST_CASE("values_of: the few values that make up a column's comparisons",
          "[observed]") {
  std::vector<observed_constant> all = {
    {1, "s", "orders", "status", "'paid'::text", 95},
    {1, "s", "orders", "status", "'new'::text", 5},
    {2, "s", "orders", "status", "'done'::text", 40},
    {1, "s", "orders", "shop_id", "7::integer", 30},
    {1, "s", "orders", "shop_id", "8::integer", 30},
    {1, "s", "orders", "shop_id", "9::integer", 20},
    {1, "s", "orders", "shop_id", "10::integer", 20},
    {1, "s", "orders", "note", "'" + std::string(79, 'n'), 60},
    {1, "s", "orders", "note", "'short'::text", 40},
  };
  auto v = values_of(all, {1});
  // Another statement's constants are not this one's.
  auto status = v.dominant("s", "orders", "status", 1);
  REQUIRE(status.size() == 1);
  CHECK(status[0].value == "paid");
  CHECK(status[0].share == Approx(1.0));
  auto two = v.dominant("s", "orders", "status");
  REQUIRE(two.size() == 1); // 'paid' alone already makes up 95%
  // Four values of 20–30% each: no three make 90%.
  CHECK(v.dominant("s", "orders", "shop_id").empty());
  CHECK(v.most_common("s", "orders", "shop_id") == "7");
  // The cut-short constant counts as a comparison: 'short' is 40%, not 100%.
  CHECK(v.dominant("s", "orders", "note").empty());
  CHECK(v.dominant("s", "orders", "note", 3, 0.4).size() == 1);
  CHECK_FALSE(v.most_common("s", "orders", "missing"));
  CHECK(values_of(all, {3}).empty());
}
