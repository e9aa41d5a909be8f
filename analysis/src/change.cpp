#include "optischema/analysis/change.hpp"
#include "optischema/util/json_parse.hpp"

#include <fmt/format.h>
#include <pg_query.h>
#include <rapidjson/document.h>

namespace optischema {

namespace {

using node = rapidjson::Value;

const node* get(const node* obj, const char* key) {
  if (obj == nullptr || !obj->IsObject())
    return nullptr;
  auto i = obj->FindMember(key);
  return i != obj->MemberEnd() ? &i->value : nullptr;
}

std::string str(const node* x) {
  return x != nullptr && x->IsString()
    ? std::string{x->GetString(), x->GetStringLength()}
    : std::string{};
}

bool flag(const node* x) {
  return x != nullptr && x->IsBool() && x->GetBool();
}

failure refuse(const std::string& why) {
  return {ec::bad_request, why};
}

} // namespace

expected<index_change> parse_index_change(const std::string& sql) {
  auto r = pg_query_parse(sql.c_str());
  if (r.error != nullptr) {
    auto msg = std::string{r.error->message};
    pg_query_free_parse_result(r);
    return failure{ec::parse_error, "the DDL does not parse: " + msg};
  }
  rapidjson::Document d;
  auto parsed_ok = json::parse(d, r.parse_tree, "the DDL's parse tree");
  pg_query_free_parse_result(r);
  if (!parsed_ok)
    return refuse("the DDL's parse tree is too deep or unreadable");
  auto* stmts = get(&d, "stmts");
  if (stmts == nullptr || !stmts->IsArray() || stmts->Size() != 1)
    return refuse("the DDL must be exactly one statement");
  auto* stmt = get(&(*stmts)[0], "stmt");
  index_change c;
  c.sql = sql;
  if (auto* ix = get(stmt, "IndexStmt")) {
    c.what = index_change::action::create;
    c.index_name = str(get(ix, "idxname"));
    auto* rel = get(ix, "relation");
    c.schema = str(get(rel, "schemaname"));
    c.table = str(get(rel, "relname"));
    c.concurrently = flag(get(ix, "concurrent"));
    if (c.index_name.empty())
      return refuse("the CREATE INDEX names no index");
    return c;
  }
  if (auto* drop = get(stmt, "DropStmt")) {
    if (str(get(drop, "removeType")) != "OBJECT_INDEX")
      return refuse("only DROP INDEX is ever run");
    auto* objects = get(drop, "objects");
    if (objects == nullptr || !objects->IsArray() || objects->Size() != 1)
      return refuse("the DROP INDEX must drop exactly one index");
    auto* list = get(get(&(*objects)[0], "List"), "items");
    if (list == nullptr || !list->IsArray() || list->Empty()
        || list->Size() > 2)
      return refuse("the DROP INDEX names no index");
    std::vector<std::string> parts;
    for (auto& x : list->GetArray())
      parts.push_back(str(get(get(&x, "String"), "sval")));
    c.what = index_change::action::drop;
    c.index_name = parts.back();
    if (parts.size() == 2)
      c.schema = parts.front();
    c.concurrently = flag(get(drop, "concurrent"));
    if (str(get(drop, "behavior")) == "DROP_CASCADE")
      return refuse("DROP INDEX … CASCADE is never run");
    return c;
  }
  return refuse("only CREATE INDEX and DROP INDEX are ever run");
}

expected<index_change> change_for(const recommendation& r, bool undo) {
  if (r.kind != "create_index" && r.kind != "drop_index")
    return refuse(fmt::format(
      "a {} recommendation is advice to act on by hand: the engine applies "
      "only index changes it generated (create_index, drop_index)",
      r.kind));
  auto& sql = undo ? r.rollback_ddl : r.ddl;
  if (sql.empty())
    return refuse(fmt::format("recommendation {} has no {} DDL", r.id,
                              undo ? "rollback" : "apply"));
  auto c = parse_index_change(sql);
  if (!c)
    return c.error();
  auto creates = (r.kind == "create_index") != undo;
  auto want = creates ? index_change::action::create
                      : index_change::action::drop;
  if (c->what != want || c->index_name != r.index_name)
    return refuse(fmt::format(
      "the stored DDL of recommendation {} is not the {} of its index {}; "
      "nothing was run (re-run the analysis to regenerate it)",
      r.id, creates ? "CREATE INDEX" : "DROP INDEX", r.index_name));
  if (!c->schema.empty() && !r.schema.empty() && c->schema != r.schema)
    return refuse(fmt::format("the stored DDL of recommendation {} names "
                              "schema {}, not {}; nothing was run",
                              r.id, c->schema, r.schema));
  if (c->what == index_change::action::create && !r.table.empty()
      && c->table != r.table)
    return refuse(fmt::format("the stored DDL of recommendation {} indexes "
                              "{}, not {}; nothing was run",
                              r.id, c->table, r.table));
  if (c->schema.empty())
    c->schema = r.schema;
  if (c->table.empty())
    c->table = r.table;
  return c;
}

} // namespace optischema
