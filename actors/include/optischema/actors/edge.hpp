#pragma once

#include "optischema/broker/fleet_api.hpp"
#include "optischema/messages/actors.hpp"
#include "optischema/web/server.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
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
  /// In a fleet: this engine's id, the channel to the others (null: no
  /// fleet) and the last word on who polls what.
  std::string engine_id;
  std::shared_ptr<broker::fleet_api> fleet_api;
  std::optional<fleet_view> fleet;
};

struct edge_state {
  edge_state() = default; // not an aggregate: see CMakeLists.txt
  static inline const char* name = "edge";
  std::shared_ptr<web::server> server;
  store_actor store;
  supervisor_actor supervisor;
  edge_config config;
  uint64_t events = 0;
  /// Requests forwarded to other engines of the fleet: answered, failed,
  /// and waiting right now (shared with the threads that wait for them).
  uint64_t forwarded = 0;
  std::shared_ptr<std::atomic<uint64_t>> forward_failures
    = std::make_shared<std::atomic<uint64_t>>(0);
  std::shared_ptr<std::atomic<int>> forwarding
    = std::make_shared<std::atomic<int>>(0);
  /// The fleet's events relayed to WebSocket clients, and those refused
  /// (malformed, shared with the NATS thread that checks them; or about a
  /// target this engine does not know or polls itself).
  uint64_t relayed = 0;
  std::shared_ptr<std::atomic<uint64_t>> relay_refused
    = std::make_shared<std::atomic<uint64_t>>(0);
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
