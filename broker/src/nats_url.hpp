#pragma once

// NATS URL validation and redaction, private to the broker library. Header
// only, so the rules sit apart from the connection logic in nats_client.cpp.

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace optischema::broker::detail {

/// What create() needs to know about a URL it accepted.
struct nats_url {
  /// The URL with the password (user:pass@) or the token (token@) replaced
  /// by `***`; the only form that may be shown or logged.
  std::string redacted;
  /// "nats" or "tls" (lower case).
  std::string scheme;
  /// Password or token found in the URL, to scrub from any text that might
  /// echo it (cnats error strings, for instance).
  std::vector<std::string> secrets;
};

/// Replaces the credentials of anything that looks like a URL. Works on
/// malformed input too, because error messages quote what the user wrote.
/// The *last* '@' ends the credentials: passwords may contain '/' or '@'
/// when people paste them unencoded, and must not leak because of that.
inline std::string redact_one_nats_url(std::string_view url) {
  auto scheme_end = url.find("://");
  auto start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  auto at = url.rfind('@');
  if (at == std::string_view::npos || at < start)
    return std::string{url};
  auto userinfo = url.substr(start, at - start);
  std::string out{url.substr(0, start)};
  if (auto colon = userinfo.find(':'); colon != std::string_view::npos) {
    out.append(userinfo.substr(0, colon + 1));
    out += "***";
  } else {
    out += "***"; // a bare token is a secret as a whole
  }
  out.append(url.substr(at));
  return out;
}

/// A comma-separated list of servers, each redacted.
inline std::string redact_nats_url(std::string_view url) {
  std::string out;
  for (;;) {
    auto comma = url.find(',');
    out += redact_one_nats_url(url.substr(0, comma));
    if (comma == std::string_view::npos)
      return out;
    out += ',';
    url.remove_prefix(comma + 1);
  }
}

/// Validates one server's URL (parse_nats_url).
inline bool parse_one_nats_url(std::string_view url, nats_url& out,
                               std::string& reason) {
  out = {};
  if (url.empty()) {
    reason = "the URL is empty; expected nats://host:port";
    return false;
  }
  for (char c : url) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      reason = "the URL contains whitespace";
      return false;
    }
  }
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    reason = "missing scheme; expected nats://host:port or tls://host:port";
    return false;
  }
  std::string scheme;
  for (char c : url.substr(0, scheme_end))
    scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "nats" && scheme != "tls") {
    reason = "unsupported scheme '" + scheme + "'; use nats:// or tls://";
    return false;
  }
  auto rest = url.substr(scheme_end + 3);
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    auto userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    if (userinfo.empty()) {
      reason = "empty credentials before '@'";
      return false;
    }
    if (auto colon = userinfo.find(':'); colon != std::string_view::npos) {
      if (colon == 0) {
        reason = "empty user name before ':'";
        return false;
      }
      if (colon + 1 < userinfo.size())
        out.secrets.emplace_back(userinfo.substr(colon + 1));
    } else {
      out.secrets.emplace_back(userinfo);
    }
  }
  auto slash = rest.find('/');
  auto hostport = rest.substr(0, slash);
  if (slash != std::string_view::npos && slash + 1 != rest.size()) {
    reason = "unexpected path after host and port";
    return false;
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    reason = "unexpected query or fragment";
    return false;
  }
  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (!hostport.empty() && hostport.front() == '[') {
    auto close = hostport.find(']');
    if (close == std::string_view::npos) {
      reason = "unterminated '[' in IPv6 host";
      return false;
    }
    host = hostport.substr(1, close - 1);
    auto after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        reason = "unexpected characters after ']'";
        return false;
      }
      has_port = true;
      port = after.substr(1);
    }
    for (char c : host) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':'
          && c != '.') {
        reason = "invalid IPv6 host";
        return false;
      }
    }
  } else {
    auto colon = hostport.find(':');
    if (colon != std::string_view::npos
        && hostport.find(':', colon + 1) != std::string_view::npos) {
      reason = "too many ':'; write IPv6 hosts in brackets";
      return false;
    }
    host = hostport.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port = hostport.substr(colon + 1);
    }
    for (char c : host) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-'
          && c != '_') {
        reason = "invalid character in host";
        return false;
      }
    }
  }
  if (host.empty()) {
    reason = "missing host";
    return false;
  }
  if (has_port) {
    unsigned long value = 0;
    bool valid = !port.empty() && port.size() <= 5;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) {
        valid = false;
        break;
      }
      value = value * 10 + static_cast<unsigned long>(c - '0');
    }
    if (!valid || value == 0 || value > 65535) {
      reason = "the port must be a number between 1 and 65535";
      return false;
    }
  }
  out.scheme = std::move(scheme);
  out.redacted = redact_one_nats_url(url);
  return true;
}

/// Validates `url`: one server or a comma-separated list of them (a
/// cluster: the client connects to any and fails over to the others), each
/// nats:// or tls:// (all the same), optional credentials, a host, an
/// optional port 1..65535 (cnats defaults to 4222), nothing after but an
/// optional '/'. On error returns false and sets `reason` to a sentence that
/// holds no secret.
inline bool parse_nats_url(std::string_view url, nats_url& out,
                           std::string& reason) {
  out = {};
  if (url.empty()) {
    reason = "the URL is empty; expected nats://host:port";
    return false;
  }
  for (size_t n = 1;; ++n) {
    auto comma = url.find(',');
    nats_url one;
    if (!parse_one_nats_url(url.substr(0, comma), one, reason)) {
      if (comma != std::string_view::npos || n > 1)
        reason = "server " + std::to_string(n) + " of the list: " + reason;
      return false;
    }
    if (!out.scheme.empty() && one.scheme != out.scheme) {
      reason = "every server of the list needs the same scheme (nats:// or "
               "tls://)";
      return false;
    }
    out.scheme = one.scheme;
    out.redacted += (out.redacted.empty() ? "" : ",") + one.redacted;
    for (auto& secret : one.secrets)
      out.secrets.push_back(std::move(secret));
    if (comma == std::string_view::npos)
      return true;
    url.remove_prefix(comma + 1);
  }
}

} // namespace optischema::broker::detail
