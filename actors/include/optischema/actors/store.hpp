#pragma once

#include "optischema/messages/actors.hpp"
#include "optischema/store/history_db.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>

namespace optischema {

struct store_state {
  store_state() = default; // not an aggregate: see CMakeLists.txt
  static inline const char* name = "store";
  std::shared_ptr<history_db> db;
  /// The latest snapshot per target, shared with every reader.
  std::unordered_map<std::string, snapshot_ptr> latest;
  std::chrono::milliseconds maintenance_interval{};
  uint64_t write_failures = 0;
  std::string last_error;
};

/// The STORE: the only actor touching RocksDB. Runs maintenance (roll-up and
/// retention) every `maintenance_interval`, and once at start.
store_actor::behavior_type
store(store_actor::stateful_pointer<store_state> self,
      std::shared_ptr<history_db> db,
      std::chrono::milliseconds maintenance_interval);

} // namespace optischema
