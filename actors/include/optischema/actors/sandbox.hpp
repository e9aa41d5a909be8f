#pragma once

#include "optischema/messages/actors.hpp"
#include "optischema/messages/config.hpp"
#include "optischema/pg/conninfo.hpp"
#include "optischema/sandbox/sandbox.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace optischema::actors {

struct sandbox_peers {
  store_actor store;
  std::vector<event_sink_actor> sinks;
};

struct sandbox_state {
  sandbox_state() = default; // not an aggregate: see CMakeLists.txt
  static inline const char* name = "sandbox";
  std::string target;
  /// The copy's source (the target, as the apply role) and the sandbox
  /// server; unset when there is no sandbox (--sandbox-dsn not given).
  std::optional<pg::conninfo> source;
  std::optional<pg::conninfo> server;
  std::string database;
  sandbox::options opts;
  size_t other_statements = 5;
  sandbox_peers peers;
  /// The current copy, and when its source's schema was last compared.
  std::optional<sandbox::prepared> copy;
  std::chrono::steady_clock::time_point signature_checked;
  /// The last failed copy: tests fail fast with it for a while instead of
  /// copying the target again and again (a copy loads the target).
  std::optional<failure> copy_failure;
  std::chrono::steady_clock::time_point copy_failed;
  // -- status --
  uint64_t preparations = 0;
  uint64_t tests = 0;
  uint64_t failures = 0;
  std::optional<failure> last_error;
  std::string last_verdict;
};

/// A SANDBOX actor: one per target. Copies the target to the sandbox server
/// (database optischema_sandbox_<target>) on first use and whenever the
/// target's schema changed, and proves recommendations there. Blocks on the
/// databases: spawn it detached.
sandbox_actor::behavior_type
sandbox(sandbox_actor::stateful_pointer<sandbox_state> self,
        target_config target, sandbox_config cfg, sandbox_peers peers);

} // namespace optischema::actors
