#pragma once

// A NATS connection (cnats) that survives the server going away: it connects
// in the background, reconnects forever, buffers while disconnected and counts
// everything for /api/status. No actors here: the BROKER actor owns one.

#include "optischema/util/defaults.hpp"
#include "optischema/util/error.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace optischema::broker {

struct nats_options {
  std::string url; ///< nats://host:port (may hold user:pass, never logged)
  /// Name of a JetStream stream to create over "optischema.>" when the
  /// server has JetStream, so subscribers that were away can replay.
  /// Empty: plain core NATS only.
  std::string stream{defaults::nats_stream};
  std::chrono::milliseconds stream_max_age = defaults::nats_stream_max_age;
  std::chrono::milliseconds reconnect_wait{1000};
  /// Messages kept while disconnected; older ones are dropped and counted.
  size_t buffer_limit = 10'000;
  /// In a fleet: its name and this engine's id, sent with every event as the
  /// headers below, so the fleet's other engines relay it to their
  /// WebSocket clients and skip their own (fleet_api::watch).
  std::string fleet;
  std::string engine;
};

/// Headers naming the fleet and the engine that published an event.
constexpr const char* fleet_header = "Optischema-Fleet";
constexpr const char* engine_header = "Optischema-Engine";

struct nats_stats {
  std::string state;      ///< "connected", "connecting", "disconnected"
  std::string url;        ///< redacted
  uint64_t published = 0; ///< sent to the server once (resends not counted)
  uint64_t buffered = 0;  ///< waiting for a connection right now
  uint64_t dropped = 0;   ///< lost because the buffer was full
  uint64_t disconnects = 0;
  uint64_t reconnects = 0;
  bool jetstream = false; ///< the stream exists and captures events
  /// Events JetStream confirmed it stored (with the stream in place, every
  /// published event ends acknowledged, or unstored after retries).
  uint64_t acknowledged = 0;
  uint64_t unacknowledged = 0; ///< sent, confirmation pending right now
  uint64_t store_retries = 0;  ///< sends again after a refusal or timeout
  uint64_t unstored = 0;       ///< refused every time (also in dropped)
  std::string last_error;
  int64_t last_change_ms = 0; ///< when `state` last changed
};

class nats_client {
public:
  /// Validates the options and starts connecting in the background; never
  /// blocks on the network. A malformed URL is a failure.
  static expected<std::unique_ptr<nats_client>> create(nats_options opts);

  virtual ~nats_client() = default;

  /// Publishes `data` on `subject`. Never blocks: while disconnected the
  /// message waits in a bounded buffer and is sent on reconnect.
  virtual void publish(const std::string& subject, const std::string& data) = 0;

  virtual nats_stats stats() const = 0;
};

} // namespace optischema::broker
