#pragma once

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
};

/// The STORE: the only actor touching RocksDB. Runs maintenance (roll-up and
/// retention) every `maintenance_interval`, and once at start. When writes
/// fail (a full disk) it keeps polls in a bounded backlog and retries them,
/// before newer ones, as soon as RocksDB resumes.
store_actor::behavior_type
store(store_actor::stateful_pointer<store_state> self,
      std::shared_ptr<history_db> db,
      std::chrono::milliseconds maintenance_interval);

} // namespace optischema::actors
