#pragma once

#include "optischema/analysis/fingerprint.hpp"
#include "optischema/messages/actors.hpp"

#include <cstdint>

namespace optischema::actors {

struct fingerprinter_state {
  fingerprinter_state() = default; // not an aggregate: see CMakeLists.txt
  static inline const char* name = "fingerprinter";
  fingerprint_cache cache;
  uint64_t requests = 0;
  /// Time spent parsing, for fingerprints per second in the status.
  double busy_ms = 0;
};

/// The FINGERPRINTER: one shared instance serves every COLLECTOR, so the same
/// statement from different targets is parsed once.
fingerprinter_actor::behavior_type
fingerprinter(fingerprinter_actor::stateful_pointer<fingerprinter_state> self,
              size_t cache_capacity);

} // namespace optischema::actors
