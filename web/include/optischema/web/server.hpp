#pragma once

// The engine's one HTTP port (Boost.Beast): REST requests are handed to a
// callback, WebSocket clients get broadcast frames, everything else is served
// from a static directory. No actors here: the EDGE actor plugs in through
// `set_handler` and `broadcast`.

#include "optischema/util/defaults.hpp"
#include "optischema/util/error.hpp"
#include "optischema/web/access.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace optischema::web {

/// A parsed HTTP request, as the handler sees it.
struct http_request {
  std::string method; ///< "GET", "POST", ...
  std::string path; ///< decoded path without the query, e.g. "/api/metrics/hot"
  std::map<std::string, std::string> query; ///< decoded query parameters
  std::string body;
  std::string content_type;
  std::string authorization; ///< the Authorization header, if any
  std::string remote;        ///< peer address, for the audit log
  /// A part of a fleet-wide list (another engine, or this one, gathers the
  /// rest): answer for the targets this engine polls only.
  bool fleet_local = false;
};

struct http_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Answers one request, exactly once, from any thread.
class responder {
public:
  virtual ~responder() = default;
  virtual void respond(http_response res) = 0;
};

using request_handler
  = std::function<void(http_request req, std::shared_ptr<responder> out)>;

struct server_options {
  /// host:port; port 0 picks a free one (see server::port()).
  std::string listen{defaults::listen};
  /// Served at "/" when not empty (the dashboard's static export).
  std::string static_dir;
  /// Who may call (token, Origin, Host; see access.hpp). Without a token the
  /// server refuses to listen beyond loopback unless `insecure_listen`.
  access_policy access;
  size_t io_threads = 2;
  /// Frames queued per WebSocket client before the oldest are dropped, so a
  /// slow client never stalls the others or grows memory.
  size_t ws_queue_limit = 256;
  size_t max_body_bytes = 1 << 20;
  /// Open connections (HTTP and WebSocket). At the limit a new connection
  /// takes the place of the one that has waited longest for its request
  /// headers (an idle keep-alive or a slowloris client); with none to
  /// evict it gets 503 and is closed. Memory stays bounded either way.
  size_t max_connections = defaults::max_connections;
  /// WebSocket clients; beyond them an upgrade gets 503.
  size_t max_ws_clients = defaults::max_ws_clients;
};

struct server_stats {
  uint64_t requests = 0;
  uint64_t connections = 0;
  uint64_t connections_refused = 0;
  uint64_t connections_evicted = 0;
  uint64_t ws_clients = 0;
  uint64_t ws_refused = 0;
  uint64_t ws_frames_sent = 0;
  uint64_t ws_frames_dropped = 0;
};

class server : public std::enable_shared_from_this<server> {
public:
  /// Binds the address and starts the io threads. Fails with a message that
  /// names the address (in use, not local, malformed), and when the address
  /// is not loopback while no token is set and `insecure_listen` is off.
  static expected<std::shared_ptr<server>> start(server_options opts);

  virtual ~server() = default;

  /// Routes `/health`, `/api/*` requests to `h`. Until it is set, those
  /// requests get 503 with a JSON error.
  virtual void set_handler(request_handler h) = 0;

  /// Sends `frame` (a complete JSON text) to every WebSocket client whose
  /// subscription matches `target` and `topic`. Never blocks.
  virtual void broadcast(const std::string& target, const std::string& topic,
                         std::shared_ptr<const std::string> frame)
    = 0;

  virtual uint16_t port() const = 0;
  /// "http://host:port"
  virtual std::string url() const = 0;
  virtual server_stats stats() const = 0;

  /// What an operator should know about how exposed the port is (no token
  /// beyond loopback, any origin allowed); empty when nothing.
  virtual std::vector<std::string> warnings() const = 0;

  /// Closes the listener and all sessions, joins the io threads. Idempotent.
  virtual void stop() = 0;
};

} // namespace optischema::web
