#pragma once

// Decisions that follow a database through a fleet: a recommendation a
// person applied, dismissed, tested or rolled back is kept in a replicated
// JetStream key-value bucket, optischema_decisions_<fleet>, as well as in
// the owning engine's RocksDB. An engine that becomes a target's owner (a
// takeover, a handover, its own restart) reads the target's decisions back,
// so a dismissed index stays dismissed wherever the target is polled.
//
// Writes are queued and stored by a thread of the book's own (the last
// version of each recommendation wins), retried until NATS takes them: the
// STORE never waits on the network. No actors here.

#include "optischema/util/error.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace optischema::broker {

struct decision_book_options {
  /// nats://[user:pass@]host:port (never logged unredacted).
  std::string url;
  /// The fleet whose decisions these are.
  std::string fleet;
  /// Copies of the bucket on a JetStream cluster.
  int replicas = 1;
};

class decision_book {
public:
  /// A target's decisions: one recommendation (JSON) each.
  using loaded_fn = std::function<void(expected<std::vector<std::string>>)>;

  struct stats {
    uint64_t stored = 0;   ///< writes JetStream acknowledged
    uint64_t pending = 0;  ///< queued, not yet stored
    uint64_t failures = 0; ///< failed attempts (each is retried)
    uint64_t loads = 0;    ///< targets read back
    std::string last_error;
  };

  /// Validates the options and starts the book's thread, which connects in
  /// the background (retrying).
  static expected<std::shared_ptr<decision_book>>
  create(decision_book_options opts);

  /// Stores what is queued within a few seconds, then stops.
  virtual ~decision_book() = default;

  /// Queues `json`, recommendation `id` of `target`, as its latest version.
  virtual void
  put(const std::string& target, const std::string& id, std::string json)
    = 0;

  /// Reads every decision of `target`; `done` runs on the book's thread
  /// (it must not block), after the writes queued before this call.
  virtual void load(const std::string& target, loaded_fn done) = 0;

  virtual stats get_stats() const = 0;

  /// The bucket's key of a recommendation (exposed for tests): target names
  /// may hold any character, keys may not.
  static std::string key(const std::string& target, const std::string& id);
};

} // namespace optischema::broker
