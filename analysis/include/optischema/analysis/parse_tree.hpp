#pragma once

// Reading libpg_query's JSON parse trees (the server's own grammar): the
// text parsed once, then walked with null-safe accessors, since libpg_query
// leaves out fields that are empty or zero. The one tree accessor of the
// project: the statement analyser, the DDL reader, the reference collector
// and the rewrite check all read trees through it.

#include "optischema/util/error.hpp"

#include <rapidjson/document.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace optischema::parse_tree {

using node = rapidjson::Value;

/// The member `key` of an object, or nullptr.
inline const node* get(const node* obj, const char* key) {
  if (obj == nullptr || !obj->IsObject())
    return nullptr;
  auto i = obj->FindMember(key);
  return i != obj->MemberEnd() ? &i->value : nullptr;
}

inline const node* get(const node& obj, const char* key) {
  return get(&obj, key);
}

/// A string value, or "" for anything else.
inline std::string str(const node* x) {
  return x != nullptr && x->IsString()
    ? std::string{x->GetString(), x->GetStringLength()}
    : std::string{};
}

/// A boolean value; libpg_query leaves out the false ones.
inline bool flag(const node* x) {
  return x != nullptr && x->IsBool() && x->GetBool();
}

/// An integer value; libpg_query leaves out the zeros.
inline int integer(const node* x) {
  return x != nullptr && x->IsInt() ? x->GetInt() : 0;
}

/// Every node is {"Type": {fields}}: its type and fields, or {"", nullptr}.
/// Fields typed as a specific struct in PostgreSQL (e.g.
/// UpdateStmt.relation) come without the wrapper.
inline std::pair<std::string_view, const node*> unwrap(const node& n) {
  if (n.IsObject() && n.MemberCount() == 1) {
    auto m = n.MemberBegin();
    if (m->value.IsObject())
      return {std::string_view{m->name.GetString(), m->name.GetStringLength()},
              &m->value};
  }
  return {{}, nullptr};
}

/// The fields of `n` when it is a node of `type`, else nullptr.
inline const node* as(const node* n, std::string_view type) {
  if (n == nullptr)
    return nullptr;
  auto [t, body] = unwrap(*n);
  return t == type ? body : nullptr;
}

/// Calls `f` with every item of a list (nothing for a missing list).
template <class F>
void for_each(const node* list, F f) {
  if (list != nullptr && list->IsArray())
    for (auto& x : list->GetArray())
      f(x);
}

/// Walks the tree under `n` depth first, calling `visit(key, value)` for
/// every member of every object; it descends into `value` when `visit`
/// returns true (false: the caller walks that part itself, a subquery with
/// its own scope).
template <class F>
void walk(const node& n, F&& visit) {
  if (n.IsArray()) {
    for (auto& x : n.GetArray())
      walk(x, visit);
    return;
  }
  if (!n.IsObject())
    return;
  for (auto& m : n.GetObject())
    if (visit(std::string_view{m.name.GetString(), m.name.GetStringLength()},
              m.value))
      walk(m.value, visit);
}

/// The sval of every String node of a list (names, fields), skipping others.
inline std::vector<std::string> names(const node* list) {
  std::vector<std::string> out;
  for_each(list, [&](const node& x) {
    if (auto* s = as(&x, "String"))
      out.push_back(str(get(s, "sval")));
  });
  return out;
}

/// How a caller names the text it parses in the two ways parsing fails.
struct wording {
  /// Put before libpg_query's syntax error.
  std::string_view syntax = "it does not parse: ";
  /// Put before the reader's depth error: the walkers recurse once per
  /// level, so a tree deeper than json::parse reads is the text's fault
  /// (SELECT 1+1+… with thousands of terms), not an internal error.
  std::string_view too_deep = "its parse tree is too deep to read";
};

/// The parse tree of `sql` ({"version": …, "stmts": […]}); fails with
/// ec::parse_error and the words of `w`.
expected<rapidjson::Document> parse(const std::string& sql, wording w = {});

} // namespace optischema::parse_tree
