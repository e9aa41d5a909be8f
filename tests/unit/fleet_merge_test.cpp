// Fleet-wide lists: what one engine answers when each engine of the fleet
// gave the part for the targets it polls.

#include "optischema/web/fleet_merge.hpp"

#include "test_util.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace optischema;
using namespace optischema::web;
using optischema::test::parse_json;

namespace {

std::string statement(const std::string& target, const std::string& fp,
                      double total_ms, int calls) {
  return R"({"target":")" + target + R"(","fingerprint":")" + fp
    + R"(","calls":)" + std::to_string(calls) + R"(,"total_time_ms":)"
    + std::to_string(total_ms) + "}";
}

std::string hot(const std::string& target, int64_t polled,
                const std::vector<std::string>& statements) {
  std::string list;
  for (auto& s : statements)
    list += (list.empty() ? "" : ",") + s;
  return R"({"sort":"total_time","window":"cumulative","limit":3,"polled":{")"
    + target + R"(":)" + std::to_string(polled) + R"(},"statements":[)" + list
    + "]}";
}

std::vector<std::string> fingerprints(const rapidjson::Value& xs) {
  std::vector<std::string> out;
  for (auto& x : xs.GetArray())
    out.emplace_back(x["fingerprint"].GetString());
  return out;
}

} // namespace

TEST_CASE("the hottest statements of a fleet are the hottest of all its "
          "engines") {
  std::vector<fleet_part> parts{
    {"engine-a",
     hot("t1", 100,
         {statement("t1", "a1", 900, 1), statement("t1", "a2", 50, 500)}),
     ""},
    {"engine-b",
     hot("t2", 200,
         {statement("t2", "b1", 1000, 2), statement("t2", "b2", 60, 10)}),
     ""},
    {"engine-c", "", "timed out after 2000 ms"},
  };
  hot_query q;
  q.limit = 3;
  auto d = parse_json(merge_hot(parts, q));
  CHECK(fingerprints(d["statements"])
        == std::vector<std::string>{"b1", "a1", "b2"});
  CHECK(d["polled"]["t1"].GetInt64() == 100);
  CHECK(d["polled"]["t2"].GetInt64() == 200);
  CHECK(d["limit"].GetInt() == 3);
  // Who did not answer is said, with why.
  REQUIRE(d["gathered"]["unanswered"].Size() == 1);
  CHECK(std::string{d["gathered"]["unanswered"][0]["engine"].GetString()}
        == "engine-c");
  CHECK(std::string{d["gathered"]["unanswered"][0]["error"].GetString()}
        == "timed out after 2000 ms");
  CHECK(d["gathered"]["answered"].Size() == 2);

  // Another order, the same parts.
  q.sort = hot_sort::calls;
  d = parse_json(merge_hot(parts, q));
  CHECK(fingerprints(d["statements"])
        == std::vector<std::string>{"a2", "b2", "b1"});
}

TEST_CASE("an engine answering garbage counts as not answering") {
  std::vector<fleet_part> parts{
    {"engine-a", hot("t1", 1, {statement("t1", "a1", 1, 1)}), ""},
    {"engine-b", "[1,2", ""},
    {"engine-c", R"("a string")", ""},
  };
  auto d = parse_json(merge_hot(parts, hot_query{}));
  CHECK(d["statements"].Size() == 1);
  CHECK(d["gathered"]["unanswered"].Size() == 2);
  CHECK(std::string{d["gathered"]["unanswered"][0]["error"].GetString()}
        == "answered garbage");
}

TEST_CASE("suggestions of a fleet are ordered and paged as one engine's") {
  auto rec = [](const std::string& id, double confidence, double benefit) {
    return R"({"id":")" + id + R"(","confidence":)" + std::to_string(confidence)
      + R"(,"benefit_ms_per_day":)" + std::to_string(benefit) + "}";
  };
  std::vector<fleet_part> parts{
    {"engine-a",
     R"({"suggestions":[)" + rec("a1", 0.9, 10) + "," + rec("a2", 0.5, 1000)
       + R"(],"total":2,"offset":0,"limit":3})",
     ""},
    {"engine-b",
     R"({"suggestions":[)" + rec("b1", 0.9, 50) + "," + rec("b2", 0.2, 5000)
       + R"(],"total":7,"offset":0,"limit":3})",
     ""},
  };
  page_query page;
  page.offset = 1;
  page.limit = 2;
  auto d = parse_json(merge_suggestions(parts, page));
  std::vector<std::string> ids;
  for (auto& x : d["suggestions"].GetArray())
    ids.emplace_back(x["id"].GetString());
  // b1, a1 (0.9, by benefit), a2, b2: the page from the second.
  CHECK(ids == std::vector<std::string>{"a1", "a2"});
  CHECK(d["total"].GetInt64() == 9);
  CHECK(d["offset"].GetInt() == 1);
  CHECK(d["limit"].GetInt() == 2);
}

TEST_CASE("the status of a fleet shows each target as its owner sees it") {
  std::string local = R"({"state":"ok","targets":[
      {"name":"t1","owner":"engine-a","standby":false,"polls":40},
      {"name":"t2","owner":"engine-b","standby":true,"polls":3},
      {"name":"t3","owner":"engine-c","standby":true,"polls":0}]})";
  std::string theirs = R"({"state":"degraded","targets":[
      {"name":"t1","owner":"engine-a","standby":true,"polls":1},
      {"name":"t2","owner":"engine-b","standby":false,"polls":77}]})";
  std::vector<fleet_part> parts{{"engine-a", local, ""},
                                {"engine-b", theirs, ""},
                                {"engine-c", "", "no responders"}};
  auto d = parse_json(merge_status(parts));
  // The engine's own state stays its own.
  CHECK(std::string{d["state"].GetString()} == "ok");
  auto& ts = d["targets"];
  REQUIRE(ts.Size() == 3);
  CHECK(ts[0]["polls"].GetInt() == 40);
  CHECK(ts[1]["polls"].GetInt() == 77);
  CHECK_FALSE(ts[1]["standby"].GetBool());
  // engine-c did not answer: its target as this engine knows it.
  CHECK(ts[2]["standby"].GetBool());
  CHECK(std::string{d["gathered"]["unanswered"][0]["engine"].GetString()}
        == "engine-c");
}

TEST_CASE("the alerts of a fleet are every engine's, newest first") {
  std::string a = R"({"firing":[{"id":"target_down:t1","since":10}],
      "resolved":[{"id":"stats_reset:t1","since":1,"resolved":7}]})";
  std::string b = R"({"firing":[{"id":"calls_jump:t2:f","since":30},
      {"id":"cache_hit_drop:t2","since":20}],"resolved":[]})";
  std::vector<fleet_part> parts{{"engine-a", a, ""},
                                {"engine-b", b, ""},
                                {"engine-c", "", "no responders"}};
  auto d = parse_json(merge_alerts(parts));
  std::vector<std::string> firing, resolved;
  for (auto& x : d["firing"].GetArray())
    firing.emplace_back(x["id"].GetString());
  for (auto& x : d["resolved"].GetArray())
    resolved.emplace_back(x["id"].GetString());
  CHECK(firing
        == std::vector<std::string>{"calls_jump:t2:f", "cache_hit_drop:t2",
                                    "target_down:t1"});
  CHECK(resolved == std::vector<std::string>{"stats_reset:t1"});
  CHECK(d["gathered"]["unanswered"].Size() == 1);
}
