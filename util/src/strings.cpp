#include "optischema/util/strings.hpp"

namespace optischema {

uint64_t fnv1a(std::string_view x, uint64_t h) {
  for (unsigned char c : x)
    h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

std::string join(const std::vector<std::string>& xs, std::string_view sep) {
  std::string out;
  for (auto& x : xs) {
    if (!out.empty())
      out += sep;
    out += x;
  }
  return out;
}

} // namespace optischema
