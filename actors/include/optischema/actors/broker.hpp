#pragma once

#include "optischema/broker/nats_client.hpp"
#include "optischema/messages/actors.hpp"

#include <memory>
#include <optional>

namespace optischema::actors {

struct broker_state {
  broker_state() = default; // not an aggregate: see CMakeLists.txt
  static inline const char* name = "broker";
  std::unique_ptr<broker::nats_client> client;
  /// Why there is no client (a malformed URL); reported in the status.
  std::optional<failure> error;
};

/// The BROKER bridge: publishes every event as JSON on NATS subject
/// `optischema.<target>.<type>`. NATS being away never blocks the engine:
/// the client buffers, reconnects and counts, and the status says so.
broker_actor::behavior_type
broker(broker_actor::stateful_pointer<broker_state> self,
       broker::nats_options opts);

} // namespace optischema::actors
