#include "server_uri.hpp"

namespace optischema::web {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

std::optional<std::string> percent_decode(std::string_view in,
                                          bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    auto c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size())
        return std::nullopt;
      auto hi = hex_value(in[i + 1]);
      auto lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0)
        return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0')
      return std::nullopt;
    out.push_back(c);
  }
  return out;
}

std::optional<parsed_target> parse_target(std::string_view target) {
  if (target.empty() || target.front() != '/')
    return std::nullopt;
  auto qpos = target.find('?');
  auto raw_path = target.substr(0, qpos);
  // A fragment never reaches a server, but be lenient if a client sends one.
  auto raw_query = qpos == std::string_view::npos ? std::string_view{}
                                                  : target.substr(qpos + 1);
  if (auto hash = raw_query.find('#'); hash != std::string_view::npos)
    raw_query = raw_query.substr(0, hash);
  parsed_target result;
  auto path = percent_decode(raw_path, false);
  if (!path)
    return std::nullopt;
  result.path = std::move(*path);
  while (!raw_query.empty()) {
    auto amp = raw_query.find('&');
    auto pair = raw_query.substr(0, amp);
    raw_query = amp == std::string_view::npos ? std::string_view{}
                                              : raw_query.substr(amp + 1);
    if (pair.empty())
      continue;
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(
      eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1),
      true);
    if (!key || !value)
      return std::nullopt;
    // The last occurrence wins, like most web frameworks.
    result.query[std::move(*key)] = std::move(*value);
  }
  return result;
}

bool has_dot_dot_segment(std::string_view path) {
  while (!path.empty()) {
    auto slash = path.find('/');
    auto segment = path.substr(0, slash);
    if (segment == "..")
      return true;
    if (slash == std::string_view::npos)
      break;
    path.remove_prefix(slash + 1);
  }
  return false;
}

} // namespace optischema::web
