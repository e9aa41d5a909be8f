// LLM answers, which a compromised or confused endpoint (or a prompt steered
// by a statement's comments) controls entirely: the chat-completions wire
// format (llm/src/wire.cpp: answer, usage, error bodies, Retry-After), the
// schema check every answer passes (analysis/src/json_schema.cpp) and what
// the advisor then reads without further checks, and prompt rendering,
// which must never expand placeholders inside the text it inserts.
//
// Input: a Retry-After value up to the first newline; the whole input is
// also the answer body.

#include "fuzz.hpp"

#include "optischema/analysis/json_schema.hpp"
#include "optischema/prompts/prompts.hpp"
#include "optischema/util/json_parse.hpp"

#include "wire.hpp"

#include <vector>

using namespace optischema;
using namespace optischema::llm::detail;

namespace {

const std::vector<prompt_template>& templates() {
  static const auto xs = [] {
    std::vector<prompt_template> out;
    for (auto kind :
         {"explain_plan", "rewrite_query", "generate_recommendation"})
      if (auto t = load_prompt(kind))
        out.push_back(std::move(*t));
    fuzz::require(out.size() == 3, "the embedded prompt templates load");
    return out;
  }();
  return xs;
}

bool is_string(const rapidjson::Value& obj, const char* key) {
  auto i = obj.FindMember(key);
  return i != obj.MemberEnd() && i->value.IsString();
}

/// What actors/src/advisor.cpp reads from an answer that passed its schema,
/// with GetString() and no type check of its own.
void check_reads(const prompt_template& t, const rapidjson::Document& c) {
  fuzz::require(c.IsObject(), "a valid answer that is not an object");
  if (t.kind == "rewrite_query") {
    auto& rewrites = c["rewrites"];
    fuzz::require(rewrites.IsArray(), "valid rewrites that are no array");
    for (auto& x : rewrites.GetArray())
      fuzz::require(x.IsObject() && is_string(x, "sql")
                      && is_string(x, "rationale"),
                    "a valid rewrite without string sql and rationale");
  } else if (t.kind == "generate_recommendation") {
    fuzz::require(is_string(c, "narrative") && is_string(c, "verification"),
                  "a valid narrative without its strings");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto body = fuzz::text(data, size);
  auto now = std::chrono::system_clock::time_point{
    std::chrono::seconds{1'750'000'000}};
  if (auto delay = parse_retry_after(body.substr(0, body.find('\n')), now))
    fuzz::require(delay->count() >= 0, "a negative Retry-After delay");
  error_text(body);
  blames_response_format(body);
  blames_max_tokens(body);
  blames_temperature(body);
  auto answer = parse_answer(body, "gpt-4o");
  if (!answer)
    return 0;
  auto& used = answer->tokens;
  fuzz::require(used.prompt_tokens >= 0 && used.completion_tokens >= 0
                  && used.total_tokens >= 0,
                "negative token counts, which would refund the daily budget");
  auto& content = answer->content;
  for (auto& t : templates()) {
    if (validate_json(content, t.schema)) {
      rapidjson::Document c;
      fuzz::require(static_cast<bool>(json::parse(c, content)),
                    "a valid answer that does not parse");
      check_reads(t, c);
    }
  }
  auto rendered
    = render("<{{statement}}>",
             {{"statement", content}, {"schema", "SCHEMA"}, {"plan", "PLAN"}});
  fuzz::require(rendered == "<" + content + ">",
                "a placeholder inside an inserted text was expanded");
  return 0;
}
