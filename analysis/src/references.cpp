#include "optischema/analysis/references.hpp"

#include "optischema/analysis/fingerprint.hpp"
#include "optischema/analysis/parse_tree.hpp"
#include "optischema/util/json_parse.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <string_view>

// How it works: the text is parsed by libpg_query (the server's own
// grammar) and the JSON tree walked once. Names are taken as written, the
// last two parts of a qualified name being schema and object. Nothing is
// resolved here: which overloads a name can mean is the catalog's business.

namespace optischema {

namespace {

using parse_tree::get;
using parse_tree::node;
using parse_tree::str;

/// A name list ([{"String": {"sval": …}}, …]) as schema and name.
std::optional<qualified_name> name_of(const node* list) {
  if (list == nullptr || !list->IsArray() || list->Empty())
    return std::nullopt;
  std::vector<std::string> parts;
  for (auto& x : list->GetArray())
    parts.push_back(str(get(get(&x, "String"), "sval")));
  qualified_name out;
  out.name = parts.back();
  if (parts.size() >= 2)
    out.schema = parts[parts.size() - 2];
  if (out.name.empty())
    return std::nullopt;
  return out;
}

std::string lock_name(const std::string& strength) {
  if (strength == "LCS_FORUPDATE")
    return "FOR UPDATE";
  if (strength == "LCS_FORNOKEYUPDATE")
    return "FOR NO KEY UPDATE";
  if (strength == "LCS_FORSHARE")
    return "FOR SHARE";
  if (strength == "LCS_FORKEYSHARE")
    return "FOR KEY SHARE";
  return "a row lock";
}

/// Whether a column reference is anywhere under `n`.
bool mentions_column(const node& n) {
  if (n.IsArray()) {
    for (auto& x : n.GetArray())
      if (mentions_column(x))
        return true;
    return false;
  }
  if (!n.IsObject())
    return false;
  for (auto& m : n.GetObject())
    if (std::string_view{m.name.GetString(), m.name.GetStringLength()}
          == "ColumnRef"
        || mentions_column(m.value))
      return true;
  return false;
}

class collector {
public:
  /// `constant_only`: calls and operators over columns are left out.
  explicit collector(statement_references& out, bool constant_only = false)
    : out_(out), constant_only_(constant_only) {
    // nop
  }

  void walk(const node& n) {
    parse_tree::walk(n, [this](std::string_view key, const node& value) {
      visit(key, value);
      return true;
    });
  }

private:
  void add_operator(const node* name) {
    if (auto x = name_of(name))
      out_.operators.insert(*x);
  }

  void add_operator(const std::string& name) {
    out_.operators.insert({"", name});
  }

  /// One node of type `key` with fields `x` (its children are walked by
  /// the caller).
  void visit(std::string_view key, const node& x) {
    if (constant_only_ && (key == "FuncCall" || key == "A_Expr")
        && mentions_column(x))
      return;
    if (key == "FuncCall") {
      if (auto f = name_of(get(&x, "funcname")))
        out_.functions.insert(*f);
    } else if (key == "A_Expr") {
      auto kind = str(get(&x, "kind"));
      if (kind.starts_with("AEXPR_BETWEEN")
          || kind.starts_with("AEXPR_NOT_BETWEEN")) {
        // BETWEEN is written as a name of its own; it plans as >= and <=.
        add_operator(">=");
        add_operator("<=");
      } else {
        add_operator(get(&x, "name"));
      }
    } else if (key == "SubLink") {
      if (auto* op = get(&x, "operName"))
        add_operator(op);
      else if (str(get(&x, "subLinkType")) == "ANY_SUBLINK")
        add_operator("="); // x IN (SELECT …)
    } else if (key == "SortBy") {
      if (auto* op = get(&x, "useOp"))
        add_operator(op);
    } else if (key == "TypeCast") {
      if (auto t = name_of(get(get(&x, "typeName"), "names")))
        out_.casts.insert(*t);
    } else if (key == "RangeVar") {
      auto rel = str(get(&x, "relname"));
      if (!rel.empty())
        out_.relations.insert({str(get(&x, "schemaname")), rel});
    } else if (key == "LockingClause") {
      out_.locks.push_back(lock_name(str(get(&x, "strength"))));
    } else if (key == "SelectStmt") {
      if (get(&x, "intoClause") != nullptr)
        out_.select_into = true;
    }
  }

  statement_references& out_;
  bool constant_only_ = false;
};

/// The one statement node of a tree ({"SelectStmt": {…}}), or a failure.
expected<const node*> only_statement(const rapidjson::Document& d) {
  auto* stmts = get(&d, "stmts");
  auto n = stmts != nullptr && stmts->IsArray() ? stmts->Size() : 0;
  if (n != 1)
    return failure{ec::parse_error,
                   fmt::format("it holds {} statements, not one", n)};
  auto* stmt = get(&(*stmts)[0], "stmt");
  if (stmt == nullptr || !stmt->IsObject() || stmt->MemberCount() != 1)
    return failure{ec::parse_error, "libpg_query gave no statement"};
  return stmt;
}

} // namespace

namespace {

expected<statement_references> collect(const std::string& sql,
                                       bool constant_only) {
  // pg_stat_statements texts may hold `timestamptz $1`, which only
  // libpg_query's normaliser writes: read the equivalent cast.
  auto d = parse_tree::parse(reparsable_sql(sql));
  if (!d)
    return d.error();
  auto stmt = only_statement(*d);
  if (!stmt)
    return stmt.error();
  statement_references out;
  auto& m = *(*stmt)->MemberBegin();
  out.type = std::string{m.name.GetString(), m.name.GetStringLength()};
  if (out.type == "InsertStmt")
    if (auto* rel = get(&m.value, "relation"))
      out.insert_target = qualified_name{str(get(rel, "schemaname")),
                                         str(get(rel, "relname"))};
  collector{out, constant_only}.walk(**stmt);
  return out;
}

} // namespace

expected<statement_references> collect_references(const std::string& sql) {
  return collect(sql, false);
}

expected<statement_references>
expression_references(const std::string& expression, bool constant_only) {
  auto r = collect("SELECT " + expression, constant_only);
  if (!r)
    return failure{r.error().code,
                   "the expression " + expression + ": " + r.error().message};
  r->type.clear();
  return r;
}

expected<statement_references>
index_expression_references(const std::string& create_index) {
  auto d = parse_tree::parse(create_index);
  if (!d)
    return d.error();
  auto stmt = only_statement(*d);
  if (!stmt)
    return stmt.error();
  auto* ix = get(*stmt, "IndexStmt");
  if (ix == nullptr)
    return failure{ec::parse_error, "it is not a CREATE INDEX"};
  statement_references out;
  out.type = "IndexStmt";
  collector c{out};
  if (auto* params = get(ix, "indexParams");
      params != nullptr && params->IsArray())
    for (auto& p : params->GetArray())
      if (auto* e = get(get(&p, "IndexElem"), "expr"))
        c.walk(*e);
  if (auto* where = get(ix, "whereClause"))
    c.walk(*where);
  return out;
}

} // namespace optischema
