// What may run on a target, who may ask, and what a change did afterwards:
// the pure parts of applying recommendations.

#include "optischema/analysis/audit.hpp"
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
  // As the engine built it.
  r.index_oid = 16412;
  r.index_definition = "CREATE INDEX orders_customer_id_idx ON public.orders "
                       "USING btree (customer_id)";
  return r;
}

recommendation drop_rec() {
  recommendation r;
  r.id = "b";
  r.kind = "drop_index";
  r.schema = "public";
  r.table = "orders";
  r.index_name = "orders_old_idx";
  r.ddl = "DROP INDEX CONCURRENTLY IF EXISTS public.orders_old_idx";
  r.rollback_ddl = "CREATE INDEX CONCURRENTLY orders_old_idx ON public.orders "
                   "USING btree (created_at)";
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
  auto r = drop_rec();
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
  r.benefit_source = "model";
  r.prerequisites = {"CREATE EXTENSION IF NOT EXISTS pg_trgm"};
  CHECK(benefit_source(r) == "model");
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
  // Once measured, the measurement is where the benefit comes from.
  CHECK(d["benefit_source"] == "measured");
  auto back = recommendation_from_json(text);
  REQUIRE(back);
  CHECK(back->prerequisites == r.prerequisites);
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

TEST_CASE("an index is the advised one only when PostgreSQL defines it so") {
  struct example {
    const char* ours;
    const char* theirs; // as pg_get_indexdef prints it
    bool same;
  };
  // pg_get_indexdef's output of PostgreSQL 15 for each index on the right.
  const example examples[] = {
    {"CREATE INDEX CONCURRENTLY orders_customer_id_idx ON public.orders USING "
     "btree (customer_id)",
     "CREATE INDEX orders_customer_id_idx1 ON public.orders USING btree "
     "(customer_id)",
     true},
    // A DBA's unique index under the same default name is another index.
    {"CREATE INDEX CONCURRENTLY orders_customer_id_idx ON public.orders USING "
     "btree (customer_id)",
     "CREATE UNIQUE INDEX orders_customer_id_idx ON public.orders USING btree "
     "(customer_id) WHERE (status = 'disputed'::text)",
     false},
    {"CREATE INDEX CONCURRENTLY x ON public.orders USING btree (customer_id)",
     "CREATE UNIQUE INDEX x ON public.orders USING btree (customer_id)", false},
    {"CREATE INDEX CONCURRENTLY x ON public.t USING btree (s) WHERE s = 'open'",
     "CREATE INDEX t_s_idx ON public.t USING btree (s) WHERE (s = "
     "'open'::text)",
     true},
    {"CREATE INDEX CONCURRENTLY x ON public.t USING btree (s) WHERE s = "
     "'closed'",
     "CREATE INDEX t_s_idx ON public.t USING btree (s) WHERE (s = "
     "'open'::text)",
     false},
    {"CREATE INDEX CONCURRENTLY x ON public.t USING btree (v) WHERE v = 'x'",
     "CREATE INDEX t_v_idx ON public.t USING btree (v) WHERE ((v)::text = "
     "'x'::text)",
     true},
    {"CREATE INDEX CONCURRENTLY x ON public.t USING btree ((d::date))",
     "CREATE INDEX t_d_idx ON public.t USING btree (((d)::date))", true},
    {"CREATE INDEX CONCURRENTLY x ON public.t USING btree (d)",
     "CREATE INDEX t_d_idx ON public.t USING btree (((d)::date))", false},
    {"CREATE INDEX CONCURRENTLY x ON public.t USING btree (lower(e))",
     "CREATE INDEX t_lower_idx ON public.t USING btree (lower(e))", true},
    {"CREATE INDEX CONCURRENTLY x ON public.t USING btree (e)",
     "CREATE INDEX t_e_idx ON public.t USING btree (e text_pattern_ops)",
     false},
    {"CREATE INDEX CONCURRENTLY x ON public.t USING gin (e gin_trgm_ops)",
     "CREATE INDEX t_e_idx1 ON public.t USING gin (e gin_trgm_ops)", true},
    {"CREATE INDEX CONCURRENTLY x ON public.t USING btree (id) WHERE NOT paid",
     "CREATE INDEX t_id_idx ON public.t USING btree (id) WHERE (NOT paid)",
     true},
    {"CREATE INDEX CONCURRENTLY x ON public.t USING btree (s) WHERE s IN "
     "('a', 'b')",
     "CREATE INDEX t_s_idx1 ON public.t USING btree (s) WHERE (s = ANY "
     "(ARRAY['a'::text, 'b'::text]))",
     true},
    {"CREATE INDEX CONCURRENTLY x ON public.t USING btree (s) WHERE s IN "
     "('a', 'c')",
     "CREATE INDEX t_s_idx1 ON public.t USING btree (s) WHERE (s = ANY "
     "(ARRAY['a'::text, 'b'::text]))",
     false},
    {"CREATE INDEX CONCURRENTLY x ON public.t (id DESC NULLS FIRST, s ASC "
     "NULLS LAST) INCLUDE (e)",
     "CREATE INDEX t_id_s_e_idx ON public.t USING btree (id DESC, s) INCLUDE "
     "(e)",
     true},
    {"CREATE INDEX CONCURRENTLY x ON public.t (id DESC NULLS LAST, s) INCLUDE "
     "(e)",
     "CREATE INDEX t_id_s_e_idx ON public.t USING btree (id DESC, s) INCLUDE "
     "(e)",
     false},
    {"CREATE INDEX CONCURRENTLY x ON public.t (id DESC, s)",
     "CREATE INDEX t_id_s_e_idx ON public.t USING btree (id DESC, s) INCLUDE "
     "(e)",
     false},
    {"CREATE INDEX CONCURRENTLY x ON public.t (s)",
     "CREATE INDEX t_s_idx2 ON public.t USING btree (s COLLATE \"C\")", false},
    {"CREATE INDEX CONCURRENTLY x ON t (id) WHERE paid = true AND s = 'a' AND "
     "v = 'b'",
     "CREATE INDEX t_id_idx2 ON public.t USING btree (id) WHERE ((paid = true) "
     "AND (s = 'a'::text) AND ((v)::text = 'b'::text))",
     true},
    {"CREATE INDEX CONCURRENTLY x ON public.t USING btree (c)",
     "CREATE INDEX t_c_idx ON public.t USING brin (c)", false},
    {"CREATE INDEX CONCURRENTLY x ON public.u USING btree (c)",
     "CREATE INDEX t_c_idx ON public.t USING btree (c)", false},
    {"CREATE INDEX CONCURRENTLY x ON other.t USING btree (c)",
     "CREATE INDEX t_c_idx ON public.t USING btree (c)", false},
    {"CREATE INDEX CONCURRENTLY x ON public.t USING btree (c)", "DROP TABLE t",
     false},
  };
  for (auto& x : examples) {
    INFO(x.ours << "\n" << x.theirs);
    CHECK(same_index_definition(x.ours, x.theirs, "public") == x.same);
  }
}

TEST_CASE("an index built under a free name keeps its DDL consistent") {
  auto r = create_rec();
  r.title = "Create index orders_customer_id_idx on public.orders";
  REQUIRE(rename_index(r, "orders_customer_id_idx1"));
  CHECK(r.index_name == "orders_customer_id_idx1");
  CHECK(r.ddl
        == "CREATE INDEX CONCURRENTLY orders_customer_id_idx1 ON public.orders "
           "USING btree (customer_id)");
  CHECK(r.rollback_ddl
        == "DROP INDEX CONCURRENTLY IF EXISTS public.orders_customer_id_idx1");
  CHECK(r.title == "Create index orders_customer_id_idx1 on public.orders");
  CHECK(change_for(r, false));
}

TEST_CASE("a drop runs only on the index it is meant for") {
  auto r = create_rec();
  r.status = "applied";
  SECTION("a rollback needs the record of what the engine built") {
    r.index_oid = 0;
    r.index_definition.clear();
    auto c = change_for(r, true);
    REQUIRE_FALSE(c);
    CHECK(c.error().code == ec::conflict);
    CHECK_THAT(c.error().message,
               Catch::Contains("drops only an index the "
                               "engine built"));
    r.index_oid = 16412;
    r.index_definition = "CREATE INDEX orders_customer_id_idx ON "
                         "public.orders USING btree (customer_id)";
    c = change_for(r, true);
    REQUIRE(c);
    CHECK(c->expect_oid == 16412);
    CHECK(c->expect_definition == r.index_definition);
  }
  SECTION("a drop advice drops the index the analysis saw") {
    auto d = drop_rec();
    auto c = change_for(d, false);
    REQUIRE(c);
    CHECK(c->expect_oid == 0);
    CHECK(c->expect_definition == d.rollback_ddl);
  }
}

TEST_CASE("a change the engine was killed in is resolved from the catalog") {
  audit_entry started;
  started.action = "apply";
  started.schema = "public";
  started.index_name = "orders_customer_id_idx";
  started.outcome = "started";
  started.op = "18c-1";
  auto create = [&](index_now now) {
    return resolve_interrupted(started, true, now);
  };
  auto built = create({true, true, true});
  CHECK(built.outcome == "applied");
  CHECK(built.took_effect);
  CHECK_FALSE(built.cleanup);
  CHECK_THAT(built.step, Catch::Contains("interrupted"));
  auto half = create({true, false, true});
  CHECK(half.outcome == "failed");
  CHECK(half.cleanup);
  CHECK_THAT(half.step, Catch::Contains("INVALID"));
  // Someone else's index under that name is never touched.
  auto other = create({true, false, false});
  CHECK_FALSE(other.cleanup);
  CHECK_FALSE(other.took_effect);
  CHECK(create({}).outcome == "failed");
  started.action = "rollback";
  auto gone = resolve_interrupted(started, false, {});
  CHECK(gone.outcome == "rolled_back");
  CHECK(gone.took_effect);
  auto kept = resolve_interrupted(started, false, {true, true, true});
  CHECK(kept.outcome == "failed");
  CHECK_FALSE(kept.took_effect);
  auto mid = resolve_interrupted(started, false, {true, false, true});
  CHECK(mid.took_effect);
  CHECK(mid.cleanup);
}

TEST_CASE("a started audit entry reads back as written") {
  audit_entry e;
  e.ts_ms = 1234;
  e.who = "api (127.0.0.1)";
  e.action = "apply";
  e.target = "shop";
  e.recommendation_id = "00000000000000aa";
  e.kind = "create_index";
  e.ddl = create_rec().ddl;
  e.outcome = "started";
  e.steps = {"the name x belongs to another index"};
  e.op = "18c-1";
  e.schema = "public";
  e.index_name = "orders_customer_id_idx";
  e.index_oid = 16412;
  e.index_definition = "CREATE INDEX …";
  auto back = audit_entry_from_json(to_json(e));
  REQUIRE(back);
  CHECK(to_json(*back) == to_json(e));
  // A pending cleanup is kept as the entry of its drop, with no change.
  e.op.clear();
  back = audit_entry_from_json(to_json(e));
  REQUIRE(back);
  CHECK(back->index_oid == 16412);
  CHECK(back->index_name == e.index_name);
  CHECK_FALSE(audit_entry_from_json("[1, 2]"));
}
