#include "optischema/analysis/json_schema.hpp"
#include "optischema/util/json_parse.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <cmath>

namespace optischema {

namespace {

using value = rapidjson::Value;

const char* type_of(const value& v) {
  if (v.IsNull())
    return "null";
  if (v.IsBool())
    return "boolean";
  if (v.IsObject())
    return "object";
  if (v.IsArray())
    return "array";
  if (v.IsString())
    return "string";
  if (v.IsInt64() || v.IsUint64()
      || (v.IsDouble() && std::floor(v.GetDouble()) == v.GetDouble()))
    return "integer";
  return "number";
}

bool has_type(const value& v, std::string_view want) {
  std::string_view t = type_of(v);
  return t == want || (want == "number" && t == "integer");
}

std::string check(const value& v, const value& s, const std::string& path);

std::string check_type(const value& v, const value& s,
                       const std::string& path) {
  if (!s.HasMember("type"))
    return {};
  auto& t = s["type"];
  if (t.IsString()) {
    if (!has_type(v, t.GetString()))
      return fmt::format("{}: expected {}, got {}", path, t.GetString(),
                         type_of(v));
    return {};
  }
  if (t.IsArray()) { // ["string", "null"]
    for (auto& x : t.GetArray())
      if (x.IsString() && has_type(v, x.GetString()))
        return {};
    return fmt::format("{}: unexpected type {}", path, type_of(v));
  }
  return {};
}

std::string check_object(const value& v, const value& s,
                         const std::string& path) {
  if (s.HasMember("required") && s["required"].IsArray())
    for (auto& r : s["required"].GetArray())
      if (r.IsString() && !v.HasMember(r.GetString()))
        return fmt::format("{}: missing required \"{}\"", path, r.GetString());
  const value* props = s.HasMember("properties") && s["properties"].IsObject()
    ? &s["properties"]
    : nullptr;
  bool closed = s.HasMember("additionalProperties")
    && s["additionalProperties"].IsBool()
    && !s["additionalProperties"].GetBool();
  for (auto& m : v.GetObject()) {
    auto name = std::string{m.name.GetString()};
    if (props != nullptr && props->HasMember(m.name)) {
      if (auto e = check(m.value, (*props)[m.name], path + "." + name);
          !e.empty())
        return e;
    } else if (closed) {
      return fmt::format("{}: unexpected property \"{}\"", path, name);
    }
  }
  return {};
}

std::string check(const value& v, const value& s, const std::string& path) {
  if (!s.IsObject())
    return {};
  if (auto e = check_type(v, s, path); !e.empty())
    return e;
  if (s.HasMember("enum") && s["enum"].IsArray()) {
    bool found = false;
    for (auto& x : s["enum"].GetArray())
      found = found || x == v;
    if (!found)
      return fmt::format("{}: not one of the allowed values", path);
  }
  if (v.IsObject())
    return check_object(v, s, path);
  if (v.IsArray()) {
    if (s.HasMember("maxItems") && s["maxItems"].IsUint()
        && v.Size() > s["maxItems"].GetUint())
      return fmt::format("{}: more than {} items", path,
                         s["maxItems"].GetUint());
    if (s.HasMember("items"))
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
        if (auto e = check(v[i], s["items"], fmt::format("{}[{}]", path, i));
            !e.empty())
          return e;
  }
  if (v.IsString() && s.HasMember("minLength") && s["minLength"].IsUint()
      && v.GetStringLength() < s["minLength"].GetUint())
    return fmt::format("{}: shorter than {} characters", path,
                       s["minLength"].GetUint());
  if (v.IsNumber()) {
    if (s.HasMember("minimum") && s["minimum"].IsNumber()
        && v.GetDouble() < s["minimum"].GetDouble())
      return fmt::format("{}: below {}", path, s["minimum"].GetDouble());
    if (s.HasMember("maximum") && s["maximum"].IsNumber()
        && v.GetDouble() > s["maximum"].GetDouble())
      return fmt::format("{}: above {}", path, s["maximum"].GetDouble());
  }
  return {};
}

} // namespace

expected<ok> validate_json(std::string_view answer, std::string_view schema) {
  rapidjson::Document s;
  s.Parse(schema.data(), schema.size());
  if (s.HasParseError())
    return failure{ec::internal, "the answer schema is not JSON"};
  rapidjson::Document a;
  if (auto parsed = json::parse(a, answer, "the answer"); !parsed)
    return failure{ec::llm_error, parsed.error().message};
  if (auto e = check(a, s, "$"); !e.empty())
    return failure{ec::llm_error, "the answer does not match its schema: " + e};
  return ok{};
}

} // namespace optischema
