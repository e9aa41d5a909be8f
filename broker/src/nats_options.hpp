#pragma once

// What the broker library's cnats connections share (private to it): how a
// cnats failure reads, how secrets leave that text, and the options of the
// fleet's two connections.

#include "optischema/broker/ownership.hpp"
#include "optischema/util/error.hpp"
#include "optischema/util/redact.hpp"

#include "nats_url.hpp"

#include <nats/nats.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

/// The server(s) of `url` (parse_nats_url accepted it): one URL, or a
/// comma-separated list (a cluster), which natsOptions_SetURL would take as
/// one malformed URL.
inline natsStatus set_servers(natsOptions* o, const std::string& url) {
  if (url.find(',') == std::string::npos)
    return natsOptions_SetURL(o, url.c_str());
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    auto comma = url.find(',', start);
    parts.push_back(url.substr(start, comma - start));
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  std::vector<const char*> servers;
  for (auto& p : parts)
    servers.push_back(p.c_str());
  return natsOptions_SetServers(o, servers.data(),
                                static_cast<int>(servers.size()));
}

/// The options of the fleet's connections: the URL (TLS by its scheme), a
/// name the server shows, reconnects forever, and requests that fail at
/// once on a disconnect instead of waiting out their timeout.
inline natsStatus fleet_connection_options(natsOptions* o,
                                           const std::string& url,
                                           const nats_url& parsed,
                                           const std::string& name) {
  auto s = set_servers(o, url);
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

/// The checks every fleet connection starts with: the fleet's name and
/// the NATS URL, parsed. Fails with what to fix (no secret in it).
inline expected<nats_url> fleet_url(const std::string& fleet,
                                    const std::string& url) {
  if (auto bad = check_fleet_name("the fleet name", fleet, false);
      !bad.empty())
    return failure{ec::invalid_configuration, bad + ", got '" + fleet + "'"};
  nats_url parsed;
  std::string reason;
  if (!parse_nats_url(url, parsed, reason))
    return failure{ec::invalid_configuration,
                   "a fleet needs NATS with JetStream (--nats): invalid URL '"
                     + redact_nats_url(url) + "': " + reason};
  return parsed;
}

/// A connection, its JetStream context and one key-value bucket: what the
/// fleet's registry and its decision book each hold.
struct kv_handle {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  kvStore* kv = nullptr;

  /// Connects (fleet_connection_options, `wait_ms` for the connect and each
  /// JetStream request) and creates the bucket of `kc`, or binds to it as
  /// it is when another engine made it with other settings (a rolling
  /// change of settings never splits a fleet). Closes what it opened on
  /// failure.
  natsStatus open(const std::string& url, const nats_url& parsed,
                  const std::string& name, kvConfig& kc, int64_t wait_ms) {
    close();
    natsOptions* o = nullptr;
    auto s = natsOptions_Create(&o);
    if (s == NATS_OK)
      s = fleet_connection_options(o, url, parsed, name);
    if (s == NATS_OK)
      s = natsOptions_SetTimeout(o, wait_ms);
    if (s == NATS_OK)
      s = natsConnection_Connect(&nc, o);
    if (o != nullptr)
      natsOptions_Destroy(o);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = wait_ms;
    if (s == NATS_OK)
      s = natsConnection_JetStream(&js, nc, &jo);
    if (s == NATS_OK && js_CreateKeyValue(&kv, js, &kc) != NATS_OK)
      s = js_KeyValue(&kv, js, kc.Bucket);
    if (s != NATS_OK)
      close();
    return s;
  }

  void close() {
    if (kv != nullptr)
      kvStore_Destroy(std::exchange(kv, nullptr));
    if (js != nullptr)
      jsCtx_Destroy(std::exchange(js, nullptr));
    if (nc != nullptr)
      natsConnection_Destroy(std::exchange(nc, nullptr));
  }
};

} // namespace optischema::broker::detail
