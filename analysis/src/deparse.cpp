#include "deparse.hpp"

#include "optischema/analysis/sql_quote.hpp"

#include <algorithm>
#include <string_view>
#include <utility>

namespace optischema {

namespace {

// The tree accessors (as, get, str, flag, names, for_each, unwrap).
using namespace parse_tree;

// An A_Const as it would be written in SQL. Strings go through the public
// quote_literal (E'…' when they hold a backslash): deparsed text ends up in
// index DDL, which must mean the same whatever standard_conforming_strings
// the applying session has (a private '…'-only copy did not; found by
// fuzzing).
std::string const_text(const node& body) {
  if (flag(get(body, "isnull")))
    return "NULL";
  if (auto* v = get(body, "sval"))
    return quote_literal(str(get(*v, "sval")));
  if (auto* v = get(body, "ival")) {
    // libpg_query omits zero-valued fields: {"ival": {}} is 0.
    auto* i = get(*v, "ival");
    return i != nullptr && i->IsInt64() ? std::to_string(i->GetInt64()) : "0";
  }
  if (auto* v = get(body, "fval"))
    return str(get(*v, "fval"));
  if (auto* v = get(body, "boolval"))
    return flag(get(*v, "boolval")) ? "true" : "false";
  if (auto* v = get(body, "bsval"))
    return str(get(*v, "bsval"));
  return {};
}

// Function and type names: keywords such as coalesce, numeric or timestamp
// are fine there, so only names that are not plain lowercase need quotes.
std::string routine_name(const std::string& x) {
  bool plain = !x.empty() && !(x[0] >= '0' && x[0] <= '9')
    && std::all_of(x.begin(), x.end(), [](char c) {
         return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
       });
  return plain ? x : quote_ident(x);
}

// Type names as format_type() prints them, for casts in expressions.
std::string type_name(const node* tn) {
  if (tn == nullptr)
    return {};
  auto parts = names(get(*tn, "names"));
  if (parts.size() == 2 && parts[0] == "pg_catalog")
    parts.erase(parts.begin());
  static constexpr std::pair<std::string_view, std::string_view> internal[] = {
    {"int2", "smallint"},
    {"int4", "integer"},
    {"int8", "bigint"},
    {"float4", "real"},
    {"float8", "double precision"},
    {"bool", "boolean"},
    {"varchar", "character varying"},
    {"bpchar", "character"},
    {"timestamptz", "timestamp with time zone"},
    {"timetz", "time with time zone"},
  };
  std::string out;
  for (auto& p : parts) {
    if (!out.empty())
      out += '.';
    out += routine_name(p);
  }
  if (parts.size() == 1)
    for (auto& [from, to] : internal)
      if (parts[0] == from)
        out = to;
  if (auto* mods = get(*tn, "typmods"); mods != nullptr && mods->IsArray()) {
    std::string args;
    for_each(mods, [&](const node& m) {
      if (auto* c = as(&m, "A_Const")) {
        if (!args.empty())
          args += ", ";
        args += const_text(*c);
      }
    });
    if (!args.empty())
      out += "(" + args + ")";
  }
  for_each(get(*tn, "arrayBounds"), [&](const node&) { out += "[]"; });
  return out;
}

std::string deparse_list(const node* list) {
  std::string out;
  bool ok = true;
  for_each(list, [&](const node& x) {
    auto s = deparse(x);
    ok = ok && !s.empty();
    if (!out.empty())
      out += ", ";
    out += s;
  });
  return ok ? out : std::string{};
}

bool is_operator_node(const node& n) {
  auto t = unwrap(n).first;
  return t == "A_Expr" || t == "BoolExpr";
}

std::string operand(const node* n) {
  if (n == nullptr)
    return {};
  auto s = deparse(*n);
  if (s.empty())
    return s;
  return is_operator_node(*n) ? "(" + s + ")" : s;
}

} // namespace

std::string deparse(const node& n) {
  auto [type, b] = unwrap(n);
  if (b == nullptr)
    return {};
  if (type == "ColumnRef") {
    auto* fields = get(*b, "fields");
    if (fields == nullptr || !fields->IsArray() || fields->Empty())
      return {};
    auto& last = (*fields)[fields->Size() - 1];
    if (as(&last, "A_Star") != nullptr)
      return "*";
    auto* s = as(&last, "String");
    return s != nullptr ? quote_ident(str(get(*s, "sval"))) : std::string{};
  }
  if (type == "A_Const")
    return const_text(*b);
  if (type == "ParamRef") {
    auto* num = get(*b, "number");
    return "$"
      + std::to_string(num != nullptr && num->IsInt() ? num->GetInt() : 0);
  }
  if (type == "TypeCast") {
    auto arg = operand(get(*b, "arg"));
    auto ty = type_name(get(*b, "typeName"));
    return arg.empty() || ty.empty() ? std::string{} : arg + "::" + ty;
  }
  if (type == "FuncCall") {
    if (get(*b, "over") != nullptr || get(*b, "agg_order") != nullptr
        || get(*b, "agg_filter") != nullptr)
      return {};
    auto fn = names(get(*b, "funcname"));
    if (fn.size() == 2 && fn[0] == "pg_catalog")
      fn.erase(fn.begin());
    auto* args = get(*b, "args");
    // EXTRACT(field FROM x) is the one SQL-syntax call whose plain form
    // (extract('field', x)) does not parse.
    if (fn.size() == 1 && fn[0] == "extract" && args != nullptr
        && args->IsArray() && args->Size() == 2) {
      auto* field = as(&(*args)[0], "A_Const");
      auto x = deparse((*args)[1]);
      if (field != nullptr && get(*field, "sval") != nullptr && !x.empty())
        return "EXTRACT(" + str(get(get(*field, "sval"), "sval")) + " FROM " + x
          + ")";
    }
    std::string name;
    for (auto& p : fn)
      name += (name.empty() ? "" : ".") + routine_name(p);
    if (flag(get(*b, "agg_star")))
      return name + "(*)";
    if (flag(get(*b, "agg_distinct")))
      name += "(DISTINCT ";
    else
      name += "(";
    auto a = deparse_list(args);
    if (a.empty() && args != nullptr && args->IsArray() && !args->Empty())
      return {};
    return name + a + ")";
  }
  if (type == "A_Expr") {
    if (str(get(*b, "kind")) != "AEXPR_OP")
      return {};
    auto op = names(get(*b, "name"));
    if (op.empty())
      return {};
    // Operators associate to the left: a || b || c needs no parentheses.
    auto* lexpr = get(*b, "lexpr");
    auto* left = as(lexpr, "A_Expr");
    auto l = left != nullptr && names(get(*left, "name")) == op
      ? deparse(*lexpr)
      : operand(lexpr);
    auto r = operand(get(*b, "rexpr"));
    if (r.empty() || (lexpr != nullptr && l.empty()))
      return {};
    return l.empty() ? op.back() + r : l + " " + op.back() + " " + r;
  }
  if (type == "A_Indirection") {
    // (expr)[i], (expr)[a:b], (expr).field
    auto* arg = get(*b, "arg");
    auto base = arg != nullptr ? deparse(*arg) : std::string{};
    if (base.empty())
      return {};
    if (as(arg, "ColumnRef") == nullptr && as(arg, "ParamRef") == nullptr)
      base = "(" + base + ")";
    bool ok = true;
    for_each(get(*b, "indirection"), [&](const node& x) {
      if (auto* idx = as(&x, "A_Indices")) {
        auto* lo = get(*idx, "lidx");
        auto* hi = get(*idx, "uidx");
        base += "[" + (lo != nullptr ? deparse(*lo) : "")
          + (flag(get(*idx, "is_slice")) ? ":" : "")
          + (hi != nullptr ? deparse(*hi) : "") + "]";
      } else if (auto* f = as(&x, "String")) {
        base += "." + quote_ident(str(get(*f, "sval")));
      } else {
        ok = false;
      }
    });
    return ok ? base : std::string{};
  }
  if (type == "A_ArrayExpr")
    return "ARRAY[" + deparse_list(get(*b, "elements")) + "]";
  if (type == "CoalesceExpr") {
    auto a = deparse_list(get(*b, "args"));
    return a.empty() ? a : "COALESCE(" + a + ")";
  }
  if (type == "SQLValueFunction") {
    static constexpr std::pair<std::string_view, std::string_view> fns[] = {
      {"SVFOP_CURRENT_DATE", "CURRENT_DATE"},
      {"SVFOP_CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"},
      {"SVFOP_LOCALTIMESTAMP", "LOCALTIMESTAMP"},
      {"SVFOP_CURRENT_TIME", "CURRENT_TIME"},
      {"SVFOP_LOCALTIME", "LOCALTIME"},
      {"SVFOP_CURRENT_USER", "CURRENT_USER"},
      {"SVFOP_SESSION_USER", "SESSION_USER"},
    };
    auto op = str(get(*b, "op"));
    for (auto& [k, v] : fns)
      if (op == k)
        return std::string{v};
    return {};
  }
  return {};
}

} // namespace optischema
