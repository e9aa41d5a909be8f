// EXPLAIN (FORMAT JSON) output: the plan parser (analysis/src/plan.cpp), its
// walkers (nodes, indexes used, shape, the dashboard's plan JSON) and the
// plan findings (findings.cpp). Plans come from the target's server, from
// the sandbox (EXPLAIN ANALYZE of target-controlled code) and from the
// store; a corrupt or hostile one must give an error, never a crash.
//
// Input: the statement the plan belongs to, a NUL byte, the plan. Without a
// NUL the whole input is the plan, of a statement over the shop tables.

#include "catalog.hpp"
#include "fuzz.hpp"

#include "optischema/analysis/findings.hpp"
#include "optischema/analysis/plan.hpp"
#include "optischema/analysis/statement.hpp"
#include "optischema/util/json_parse.hpp"

using namespace optischema;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto input = fuzz::text(data, size);
  std::string sql = "SELECT c.email, o.amount FROM customers c JOIN orders o "
                    "ON o.customer_id = c.id WHERE c.city = $1 ORDER BY "
                    "o.created_at DESC LIMIT 10";
  auto json = input;
  if (auto nul = input.find('\0'); nul != std::string_view::npos) {
    sql = std::string{input.substr(0, nul)};
    json = input.substr(nul + 1);
  }
  auto p = parse_plan(json);
  if (!p)
    return 0;
  auto nodes = p->nodes();
  for (size_t i = 0; i < nodes.size(); ++i)
    fuzz::require(nodes[i]->id == static_cast<int>(i),
                  "plan node ids that are not the pre-order positions");
  p->indexes_used();
  p->shape();
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  write_plan(w, *p);
  rapidjson::Document d;
  fuzz::require(static_cast<bool>(json::parse(d,
                                              {buf.GetString(), buf.GetSize()},
                                              "the plan JSON", 1 << 20)),
                "write_plan wrote something that is not JSON");
  auto& cat = fuzz::sample_catalog();
  statement_analysis none;
  auto analysis = analyze_statement(sql, cat);
  for (auto& f : plan_findings(*p, analysis ? *analysis : none, cat, "fp")) {
    rapidjson::StringBuffer fb;
    rapidjson::Writer<rapidjson::StringBuffer> fw{fb};
    write(fw, f);
  }
  return 0;
}
