#include "optischema/util/strings.hpp"

namespace optischema {

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
