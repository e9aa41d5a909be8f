#pragma once

// What the broker library's cnats connections share (private to it): how a
// cnats failure reads, how secrets leave that text, and the options of the
// fleet's two connections.

#include "optischema/util/redact.hpp"

#include "nats_url.hpp"

#include <nats/nats.h>

#include <string>
#include <string_view>

namespace optischema::broker::detail {

/// natsStatus text plus cnats' thread-local detail, when it has one. The
/// detail starts with a source location, "(conn.c:1905): ", cut here.
inline std::string describe(natsStatus s) {
  std::string text = natsStatus_GetText(s);
  natsStatus last = NATS_OK;
  const char* raw = nats_GetLastError(&last);
  std::string_view detail = raw != nullptr ? raw : "";
  if (!detail.empty() && detail.front() == '(') {
    if (auto end = detail.find("): "); end != std::string_view::npos)
      detail.remove_prefix(end + 3);
  }
  if (!detail.empty() && detail != text)
    text.append(": ").append(detail);
  return text;
}

/// `text` without secrets: redact_secrets, then the URL's own password or
/// token wherever cnats echoed it.
inline std::string scrub(std::string text, const nats_url& url) {
  text = redact_secrets(text);
  for (const auto& secret : url.secrets) {
    // Very short secrets would mangle every message; the URL itself is
    // always shown redacted, which covers them where they could appear.
    if (secret.size() < 4)
      continue;
    for (auto pos = text.find(secret); pos != std::string::npos;
         pos = text.find(secret, pos + 3))
      text.replace(pos, secret.size(), "***");
  }
  return text;
}

/// The options of the fleet's connections: the URL (TLS by its scheme), a
/// name the server shows, reconnects forever, and requests that fail at
/// once on a disconnect instead of waiting out their timeout.
inline natsStatus fleet_connection_options(natsOptions* o,
                                           const std::string& url,
                                           const nats_url& parsed,
                                           const std::string& name) {
  auto s = natsOptions_SetURL(o, url.c_str());
  if (s == NATS_OK && parsed.scheme == "tls")
    s = natsOptions_SetSecure(o, true);
  if (s == NATS_OK)
    s = natsOptions_SetName(o, name.c_str());
  if (s == NATS_OK)
    s = natsOptions_SetMaxReconnect(o, -1);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectWait(o, 250);
  if (s == NATS_OK)
    s = natsOptions_SetFailRequestsOnDisconnect(o, true);
  return s;
}

} // namespace optischema::broker::detail
