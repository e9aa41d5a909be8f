#pragma once

#include "optischema/llm/client.hpp"
#include "optischema/messages/actors.hpp"
#include "optischema/messages/config.hpp"

#include <memory>
#include <optional>
#include <string>

namespace optischema {

struct llm_state {
  llm_state() = default; // not an aggregate: see CMakeLists.txt
  static inline const char* name = "llm";
  llm_config config;
  store_actor store;
  std::unique_ptr<llm::client> client;
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
  std::string last_error;
};

/// The LLM actor. Blocks on HTTP: spawn it detached.
llm_actor::behavior_type
llm_service(llm_actor::stateful_pointer<llm_state> self, llm_config config,
            store_actor store);

/// Today's date in UTC as "YYYY-MM-DD", the key of a day's LLM spend.
std::string utc_day(int64_t epoch_ms);

} // namespace optischema
