#include "optischema/analysis/plan.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/util/json_parse.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <algorithm>

namespace optischema {

namespace {

using value = rapidjson::Value;

// Real plans are a few dozen levels deep; a cap turns a hostile or corrupt
// document into an error instead of a stack overflow in our recursion.
constexpr int max_plan_depth = 1000;

failure parse_failure(std::string msg) {
  return failure{ec::parse_error, std::move(msg)};
}

std::string get_string(const value& obj, const char* key) {
  auto i = obj.FindMember(key);
  if (i == obj.MemberEnd() || !i->value.IsString())
    return {};
  return {i->value.GetString(), i->value.GetStringLength()};
}

std::optional<double> get_number(const value& obj, const char* key) {
  auto i = obj.FindMember(key);
  if (i == obj.MemberEnd() || !i->value.IsNumber())
    return std::nullopt;
  return i->value.GetDouble();
}

// "Sort Key", "Group Key" and "Output" are arrays of strings; a lone string
// is accepted too (hand-written plans, other tools' exports).
std::vector<std::string> get_strings(const value& obj, const char* key) {
  std::vector<std::string> out;
  auto i = obj.FindMember(key);
  if (i == obj.MemberEnd())
    return out;
  if (i->value.IsString()) {
    out.emplace_back(i->value.GetString(), i->value.GetStringLength());
  } else if (i->value.IsArray()) {
    for (auto& x : i->value.GetArray())
      if (x.IsString())
        out.emplace_back(x.GetString(), x.GetStringLength());
  }
  return out;
}

void read_fields(const value& v, plan_node& n) {
  n.node_type = get_string(v, "Node Type");
  n.relation = get_string(v, "Relation Name");
  n.schema = get_string(v, "Schema");
  n.alias = get_string(v, "Alias");
  n.index_name = get_string(v, "Index Name");
  n.parent_relationship = get_string(v, "Parent Relationship");
  n.subplan_name = get_string(v, "Subplan Name");
  n.join_type = get_string(v, "Join Type");
  n.strategy = get_string(v, "Strategy");
  n.scan_direction = get_string(v, "Scan Direction");
  n.startup_cost = get_number(v, "Startup Cost").value_or(0);
  n.total_cost = get_number(v, "Total Cost").value_or(0);
  n.plan_rows = get_number(v, "Plan Rows").value_or(0);
  if (auto it = v.FindMember("Parallel Aware");
      it != v.MemberEnd() && it->value.IsBool())
    n.parallel_aware = it->value.GetBool();
  n.workers_planned
    = static_cast<int>(get_number(v, "Workers Planned").value_or(0));
  // Clamped before the cast: a double beyond int (1e300 from a broken or
  // hostile server, or a stored plan) is undefined behaviour (fuzzing).
  n.plan_width = static_cast<int>(
    std::clamp(get_number(v, "Plan Width").value_or(0), 0.0, 1e9));
  n.filter = get_string(v, "Filter");
  n.index_cond = get_string(v, "Index Cond");
  n.recheck_cond = get_string(v, "Recheck Cond");
  n.hash_cond = get_string(v, "Hash Cond");
  n.merge_cond = get_string(v, "Merge Cond");
  n.join_filter = get_string(v, "Join Filter");
  n.sort_key = get_strings(v, "Sort Key");
  n.group_key = get_strings(v, "Group Key");
  n.output = get_strings(v, "Output");
  n.actual_rows = get_number(v, "Actual Rows");
  n.actual_total_time_ms = get_number(v, "Actual Total Time");
  n.actual_loops = get_number(v, "Actual Loops");
  n.rows_removed_by_filter = get_number(v, "Rows Removed by Filter");
  n.sort_method = get_string(v, "Sort Method");
  n.sort_space_type = get_string(v, "Sort Space Type");
  // "Hash Batches" is the final count, "Original Hash Batches" the planned
  // one; either above 1 means the hash table did not fit in memory.
  auto batches = get_number(v, "Hash Batches");
  auto original = get_number(v, "Original Hash Batches");
  if (batches || original)
    n.hash_batches = std::max(batches.value_or(0), original.value_or(0));
}

expected<plan_node> parse_node(const value& v, int& next_id, int depth) {
  if (!v.IsObject())
    return parse_failure("a plan node is not a JSON object");
  if (depth > max_plan_depth)
    return parse_failure(
      fmt::format("the plan is nested deeper than {} levels", max_plan_depth));
  plan_node n;
  n.id = next_id++;
  read_fields(v, n);
  if (n.node_type.empty())
    return parse_failure(
      fmt::format("plan node {} has no \"Node Type\"", n.id));
  auto plans = v.FindMember("Plans");
  if (plans == v.MemberEnd())
    return n;
  if (!plans->value.IsArray())
    return parse_failure(
      fmt::format("\"Plans\" of node {} is not an array", n.id));
  for (auto& child : plans->value.GetArray()) {
    auto c = parse_node(child, next_id, depth + 1);
    if (!c)
      return c.error();
    n.children.push_back(std::move(*c));
  }
  return n;
}

// EXPLAIN (FORMAT JSON) prints a one-element array; tools and people often
// keep only the object inside.
const value* top_object(const rapidjson::Document& doc) {
  if (doc.IsObject())
    return &doc;
  if (doc.IsArray() && !doc.Empty() && doc[0].IsObject())
    return &doc[0];
  return nullptr;
}

void collect(const plan_node& n, std::vector<const plan_node*>& out) {
  out.push_back(&n);
  for (auto& c : n.children)
    collect(c, out);
}

void write_string_field(json::writer& w, std::string_view k,
                        const std::string& v) {
  if (v.empty())
    return;
  json::field(w, k, v);
}

void write_strings_field(json::writer& w, std::string_view k,
                         const std::vector<std::string>& v) {
  if (v.empty())
    return;
  json::key(w, k);
  w.StartArray();
  for (auto& x : v)
    json::str(w, x);
  w.EndArray();
}

void write_number_field(json::writer& w, std::string_view k,
                        const std::optional<double>& v) {
  if (!v)
    return;
  json::field(w, k, *v);
}

void write_node(json::writer& w, const plan_node& n) {
  w.StartObject();
  json::field(w, "id", n.id);
  json::field(w, "node_type", n.node_type);
  write_string_field(w, "relation", n.relation);
  write_string_field(w, "schema", n.schema);
  write_string_field(w, "alias", n.alias);
  write_string_field(w, "index_name", n.index_name);
  write_string_field(w, "parent_relationship", n.parent_relationship);
  write_string_field(w, "subplan_name", n.subplan_name);
  write_string_field(w, "join_type", n.join_type);
  write_string_field(w, "strategy", n.strategy);
  write_string_field(w, "scan_direction", n.scan_direction);
  json::field(w, "startup_cost", n.startup_cost);
  json::field(w, "total_cost", n.total_cost);
  json::field(w, "plan_rows", n.plan_rows);
  json::field(w, "plan_width", n.plan_width);
  write_string_field(w, "filter", n.filter);
  write_string_field(w, "index_cond", n.index_cond);
  write_string_field(w, "recheck_cond", n.recheck_cond);
  write_string_field(w, "hash_cond", n.hash_cond);
  write_string_field(w, "merge_cond", n.merge_cond);
  write_string_field(w, "join_filter", n.join_filter);
  write_strings_field(w, "sort_key", n.sort_key);
  write_strings_field(w, "group_key", n.group_key);
  write_strings_field(w, "output", n.output);
  write_number_field(w, "actual_rows", n.actual_rows);
  write_number_field(w, "actual_total_time_ms", n.actual_total_time_ms);
  write_number_field(w, "actual_loops", n.actual_loops);
  write_number_field(w, "rows_removed_by_filter", n.rows_removed_by_filter);
  write_string_field(w, "sort_method", n.sort_method);
  write_string_field(w, "sort_space_type", n.sort_space_type);
  write_number_field(w, "hash_batches", n.hash_batches);
  json::key(w, "children");
  w.StartArray();
  for (auto& c : n.children)
    write_node(w, c);
  w.EndArray();
  w.EndObject();
}

} // namespace

std::vector<const plan_node*> plan::nodes() const {
  std::vector<const plan_node*> out;
  collect(root, out);
  return out;
}

namespace {

/// The Workers Planned of the nearest Gather above `target` (-1: none).
int gather_workers(const plan_node& n, const plan_node* target, int above) {
  if (&n == target)
    return above;
  auto here = n.workers_planned > 0 ? n.workers_planned : above;
  for (auto& c : n.children)
    if (auto w = gather_workers(c, target, here); w != -2)
      return w;
  return -2; // not in this subtree
}

} // namespace

double plan::rows_of(const plan_node& n) const {
  if (!n.parallel_aware)
    return n.plan_rows;
  auto w = gather_workers(root, &n, -1);
  // costsize.c's get_parallel_divisor: each worker, plus what the leader
  // does besides gathering (30% less per worker, not below zero).
  double workers = w > 0 ? w : 2;
  return n.plan_rows * (workers + std::max(0.0, 1.0 - 0.3 * workers));
}

std::vector<std::string> plan::indexes_used() const {
  std::vector<std::string> out;
  for (auto* n : nodes())
    if (!n->index_name.empty()
        && std::find(out.begin(), out.end(), n->index_name) == out.end())
      out.push_back(n->index_name);
  return out;
}

expected<plan> parse_plan(std::string_view text) {
  rapidjson::Document doc;
  // The one parser of outside JSON, iterative. parse_node refuses plans
  // deeper than max_plan_depth with its own message (each plan level is two
  // JSON levels, {"Plans": [{…}]}); this bound only cuts the scan short.
  if (auto parsed = json::parse(doc, text, "the plan", 8 * max_plan_depth);
      !parsed)
    return parsed.error();
  auto* top = top_object(doc);
  if (top == nullptr)
    return parse_failure("expected the output of EXPLAIN (FORMAT JSON): "
                         "[{\"Plan\": {…}}] or {\"Plan\": {…}}");
  auto root = top->FindMember("Plan");
  if (root == top->MemberEnd())
    return parse_failure("the EXPLAIN output has no \"Plan\" member");
  int next_id = 0;
  auto node = parse_node(root->value, next_id, 0);
  if (!node)
    return node.error();
  plan result;
  result.root = std::move(*node);
  result.planning_time_ms = get_number(*top, "Planning Time");
  result.execution_time_ms = get_number(*top, "Execution Time");
  return result;
}

void write_plan(rapidjson::Writer<rapidjson::StringBuffer>& w, const plan& p) {
  w.StartObject();
  json::field(w, "total_cost", p.total_cost());
  write_number_field(w, "planning_time_ms", p.planning_time_ms);
  write_number_field(w, "execution_time_ms", p.execution_time_ms);
  json::key(w, "root");
  write_node(w, p.root);
  w.EndObject();
}

} // namespace optischema

namespace optischema {

std::string plan::shape() const {
  std::string out;
  for (auto* n : nodes()) {
    out += n->node_type;
    for (auto* part :
         {&n->relation, &n->index_name, &n->join_type, &n->strategy, &n->filter,
          &n->index_cond, &n->recheck_cond, &n->hash_cond, &n->merge_cond,
          &n->join_filter}) {
      out += '|';
      out += *part;
    }
    for (auto& k : n->sort_key)
      out += "|s:" + k;
    for (auto& k : n->group_key)
      out += "|g:" + k;
    out += '\n';
  }
  return out;
}

namespace {

void outline_of(const plan_node& n, int depth, std::string& out) {
  out.append(static_cast<size_t>(depth) * 2, ' ');
  out += n.node_type;
  if (!n.index_name.empty())
    out += " using " + n.index_name;
  if (!n.relation.empty())
    out += " on " + n.relation;
  for (auto [label, part] : {std::pair{"Index Cond", &n.index_cond},
                             {"Recheck Cond", &n.recheck_cond},
                             {"Hash Cond", &n.hash_cond},
                             {"Merge Cond", &n.merge_cond},
                             {"Join Filter", &n.join_filter},
                             {"Filter", &n.filter}})
    if (!part->empty())
      out += fmt::format("  ({}: {})", label, *part);
  out += '\n';
  for (auto& c : n.children)
    outline_of(c, depth + 1, out);
}

} // namespace

std::string plan::outline() const {
  std::string out;
  outline_of(root, 0, out);
  return out;
}

} // namespace optischema
