#pragma once

#include "optischema/broker/decision_book.hpp"
#include "optischema/messages/actors.hpp"
#include "optischema/store/history_db.hpp"

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

namespace optischema::actors {

struct store_state {
  store_state() = default; // not an aggregate: see CMakeLists.txt
  static inline const char* name = "store";
  std::shared_ptr<history_db> db;
  /// The latest snapshot per target, shared with every reader.
  std::unordered_map<std::string, snapshot_ptr> latest;
  std::chrono::milliseconds maintenance_interval{};
  uint64_t write_failures = 0;
  std::string last_error;
  /// Polls whose write failed (a full disk), oldest first, written before
  /// any newer one once writes work again, so history keeps every interval
  /// of the outage. Bounded: past `max_backlog_statements` the oldest are
  /// dropped (and counted); the next poll's delta base still covers them.
  std::deque<std::pair<snapshot_ptr, raw_sample_ptr>> backlog;
  size_t backlog_statements = 0;
  size_t max_backlog_statements = 200'000;
  uint64_t backlog_dropped = 0;
  /// Polls written late, after a failed write (counted until the backlog
  /// is empty again).
  uint64_t backlog_written = 0;
  bool retrying = false;
  /// In a fleet: where decisions are kept for the next owner (else null).
  std::shared_ptr<broker::decision_book> book;
  /// Decisions from the fleet's bucket on recommendations this engine's
  /// analysis has not made yet, by id (bounded).
  std::unordered_map<std::string, recommendation> waiting_decisions;
  static constexpr size_t max_waiting_decisions = 10'000;
  /// Decisions taken over from the fleet's bucket, and refused as garbled.
  uint64_t decisions_adopted = 0;
  uint64_t decisions_refused = 0;
  /// Polls of the fleet's metrics events kept as history, and refused.
  uint64_t backfilled = 0;
  uint64_t backfill_refused = 0;
  /// The oldest poll kept from metrics events of each target being adopted:
  /// roll-ups fill only the hours before it (its raw points are finer).
  std::unordered_map<std::string, int64_t> backfill_oldest;
  /// Hours of the fleet's roll-ups kept as hourly history, skipped (this
  /// engine has points there) and refused as garbled; hours published.
  uint64_t rollups_kept = 0;
  uint64_t rollups_skipped = 0;
  uint64_t rollups_refused = 0;
  uint64_t rollups_published = 0;
  /// Pages of the fleet's audit log being read, by read id.
  struct audit_read {
    caf::typed_response_promise<audit_page> rp;
    size_t limit = 0;
    size_t offset = 0;
  };
  std::unordered_map<uint64_t, audit_read> audit_reads;
  uint64_t audit_read_seq = 0;
  /// What fires on targets, being read from the fleet's bucket, by read id
  /// (the target: RocksDB's copy answers when the bucket cannot).
  struct alerts_read {
    caf::typed_response_promise<std::string> rp;
    std::string target;
  };
  std::unordered_map<uint64_t, alerts_read> alerts_reads;
  uint64_t alerts_read_seq = 0;
};

/// The STORE: the only actor touching RocksDB. Runs maintenance (roll-up and
/// retention) every `maintenance_interval`, and once at start. When writes
/// fail (a full disk) it keeps polls in a bounded backlog and retries them,
/// before newer ones, as soon as RocksDB resumes. With a `book` (a fleet),
/// every change of a recommendation is kept there too, and read back when
/// this engine takes a target over.
store_actor::behavior_type
store(store_actor::stateful_pointer<store_state> self,
      std::shared_ptr<history_db> db,
      std::chrono::milliseconds maintenance_interval,
      std::shared_ptr<broker::decision_book> book);

} // namespace optischema::actors
