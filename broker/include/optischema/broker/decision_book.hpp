#pragma once

// Decisions that follow a database through a fleet: a recommendation a
// person applied, dismissed, tested or rolled back is kept in a replicated
// JetStream key-value bucket, optischema_decisions_<fleet>, as well as in
// the owning engine's RocksDB (and so are the alerts firing on it). An engine
// that becomes a target's owner (a takeover, a handover, its own restart) reads
// the target's decisions back, so a dismissed index stays dismissed wherever
// the target is polled.
//
// The audit log goes the same way, into a replicated JetStream stream,
// optischema_audit_<fleet>, kept for the audit retention: every engine reads
// the fleet's log there, whichever engine made a change and whether or not
// it still runs. And a new owner reads back the metrics events the others
// published about its target (the events stream) to fill its history, and
// the hours they rolled up (optischema_rollups_<fleet>) before those.
//
// Writes are queued and stored by a thread of the book's own (the last
// version of each recommendation wins), retried until NATS takes them: the
// STORE never waits on the network. No actors here.

#include "optischema/util/defaults.hpp"
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
  /// How long the audit stream keeps an entry, when this engine creates it
  /// (--retention-audit).
  std::chrono::milliseconds audit_max_age = defaults::retention_audit;
  /// The stream of events (nats_options::stream; empty: none), where the
  /// fleet's metrics events are read back for history (read_history).
  std::string events_stream{defaults::nats_stream};
  /// How long the roll-up stream keeps an hour, when this engine creates it
  /// (--retention-hourly).
  std::chrono::milliseconds rollup_max_age = defaults::retention_hourly;
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
    uint64_t audit_stored = 0;  ///< audit entries the stream acknowledged
    uint64_t audit_pending = 0; ///< queued, not yet stored
    uint64_t events_read = 0;   ///< metrics events read back for history
    uint64_t rollups_stored = 0;  ///< hours the roll-up stream acknowledged
    uint64_t rollups_pending = 0; ///< queued, not yet stored
    uint64_t rollups_read = 0;    ///< hours read back for history
    std::string last_error;
  };

  /// A page of the fleet's audit log, newest first (JSON texts as written).
  struct audit_page {
    uint64_t total = 0;
    std::vector<std::string> entries;
  };
  using page_fn = std::function<void(expected<audit_page>)>;

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

  /// Queues what fires on `target` (the ALERTER's stored_alerts_json()) as
  /// its latest version: the engine that polls the target next takes it up
  /// (load_alerts) instead of announcing it again or never resolving it.
  virtual void put_alerts(const std::string& target, std::string json) = 0;

  /// Reads what fires on `target` as put_alerts() last stored it: one text,
  /// or none when nothing was ever stored; `done` as for load().
  virtual void load_alerts(const std::string& target, loaded_fn done) = 0;

  /// Events read back, as their data (JSON envelopes, hostile: parse_event).
  using events_fn = std::function<void(expected<std::vector<std::string>>)>;

  /// Reads the metrics events the fleet's engines published about `target`
  /// since `since_ms` (this engine's own from before it lost the target
  /// included), oldest first: the newest `max_events` of them (about: the
  /// start is estimated from their times), at most `max_bytes` in all.
  /// `done` runs on the book's thread once per batch of at most `batch`
  /// events, or once with why they could not be read. One target's read at
  /// a time, between the other work. No events stream: nothing, no call.
  virtual void read_history(const std::string& target, int64_t since_ms,
                            size_t batch, size_t max_events, size_t max_bytes,
                            events_fn done)
    = 0;

  /// Queues an hour of `target`'s history (rollup_payload) for the fleet's
  /// roll-up stream, optischema_rollups_<fleet>, kept for the hourly
  /// retention: an engine that takes the target over after the events
  /// stream forgot those hours reads them there (read_rollups).
  virtual void publish_rollup(const std::string& target, std::string json) = 0;

  /// Reads the hours of `target` the fleet's engines rolled up and published
  /// since `since_ms`, oldest first (an hour may come from several engines),
  /// at most `max_bytes` in all; `done` as for read_history, after the
  /// history reads asked for before.
  virtual void read_rollups(const std::string& target, int64_t since_ms,
                            size_t batch, size_t max_bytes, events_fn done)
    = 0;

  /// Queues an audit entry (JSON) about `target`, stored in the order queued.
  virtual void record(const std::string& target, std::string json) = 0;

  /// Reads `limit` entries of the fleet's audit log from the `offset`-th
  /// newest; `done` runs on the book's thread (it must not block), after the
  /// entries queued before this call, or with why it could not read.
  virtual void read_audit(size_t limit, size_t offset, page_fn done) = 0;

  virtual stats get_stats() const = 0;

  /// The bucket's key of a recommendation (exposed for tests): target names
  /// may hold any character, keys may not.
  static std::string key(const std::string& target, const std::string& id);
};

} // namespace optischema::broker
