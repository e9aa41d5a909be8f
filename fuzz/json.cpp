// util/json_parse.hpp, the one parser of outside JSON: never crashes, and
// what it accepts nests no deeper than its limit, since the code that walks
// a document afterwards recurses once per level.

#include "fuzz.hpp"

#include "optischema/util/json_parse.hpp"

#include <utility>
#include <vector>

using namespace optischema;

namespace {

/// The deepest nesting of a parsed document, counted without recursion.
size_t depth_of(const rapidjson::Value& root) {
  size_t deepest = 0;
  std::vector<std::pair<const rapidjson::Value*, size_t>> todo{{&root, 0}};
  while (!todo.empty()) {
    auto [v, d] = todo.back();
    todo.pop_back();
    if (v->IsArray()) {
      deepest = std::max(deepest, d + 1);
      for (auto& x : v->GetArray())
        todo.emplace_back(&x, d + 1);
    } else if (v->IsObject()) {
      deepest = std::max(deepest, d + 1);
      for (auto& m : v->GetObject())
        todo.emplace_back(&m.value, d + 1);
    }
  }
  return deepest;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto text = fuzz::text(data, size);
  // A small limit, so that mutations reach it; the engine's is 512.
  constexpr size_t limit = 24;
  rapidjson::Document d;
  if (json::parse(d, text, "the input", limit))
    fuzz::require(depth_of(d) <= limit, "a document deeper than the limit");
  rapidjson::Document full;
  if (json::parse(full, text))
    fuzz::require(depth_of(full) <= json::default_max_depth,
                  "a document deeper than default_max_depth");
  return 0;
}
