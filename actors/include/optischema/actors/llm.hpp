#pragma once

#include "optischema/llm/client.hpp"
#include "optischema/messages/actors.hpp"
#include "optischema/messages/config.hpp"
#include "optischema/prompts/prompts.hpp"

#include <caf/allowed_unsafe_message_type.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace optischema::actors {

/// One question for the endpoint: the prompt and the rendered user message.
struct llm_call {
  prompt_template t;
  std::string user;
};

/// A question that missed the cache, waiting for a call worker.
struct pending_question {
  llm_request q;
  llm_call call;
  std::string key;
  /// Tokens and dollars set aside for it before it is asked (the worst
  /// case: two calls of the full prompt and completion), so concurrent
  /// questions can never overrun the daily budget together.
  int64_t reserved_tokens = 0;
  double reserved_usd = 0;
  caf::typed_response_promise<llm_answer> rp;
};

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
  /// The llm_budget alert fires (sent to `supervisor`).
  bool budget_alerted = false;
  supervisor_actor supervisor;
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
  // -- the call pool --
  /// A fixed set of detached workers (max_concurrency), each blocking on
  /// one endpoint call at a time: the thread count never grows with load.
  std::vector<caf::actor> workers;
  std::vector<caf::actor> idle;
  /// Questions waiting for a worker, at most `max_queued`; beyond that a
  /// question is refused at once (busy) rather than queued without end.
  std::deque<pending_question> queue;
  size_t max_queued = 0;
  uint64_t busy_refusals = 0;
  /// Budget set aside for questions queued or in flight.
  int64_t reserved_tokens = 0;
  double reserved_usd = 0;
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

/// The LLM actor. Never blocks: each question that misses the cache has its
/// worst-case cost reserved against the daily budget, then waits in a
/// bounded queue for one of a fixed pool of detached call workers, so
/// questions run concurrently (max_concurrency at a time) and neither
/// threads nor the queue grow with load.
/// Its spend past the budget's alert share fires llm_budget through
/// `supervisor` (none: no alert).
llm_actor::behavior_type llm(llm_actor::stateful_pointer<llm_state> self,
                             llm_config config, store_actor store,
                             supervisor_actor supervisor);

/// Today's date in UTC as "YYYY-MM-DD", the key of a day's LLM spend.
std::string utc_day(int64_t epoch_ms);

} // namespace optischema::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::actors::endpoint_answer)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(optischema::actors::llm_call)
