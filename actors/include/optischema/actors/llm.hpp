#pragma once

#include "optischema/llm/client.hpp"
#include "optischema/messages/actors.hpp"
#include "optischema/messages/config.hpp"

#include <caf/allowed_unsafe_message_type.hpp>

#include <memory>
#include <optional>
#include <string>

namespace optischema {

struct llm_state {
  llm_state() = default; // not an aggregate: see CMakeLists.txt
  static inline const char* name = "llm";
  llm_config config;
  store_actor store;
  /// Shared with the call workers; thread-safe (it caps requests in flight
  /// at max_concurrency and keeps the per-minute limits).
  std::shared_ptr<llm::client> client;
  /// Why the LLM parts are off, and how to turn them on.
  std::string disabled;
  // -- today's spend (UTC), loaded from the STORE, kept in step with it --
  std::string day;
  int64_t tokens_today = 0;
  double usd_today = 0;
  // -- counters --
  uint64_t asked = 0;
  uint64_t cache_hits = 0;
  uint64_t cache_misses = 0;
  uint64_t calls = 0;
  uint64_t invalid_answers = 0;
  uint64_t dropped = 0;
  uint64_t failures = 0;
  uint64_t budget_refusals = 0;
  double latency_ms_total = 0;
  /// Questions whose endpoint calls are running now.
  uint64_t in_flight = 0;
  std::string last_error;
};

/// What one question's calls to the endpoint brought (the answer, or why
/// none), with the counts the LLM actor keeps. Made by a call worker.
struct endpoint_answer {
  std::optional<failure> error;
  llm::chat_response res;
  llm::usage used;
  uint64_t calls = 0;
  uint64_t invalid = 0;
  bool dropped = false;
  double latency_ms = 0;
};

/// The LLM actor. Never blocks: each question that misses the cache is put
/// to the endpoint by a short-lived detached worker, so questions run
/// concurrently (up to the client's max_concurrency in flight).
llm_actor::behavior_type
llm_service(llm_actor::stateful_pointer<llm_state> self, llm_config config,
            store_actor store);

/// Today's date in UTC as "YYYY-MM-DD", the key of a day's LLM spend.
std::string utc_day(int64_t epoch_ms);

} // namespace optischema

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::endpoint_answer)
