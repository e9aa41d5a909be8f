#include "server_json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <utility>

namespace optischema::web {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void str(writer& w, std::string_view x) {
  w.String(x.data(), static_cast<rapidjson::SizeType>(x.size()));
}

std::string text(const rapidjson::StringBuffer& buf) {
  return {buf.GetString(), buf.GetSize()};
}

} // namespace

std::string error_json(std::string_view code, std::string_view message) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  str(w, "error");
  w.StartObject();
  str(w, "code");
  str(w, code);
  str(w, "message");
  str(w, message);
  w.EndObject();
  w.EndObject();
  return text(buf);
}

std::string ws_error_frame(std::string_view message, std::string_view code) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  str(w, "type");
  str(w, "error");
  if (!code.empty()) {
    str(w, "code");
    str(w, code);
  }
  str(w, "message");
  str(w, message);
  w.EndObject();
  return text(buf);
}

std::string ws_lists_frame(
  std::string_view type,
  const std::vector<std::pair<std::string_view, std::vector<std::string>>>&
    lists) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  str(w, "type");
  str(w, type);
  for (auto& [key, values] : lists) {
    str(w, key);
    w.StartArray();
    for (auto& x : values)
      str(w, x);
    w.EndArray();
  }
  w.EndObject();
  return text(buf);
}

} // namespace optischema::web
