#pragma once

// One API for a fleet: an engine asked about a target another engine polls
// forwards the request to that engine over NATS request/reply, on subject
// optischema_api.<fleet>.<engine>, and relays its answer (GETs of the open
// API, whose access the asking engine checked; changes, which the EDGE
// signs and checks). The same connection carries the fleet's events to
// every engine, so each engine's WebSocket clients see the whole fleet. No
// actors here: the EDGE plugs in with `serve` and `watch`, as it does with
// the web server's `set_handler`.

#include "optischema/util/error.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace optischema::broker {

class fleet_api {
public:
  /// Sends the answer to one request; callable once, from any thread.
  using reply_fn = std::function<void(const std::string& answer)>;
  /// Handles one request (a JSON text from another engine, hostile until
  /// checked) on a cnats thread: must not block, answers through `reply`.
  using handler = std::function<void(std::string request, reply_fn reply)>;

  /// Connects in the background (retrying forever) and subscribes to this
  /// engine's subject. `url` may hold credentials (never logged).
  static expected<std::shared_ptr<fleet_api>> create(const std::string& url,
                                                     const std::string& fleet,
                                                     const std::string& engine);

  virtual ~fleet_api() = default;

  /// Replaces the handler of requests for this engine (null: refuse them).
  virtual void serve(handler h) = 0;

  /// Handles one event another engine of this fleet published (subject and
  /// data as they came, hostile until checked) on a cnats thread.
  using event_handler
    = std::function<void(std::string subject, std::string data)>;

  /// Subscribes to the events of every engine of the fleet (by the headers
  /// nats_client stamps), this engine's own left out, and replaces their
  /// handler (null: drop them). Events beyond a bounded backlog are dropped
  /// and counted rather than held.
  virtual void watch(event_handler h) = 0;

  /// Events dropped because the handler fell behind (a slow consumer).
  virtual uint64_t events_dropped() const = 0;

  /// Sends `request` to `engine` and waits for its answer up to `timeout`.
  /// Blocks: call it from a thread of its own.
  virtual expected<std::string> ask(const std::string& engine,
                                    const std::string& request,
                                    std::chrono::milliseconds timeout)
    = 0;

  /// The largest request or answer relayed (bigger ones are refused).
  static constexpr size_t max_message = 4 * 1024 * 1024;
};

} // namespace optischema::broker
