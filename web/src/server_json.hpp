#pragma once

// JSON texts the web server writes itself: error bodies and WebSocket control
// frames. Handlers write their own bodies.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace optischema::web {

/// `{"error":{"code":...,"message":...}}`, the body of every error the
/// server answers on its own.
std::string error_json(std::string_view code, std::string_view message);

/// `{"type":"error","message":...}`: the answer to a bad client frame; with
/// a `code` ("unauthorized") the client can tell what to do.
std::string ws_error_frame(std::string_view message,
                           std::string_view code = {});

/// `{"type":<type>,"<key>":[...],...}` for the hello and subscribed frames.
std::string ws_lists_frame(
  std::string_view type,
  const std::vector<std::pair<std::string_view, std::vector<std::string>>>&
    lists);

} // namespace optischema::web
