// The execution policy from the engine's flags (pg/safety.hpp): pure, no
// connection, so configuration checks (and the config fuzzer) need no libpqxx.

#include "optischema/pg/safety.hpp"

#include <fmt/format.h>

#include <mutex>

namespace optischema::pg {

namespace {

std::mutex policy_mutex;
execution_policy process_policy;

} // namespace

expected<execution_policy> make_policy(std::vector<std::string> functions,
                                       std::vector<std::string> extensions) {
  // An empty variable (OPTISCHEMA_ALLOW_FUNCTIONS=) allows nothing.
  std::erase(functions, std::string{});
  std::erase(extensions, std::string{});
  for (auto& f : functions) {
    auto dot = f.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == f.size()
        || f.find('.', dot + 1) != std::string::npos
        || f.find('(') != std::string::npos)
      return failure{ec::invalid_configuration,
                     fmt::format("--allow-function takes schema.name (as "
                                 "the refusal names it, e.g. public.f), got "
                                 "'{}'",
                                 f)};
    if (f.starts_with("dblink") || f.find(".dblink") != std::string::npos)
      return failure{ec::invalid_configuration,
                     "--allow-function: dblink is never allowed (it opens "
                     "connections of its own)"};
  }
  for (auto& e : extensions)
    if (e.empty() || e == "dblink")
      return failure{ec::invalid_configuration,
                     fmt::format("--allow-extension takes an extension name "
                                 "other than dblink, got '{}'",
                                 e)};
  return execution_policy{std::move(functions), std::move(extensions)};
}

void set_default_policy(execution_policy p) {
  std::lock_guard<std::mutex> guard{policy_mutex};
  process_policy = std::move(p);
}

execution_policy default_policy() {
  std::lock_guard<std::mutex> guard{policy_mutex};
  return process_policy;
}

} // namespace optischema::pg
