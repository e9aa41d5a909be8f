#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace optischema {

/// FNV-1a, 64 bits: a stable hash for ids and names that must not change
/// between builds or machines (std::hash may).
uint64_t fnv1a(std::string_view x, uint64_t h = 0xcbf29ce484222325ULL);

/// The elements of `xs` separated by `sep`.
std::string join(const std::vector<std::string>& xs, std::string_view sep);

} // namespace optischema
