// parse_plan() on real EXPLAIN (FORMAT JSON) output of PostgreSQL 15
// (tests/data/plans), the errors it reports, and the JSON the dashboard's
// plan view reads.

#include "optischema/analysis/plan.hpp"

#include "data_file.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace optischema;

namespace {

const std::filesystem::path plans_dir = test::data_path("plans");

using test::read_text;

plan load(const std::string& name) {
  auto p = parse_plan(read_text(plans_dir / (name + ".json")));
  INFO(name << ": " << (p ? "" : p.error().message));
  REQUIRE(p);
  return *p;
}

std::vector<std::string> types(const plan& p) {
  std::vector<std::string> out;
  for (auto* n : p.nodes())
    out.push_back(n->node_type);
  return out;
}

using strings = std::vector<std::string>;

rapidjson::Document render(const plan& p) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  write_plan(w, p);
  rapidjson::Document d;
  d.Parse(buf.GetString());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

} // namespace

TEST_CASE("every plan fixture parses, ids in pre-order", "[plan]") {
  size_t files = 0;
  for (auto& entry : std::filesystem::directory_iterator(plans_dir)) {
    if (entry.path().extension() != ".json")
      continue;
    INFO(entry.path().filename().string());
    auto p = parse_plan(read_text(entry.path()));
    REQUIRE(p);
    auto nodes = p->nodes();
    REQUIRE_FALSE(nodes.empty());
    CHECK(nodes.front() == &p->root);
    for (size_t i = 0; i < nodes.size(); ++i) {
      CHECK(nodes[i]->id == static_cast<int>(i));
      CHECK_FALSE(nodes[i]->node_type.empty());
      CHECK(nodes[i]->total_cost >= nodes[i]->startup_cost);
    }
    CHECK(p->total_cost() == p->root.total_cost);
    ++files;
  }
  CHECK(files >= 25);
}

TEST_CASE("a parallel seq scan with a filter", "[plan]") {
  auto p = load("seq_scan_filter");
  REQUIRE(types(p) == strings{"Gather", "Seq Scan"});
  CHECK(p.root.startup_cost == Approx(1000.00));
  CHECK(p.root.total_cost == Approx(5523.17));
  CHECK(p.total_cost() == Approx(5523.17));
  CHECK(p.root.plan_rows == 5);
  CHECK(p.root.plan_width == 105);
  auto& scan = p.root.children.at(0);
  CHECK(scan.id == 1);
  CHECK(scan.relation == "orders");
  CHECK(scan.alias == "orders");
  CHECK(scan.schema.empty()); // only EXPLAIN VERBOSE prints it
  CHECK(scan.parent_relationship == "Outer");
  CHECK(scan.filter == "(customer_id = 42)");
  CHECK(scan.plan_rows == 2);
  CHECK(scan.total_cost == Approx(4522.67));
  CHECK_FALSE(scan.actual_rows);
  CHECK_FALSE(p.planning_time_ms);
  CHECK_FALSE(p.execution_time_ms);
  CHECK(p.indexes_used().empty());
}

TEST_CASE("index and bitmap scans", "[plan]") {
  auto ix = load("index_scan");
  REQUIRE(types(ix) == strings{"Index Scan"});
  CHECK(ix.root.index_name == "orders_pkey");
  CHECK(ix.root.index_cond == "(id = 42)");
  CHECK(ix.root.scan_direction == "Forward");
  CHECK(ix.indexes_used() == strings{"orders_pkey"});

  auto bm = load("bitmap_scan");
  REQUIRE(types(bm) == strings{"Bitmap Heap Scan", "Bitmap Index Scan"});
  CHECK(bm.root.recheck_cond.find("created_at >= '2024-03-01")
        != std::string::npos);
  CHECK(bm.root.children[0].index_cond == bm.root.recheck_cond);
  CHECK(bm.root.children[0].plan_width == 0);
  CHECK(bm.indexes_used() == strings{"orders_created_at_idx"});
}

TEST_CASE("a hypothetical (hypopg) index in the plan", "[plan]") {
  auto p = load("hypopg_index");
  REQUIRE(types(p) == strings{"Bitmap Heap Scan", "Bitmap Index Scan"});
  CHECK(p.indexes_used() == strings{"<13556>btree_t_b"});
  CHECK(p.root.relation == "t");
  CHECK(p.root.recheck_cond == "(b = 5)");
  CHECK(p.total_cost() == Approx(11.72));
}

TEST_CASE("joins: nested loop, hash, merge", "[plan]") {
  auto nl = load("nested_loop_seq_inner");
  REQUIRE(types(nl) == strings{"Nested Loop", "Seq Scan", "Seq Scan"});
  CHECK(nl.root.join_type == "Inner");
  CHECK(nl.root.join_filter == "(c.id = o.customer_id)");
  CHECK(nl.root.children[0].parent_relationship == "Outer");
  CHECK(nl.root.children[1].parent_relationship == "Inner");
  CHECK(nl.root.children[1].alias == "o");

  auto hj = load("hash_join");
  REQUIRE(types(hj)
          == strings{"Gather", "Hash Join", "Seq Scan", "Hash", "Seq Scan"});
  CHECK(hj.root.children[0].hash_cond == "(o.customer_id = c.id)");
  CHECK(hj.nodes()[4]->filter == "(city = 'city7'::text)");

  auto mj = load("merge_join_group");
  REQUIRE(types(mj)
          == strings{"Aggregate", "Merge Join", "Index Scan", "Materialize",
                     "Sort", "Seq Scan"});
  CHECK(mj.root.strategy == "Hashed");
  CHECK(mj.root.group_key == strings{"c.city"});
  CHECK(mj.nodes()[1]->merge_cond == "(c.id = o.customer_id)");
  CHECK(mj.nodes()[4]->sort_key == strings{"o.customer_id"});

  auto memo = load("nested_loop_memoize_index");
  CHECK(types(memo)
        == strings{"Nested Loop", "Seq Scan", "Memoize", "Index Scan"});
  CHECK(memo.indexes_used() == strings{"customers_pkey"});
}

TEST_CASE("indexes_used: every index once, in order of appearance", "[plan]") {
  auto p = load("nested_loop_index_inner");
  CHECK(p.indexes_used() == strings{"orders_pkey", "customers_pkey"});
  // The same index twice (a self-join) is listed once.
  plan twice;
  twice.root.node_type = "Nested Loop";
  for (auto name : {"b_idx", "a_idx", "b_idx"}) {
    plan_node scan;
    scan.node_type = "Index Scan";
    scan.index_name = name;
    twice.root.children.push_back(scan);
  }
  CHECK(twice.indexes_used() == strings{"b_idx", "a_idx"});
}

TEST_CASE("sorts under LIMIT, Gather Merge and Incremental Sort", "[plan]") {
  auto s = load("sort_limit");
  REQUIRE(types(s) == strings{"Limit", "Sort", "Seq Scan"});
  CHECK(s.root.plan_rows == 10);
  CHECK(s.nodes()[1]->sort_key == strings{"amount DESC"});
  CHECK(s.nodes()[1]->plan_rows == 40613);

  auto gm = load("sort_limit_gather_merge");
  CHECK(types(gm) == strings{"Limit", "Gather Merge", "Sort", "Seq Scan"});

  auto inc = load("incremental_sort_limit");
  REQUIRE(types(inc) == strings{"Limit", "Incremental Sort", "Index Scan"});
  CHECK(inc.nodes()[1]->sort_key == strings{"created_at", "amount"});
  CHECK(inc.indexes_used() == strings{"orders_created_at_idx"});
}

TEST_CASE("EXPLAIN ANALYZE figures", "[plan]") {
  auto sort = load("sort_spill_analyze");
  CHECK(sort.planning_time_ms == Approx(0.431));
  CHECK(sort.execution_time_ms == Approx(277.909));
  CHECK(sort.root.sort_method == "external merge");
  CHECK(sort.root.sort_space_type == "Disk");
  CHECK(sort.root.actual_rows == Approx(200000));
  CHECK(sort.root.actual_loops == Approx(1));
  CHECK(sort.root.actual_total_time_ms == Approx(265.585));
  CHECK(sort.root.children[0].actual_total_time_ms == Approx(34.064));

  auto hash = load("hash_spill_analyze");
  auto* h = hash.nodes().at(2);
  CHECK(h->node_type == "Hash");
  CHECK(h->hash_batches == Approx(32));
  CHECK_FALSE(hash.nodes()[1]->hash_batches);

  auto removed = load("rows_removed_parallel_analyze");
  auto& scan = removed.root.children.at(0);
  CHECK(scan.rows_removed_by_filter == Approx(66665));
  CHECK(scan.actual_rows == Approx(2));
  CHECK(scan.actual_loops == Approx(3));
}

TEST_CASE("EXPLAIN VERBOSE: schema, output, subplans", "[plan]") {
  auto p = load("verbose_subplan");
  REQUIRE(types(p) == strings{"Index Only Scan", "Aggregate", "Seq Scan"});
  CHECK(p.root.schema == "public");
  CHECK(p.root.output == strings{"c.id", "(SubPlan 1)"});
  auto* agg = p.nodes()[1];
  CHECK(agg->parent_relationship == "SubPlan");
  CHECK(agg->subplan_name == "SubPlan 1");
  CHECK(agg->strategy == "Plain");
  CHECK(p.nodes()[2]->schema == "public");
  CHECK(p.nodes()[2]->output.size() == 7);
}

TEST_CASE("a generic plan keeps its $1", "[plan]") {
  auto p = load("generic_plan");
  CHECK(p.nodes().at(1)->filter == "(customer_id = $1)");
}

TEST_CASE("a bare object and hand-written values parse", "[plan]") {
  auto p = parse_plan(R"({"Plan": {"Node Type": "Result", "Total Cost": 0.01,
                         "Sort Key": "a", "Hash Batches": 1,
                         "Original Hash Batches": 4},
                         "Planning Time": 0.1})");
  REQUIRE(p);
  CHECK(p->root.node_type == "Result");
  CHECK(p->root.total_cost == Approx(0.01));
  CHECK(p->root.sort_key == strings{"a"});
  CHECK(p->root.hash_batches == Approx(4)); // planned 4, then 1: it spilled
  CHECK(p->planning_time_ms == Approx(0.1));
  CHECK(p->root.children.empty());
}

TEST_CASE("parse errors say what is wrong", "[plan]") {
  auto fails = [](std::string_view text, std::string_view needle) {
    auto p = parse_plan(text);
    INFO(text);
    REQUIRE_FALSE(p);
    CHECK(p.error().code == ec::parse_error);
    INFO(p.error().message);
    CHECK(p.error().message.find(needle) != std::string::npos);
  };
  fails("", "not valid JSON");
  fails(R"([{"Plan": {"Node Type": "Seq Scan",}}])", "not valid JSON");
  fails("QUERY PLAN\n----", "not valid JSON");
  fails("[]", "EXPLAIN (FORMAT JSON)");
  fails("[1]", "EXPLAIN (FORMAT JSON)");
  fails("42", "EXPLAIN (FORMAT JSON)");
  fails(R"([{"Planning Time": 1}])", "no \"Plan\"");
  fails(R"({"Plan": []})", "not a JSON object");
  fails(R"({"Plan": {"Total Cost": 1}})", "no \"Node Type\"");
  fails(R"({"Plan": {"Node Type": "Limit", "Plans": {}}})",
        "\"Plans\" of node 0 is not an array");
  fails(R"({"Plan": {"Node Type": "Limit", "Plans": [{"Node Type": "Sort"},
          {"Plans": []}]}})",
        "plan node 2 has no \"Node Type\"");
  // Deeper than any real plan: an error, not a stack overflow.
  std::string deep;
  for (int i = 0; i < 2000; ++i)
    deep += R"({"Node Type": "Limit", "Plans": [)";
  deep += R"({"Node Type": "Result"})";
  for (int i = 0; i < 2000; ++i)
    deep += "]}";
  fails(R"({"Plan": )" + deep + "}", "nested deeper than");
}

TEST_CASE("the dashboard's plan JSON", "[plan]") {
  auto d = render(load("nested_loop_seq_inner"));
  CHECK(d["total_cost"].GetDouble() == Approx(1996388.00));
  CHECK_FALSE(d.HasMember("planning_time_ms"));
  auto& root = d["root"];
  CHECK(root["id"].GetInt() == 0);
  CHECK(std::string{root["node_type"].GetString()} == "Nested Loop");
  CHECK(std::string{root["join_type"].GetString()} == "Inner");
  CHECK(std::string{root["join_filter"].GetString()}
        == "(c.id = o.customer_id)");
  CHECK(root["startup_cost"].GetDouble() == Approx(0));
  CHECK(root["plan_rows"].GetDouble() == Approx(1000));
  CHECK(root["plan_width"].GetInt() == 27);
  // Conditions and figures a node does not have are left out.
  CHECK_FALSE(root.HasMember("filter"));
  CHECK_FALSE(root.HasMember("relation"));
  CHECK_FALSE(root.HasMember("actual_rows"));
  REQUIRE(root["children"].Size() == 2);
  auto& outer = root["children"][0];
  CHECK(outer["id"].GetInt() == 1);
  CHECK(std::string{outer["relation"].GetString()} == "customers");
  CHECK(std::string{outer["alias"].GetString()} == "c");
  CHECK(std::string{outer["filter"].GetString()} == "(city = 'city7'::text)");
  CHECK(std::string{outer["parent_relationship"].GetString()} == "Outer");
  CHECK(outer["children"].Size() == 0);
  CHECK(root["children"][1]["id"].GetInt() == 2);
}

TEST_CASE("the dashboard's plan JSON carries ANALYZE figures", "[plan]") {
  auto d = render(load("sort_spill_analyze"));
  CHECK(d["planning_time_ms"].GetDouble() == Approx(0.431));
  CHECK(d["execution_time_ms"].GetDouble() == Approx(277.909));
  auto& root = d["root"];
  CHECK(root["actual_rows"].GetDouble() == Approx(200000));
  CHECK(root["actual_loops"].GetDouble() == Approx(1));
  CHECK(root["actual_total_time_ms"].GetDouble() == Approx(265.585));
  CHECK(std::string{root["sort_method"].GetString()} == "external merge");
  CHECK(std::string{root["sort_space_type"].GetString()} == "Disk");
  REQUIRE(root["sort_key"].Size() == 1);
  CHECK(std::string{root["sort_key"][0].GetString()} == "note");

  auto h = render(load("hash_spill_analyze"));
  auto& hash = h["root"]["children"][1];
  CHECK(std::string{hash["node_type"].GetString()} == "Hash");
  CHECK(hash["hash_batches"].GetDouble() == Approx(32));

  auto v = render(load("verbose_subplan"));
  CHECK(std::string{v["root"]["schema"].GetString()} == "public");
  CHECK(std::string{v["root"]["index_name"].GetString()} == "customers_pkey");
  CHECK(std::string{v["root"]["index_cond"].GetString()} == "(c.id < 10)");
  CHECK(v["root"]["output"].Size() == 2);
  CHECK(std::string{v["root"]["children"][0]["subplan_name"].GetString()}
        == "SubPlan 1");

  auto m = render(load("merge_join_group"));
  CHECK(std::string{m["root"]["group_key"][0].GetString()} == "c.city");
  CHECK(std::string{m["root"]["strategy"].GetString()} == "Hashed");
  CHECK(std::string{m["root"]["children"][0]["merge_cond"].GetString()}
        == "(c.id = o.customer_id)");
  auto b = render(load("bitmap_scan"));
  CHECK(b["root"].HasMember("recheck_cond"));
  CHECK(b["root"]["children"][0].HasMember("index_cond"));
  auto j = render(load("hash_join"));
  CHECK(j["root"]["children"][0].HasMember("hash_cond"));
  auto inc = render(load("incremental_sort_limit"));
  CHECK(
    std::string{
      inc["root"]["children"][0]["children"][0]["scan_direction"].GetString()}
    == "Forward");
}
