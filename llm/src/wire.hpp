#pragma once

// The chat-completions wire format: request bodies, answers, error texts
// and Retry-After. Pure functions without network, so client.cpp only
// deals with HTTP, retries and limits.

#include "optischema/llm/client.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace optischema::llm::detail {

/// How the request asks for structured output.
enum class output_format {
  /// Free text: no response_format.
  text,
  /// response_format json_schema (strict), OpenAI's structured outputs.
  json_schema,
  /// response_format json_object plus the schema in a system message, for
  /// endpoints that refuse json_schema.
  json_object,
};

const char* to_string(output_format x);

/// Parameter spellings that differ between endpoints and models, learned
/// from 400 answers and then kept for the client's lifetime.
struct dialect {
  output_format format = output_format::text;
  /// o-series and newer models refuse max_tokens.
  bool max_completion_tokens = false;
  /// Some models only take their default temperature.
  bool omit_temperature = false;
};

/// Renders the request body. Fails (ec::internal) when the request's schema
/// is not JSON: the schema comes from code, so that is a bug.
expected<std::string> render_request(const std::string& model,
                                     const chat_request& req,
                                     const dialect& how);

/// Parses a 2xx answer. The failure's message says what is wrong, without
/// the "malformed" prefix the caller adds.
expected<chat_response> parse_answer(std::string_view body,
                                     const std::string& requested_model);

/// The endpoint's own explanation from an error body: error.message
/// (OpenAI, vLLM), error as a string (Ollama), message or detail; else an
/// excerpt of the body. One line, at most `max` characters; not redacted.
std::string error_text(std::string_view body, size_t max = 300);

/// Whether a 400 body blames response_format or json_schema.
bool blames_response_format(std::string_view body);
/// Whether a 400 body asks for max_completion_tokens instead of max_tokens.
bool blames_max_tokens(std::string_view body);
/// Whether a 400 body refuses the temperature value.
bool blames_temperature(std::string_view body);

/// A Retry-After value: delay-seconds or an HTTP date (RFC 9110). Negative
/// delays become zero; nullopt when the value is neither.
std::optional<std::chrono::milliseconds>
parse_retry_after(std::string_view value,
                  std::chrono::system_clock::time_point now);

/// A rough token count for the rate limiter before the endpoint tells the
/// real one: prompt characters / 4 plus the answer's token budget.
int64_t estimate_tokens(const chat_request& req);

/// `text` on one line, at most `max` characters (with an ellipsis).
std::string excerpt(std::string_view text, size_t max);

} // namespace optischema::llm::detail
