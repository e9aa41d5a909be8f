#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace optischema {

/// The elements of `xs` separated by `sep`.
std::string join(const std::vector<std::string>& xs, std::string_view sep);

} // namespace optischema
