#pragma once

// An OpenAI-compatible chat-completions client (OpenAI, Azure OpenAI,
// Ollama, vLLM, llama.cpp server) over cpprestsdk: retries with backoff and
// jitter on 429/5xx/timeouts (honouring Retry-After), a concurrency cap and
// requests/tokens-per-minute limits, structured output with a JSON schema
// where the endpoint takes one. No actors here: the LLM actor owns one.

#include "optischema/util/defaults.hpp"
#include "optischema/util/error.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace optischema::llm {

struct llm_options {
  /// Up to and including the version path, e.g. "https://api.openai.com/v1",
  /// "http://127.0.0.1:11434/v1" (Ollama). Requests go to
  /// <base_url>/chat/completions.
  std::string base_url{defaults::llm_base_url};
  /// A secret: never logged, never shown.
  std::string api_key;
  std::string model{defaults::llm_model};
  /// OpenAI-Organization header, when set.
  std::string organization;
  /// Per attempt.
  std::chrono::milliseconds timeout = defaults::llm_timeout;
  /// Attempts after the first, for 429, 5xx, timeouts and connection errors.
  int max_retries = defaults::llm_max_retries;
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_max{20'000};
  /// Requests in flight at once (calls beyond wait).
  size_t max_concurrency = defaults::llm_concurrency;
  /// Local limits, so the engine never floods a shared quota; 0 = none.
  int requests_per_minute = defaults::llm_requests_per_minute;
  int tokens_per_minute = defaults::llm_tokens_per_minute;
};

struct chat_message {
  std::string role; ///< "system", "user", "assistant"
  std::string content;
};

struct chat_request {
  std::vector<chat_message> messages;
  /// A JSON Schema (as JSON text) the answer must follow; sent as
  /// response_format json_schema (strict) where supported, else the answer
  /// is asked for as a JSON object. Empty: free text.
  std::string json_schema;
  std::string schema_name = "answer";
  double temperature = 0.1;
  int max_tokens = 1500;
};

struct usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
};

struct chat_response {
  /// The first choice's message content.
  std::string content;
  usage tokens;
  /// The model the endpoint says answered.
  std::string model;
  /// Attempts made (1 when the first succeeded).
  int attempts = 1;
  double latency_ms = 0;
};

struct client_stats {
  uint64_t requests = 0;  ///< HTTP requests sent
  uint64_t succeeded = 0; ///< chat() calls that returned an answer
  uint64_t failed = 0;    ///< chat() calls that returned a failure
  uint64_t retries = 0;
  uint64_t rate_limited = 0;  ///< 429 answers
  uint64_t server_errors = 0; ///< 5xx answers
  uint64_t timeouts = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

class client {
public:
  /// Validates the options (URL form, model) without network traffic.
  static expected<std::unique_ptr<client>> create(llm_options opts);

  virtual ~client() = default;

  /// Sends one chat completion; blocks until an answer or a final failure.
  /// Thread-safe. Failures: ec::timeout (every attempt timed out),
  /// ec::llm_error (4xx other than 429, malformed response, retries
  /// exhausted), with messages that never contain the API key.
  virtual expected<chat_response> chat(const chat_request& req) = 0;

  virtual client_stats stats() const = 0;
};

} // namespace optischema::llm
