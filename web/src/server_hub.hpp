#pragma once

// The state every connection shares (chat-multi's shared_state): options,
// the request handler, the live sessions and the counters behind stats().

#include "optischema/web/server.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace optischema::web {

class websocket_session;

class hub;

/// The steady clock in nanoseconds, the unit of waiting_since().
inline int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

/// A connection the hub can close when the server stops.
class session_base {
public:
  virtual ~session_base() = default;

  /// Closes the connection. Callable from any thread: posts onto the
  /// session's strand.
  virtual void close() = 0;

  /// Since when (steady clock, ns) the connection has waited for a
  /// request's headers; max() while it works on a request or is a
  /// WebSocket. The longest waiter is evicted when connections run out.
  virtual int64_t waiting_since() const {
    return std::numeric_limits<int64_t>::max();
  }
};

/// One open connection counted against server_options::max_connections;
/// released when the last session owning the socket ends (the HTTP
/// session hands it to the WebSocket session on upgrade).
class connection_slot {
public:
  explicit connection_slot(std::shared_ptr<hub> owner);
  ~connection_slot();
  connection_slot(const connection_slot&) = delete;
  connection_slot& operator=(const connection_slot&) = delete;

private:
  std::shared_ptr<hub> hub_;
};

class hub : public std::enable_shared_from_this<hub> {
public:
  /// Counters behind server::stats(); atomics so any strand can bump them.
  struct counters {
    std::atomic<uint64_t> requests{0};
    /// Open connections, WebSocket clients included.
    std::atomic<uint64_t> connections{0};
    std::atomic<uint64_t> connections_refused{0};
    std::atomic<uint64_t> connections_evicted{0};
    /// Connections ended so far (when many did, memory is handed back).
    std::atomic<uint64_t> connections_closed{0};
    /// WebSocket clients, from the upgrade on.
    std::atomic<uint64_t> ws_clients{0};
    std::atomic<uint64_t> ws_refused{0};
    std::atomic<uint64_t> ws_frames_sent{0};
    std::atomic<uint64_t> ws_frames_dropped{0};
  };

  explicit hub(server_options opts);

  hub(const hub&) = delete;
  hub& operator=(const hub&) = delete;

  const server_options& options() const {
    return opts_;
  }

  counters& stats() {
    return counters_;
  }

  server_stats snapshot() const;

  // -- handler ----------------------------------------------------------------

  void set_handler(request_handler h);

  /// The current handler, or null before set_handler. A shared_ptr so a
  /// request in flight keeps the handler it started with.
  std::shared_ptr<const request_handler> handler() const;

  /// The Access-Control-Allow-Origin value for `origin`, or "" when CORS
  /// does not allow it.
  std::string cors_origin(std::string_view origin) const;

  // -- limits -----------------------------------------------------------------

  /// Called for each accepted socket: a slot when there is room, or when
  /// the connection that waited longest for its headers could be closed
  /// to make some; null when the socket must be refused.
  std::unique_ptr<connection_slot> open_connection();

  /// Reserves a WebSocket client; false (counted) at the limit.
  bool reserve_ws_client();

  void release_ws_client();

  // -- sessions ---------------------------------------------------------------

  /// Registers a live connection so stop() can close it. Returns false once
  /// the server is stopping; the caller then closes itself.
  bool add(session_base* key, std::weak_ptr<session_base> x);

  void remove(session_base* key);

  /// Makes `x` a broadcast receiver. Returns false once stopping.
  bool subscribe(websocket_session* key, std::weak_ptr<websocket_session> x);

  void unsubscribe(websocket_session* key);

  /// Hands `frame` to every WebSocket session whose subscription matches.
  /// Snapshots the sessions under the lock and sends outside of it, so a
  /// session closing concurrently never deadlocks with a broadcast.
  void broadcast(const std::string& target, const std::string& topic,
                 const std::shared_ptr<const std::string>& frame);

  /// Stops registering new sessions and returns the live ones.
  std::vector<std::weak_ptr<session_base>> shut_down();

  // -- posting from foreign threads -------------------------------------------

  /// Runs `f` (which posts onto the io_context) unless posting was closed.
  /// Responders may outlive the server; they post only through here, and
  /// the server closes posting before its io_context dies.
  template <class F>
  bool guarded(F&& f) {
    std::lock_guard<std::mutex> guard{post_mtx_};
    if (!posting_)
      return false;
    f();
    return true;
  }

  void close_posting();

private:
  const server_options opts_;
  counters counters_;

  mutable std::mutex handler_mtx_;
  std::shared_ptr<const request_handler> handler_;

  std::mutex sessions_mtx_;
  bool accepting_ = true;
  std::unordered_map<session_base*, std::weak_ptr<session_base>> sessions_;
  std::unordered_map<websocket_session*, std::weak_ptr<websocket_session>>
    subscribers_;

  std::mutex post_mtx_;
  bool posting_ = true;
};

} // namespace optischema::web
