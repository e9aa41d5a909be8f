#pragma once

// The state every connection shares (chat-multi's shared_state): options,
// the request handler, the live sessions and the counters behind stats().

#include "optischema/web/server.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace optischema::web {

class websocket_session;

/// A connection the hub can close when the server stops.
class session_base {
public:
  virtual ~session_base() = default;

  /// Closes the connection. Callable from any thread: posts onto the
  /// session's strand.
  virtual void close() = 0;
};

class hub {
public:
  /// Counters behind server::stats(); atomics so any strand can bump them.
  struct counters {
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> ws_clients{0};
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
