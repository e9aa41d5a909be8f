// What may run on a target, who may ask, and what a change did afterwards:
// the pure parts of applying recommendations.

#include "optischema/analysis/change.hpp"
#include "optischema/analysis/realised.hpp"
#include "optischema/analysis/recommendation.hpp"
#include "optischema/web/api.hpp"

#include <catch2/catch.hpp>

#include <rapidjson/document.h>

using namespace optischema;

namespace {

recommendation create_rec() {
  recommendation r;
  r.id = "00000000000000aa";
  r.kind = "create_index";
  r.target = "shop";
  r.schema = "public";
  r.table = "orders";
  r.index_name = "orders_customer_id_idx";
  r.ddl = "CREATE INDEX CONCURRENTLY orders_customer_id_idx ON public.orders "
          "USING btree (customer_id)";
  r.rollback_ddl
    = "DROP INDEX CONCURRENTLY IF EXISTS public.orders_customer_id_idx";
  return r;
}

history_point point(int64_t ts, int64_t calls, double ms) {
  history_point p;
  p.ts_ms = ts;
  p.delta.calls = calls;
  p.delta.exec_time_ms = ms;
  return p;
}

} // namespace

TEST_CASE("an index recommendation applies and rolls back its own DDL") {
  auto r = create_rec();
  auto up = change_for(r, false);
  REQUIRE(up);
  CHECK(up->what == index_change::action::create);
  CHECK(up->concurrently);
  CHECK(up->schema == "public");
  CHECK(up->table == "orders");
  CHECK(up->sql == r.ddl);
  auto down = change_for(r, true);
  REQUIRE(down);
  CHECK(down->what == index_change::action::drop);
  CHECK(down->index_name == r.index_name);
  CHECK(down->schema == "public");
}

TEST_CASE("stored DDL that is not the recommendation's own is never run") {
  auto r = create_rec();
  SECTION("another statement smuggled after it") {
    r.ddl += "; DROP TABLE orders";
    auto c = change_for(r, false);
    REQUIRE_FALSE(c);
    CHECK_THAT(c.error().message, Catch::Contains("exactly one statement"));
  }
  SECTION("a different statement") {
    r.ddl = "DROP TABLE public.orders";
    REQUIRE_FALSE(change_for(r, false));
  }
  SECTION("an index of another name") {
    r.ddl = "CREATE INDEX CONCURRENTLY other_idx ON public.orders (id)";
    auto c = change_for(r, false);
    REQUIRE_FALSE(c);
    CHECK_THAT(c.error().message, Catch::Contains("nothing was run"));
  }
  SECTION("another table") {
    r.ddl = "CREATE INDEX CONCURRENTLY orders_customer_id_idx ON "
            "public.customers (id)";
    REQUIRE_FALSE(change_for(r, false));
  }
  SECTION("a cascading drop") {
    r.rollback_ddl = "DROP INDEX public.orders_customer_id_idx CASCADE";
    REQUIRE_FALSE(change_for(r, true));
  }
  SECTION("advice that is not an index change") {
    r.kind = "rewrite";
    auto c = change_for(r, false);
    REQUIRE_FALSE(c);
    CHECK_THAT(c.error().message, Catch::Contains("by hand"));
  }
}

TEST_CASE("a drop recommendation drops, and its rollback recreates") {
  recommendation r;
  r.id = "b";
  r.kind = "drop_index";
  r.schema = "public";
  r.table = "orders";
  r.index_name = "orders_old_idx";
  r.ddl = "DROP INDEX CONCURRENTLY IF EXISTS public.orders_old_idx";
  r.rollback_ddl = "CREATE INDEX CONCURRENTLY orders_old_idx ON public.orders "
                   "USING btree (created_at)";
  auto up = change_for(r, false);
  REQUIRE(up);
  CHECK(up->what == index_change::action::drop);
  auto down = change_for(r, true);
  REQUIRE(down);
  CHECK(down->what == index_change::action::create);
  CHECK(down->table == "orders");
}

TEST_CASE("the apply endpoints take exactly an id") {
  CHECK(*web::parse_id_request(R"({"id":"00000000000000aa"})")
        == "00000000000000aa");
  auto sql = web::parse_id_request(
    R"({"id":"00000000000000aa","ddl":"DROP TABLE orders"})");
  REQUIRE_FALSE(sql);
  CHECK(sql.error().code == ec::bad_request);
  CHECK_THAT(sql.error().message, Catch::Contains("\"ddl\""));
  CHECK_FALSE(web::parse_id_request(R"({"id":"x'; DROP TABLE t; --"})"));
  CHECK_FALSE(web::parse_id_request(R"({"id":42})"));
  CHECK_FALSE(web::parse_id_request("DROP TABLE orders"));
  CHECK_FALSE(web::parse_id_request("{}"));
}

TEST_CASE("the realised benefit waits for traffic, then judges") {
  std::vector<history_point> before{point(1, 100, 1000), point(2, 100, 1000)};
  SECTION("too few polls after the change") {
    auto x = realise(before, {point(10, 50, 50)});
    CHECK(x.verdict == "measuring");
    CHECK(x.mean_before_ms == Approx(10));
  }
  SECTION("faster") {
    auto x = realise(before,
                     {point(10, 50, 50), point(11, 50, 50), point(12, 50, 50)});
    CHECK(x.verdict == "improved");
    CHECK(x.speedup == Approx(10));
    CHECK(x.polls_after == 3);
  }
  SECTION("slower") {
    auto x = realise(
      before, {point(10, 50, 1000), point(11, 50, 1000), point(12, 50, 1000)});
    CHECK(x.verdict == "regression");
  }
  SECTION("no history before") {
    CHECK(realise({}, {point(10, 50, 50)}).verdict == "no_baseline");
  }
}

TEST_CASE("proof and application survive the store's JSON round trip") {
  auto r = create_rec();
  r.sandbox = R"({"verdict":"faster","speedup":12.5})";
  r.measured_speedup = 12.5;
  r.applied_ms = 1234;
  r.realised = R"({"verdict":"improved"})";
  r.last_error = "x";
  r.cost_before = 1000;
  r.cost_after = 10;
  auto text = to_json(r);
  rapidjson::Document d;
  d.Parse(text.c_str());
  CHECK(d["estimated_speedup"].GetDouble() == Approx(100));
  CHECK(d["sandbox"]["verdict"] == "faster");
  auto back = recommendation_from_json(text);
  REQUIRE(back);
  CHECK(back->sandbox == r.sandbox);
  CHECK(back->measured_speedup == 12.5);
  CHECK(back->applied_ms == 1234);
  CHECK(back->realised == r.realised);
  // Re-analysis keeps what happened to it.
  auto fresh = create_rec();
  fresh.status = "new";
  back->status = "applied";
  keep_history(fresh, *back);
  CHECK(fresh.status == "applied");
  CHECK(fresh.sandbox == r.sandbox);
  CHECK(fresh.applied_ms == 1234);
}

TEST_CASE("a measured no-gain outweighs the estimate, also after "
          "re-analysis") {
  auto old = create_rec();
  old.confidence = 0.85;
  old.status = "tested";
  old.sandbox = R"({"verdict":"no_gain","speedup":1.0})";
  weigh_sandbox_verdict(old);
  CHECK(old.confidence < 0.5);
  auto fresh = create_rec();
  fresh.confidence = 0.85;
  keep_history(fresh, old);
  CHECK(fresh.confidence < 0.5);
  CHECK(std::count(fresh.reasons.begin(), fresh.reasons.end(),
                   "the sandbox measured no gain on a copy of the data")
        == 1);
  auto faster = create_rec();
  faster.confidence = 0.85;
  faster.sandbox = R"({"verdict":"faster","speedup":50})";
  weigh_sandbox_verdict(faster);
  CHECK(faster.confidence == 0.85);
}

TEST_CASE("an applied recommendation keeps the DDL that ran") {
  auto old = create_rec();
  old.status = "applied";
  auto fresh = create_rec();
  // A later analysis, seeing the index it built, would pick another name.
  fresh.index_name = "orders_customer_id_idx2";
  fresh.ddl = "CREATE INDEX CONCURRENTLY orders_customer_id_idx2 ON "
              "public.orders USING btree (customer_id)";
  fresh.rollback_ddl
    = "DROP INDEX CONCURRENTLY IF EXISTS public.orders_customer_id_idx2";
  keep_history(fresh, old);
  CHECK(fresh.index_name == "orders_customer_id_idx");
  CHECK(fresh.rollback_ddl == old.rollback_ddl);
  auto undo = change_for(fresh, true);
  REQUIRE(undo);
  CHECK(undo->index_name == "orders_customer_id_idx");
}
