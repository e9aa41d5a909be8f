#pragma once

#include "optischema/analysis/catalog.hpp"
#include "optischema/messages/actors.hpp"
#include "optischema/messages/config.hpp"
#include "optischema/pg/session.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace optischema::actors {

struct explainer_state {
  explainer_state() = default; // not an aggregate: see CMakeLists.txt
  static inline const char* name = "explain";
  std::string target;
  std::unique_ptr<pg::session> session;
  /// The catalog findings read against, refreshed every few minutes.
  std::optional<catalog> cat;
  std::chrono::steady_clock::time_point cat_read;
  uint64_t plans = 0;
  uint64_t failures = 0;
  std::optional<failure> last_error;
};

/// An EXPLAIN actor: one per target, on its own connection. Blocks on the
/// database: spawn it detached.
explainer_actor::behavior_type
explainer(explainer_actor::stateful_pointer<explainer_state> self,
          target_config target);

} // namespace optischema::actors
