#include "optischema/broker/ownership.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

using optischema::broker::check_fleet_name;
using optischema::broker::owner_of;

namespace {

std::map<std::string, std::string>
assign(const std::vector<std::string>& targets,
       const std::vector<std::string>& members) {
  std::map<std::string, std::string> out;
  for (auto& t : targets)
    out[t] = owner_of(t, members);
  return out;
}

std::vector<std::string> names(const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i)
    out.push_back(prefix + std::to_string(i));
  return out;
}

} // namespace

TEST_CASE("each target has one owner whatever order the members are listed "
          "in",
          "[fleet]") {
  auto targets = names("db-", 3000);
  std::vector<std::string> members{"optischema-0", "optischema-1",
                                   "optischema-2"};
  auto a = assign(targets, members);
  std::reverse(members.begin(), members.end());
  CHECK(assign(targets, members) == a);
  // Similar names still share the work evenly (within a few percent of a
  // third each over 3,000 targets).
  std::map<std::string, int> load;
  for (auto& [_, owner] : a)
    ++load[owner];
  REQUIRE(load.size() == 3);
  for (auto& [member, n] : load) {
    INFO(member << " owns " << n);
    CHECK(n > 850);
    CHECK(n < 1150);
  }
  CHECK(owner_of("db-1", {}).empty());
}

TEST_CASE("a leaving or joining engine moves only its own share", "[fleet]") {
  auto targets = names("t", 1000);
  auto before = assign(targets, {"a", "b", "c"});
  // c leaves: only c's targets move, and they spread over a and b.
  auto after_leave = assign(targets, {"a", "b"});
  int moved = 0;
  for (auto& t : targets) {
    if (before[t] != "c")
      CHECK(after_leave[t] == before[t]);
    else
      ++moved;
  }
  CHECK(moved > 0);
  // d joins: targets move only to d.
  auto after_join = assign(targets, {"a", "b", "c", "d"});
  int taken = 0;
  for (auto& t : targets) {
    if (after_join[t] != before[t]) {
      CHECK(after_join[t] == "d");
      ++taken;
    }
  }
  CHECK(taken > 150);
  CHECK(taken < 350);
}

TEST_CASE("fleet names and engine ids are what NATS buckets and keys take",
          "[fleet]") {
  CHECK(check_fleet_name("--fleet", "shop_floor-1", false).empty());
  CHECK(check_fleet_name("--engine-id", "optischema-0.prod", true).empty());
  CHECK_THAT(check_fleet_name("--fleet", "a.b", false),
             Catch::Contains("only letters"));
  CHECK_THAT(check_fleet_name("--engine-id", "a..b", true),
             Catch::Contains("'..'"));
  CHECK_THAT(check_fleet_name("--engine-id", ".a", true),
             Catch::Contains("start or end"));
  CHECK_THAT(check_fleet_name("--fleet", "", false),
             Catch::Contains("1 to 64"));
  CHECK_THAT(check_fleet_name("--fleet", std::string(65, 'x'), false),
             Catch::Contains("1 to 64"));
  CHECK_THAT(check_fleet_name("--engine-id", "a b", true),
             Catch::Contains("only letters"));
  CHECK_THAT(check_fleet_name("--engine-id", "a>*", true),
             Catch::Contains("only letters"));
}
