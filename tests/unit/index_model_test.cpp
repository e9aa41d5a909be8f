// The cost model for indexes hypopg cannot simulate (index_model.hpp), on
// real EXPLAIN output of PostgreSQL 15 (tests/data/plans/gin_candidate_*).

#include "optischema/analysis/index_model.hpp"

#include "data_file.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace optischema;

namespace {

plan load(const char* name) {
  auto p = parse_plan(test::read_text(test::data_path("plans") / name));
  REQUIRE(p);
  return *p;
}

/// public.tickets as the plans saw it: 300,000 rows in 6,819 pages.
table_info tickets() {
  table_info t;
  t.schema = "public";
  t.name = "tickets";
  t.reltuples = 300000;
  t.relpages = 6819;
  return t;
}

index_candidate gin(std::string key) {
  index_candidate c;
  c.schema = "public";
  c.table = "tickets";
  c.method = "gin";
  c.keys = {std::move(key)};
  return c;
}

} // namespace

TEST_CASE("pages fetched follow Mackert and Lohman", "[index_model]") {
  // Few rows: about one page each; many: every page, never more.
  CHECK(pages_fetched(10, 10000, 1e6) == 10);
  CHECK(pages_fetched(1e6, 10000, 1e6) == 10000);
  CHECK(pages_fetched(5000, 10000, 1e6) == Approx(4000).epsilon(0.01));
  // A table bigger than the cache reads pages again.
  CHECK(pages_fetched(1e6, 10000, 1000) > 10000);
}

TEST_CASE("a selective GIN scan replaces a parallel sequential scan",
          "[index_model]") {
  auto p = load("gin_candidate_parallel_scan.json");
  auto e = model_bitmap_scan(p, gin("attrs jsonb_path_ops"), tickets(), {});
  REQUIRE(e);
  // 12 rows per process, two workers and the leader's share: 2.4 times.
  CHECK(e->rows == Approx(12 * 2.4));
  CHECK(e->scan_cost_before == Approx(8381.5));
  CHECK(e->scan_cost_after < 0.05 * e->scan_cost_before);
  CHECK(e->cost_after < p.total_cost());
  CHECK_THAT(e->explanation, Catch::Contains("hypopg cannot simulate gin"));
  // Every row: the bitmap reads every page at random; no gain.
  auto everything = p;
  everything.root.children[0].plan_rows = 125000;
  auto all = model_bitmap_scan(everything, gin("attrs jsonb_path_ops"),
                               tickets(), {});
  REQUIRE(all);
  CHECK(all->share == Approx(1.0));
  CHECK(all->scan_cost_after > all->scan_cost_before);
}

TEST_CASE("the model declines scans whose cost the statement does not pay",
          "[index_model]") {
  // A LIMIT stops the scan early: its total cost is not what runs.
  CHECK_FALSE(model_bitmap_scan(load("gin_candidate_under_limit.json"),
                                gin("subject gin_trgm_ops"), tickets(), {}));
  // Under a Sort the whole scan runs whatever the LIMIT above.
  auto sorted = load("gin_candidate_sort_limit.json");
  auto e = model_bitmap_scan(sorted, gin("subject gin_trgm_ops"), tickets(), {});
  REQUIRE(e);
  CHECK(e->cost_after < sorted.total_cost());
  // Another table, or no statistics: nothing to say.
  auto other = gin("subject gin_trgm_ops");
  other.table = "orders";
  CHECK_FALSE(model_bitmap_scan(sorted, other, tickets(), {}));
  auto empty = tickets();
  empty.relpages = 0;
  CHECK_FALSE(
    model_bitmap_scan(sorted, gin("subject gin_trgm_ops"), empty, {}));
}

TEST_CASE("what the statement returned per call replaces a default estimate",
          "[index_model]") {
  // Gather above the scan passes its rows through: 3 rows per call is what
  // the filter keeps, whatever the planner assumed for a parameter.
  auto p = load("gin_candidate_parallel_scan.json");
  auto e = model_bitmap_scan(p, gin("attrs jsonb_path_ops"), tickets(), {}, 3);
  REQUIRE(e);
  CHECK(e->observed);
  CHECK(e->rows == Approx(3));
  CHECK_THAT(e->explanation, Catch::Contains("returned per call"));
  // Unknown (negative): the planner's estimate.
  auto planner
    = model_bitmap_scan(p, gin("attrs jsonb_path_ops"), tickets(), {}, -1);
  REQUIRE(planner);
  CHECK_FALSE(planner->observed);
  // An aggregate between scan and result: its rows are not the scan's.
  auto grouped = model_bitmap_scan(load("gin_candidate_sort_limit.json"),
                                   gin("subject gin_trgm_ops"), tickets(), {},
                                   2);
  REQUIRE(grouped);
  CHECK_FALSE(grouped->observed);
}
