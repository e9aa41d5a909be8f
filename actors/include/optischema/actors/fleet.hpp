#pragma once

#include "optischema/broker/fleet_registry.hpp"
#include "optischema/messages/actors.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace optischema::actors {

struct fleet_state {
  fleet_state() = default; // not an aggregate: see CMakeLists.txt
  static inline const char* name = "fleet";

  // -- configuration ------------------------------------------------------

  std::string fleet;
  std::string engine;
  std::vector<std::string> targets;
  std::chrono::milliseconds heartbeat{};
  supervisor_actor supervisor;

  // -- membership -----------------------------------------------------------

  /// Deletes this engine's key when the actor goes: a graceful stop hands
  /// the targets over at the others' next heartbeat, not after the TTL.
  std::unique_ptr<broker::fleet_registry> registry;
  /// Why there is no registry (a bad name); reported in the status.
  std::optional<failure> config_error;
  /// The last view sent to the SUPERVISOR (none before the first beat).
  std::optional<fleet_view> view;
  std::string last_error;
  int64_t last_beat_ms = 0;
  uint64_t beats = 0;
  uint64_t failures = 0;
  /// Targets this engine took over or handed over, summed.
  uint64_t ownership_changes = 0;
};

/// The FLEET: this engine's membership in `fleet` over NATS JetStream. Every
/// `heartbeat` it writes its key, reads the live members, gives each target
/// to one of them (rendezvous hashing) and sends the SUPERVISOR the view
/// when it changed. NATS being away keeps the last view (no engine starts
/// polling what another may still poll) and says so in the status. Blocks
/// on NATS: runs detached.
fleet_actor::behavior_type
fleet(fleet_actor::stateful_pointer<fleet_state> self,
      broker::fleet_options opts, std::vector<std::string> targets,
      std::chrono::milliseconds heartbeat, supervisor_actor supervisor);

} // namespace optischema::actors
