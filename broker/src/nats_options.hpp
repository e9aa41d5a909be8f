#pragma once

// The connection options the fleet's two connections share (private to the
// broker library): the URL (TLS by its scheme), a name the server shows,
// reconnects forever, and requests that fail at once on a disconnect
// instead of waiting out their timeout.

#include "nats_url.hpp"

#include <nats/nats.h>

#include <string>

namespace optischema::broker::detail {

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
