#pragma once

// A small JSON Schema validator for LLM answers: the subset the prompt
// schemas use (type, properties, required, additionalProperties: false,
// items, enum, minimum/maximum, minLength, maxItems). An answer that does not
// validate is never used; the error says where it fails, so the LLM can be
// asked once more with it.

#include "optischema/util/error.hpp"

#include <string>
#include <string_view>

namespace optischema {

/// Checks the JSON text `answer` against the JSON Schema text `schema`.
/// Returns ok, or a failure (ec::llm_error) naming the first offending path,
/// e.g. "$.rewrites[0].sql: expected string".
expected<ok> validate_json(std::string_view answer, std::string_view schema);

} // namespace optischema
