#pragma once

// What tests and benchmarks read of an engine's alerts, over its API.

#include "http_client.hpp"
#include "test_util.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace optischema::test {

/// Polls of the engine's first target so far.
inline int64_t polls(const std::string& url) {
  auto doc = parse_json(http_get(url, "/api/status").body);
  return doc["targets"][0]["polls"].GetInt64();
}

/// Ids of the alerts in `list` ("firing" or "resolved", as GET /api/alerts
/// lists them: an id resolved twice is there twice), of `rule` only unless
/// it is empty.
inline std::vector<std::string> alert_ids(const std::string& url,
                                          const char* list,
                                          const std::string& rule = {}) {
  auto doc = parse_json(http_get(url, "/api/alerts").body);
  std::vector<std::string> out;
  for (auto& a : doc[list].GetArray())
    if (rule.empty() || a["rule"].GetString() == rule)
      out.push_back(a["id"].GetString());
  return out;
}

} // namespace optischema::test
