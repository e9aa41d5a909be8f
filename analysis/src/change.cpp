#include "optischema/analysis/change.hpp"
#include "optischema/util/json_parse.hpp"

#include "optischema/analysis/parse_tree.hpp"
#include "optischema/analysis/statement.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

namespace optischema {

namespace {

using parse_tree::flag;
using parse_tree::get;
using parse_tree::node;
using parse_tree::str;

failure refuse(const std::string& why) {
  return {ec::bad_request, why};
}

/// The parse tree of `sql` (libpg_query's JSON) in `d`, and its one
/// statement; fails unless `sql` is exactly one statement.
expected<const node*> parse_one(const std::string& sql,
                                rapidjson::Document& d) {
  auto tree = parse_tree::parse(
    sql,
    {.syntax = "the DDL does not parse: ",
     .too_deep = "the DDL's parse tree is too deep to read"});
  if (!tree)
    return tree.error();
  d = std::move(*tree);
  auto* stmts = get(&d, "stmts");
  if (stmts == nullptr || !stmts->IsArray() || stmts->Size() != 1)
    return refuse("the DDL must be exactly one statement");
  return get(&(*stmts)[0], "stmt");
}

} // namespace

expected<index_change> parse_index_change(const std::string& sql) {
  rapidjson::Document d;
  auto parsed = parse_one(sql, d);
  if (!parsed)
    return parsed.error();
  auto* stmt = *parsed;
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
  if (c->what == index_change::action::drop && r.kind == "create_index") {
    // A rollback drops what the engine built, never an index that took its
    // name meanwhile or that was there before.
    if (r.index_oid == 0)
      return failure{
        ec::conflict,
        fmt::format("the engine has no record of building index {}.{} for "
                    "recommendation {} (it was there before the apply, or "
                    "an older engine applied it), and a rollback drops only "
                    "an index the engine built; nothing was dropped (drop it "
                    "by hand if it should go)",
                    c->schema, c->index_name, r.id)};
    c->expect_oid = r.index_oid;
    c->expect_definition = r.index_definition.empty() ? r.ddl
                                                      : r.index_definition;
  } else if (c->what == index_change::action::drop) {
    // A drop advice is about the index the analysis saw, defined so.
    c->expect_definition = r.rollback_ddl;
  }
  return c;
}

// -- comparing index definitions ----------------------------------------------

namespace {

/// The kind of a libpg_query node ({"TypeCast": {…}} is a "TypeCast"), or
/// nullptr when `x` is not a node.
const char* kind_of(const node& x) {
  if (!x.IsObject() || x.MemberCount() != 1)
    return nullptr;
  auto& m = *x.MemberBegin();
  return m.value.IsObject() ? m.name.GetString() : nullptr;
}

bool is(const node& x, std::string_view kind) {
  auto* k = kind_of(x);
  return k != nullptr && kind == k;
}

node* child(node* obj, const char* key) {
  return const_cast<node*>(get(obj, key));
}

void set(node& obj, const char* key, std::string_view value,
         rapidjson::Document::AllocatorType& a) {
  node v{value.data(), static_cast<rapidjson::SizeType>(value.size()), a};
  if (auto i = obj.FindMember(key); i != obj.MemberEnd())
    i->value = v;
  else
    obj.AddMember(node{key, a}, v, a);
}

/// Drops a leading "pg_catalog" from a qualified name (a list of String
/// nodes): PostgreSQL prints it where we write none.
void unqualify(node* names) {
  if (names == nullptr || !names->IsArray() || names->Size() < 2)
    return;
  if (str(get(get(&(*names)[0], "String"), "sval")) == "pg_catalog")
    names->Erase(names->Begin());
}

/// Rewrites what PostgreSQL prints differently from what it means in the
/// same way on both sides: no locations, default orderings spelled out
/// (ASC, NULLS LAST ascending and NULLS FIRST descending are defaults), no
/// pg_catalog qualification, and x IN (a, b) as x = ANY (ARRAY[a, b]) (one
/// element: x = a), which is how PostgreSQL keeps it.
void canonicalize(node& x, rapidjson::Document::AllocatorType& a) {
  if (x.IsArray()) {
    for (auto& y : x.GetArray())
      canonicalize(y, a);
    return;
  }
  if (!x.IsObject())
    return;
  x.RemoveMember("location");
  if (auto* kind = kind_of(x)) {
    std::string_view k = kind;
    auto& body = x.MemberBegin()->value;
    if (k == "IndexElem") {
      auto desc = str(get(&body, "ordering")) == "SORTBY_DESC";
      auto nulls = str(get(&body, "nulls_ordering"));
      if (nulls.empty()
          || nulls == (desc ? "SORTBY_NULLS_FIRST" : "SORTBY_NULLS_LAST"))
        nulls = "SORTBY_NULLS_DEFAULT";
      set(body, "ordering", desc ? "SORTBY_DESC" : "SORTBY_DEFAULT", a);
      set(body, "nulls_ordering", nulls, a);
      unqualify(child(&body, "opclass"));
      unqualify(child(&body, "collation"));
    } else if (k == "FuncCall") {
      unqualify(child(&body, "funcname"));
    } else if (k == "TypeName") {
      unqualify(child(&body, "names"));
    } else if (k == "A_Expr" && str(get(&body, "kind")) == "AEXPR_IN") {
      auto* rhs = child(&body, "rexpr");
      auto* items = child(child(rhs, "List"), "items");
      auto* name = get(&body, "name");
      if (items != nullptr && items->IsArray() && !items->Empty()
          && name != nullptr && name->IsArray() && !name->Empty()) {
        auto eq = str(get(get(&(*name)[0], "String"), "sval")) == "=";
        if (items->Size() == 1) {
          node only{(*items)[0], a};
          *rhs = only;
          set(body, "kind", "AEXPR_OP", a);
        } else {
          node elements{*items, a};
          node array{rapidjson::kObjectType};
          array.AddMember("elements", elements, a);
          node wrapped{rapidjson::kObjectType};
          wrapped.AddMember("A_ArrayExpr", array, a);
          *rhs = wrapped;
          set(body, "kind", eq ? "AEXPR_OP_ANY" : "AEXPR_OP_ALL", a);
        }
      }
    }
    // TypeName also appears unwrapped, as a TypeCast's "typeName".
    if (auto* type = child(&body, "typeName"))
      unqualify(child(type, "names"));
  }
  for (auto& m : x.GetObject())
    canonicalize(m.value, a);
}

/// Whether canonical trees `ours` and `theirs` (PostgreSQL's print) are
/// equal, where a cast PostgreSQL added on a constant or a column that
/// `ours` leaves bare is no difference: PostgreSQL accepted `ours` and chose
/// that cast itself.
bool same_tree(const node& ours, const node& theirs) {
  if (is(theirs, "TypeCast") && !is(ours, "TypeCast")
      && (is(ours, "A_Const") || is(ours, "ColumnRef")))
    if (auto* arg = get(get(&theirs, "TypeCast"), "arg");
        arg != nullptr && is(*arg, kind_of(ours)))
      return same_tree(ours, *arg);
  if (ours.GetType() != theirs.GetType())
    return false;
  if (ours.IsArray()) {
    if (ours.Size() != theirs.Size())
      return false;
    for (rapidjson::SizeType i = 0; i < ours.Size(); ++i)
      if (!same_tree(ours[i], theirs[i]))
        return false;
    return true;
  }
  if (ours.IsObject()) {
    if (ours.MemberCount() != theirs.MemberCount())
      return false;
    for (auto& m : ours.GetObject()) {
      auto i = theirs.FindMember(m.name);
      if (i == theirs.MemberEnd() || !same_tree(m.value, i->value))
        return false;
    }
    return true;
  }
  return ours == theirs;
}

/// The canonical IndexStmt of `sql` in `out`: without the index's name and
/// how it is built, the method and schema filled in when left out.
bool canonical_index(const std::string& sql, const std::string& schema,
                     rapidjson::Document& out) {
  rapidjson::Document d;
  auto stmt = parse_one(sql, d);
  if (!stmt)
    return false;
  auto* ix = get(*stmt, "IndexStmt");
  if (ix == nullptr)
    return false;
  auto& a = out.GetAllocator();
  out.CopyFrom(*ix, a);
  for (auto* k : {"idxname", "concurrent", "if_not_exists"})
    out.RemoveMember(k);
  if (get(&out, "accessMethod") == nullptr)
    set(out, "accessMethod", "btree", a);
  auto* rel = child(&out, "relation");
  if (rel == nullptr || !rel->IsObject())
    return false;
  if (str(get(rel, "schemaname")).empty())
    set(*rel, "schemaname", schema, a);
  canonicalize(out, a);
  return true;
}

} // namespace

bool same_index_definition(const std::string& ours, const std::string& theirs,
                           const std::string& schema) {
  rapidjson::Document x;
  rapidjson::Document y;
  return canonical_index(ours, schema, x) && canonical_index(theirs, schema, y)
    && same_tree(x, y);
}

expected<std::string> with_index_name(const index_change& c,
                                      const std::string& name) {
  std::string sql;
  if (c.what == index_change::action::drop) {
    sql = fmt::format("DROP INDEX {}IF EXISTS {}",
                      c.concurrently ? "CONCURRENTLY " : "",
                      quote_qualified(c.schema, name));
  } else {
    // CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] name ON …, as the
    // advisor and pg_get_indexdef write it.
    auto old = quote_ident(c.index_name);
    size_t at = std::string::npos;
    for (auto* head :
         {"CREATE INDEX CONCURRENTLY ", "CREATE UNIQUE INDEX CONCURRENTLY ",
          "CREATE INDEX ", "CREATE UNIQUE INDEX "})
      if (c.sql.rfind(head, 0) == 0) {
        at = std::string_view{head}.size();
        break;
      }
    if (at == std::string::npos || c.sql.compare(at, old.size(), old) != 0)
      return failure{ec::internal,
                     "cannot rename the index of: " + c.sql.substr(0, 200)};
    sql = c.sql.substr(0, at) + quote_ident(name)
      + c.sql.substr(at + old.size());
  }
  auto check = parse_index_change(sql);
  if (!check || check->index_name != name || check->what != c.what)
    return failure{ec::internal, "renaming the index broke the DDL: " + sql};
  return sql;
}

expected<ok> rename_index(recommendation& r, const std::string& name) {
  std::string ddl[2];
  for (auto undo : {false, true}) {
    auto c = parse_index_change(undo ? r.rollback_ddl : r.ddl);
    if (!c)
      return c.error();
    if (c->schema.empty())
      c->schema = r.schema;
    auto sql = with_index_name(*c, name);
    if (!sql)
      return sql.error();
    ddl[undo] = std::move(*sql);
  }
  r.ddl = std::move(ddl[0]);
  r.rollback_ddl = std::move(ddl[1]);
  if (auto at = r.title.find(r.index_name); at != std::string::npos)
    r.title.replace(at, r.index_name.size(), name);
  r.index_name = name;
  return ok{};
}

} // namespace optischema
