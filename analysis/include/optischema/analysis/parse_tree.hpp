#pragma once

// Reading libpg_query's JSON parse trees (the server's own grammar): the
// text parsed once, then walked with null-safe accessors, since libpg_query
// leaves out fields that are empty or zero.

#include "optischema/util/error.hpp"

#include <rapidjson/document.h>

#include <string>

namespace optischema::parse_tree {

using node = rapidjson::Value;

/// The member `key` of an object, or nullptr.
inline const node* get(const node* obj, const char* key) {
  if (obj == nullptr || !obj->IsObject())
    return nullptr;
  auto i = obj->FindMember(key);
  return i != obj->MemberEnd() ? &i->value : nullptr;
}

/// A string value, or "" for anything else.
inline std::string str(const node* x) {
  return x != nullptr && x->IsString()
    ? std::string{x->GetString(), x->GetStringLength()}
    : std::string{};
}

/// The parse tree of `sql` ({"version": …, "stmts": […]}); fails with
/// libpg_query's message ("it does not parse: …").
expected<rapidjson::Document> parse(const std::string& sql);

} // namespace optischema::parse_tree
