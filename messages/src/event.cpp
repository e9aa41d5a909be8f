#include "optischema/messages/event.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/messages/config.hpp"
#include "optischema/util/json_parse.hpp"
#include "optischema/util/strings.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace optischema {

std::string to_json(const event& x) {
  // The payload is already JSON: splice it in rather than re-parse it.
  return fmt::format(R"({{"type":{},"target":{},"ts":{},"payload":{}}})",
                     json::quote(x.type), json::quote(x.target), x.ts_ms,
                     x.payload.empty() ? "null" : x.payload);
}

std::string subject(const event& x) {
  return fmt::format("optischema.{}.{}", x.target, x.type);
}

expected<event> parse_event(std::string_view subject_text,
                            std::string_view data) {
  auto bad = [](std::string why) {
    return failure{ec::bad_request, "event refused: " + why};
  };
  if (!valid_utf8(data))
    return bad("not UTF-8");
  rapidjson::Document d;
  if (auto parsed = json::parse(d, data, "the event"); !parsed)
    return bad(parsed.error().message);
  if (!d.IsObject())
    return bad("not a JSON object");
  auto str = [&](const char* k) -> std::string {
    auto i = d.FindMember(k);
    return i != d.MemberEnd() && i->value.IsString()
      ? std::string{i->value.GetString(), i->value.GetStringLength()}
      : std::string{};
  };
  event ev;
  ev.type = str("type");
  ev.target = str("target");
  static constexpr std::array known{event_type::metrics, event_type::status,
                                    event_type::recommendation,
                                    event_type::alert, event_type::analysis};
  if (std::find(known.begin(), known.end(), ev.type) == known.end())
    return bad("no known type");
  if (!valid_target_name(ev.target))
    return bad("no valid target name");
  if (subject(ev) != subject_text)
    return bad("its subject is not optischema.<target>.<type>");
  auto ts = d.FindMember("ts");
  if (ts == d.MemberEnd() || !ts->value.IsInt64())
    return bad("no time stamp");
  ev.ts_ms = ts->value.GetInt64();
  auto payload = d.FindMember("payload");
  if (payload == d.MemberEnd() || !payload->value.IsObject())
    return bad("no payload object");
  rapidjson::StringBuffer buf;
  json::writer w{buf};
  payload->value.Accept(w);
  ev.payload = json::text(buf);
  return ev;
}

} // namespace optischema
