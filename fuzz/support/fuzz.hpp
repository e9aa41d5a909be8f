#pragma once

// Helpers every fuzz target uses: the input as text, and a property check
// that fails like a crash.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace optischema::fuzz {

/// A target's property that must hold for every input (beyond "no crash"):
/// a violation aborts, so libFuzzer keeps the input as a crash.
inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz property violated: %s\n", what);
    std::abort();
  }
}

/// The input as text.
inline std::string_view text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

} // namespace optischema::fuzz
