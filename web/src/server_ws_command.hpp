#pragma once

// What a WebSocket client's frame asks for, read without the session: a pure
// function the session calls and the fuzzer (fuzz/ws_command.cpp) feeds
// arbitrary bytes.

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace optischema::web {

/// The topics the engine broadcasts; announced in the hello frame.
inline constexpr std::array<std::string_view, 5> known_topics{
  "metrics", "status", "recommendation", "alert", "analysis"};

/// A client frame, read.
struct ws_command {
  enum class kind { ping, subscribe, auth, invalid };
  kind what = kind::invalid;
  /// subscribe: distinct names; empty means all.
  std::vector<std::string> targets;
  std::vector<std::string> topics;
  /// auth: the token the client sent (empty when it sent none).
  std::string token;
  /// invalid: the message of the error frame the client gets back.
  std::string error;
};

/// Reads a text frame: {"type":"ping"}, {"type":"auth","token":"…"} or
/// {"type":"subscribe","targets":[…],"topics":[…]} with known topics. Anything else is `invalid` with a
/// message saying what was expected.
ws_command parse_ws_command(std::string_view text);

} // namespace optischema::web
