// WebSocket command frames: web/src/server_ws_command.cpp, and the reply the
// session renders from it (web/src/server_json.cpp), which must be JSON a
// browser accepts: Beast only passes text frames of valid UTF-8 to the
// session, and a reply of invalid UTF-8 makes the browser drop the socket.

#include "fuzz.hpp"

#include "optischema/util/json_parse.hpp"
#include "optischema/util/strings.hpp"

#include "server_json.hpp"
#include "server_ws_command.hpp"

using namespace optischema;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto text = fuzz::text(data, size);
  auto cmd = web::parse_ws_command(text);
  std::string reply;
  switch (cmd.what) {
    case web::ws_command::kind::invalid:
      fuzz::require(!cmd.error.empty(), "an invalid frame without a message");
      reply = web::ws_error_frame(cmd.error);
      break;
    case web::ws_command::kind::ping:
    case web::ws_command::kind::auth: return 0;
    case web::ws_command::kind::subscribe:
      reply = web::ws_lists_frame(
        "subscribed", {{"targets", cmd.targets}, {"topics", cmd.topics}});
      break;
  }
  rapidjson::Document d;
  fuzz::require(static_cast<bool>(json::parse(d, reply)) && d.IsObject(),
                "a reply that is not a JSON object");
  if (valid_utf8(text))
    fuzz::require(valid_utf8(reply),
                  "a reply of invalid UTF-8 to a frame of valid UTF-8");
  return 0;
}
