#pragma once

// The fleet's membership in a NATS JetStream key-value bucket: each engine
// writes its key every heartbeat, the bucket forgets keys older than its TTL
// (an engine killed with -9 drops out by itself), and every engine reads the
// live members to compute who owns which target (ownership.hpp). A graceful
// stop deletes the key, so the others take over at their next heartbeat.
// JetStream replicates the bucket; no consensus of our own. Blocking calls,
// bounded by a few seconds: the FLEET actor runs detached.

#include "optischema/util/error.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace optischema::broker {

struct fleet_options {
  /// nats://[user:pass@]host:port (never logged unredacted).
  std::string url;
  /// The fleet: engines with the same name share its targets. The bucket is
  /// optischema_fleet_<fleet>.
  std::string fleet;
  /// This engine's key in the bucket, unique in the fleet.
  std::string engine;
  /// A member that has not written its key for this long has left.
  std::chrono::milliseconds ttl{std::chrono::seconds{30}};
  /// Copies of the bucket on a JetStream cluster (3 in the k8s overlays).
  int replicas = 1;
  /// Bound for connecting and for each request of a heartbeat: shorter
  /// than the heartbeat, so a NATS that does not answer is noticed in time
  /// to stop polling before the key expires (fleet.hpp).
  std::chrono::milliseconds wait{2000};
  /// A member that a listing of the bucket misses is looked up by name: a
  /// listing races with the other engines' writes and once in a while
  /// misses a live key (seen on a loaded machine), which would move its
  /// targets away and back for one heartbeat. A key deleted (a graceful
  /// stop) or expired is gone at once; when the lookup does not answer, the
  /// member stays one this long after it was last listed.
  std::chrono::milliseconds grace{0};
};

class fleet_registry {
public:
  /// Validates the options; connects on the first beat.
  static expected<std::unique_ptr<fleet_registry>> create(fleet_options opts);

  /// Removes this engine's key (leave()), then closes the connection.
  virtual ~fleet_registry() = default;

  /// One heartbeat: (re)connects when needed, writes this engine's key with
  /// `info` (a small JSON object others may show), and returns the live
  /// members, sorted, this engine among them.
  virtual expected<std::vector<std::string>> beat(const std::string& info) = 0;

  /// Deletes this engine's key: the others no longer count it.
  virtual void leave() = 0;
};

} // namespace optischema::broker
