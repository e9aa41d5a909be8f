#include "wire.hpp"
#include "optischema/util/json_parse.hpp"
#include "optischema/util/strings.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>

namespace optischema::llm::detail {

namespace {

using writer_t = rapidjson::Writer<rapidjson::StringBuffer>;

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

void write_string(writer_t& w, std::string_view text) {
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()), true);
}

/// With json_object the endpoint enforces no schema, and OpenAI refuses
/// json_object unless a message says "JSON": the schema goes into the
/// system prompt instead.
std::string schema_instruction(const chat_request& req) {
  return "Answer with one JSON object, nothing else, that follows this JSON "
         "Schema:\n"
    + req.json_schema;
}

void write_messages(writer_t& w, const chat_request& req, const dialect& how) {
  w.Key("messages");
  w.StartArray();
  auto write_one = [&](std::string_view role, std::string_view content) {
    w.StartObject();
    w.Key("role");
    write_string(w, role);
    w.Key("content");
    write_string(w, content);
    w.EndObject();
  };
  bool add_schema = how.format == output_format::json_object;
  bool first = true;
  for (auto& msg : req.messages) {
    if (add_schema && first && msg.role == "system") {
      write_one(msg.role, msg.content + "\n\n" + schema_instruction(req));
      add_schema = false;
    } else {
      if (add_schema && first) {
        write_one("system", schema_instruction(req));
        add_schema = false;
      }
      write_one(msg.role, msg.content);
    }
    first = false;
  }
  if (add_schema) // no messages at all
    write_one("system", schema_instruction(req));
  w.EndArray();
}

const rapidjson::Value* member(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject())
    return nullptr;
  auto i = obj.FindMember(key);
  return i == obj.MemberEnd() ? nullptr : &i->value;
}

/// Far above any real call, far below what int64 sums overflow at.
constexpr double max_reported_tokens = 1e12;

/// A token count of the usage block, from 0 to max_reported_tokens: the
/// budget adds these up, so a negative count would refund the day's spend
/// and 1e300 would not fit an int64 (both found by fuzzing).
int64_t token_count(const rapidjson::Value* obj, const char* key) {
  if (obj == nullptr)
    return 0;
  auto* x = member(*obj, key);
  if (x == nullptr || !x->IsNumber())
    return 0;
  auto v = x->GetDouble();
  if (!(v > 0)) // negative, zero or NaN
    return 0;
  return static_cast<int64_t>(std::min(v, max_reported_tokens));
}

} // namespace

const char* to_string(output_format x) {
  switch (x) {
    case output_format::text: return "text";
    case output_format::json_schema: return "json_schema";
    case output_format::json_object: return "json_object";
  }
  return "unknown";
}

expected<std::string> render_request(const std::string& model,
                                     const chat_request& req,
                                     const dialect& how) {
  rapidjson::Document schema;
  if (how.format == output_format::json_schema) {
    schema.Parse(req.json_schema.data(), req.json_schema.size());
    if (schema.HasParseError())
      return failure{ec::internal,
                     "the JSON schema '" + req.schema_name
                       + "' of an LLM request is not JSON: "
                       + rapidjson::GetParseError_En(schema.GetParseError())
                       + " at offset "
                       + std::to_string(schema.GetErrorOffset())};
  }
  rapidjson::StringBuffer buf;
  writer_t w{buf};
  w.StartObject();
  w.Key("model");
  write_string(w, model);
  write_messages(w, req, how);
  if (!how.omit_temperature) {
    w.Key("temperature");
    w.Double(req.temperature);
  }
  w.Key(how.max_completion_tokens ? "max_completion_tokens" : "max_tokens");
  w.Int(req.max_tokens);
  if (how.format != output_format::text) {
    w.Key("response_format");
    w.StartObject();
    w.Key("type");
    write_string(w, to_string(how.format));
    if (how.format == output_format::json_schema) {
      w.Key("json_schema");
      w.StartObject();
      w.Key("name");
      write_string(w, req.schema_name);
      w.Key("strict");
      w.Bool(true);
      w.Key("schema");
      schema.Accept(w);
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndObject();
  return std::string{buf.GetString(), buf.GetSize()};
}

expected<chat_response> parse_answer(std::string_view body,
                                     const std::string& requested_model) {
  rapidjson::Document doc;
  if (auto parsed = json::parse(doc, body, "the answer"); !parsed)
    return failure{ec::llm_error,
                   parsed.error().message + " in '" + excerpt(body, 200) + "'"};
  if (!doc.IsObject())
    return failure{ec::llm_error,
                   "the answer is not a JSON object: '" + excerpt(body, 200)
                     + "'"};
  auto* choices = member(doc, "choices");
  if (choices == nullptr || !choices->IsArray() || choices->Empty())
    return failure{ec::llm_error, "no choices in '" + excerpt(body, 200) + "'"};
  auto* message = member((*choices)[0], "message");
  auto* content = message ? member(*message, "content") : nullptr;
  if (content == nullptr || !content->IsString()) {
    // Structured outputs put a refusal here instead of content.
    auto* refusal = message ? member(*message, "refusal") : nullptr;
    if (refusal != nullptr && refusal->IsString())
      return failure{ec::llm_error,
                     "the model refused: '" + excerpt(refusal->GetString(), 300)
                       + "'"};
    return failure{ec::llm_error,
                   "no string at choices[0].message.content in '"
                     + excerpt(body, 200) + "'"};
  }
  chat_response out;
  out.content.assign(content->GetString(), content->GetStringLength());
  auto* use = member(doc, "usage");
  out.tokens.prompt_tokens = token_count(use, "prompt_tokens");
  out.tokens.completion_tokens = token_count(use, "completion_tokens");
  // Never less than its parts, whatever the endpoint says.
  out.tokens.total_tokens
    = std::max(token_count(use, "total_tokens"),
               out.tokens.prompt_tokens + out.tokens.completion_tokens);
  auto* model = member(doc, "model");
  out.model = model != nullptr && model->IsString() ? model->GetString()
                                                    : requested_model;
  return out;
}

std::string error_text(std::string_view body, size_t max) {
  rapidjson::Document doc;
  if (json::parse(doc, body, "the error") && doc.IsObject()) {
    if (auto* err = member(doc, "error")) {
      if (err->IsString())
        return excerpt(err->GetString(), max);
      if (auto* msg = member(*err, "message"); msg && msg->IsString())
        return excerpt(msg->GetString(), max);
    }
    for (auto key : {"message", "detail"})
      if (auto* msg = member(doc, key); msg && msg->IsString())
        return excerpt(msg->GetString(), max);
  }
  return excerpt(body, max);
}

bool blames_response_format(std::string_view body) {
  auto text = lower(body);
  return contains(text, "response_format") || contains(text, "json_schema")
    || contains(text, "response format");
}

bool blames_max_tokens(std::string_view body) {
  auto text = lower(body);
  return contains(text, "max_completion_tokens")
    && contains(text, "max_tokens");
}

bool blames_temperature(std::string_view body) {
  auto text = lower(body);
  return contains(text, "temperature")
    && (contains(text, "unsupported") || contains(text, "not support"));
}

std::optional<std::chrono::milliseconds>
parse_retry_after(std::string_view value,
                  std::chrono::system_clock::time_point now) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value[0])))
    value.remove_prefix(1);
  while (!value.empty()
         && std::isspace(static_cast<unsigned char>(value.back())))
    value.remove_suffix(1);
  if (value.empty())
    return std::nullopt;
  // delay-seconds; fractions are not standard but some proxies send them.
  double seconds = 0;
  auto [end, err] = std::from_chars(value.data(), value.data() + value.size(),
                                    seconds);
  if (err == std::errc{} && end == value.data() + value.size()) {
    if (!std::isfinite(seconds))
      return std::nullopt;
    // Clamped to a day so the conversion cannot overflow; callers cap the
    // delay far lower anyway.
    seconds = std::clamp(seconds, 0.0, 86'400.0);
    return std::chrono::milliseconds{static_cast<int64_t>(seconds * 1000)};
  }
  // IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
  std::tm tm{};
  std::string text{value};
  auto* rest = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
  if (rest == nullptr)
    return std::nullopt;
  // In seconds, clamped like delay-seconds: a date past 2262 does not fit
  // the clock's nanoseconds (undefined behaviour, found by fuzzing).
  auto seconds_ahead = static_cast<double>(timegm(&tm))
    - std::chrono::duration<double>(now.time_since_epoch()).count();
  seconds_ahead = std::clamp(seconds_ahead, 0.0, 86'400.0);
  return std::chrono::milliseconds{static_cast<int64_t>(seconds_ahead * 1000)};
}

int64_t estimate_tokens(const chat_request& req) {
  size_t chars = req.json_schema.size();
  for (auto& msg : req.messages)
    chars += msg.role.size() + msg.content.size();
  return static_cast<int64_t>(chars / 4) + std::max(req.max_tokens, 0);
}

std::string excerpt(std::string_view text, size_t max) {
  std::string out;
  out.reserve(std::min(text.size(), max));
  bool space = false;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    // Cut only before the first byte of a UTF-8 sequence.
    if (out.size() >= max && (static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      out += "…";
      break;
    }
    if (space)
      out += ' ';
    space = false;
    out += c;
  }
  return out;
}

} // namespace optischema::llm::detail
