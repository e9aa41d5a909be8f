#include "optischema/web/api.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <set>

using namespace optischema;
using namespace optischema::web;

namespace {

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

metrics_snapshot snap(std::string target, double scale) {
  metrics_snapshot s;
  s.target = std::move(target);
  s.ts_ms = 1000;
  s.interval_ms = 1000;
  for (int i = 0; i < 3; ++i) {
    auto& st = s.statements.emplace_back();
    st.fingerprint = std::string(15, 'a') + char('0' + i);
    st.query = "SELECT " + std::to_string(i);
    st.queryids = {i, -(int64_t{1} << 62)};
    st.total.calls = 10 * (i + 1);
    st.total.exec_time_ms = scale * (i + 1);
    st.interval = st.total;
  }
  return s;
}

} // namespace

TEST_CASE("every route is documented in the OpenAPI document", "[api]") {
  auto doc = parse(openapi_document());
  REQUIRE(doc.HasMember("paths"));
  std::set<std::string> documented;
  for (auto& p : doc["paths"].GetObject())
    for (auto& m : p.value.GetObject())
      documented.insert(std::string{m.name.GetString()} + " "
                        + p.name.GetString());
  std::set<std::string> served;
  for (auto& r : routes()) {
    std::string method = r.method;
    for (auto& c : method)
      c = static_cast<char>(std::tolower(c));
    served.insert(method + " " + r.path);
  }
  CHECK(documented == served);
}

TEST_CASE("hot query parameters are checked with helpful errors", "[api]") {
  auto q = parse_hot_query(
    {{"limit", "5"}, {"sort", "calls"}, {"window", "interval"}});
  REQUIRE(q);
  CHECK(q->limit == 5);
  CHECK(q->sort == hot_sort::calls);
  CHECK(q->window == metrics_window::interval);
  auto d = parse_hot_query({});
  REQUIRE(d);
  CHECK(d->limit == 20);
  CHECK(d->sort == hot_sort::total_time);
  for (auto bad :
       std::vector<std::map<std::string, std::string>>{{{"limit", "0"}},
                                                       {{"limit", "abc"}},
                                                       {{"limit", "5000"}},
                                                       {{"sort", "fastest"}},
                                                       {{"window", "week"}},
                                                       {{"target", "x y"}}}) {
    auto r = parse_hot_query(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ec::bad_request);
    CHECK_THAT(r.error().message, Catch::Contains(bad.begin()->second));
    CHECK(error_response(r.error()).status == 400);
  }
}

TEST_CASE("history parameters: range, from/to and resolution", "[api]") {
  const int64_t now = 100 * 86'400'000LL;
  const int64_t day = 86'400'000;
  auto q = parse_history_query({{"fingerprint", "abcd"}, {"range", "2h"}}, now,
                               day);
  REQUIRE(q);
  CHECK(q->to_ms == now);
  CHECK(q->from_ms == now - 7'200'000);
  CHECK_FALSE(q->hourly);
  auto week = parse_history_query({{"range", "7d"}}, now, day);
  REQUIRE(week);
  CHECK(week->hourly);
  CHECK(week->fingerprint.empty());
  auto forced = parse_history_query({{"range", "7d"}, {"resolution", "raw"}},
                                    now, day);
  REQUIRE(forced);
  CHECK_FALSE(forced->hourly);
  CHECK_FALSE(parse_history_query({{"fingerprint", "zz"}}, now, day));
  CHECK_FALSE(parse_history_query({{"range", "91d"}}, now, day));
  CHECK_FALSE(parse_history_query({{"from", "10"}, {"to", "5"}}, now, day));
  CHECK_FALSE(parse_history_query({{"resolution", "minute"}}, now, day));
}

TEST_CASE("hot answers merge targets and carry every field", "[api]") {
  auto a = snap("a", 1);
  auto b = snap("b", 100);
  hot_query q;
  q.limit = 4;
  auto d = parse(render_hot({&a, &b}, q));
  auto& xs = d["statements"];
  REQUIRE(xs.Size() == 4);
  // b's statements cost more; within b the most expensive first.
  CHECK(std::string{xs[0]["target"].GetString()} == "b");
  CHECK(xs[0]["total_time_ms"].GetDouble() == Approx(300));
  CHECK(xs[3]["total_time_ms"].GetDouble()
        <= xs[2]["total_time_ms"].GetDouble());
  for (auto& x : xs.GetArray()) {
    for (auto* field : {"fingerprint", "queryids", "query", "calls",
                        "total_time_ms", "mean_time_ms", "rows",
                        "cache_hit_ratio", "share_of_total_time", "interval"})
      CHECK(x.HasMember(field));
    // queryids as strings: a JavaScript number would round these.
    CHECK(std::string{x["queryids"][1].GetString()} == "-4611686018427387904");
  }
  CHECK(xs[0]["share_of_total_time"].GetDouble() == Approx(0.5));
  CHECK(xs[0]["mean_time_ms"].GetDouble() == Approx(10));
}

TEST_CASE("summary names targets without data", "[api]") {
  auto a = snap("a", 1);
  auto d = parse(render_summary({&a}, {"a", "b"}));
  REQUIRE(d["targets"].Size() == 2);
  CHECK(d["targets"][0]["summary"]["statements"].GetUint() == 3);
  CHECK(d["targets"][1]["polled"].IsNull());
}

TEST_CASE("raw answers page through all statements", "[api]") {
  auto a = snap("a", 1);
  auto b = snap("b", 1);
  raw_query q;
  q.limit = 2;
  q.offset = 3;
  auto d = parse(render_raw({&a, &b}, q));
  CHECK(d["total"].GetUint() == 6);
  REQUIRE(d["statements"].Size() == 2);
  CHECK(std::string{d["statements"][0]["target"].GetString()} == "b");
}
