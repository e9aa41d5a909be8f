#pragma once

// What tests read of a fleet over an engine's API.

#include "engine_process.hpp"
#include "http_client.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace optischema::test {

/// The engine `url` says polls `target` ("" while it does not say yet).
inline std::string owner_of(const std::string& url, const std::string& target) {
  using namespace std::chrono_literals;
  auto res = http_get(url, "/api/targets", 5s);
  if (res.status != 200)
    return {};
  auto d = parse_json(res.body);
  if (!d.HasMember("owners") || !d["owners"].HasMember(target.c_str()))
    return {};
  return d["owners"][target.c_str()].GetString();
}

/// Whether the engine `url` stored every decision (and what fires) it had in
/// the fleet's bucket, one at least.
inline bool decisions_stored(const std::string& url) {
  auto d = parse_json(http_get(url, "/api/status").body);
  auto& c = d["store"];
  return c.HasMember("decisions") && c["decisions"]["stored"].GetInt64() >= 1
    && c["decisions"]["pending"].GetInt64() == 0;
}

/// Two engines of one fleet, engine-a and engine-b, both given target "t":
/// the one that polls it, and the other.
struct engine_pair {
  std::map<std::string, std::unique_ptr<engine_process>> engines;
  std::map<std::string, std::string> urls;
  std::string owner;
  std::string other;
};

/// Starts engine-a and engine-b with `args(id, data dir)` and waits until
/// both say who polls "t".
inline engine_pair
start_pair(const std::function<std::vector<std::string>(const std::string&,
                                                        const temp_dir&)>& args,
           const temp_dir& data_a, const temp_dir& data_b) {
  using namespace std::chrono_literals;
  engine_pair p;
  for (auto [id, data] :
       {std::pair{"engine-a", &data_a}, {"engine-b", &data_b}}) {
    p.engines[id] = std::make_unique<engine_process>(args(id, *data));
    p.urls[id] = p.engines[id]->wait_ready();
  }
  REQUIRE(eventually(
    [&] {
      p.owner = owner_of(p.urls["engine-a"], "t");
      return !p.owner.empty() && p.owner == owner_of(p.urls["engine-b"], "t");
    },
    15s));
  p.other = p.owner == "engine-a" ? "engine-b" : "engine-a";
  return p;
}

} // namespace optischema::test
