#pragma once

// Namespace aliases and small helpers shared by the Beast sessions, after
// chat-multi's net.hpp and beast.hpp. Private to web/src.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including
// <utility>; under GCC 12 + C++20 it must come first (feasibility.md G4).
// clang-format off
#include <utility>
// clang-format on

#include "optischema/util/logging.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>
#include <string_view>

namespace optischema::web {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

/// How long a connection may wait for a request's line and headers: an idle
/// keep-alive connection, or a client dribbling its headers (slowloris), is
/// closed after it.
inline constexpr auto header_timeout = std::chrono::seconds{15};

/// How long a client may take to send a request's body once its headers are
/// in, so trickling sockets cannot pin a session forever.
inline constexpr auto read_timeout = std::chrono::seconds{30};

/// Request line and headers together; beyond it 431.
inline constexpr size_t header_limit = 32 * 1024;

/// The read buffer of a connection: the headers plus a read's worth of
/// body. A chunk header that never ends fills it and fails the request
/// instead of growing memory.
inline constexpr size_t read_buffer_limit = header_limit + 64 * 1024;

/// How long a client may take to accept one response.
inline constexpr auto write_timeout = std::chrono::seconds{30};

/// Upper bound on a handler's answer; after it the client gets 504 instead of
/// a connection that hangs because some actor never replied.
inline constexpr auto handler_timeout = std::chrono::minutes{5};

/// How long to drain a client's unread bytes after an error response, so the
/// kernel does not reset the connection before the client reads the answer.
inline constexpr auto linger_timeout = std::chrono::seconds{2};

/// Boost 1.74's string_view is not std::string_view; these convert.
inline std::string_view to_std(beast::string_view x) {
  return {x.data(), x.size()};
}

inline beast::string_view to_beast(std::string_view x) {
  return {x.data(), x.size()};
}

/// Reports a failed async step. Cancellations and orderly closes are part of
/// normal shutdown, so only the rest reaches the (debug) log.
inline void fail(beast::error_code ec, const char* what) {
  if (ec == net::error::operation_aborted || ec == websocket::error::closed)
    return;
  OPTISCHEMA_DEBUG("web: {}: {}", what, ec.message());
}

} // namespace optischema::web
