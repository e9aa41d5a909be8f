#pragma once

#include "optischema/messages/actors.hpp"
#include "optischema/web/server.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace optischema::actors {

/// What the EDGE needs to know about the engine.
struct edge_config {
  std::vector<std::string> targets;
  int64_t raw_retention_ms = 86'400'000;
  /// The API token (empty: apply and rollback are off). The web server
  /// checks it on every POST (web/access.hpp); the EDGE only needs to know
  /// whether there is one. A secret.
  std::string api_token;
  /// How long an apply may take: lock waits, retries and the build.
  std::chrono::milliseconds apply_timeout{std::chrono::hours{2}};
};

struct edge_state {
  edge_state() = default; // not an aggregate: see CMakeLists.txt
  static inline const char* name = "edge";
  std::shared_ptr<web::server> server;
  store_actor store;
  supervisor_actor supervisor;
  edge_config config;
  uint64_t events = 0;
};

/// Whether the EDGE serves an API operation (web::routes()' `operation`).
bool edge_handles(std::string_view operation);

/// The EDGE: answers REST requests handed over by the web server's io
/// threads (never blocking them: answers go back through the responder) and
/// relays events to WebSocket clients.
edge_actor::behavior_type edge(edge_actor::stateful_pointer<edge_state> self,
                               std::shared_ptr<web::server> server,
                               store_actor store, supervisor_actor supervisor,
                               edge_config config);

} // namespace optischema::actors
