#include "optischema/util/strings.hpp"
#include "optischema/web/access.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace optischema::web {

namespace {

/// Longest piece of a client-supplied value echoed in a message.
constexpr size_t max_echo = 120;

bool iequals(std::string_view x, std::string_view y) {
  return x.size() == y.size()
    && std::equal(x.begin(), x.end(), y.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a))
             == std::tolower(static_cast<unsigned char>(b));
         });
}

/// A Host header split into its name (lower case, without brackets or a
/// trailing dot) and port; nullopt when malformed.
struct host_parts {
  std::string name;
  std::string port;
  bool ipv6 = false;
};

std::optional<host_parts> split_host(std::string_view host) {
  host_parts out;
  std::string_view name;
  std::string_view port;
  if (host.starts_with('[')) {
    auto close = host.find(']');
    if (close == std::string_view::npos)
      return std::nullopt;
    name = host.substr(1, close - 1);
    auto rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        return std::nullopt;
      port = rest.substr(1);
    }
    out.ipv6 = true;
  } else {
    auto colon = host.find(':');
    name = host.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = host.substr(colon + 1);
      if (port.find(':') != std::string_view::npos)
        return std::nullopt; // IPv6 needs brackets
    }
  }
  if (name.empty() || port.size() > 5
      || !std::all_of(port.begin(), port.end(),
                      [](unsigned char c) { return std::isdigit(c); }))
    return std::nullopt;
  out.name = lower(name);
  if (!out.ipv6 && out.name.size() > 1 && out.name.back() == '.')
    out.name.pop_back();
  out.port = std::string{port};
  return out;
}

bool is_ip_literal(const host_parts& h) {
  std::array<unsigned char, 16> buf{};
  if (h.ipv6)
    return inet_pton(AF_INET6, h.name.c_str(), buf.data()) == 1;
  return inet_pton(AF_INET, h.name.c_str(), buf.data()) == 1;
}

bool is_localhost(const host_parts& h) {
  // RFC 6761: browsers resolve these to loopback themselves.
  return !h.ipv6 && (h.name == "localhost" || h.name.ends_with(".localhost"));
}

/// "scheme://authority" with default ports dropped, for comparing origins.
std::optional<std::string> normal_origin(std::string_view scheme,
                                         std::string_view authority) {
  auto parts = split_host(authority);
  if (!parts)
    return std::nullopt;
  auto s = lower(scheme);
  auto name = parts->ipv6 ? "[" + parts->name + "]" : parts->name;
  auto default_port = s == "https" ? "443" : "80";
  if (parts->port.empty() || parts->port == default_port)
    return s + "://" + name;
  return s + "://" + name + ":" + parts->port;
}

std::string sha256_base64(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr);
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> out{};
  auto n = EVP_EncodeBlock(out.data(), md.data(), static_cast<int>(len));
  return {reinterpret_cast<const char*>(out.data()), static_cast<size_t>(n)};
}

size_t ifind(std::string_view haystack, std::string_view needle, size_t from) {
  if (needle.empty() || haystack.size() < needle.size())
    return std::string_view::npos;
  for (size_t i = from; i + needle.size() <= haystack.size(); ++i)
    if (iequals(haystack.substr(i, needle.size()), needle))
      return i;
  return std::string_view::npos;
}

} // namespace

bool changes_state(std::string_view method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

bool host_allowed(std::string_view host, const access_policy& policy) {
  auto parts = split_host(host);
  if (!parts)
    return false;
  if (is_ip_literal(*parts) || is_localhost(*parts))
    return true;
  return std::any_of(policy.allowed_hosts.begin(), policy.allowed_hosts.end(),
                     [&](const std::string& allowed) {
                       if (allowed == "*")
                         return true;
                       auto a = split_host(allowed);
                       return a && a->name == parts->name;
                     });
}

std::string cors_allow_origin(std::string_view origin,
                              const access_policy& policy) {
  if (origin.empty())
    return {};
  for (auto& allowed : policy.cors_origins) {
    if (allowed == "*")
      return "*";
    // Tolerate "http://host:3000/" in the configuration: browsers send the
    // origin without a trailing slash.
    std::string_view x = allowed;
    while (!x.empty() && x.back() == '/')
      x.remove_suffix(1);
    if (iequals(x, origin))
      return std::string{origin};
  }
  return {};
}

bool origin_allowed(std::string_view origin, std::string_view host,
                    const access_policy& policy) {
  if (!cors_allow_origin(origin, policy).empty())
    return true;
  // The engine's own origin: what the browser shows in its address bar when
  // the engine served the page, i.e. scheme://Host of this request (http,
  // or https behind a TLS-terminating proxy).
  auto sep = origin.find("://");
  if (sep == std::string_view::npos || host.empty())
    return false;
  auto scheme = lower(origin.substr(0, sep));
  if (scheme != "http" && scheme != "https")
    return false;
  auto given = normal_origin(scheme, origin.substr(sep + 3));
  auto own = normal_origin(scheme, host);
  return given && own && *given == *own;
}

bool is_json(std::string_view content_type) {
  auto end = content_type.find(';');
  auto type = content_type.substr(0, end);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t'))
    type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t'))
    type.remove_prefix(1);
  return iequals(type, "application/json");
}

bool token_matches(std::string_view expected, std::string_view given) {
  if (expected.empty())
    return false;
  // Constant time: how long a wrong token matched must not leak.
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i)
    diff |= static_cast<unsigned char>(expected[i]
                                       ^ (i < given.size() ? given[i] : 0));
  return diff == 0;
}

std::string echo(std::string_view x) {
  std::string out;
  for (unsigned char c : x.substr(0, max_echo))
    out += (c < 0x20 || c >= 0x7f) ? '?' : static_cast<char>(c);
  return out;
}

std::string token_signature(std::string_view token, std::string_view payload) {
  if (token.empty())
    return {};
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), token.data(), static_cast<int>(token.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(),
       md.data(), &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view scheme = "Bearer ";
  if (authorization.size() <= scheme.size()
      || !iequals(authorization.substr(0, scheme.size()), scheme))
    return std::nullopt;
  return authorization.substr(scheme.size());
}

refusal unauthorized() {
  return {401,
          "unauthorized",
          "this engine needs its API token: send Authorization: Bearer "
          "<token> (the token the engine was started with, "
          "--api-token-file); the dashboard asks for it on its Settings page",
          {{"WWW-Authenticate", "Bearer"}}};
}

std::optional<refusal> admit(const request_facts& req,
                             const access_policy& policy) {
  // A request without Host cannot come from a browser, so it cannot be
  // part of DNS rebinding (HTTP/1.0 clients send none).
  if (req.has_host && !host_allowed(req.host, policy))
    return refusal{
      421,
      "misdirected_request",
      fmt::format("this engine is not served as '{}': a name the engine does "
                  "not know may be a DNS rebinding attack; if it is the "
                  "engine's name, start the engine with --allowed-host NAME",
                  echo(req.host)),
      {}};
  auto unsafe = changes_state(req.method);
  if ((unsafe || req.websocket) && req.has_origin
      && !origin_allowed(req.origin, req.host, policy))
    return refusal{
      403,
      "forbidden_origin",
      fmt::format("requests from pages at '{}' are refused; if a dashboard "
                  "served there should call this engine, start the engine "
                  "with --cors-origin {}",
                  echo(req.origin), echo(req.origin)),
      {}};
  if (!unsafe)
    return std::nullopt;
  if (!policy.api_token.empty()) {
    auto given = bearer_token(req.authorization);
    if (!given || !token_matches(policy.api_token, *given))
      return unauthorized();
  }
  if (!is_json(req.content_type))
    return refusal{
      415,
      "unsupported_media_type",
      fmt::format("send the body as Content-Type: application/json (got "
                  "'{}'); {{}} or an empty body where the endpoint takes no "
                  "fields. Other types are refused because a page on another "
                  "site can send them without the browser asking first",
                  echo(req.content_type)),
      {}};
  return std::nullopt;
}

const std::vector<std::pair<std::string, std::string>>& security_headers() {
  static const std::vector<std::pair<std::string, std::string>> xs{
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
    // Other sites' pages may not embed or read what the engine serves,
    // even in no-cors mode.
    {"Cross-Origin-Resource-Policy", "same-origin"},
  };
  return xs;
}

const std::string& default_csp() {
  static const std::string csp
    = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
      "form-action 'none'";
  return csp;
}

std::vector<std::string> inline_script_hashes(std::string_view html) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = ifind(html, "<script", pos)) != std::string_view::npos) {
    auto after = pos + 7;
    if (after >= html.size())
      break;
    auto next = static_cast<unsigned char>(html[after]);
    if (next != '>' && !std::isspace(next)) {
      pos = after;
      continue;
    }
    auto open_end = html.find('>', after);
    if (open_end == std::string_view::npos)
      break;
    auto attributes = html.substr(after, open_end - after);
    auto close = ifind(html, "</script", open_end + 1);
    if (close == std::string_view::npos)
      break;
    auto body = html.substr(open_end + 1, close - open_end - 1);
    auto src = ifind(attributes, "src=", 0);
    auto has_src = src != std::string_view::npos
      && (src == 0
          || std::isspace(static_cast<unsigned char>(attributes[src - 1])));
    if (!has_src && !body.empty()) {
      auto hash = "'sha256-" + sha256_base64(body) + "'";
      if (std::find(out.begin(), out.end(), hash) == out.end())
        out.push_back(std::move(hash));
    }
    pos = close + 8;
  }
  return out;
}

std::string page_csp(std::string_view html) {
  std::string scripts = "'self'";
  for (auto& hash : inline_script_hashes(html))
    scripts += " " + hash;
  // Styles: React and the export write style attributes; an injected style
  // cannot run code, so they are allowed inline. connect-src 'self' covers
  // the page's own WebSocket (ws: and wss: of the same host).
  return fmt::format("default-src 'self'; script-src {}; style-src 'self' "
                     "'unsafe-inline'; img-src 'self' data: blob:; font-src "
                     "'self' data:; connect-src 'self'; object-src 'none'; "
                     "base-uri 'none'; form-action 'self'; frame-ancestors "
                     "'none'",
                     scripts);
}

} // namespace optischema::web
