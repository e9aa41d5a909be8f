#include "server_ws_command.hpp"

#include "optischema/util/json_parse.hpp"
#include "optischema/util/strings.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <optional>

namespace optischema::web {

namespace {

bool contains(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

/// Reads `doc[key]` as a list of distinct strings into `out`; absent or null
/// means the empty list ("all"). Returns an error message otherwise.
std::optional<std::string> read_list(const rapidjson::Value& doc,
                                     const char* key,
                                     std::vector<std::string>& out) {
  auto i = doc.FindMember(key);
  if (i == doc.MemberEnd() || i->value.IsNull())
    return std::nullopt;
  auto error = fmt::format("\"{}\" must be an array of strings", key);
  if (!i->value.IsArray())
    return error;
  for (auto& x : i->value.GetArray()) {
    if (!x.IsString())
      return error;
    std::string item{x.GetString(), x.GetStringLength()};
    if (!contains(out, item))
      out.push_back(std::move(item));
  }
  return std::nullopt;
}

ws_command invalid(std::string message) {
  ws_command x;
  x.error = std::move(message);
  return x;
}

} // namespace

ws_command parse_ws_command(std::string_view text) {
  // A frame from a browser is UTF-8 (Beast checks text frames); one that is
  // not is refused whole, so nothing read from it can echo invalid bytes.
  if (!valid_utf8(text))
    return invalid(R"(the frame is not UTF-8 text; expected a JSON object )"
                   R"(such as {"type":"ping"})");
  rapidjson::Document doc;
  // json::parse also refuses \u escapes of lone surrogates: strings read
  // here are UTF-8, safe to echo in a reply (browsers drop a socket over a
  // text frame that is not).
  if (auto parsed = json::parse(doc, text, "the frame"); !parsed)
    return invalid(parsed.error().message
                   + R"(; expected a JSON object such as {"type":"ping"})");
  if (!doc.IsObject())
    return invalid(R"(expected a JSON object such as {"type":"ping"})");
  auto type = doc.FindMember("type");
  if (type == doc.MemberEnd() || !type->value.IsString())
    return invalid(R"(missing string field "type")");
  std::string_view kind{type->value.GetString(), type->value.GetStringLength()};
  ws_command cmd;
  if (kind == "ping") {
    cmd.what = ws_command::kind::ping;
    return cmd;
  }
  if (kind == "auth") {
    cmd.what = ws_command::kind::auth;
    if (auto t = doc.FindMember("token");
        t != doc.MemberEnd() && t->value.IsString())
      cmd.token.assign(t->value.GetString(), t->value.GetStringLength());
    return cmd;
  }
  if (kind != "subscribe")
    return invalid(
      fmt::format("unknown message type '{}'; expected subscribe, ping or "
                  "auth",
                  utf8_prefix(kind, 64)));
  if (auto err = read_list(doc, "targets", cmd.targets))
    return invalid(std::move(*err));
  if (auto err = read_list(doc, "topics", cmd.topics))
    return invalid(std::move(*err));
  for (auto& topic : cmd.topics)
    if (std::find(known_topics.begin(), known_topics.end(), topic)
        == known_topics.end())
      return invalid(fmt::format("unknown topic '{}'; known topics: {}",
                                 utf8_prefix(topic, 64),
                                 fmt::join(known_topics, ", ")));
  cmd.what = ws_command::kind::subscribe;
  return cmd;
}

} // namespace optischema::web
