#pragma once

// The alert subscriber's side of NATS: a durable JetStream consumer of the
// engines' `alert` events (optischema.*.alert in the events stream). What a
// subscriber has not acknowledged is delivered again, also after it was
// stopped for a while: the consumer remembers where it stands, on the
// server.

#include "optischema/util/error.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace optischema::broker {

struct alert_feed_options {
  std::string url;    ///< nats://host:port (secrets never logged)
  std::string stream; ///< the engines' --nats-stream
  /// The consumer's name: subscribers of one name share the deliveries
  /// (each alert reaches one of them); another name gets its own copy.
  std::string durable;
  /// A consumer made now starts with alerts published from now on; with
  /// `replay`, with every alert the stream still holds.
  bool replay = false;
  /// How long a delivered alert waits for its acknowledgement before it is
  /// delivered again.
  std::chrono::milliseconds ack_wait{30'000};
};

/// One delivered event: its bytes, and what to tell JetStream about it.
class alert_delivery {
public:
  virtual ~alert_delivery() = default;
  virtual const std::string& subject() const = 0;
  virtual const std::string& data() const = 0;
  /// How often JetStream delivered it (1 the first time).
  virtual uint64_t attempt() const = 0;
  /// Done: never delivered again. Waits for the server's confirmation.
  virtual expected<ok> ack() = 0;
  /// Still working on it (a sink retrying): the ack wait starts over.
  virtual void in_progress() = 0;
  /// Deliver it again after `delay`.
  virtual void retry_later(std::chrono::milliseconds delay) = 0;
};

class alert_feed {
public:
  /// Connects and creates (or binds to) the durable consumer. Fails with
  /// what to do: a malformed URL, NATS away, no such stream.
  static expected<std::unique_ptr<alert_feed>> open(alert_feed_options opts);
  virtual ~alert_feed() = default;

  /// Up to `max` deliveries, waiting up to `wait` for the first; none when
  /// nothing came. A failure when NATS is away (the caller waits and asks
  /// again: the connection reconnects by itself).
  virtual expected<std::vector<std::unique_ptr<alert_delivery>>>
  fetch(size_t max, std::chrono::milliseconds wait) = 0;
};

} // namespace optischema::broker
