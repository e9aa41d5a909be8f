#include "optischema/broker/ownership.hpp"

#include "optischema/util/strings.hpp"

#include <cstdint>

namespace optischema::broker {

namespace {

/// FNV-1a over the member, a separator and the target, then a 64-bit
/// finaliser (splitmix64): FNV alone spreads similar names ("engine-1",
/// "engine-2") poorly. Fixed forever: engines of different builds must
/// agree on every owner.
uint64_t weight(std::string_view member, std::string_view target) {
  auto h = fnv1a(target, fnv1a(std::string_view{"\0", 1}, fnv1a(member)));
  h += 0x9e3779b97f4a7c15ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

} // namespace

std::string owner_of(std::string_view target,
                     const std::vector<std::string>& members) {
  const std::string* best = nullptr;
  uint64_t best_weight = 0;
  for (auto& m : members) {
    auto w = weight(m, target);
    // Ties (never seen in practice) go to the smaller name, so every
    // engine still picks the same one whatever the list's order.
    if (best == nullptr || w > best_weight || (w == best_weight && m < *best)) {
      best = &m;
      best_weight = w;
    }
  }
  return best != nullptr ? *best : std::string{};
}

std::string check_fleet_name(std::string_view what, std::string_view name,
                             bool allow_dot) {
  if (name.empty() || name.size() > 64)
    return std::string{what} + " must have 1 to 64 characters";
  for (size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    auto ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
      || (c >= '0' && c <= '9') || c == '-' || c == '_'
      || (allow_dot && c == '.');
    if (!ok)
      return std::string{what} + " may hold only letters, digits, '-', '_'"
        + (allow_dot ? " and '.'" : "");
    if (c == '.' && (i == 0 || i + 1 == name.size() || name[i - 1] == '.'))
      return std::string{what} + " may not start or end with '.' or hold '..'";
  }
  return {};
}

} // namespace optischema::broker
