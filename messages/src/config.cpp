#include "optischema/messages/config.hpp"

#include <algorithm>
#include <cctype>

namespace optischema {

bool valid_target_name(const std::string& x) {
  return !x.empty() && x.size() <= 64
    && std::all_of(x.begin(), x.end(), [](unsigned char c) {
         return std::isalnum(c) || c == '_' || c == '-';
       });
}

bool valid_new_target_name(const std::string& x) {
  return valid_target_name(x) && x != engine_alerts;
}

} // namespace optischema
