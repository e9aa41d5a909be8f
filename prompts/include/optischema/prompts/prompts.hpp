#pragma once

// The LLM prompt templates, kept as files (prompts/templates/<kind>.md with
// its <kind>.schema.json) and embedded at build time; a directory given at
// run time overrides them. Each template carries a version: the LLM cache
// key includes it, so editing a prompt invalidates old answers.

#include "optischema/util/error.hpp"

#include <map>
#include <string>

namespace optischema {

struct prompt_template {
  /// explain_plan, rewrite_query, generate_recommendation.
  std::string kind;
  int version = 0;
  std::string system;
  /// With {{placeholders}}.
  std::string user;
  /// The JSON Schema the answer must follow.
  std::string schema;
};

/// The template of `kind`: from `override_dir` when it holds one, else the
/// embedded copy. Fails for an unknown kind or a malformed file.
expected<prompt_template> load_prompt(const std::string& kind,
                                      const std::string& override_dir = {});

/// Replaces every {{name}} in `text` with vars[name] (empty when absent).
std::string render(const std::string& text,
                   const std::map<std::string, std::string>& vars);

/// `schema` without the keywords OpenAI's strict structured outputs reject
/// (minLength, maxItems, minimum, maximum …); local validation keeps them.
std::string strict_schema(const std::string& schema);

} // namespace optischema
