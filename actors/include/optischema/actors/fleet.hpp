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
  /// The targets changed since the last view was sent: send the next.
  bool targets_changed = false;
  std::chrono::milliseconds heartbeat{};
  /// How long the bucket keeps a key without a heartbeat.
  std::chrono::milliseconds ttl{};
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
  /// Until when the others count this engine as live: the start of its
  /// last heartbeat that went through, plus the TTL.
  std::chrono::steady_clock::time_point lease_until{};
  /// No heartbeat went through for (almost) the TTL while other engines
  /// were live: this engine polls nothing until one does.
  bool suspended = false;
  uint64_t suspensions = 0;
};

/// The FLEET: this engine's membership in `fleet` over NATS JetStream. Every
/// `heartbeat` it writes its key, reads the live members, gives each target
/// to one of them (rendezvous hashing) and sends the SUPERVISOR the view
/// when it changed. NATS being away keeps the last view (no engine starts
/// polling what another may still poll) and says so in the status, for as
/// long as the others still count this engine as live: once its key may
/// have expired (a heartbeat before the TTL runs out), an engine of a fleet
/// with other members stops polling, because they take its targets over
/// then, and two engines polling one target would store its deltas twice.
/// An engine alone keeps polling. Blocks on NATS: runs detached.
fleet_actor::behavior_type
fleet(fleet_actor::stateful_pointer<fleet_state> self,
      broker::fleet_options opts, std::vector<std::string> targets,
      std::chrono::milliseconds heartbeat, supervisor_actor supervisor);

} // namespace optischema::actors
