#pragma once

// Who may call the engine's port: the one authorisation rule every request
// passes before it is routed (REST, WebSocket upgrade, static file), and the
// headers every answer carries. Pure: no sockets, no actors; the Beast
// sessions call `admit` with what a request says about itself.
//
// The rule, in the order it is checked:
//  1. Host must name this engine: an IP literal, "localhost" (or a name under
//     .localhost), or a configured --allowed-host ("*": any). A DNS name an
//     attacker rebinds to our address arrives with *their* name in Host, so
//     it is refused (421). IP literals and localhost cannot be rebound.
//  2. State-changing requests (anything but GET, HEAD, OPTIONS) and WebSocket
//     upgrades from a browser (an Origin header) must come from the engine's
//     own origin (scheme://Host of this very request) or a --cors-origin;
//     else 403. No Origin (curl, scripts) passes this step.
//  3. With a token configured, state-changing requests need
//     `Authorization: Bearer <token>` (401). The WebSocket checks it in its
//     first frame instead (browsers cannot set headers there).
//  4. State-changing requests carry `Content-Type: application/json` (415):
//     a page elsewhere can send text/plain or a form without asking, but a
//     JSON body makes the browser ask first (CORS preflight).

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace optischema::web {

/// Who may call; part of server_options.
struct access_policy {
  /// The bearer token of every state-changing request (empty: none needed,
  /// and the engine then listens on loopback only unless `insecure_listen`).
  /// A secret: never logged.
  std::string api_token;
  /// Origins allowed to call from a browser (CORS and the Origin check);
  /// "*" allows any.
  std::vector<std::string> cors_origins;
  /// Host names the engine is reached by besides IP literals and localhost
  /// (a reverse proxy's public name); "*" accepts any Host.
  std::vector<std::string> allowed_hosts;
  /// Listen beyond loopback without a token (an authenticating proxy in
  /// front); warned about at start and in /api/status.
  bool insecure_listen = false;
};

/// What a request says about itself, as far as the rule cares.
struct request_facts {
  std::string_view method;
  /// Header values; `has_*` tells an empty header from a missing one.
  std::string_view host;
  bool has_host = false;
  std::string_view origin;
  bool has_origin = false;
  std::string_view authorization;
  std::string_view content_type;
  bool websocket = false;
};

/// Why a request is refused: the HTTP status, the error code of the JSON
/// body, a message that says what to do, and headers to add.
struct refusal {
  unsigned status = 403;
  std::string code;
  std::string message;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// The one rule (see the top of this file); nullopt admits the request.
std::optional<refusal> admit(const request_facts& req,
                             const access_policy& policy);

/// Anything but GET, HEAD and OPTIONS.
bool changes_state(std::string_view method);

/// True when `host` (a Host header: name[:port]) names this engine.
bool host_allowed(std::string_view host, const access_policy& policy);

/// The Access-Control-Allow-Origin value for `origin`: "*", the origin
/// itself, or "" when --cors-origin does not list it.
std::string cors_allow_origin(std::string_view origin,
                              const access_policy& policy);

/// True when `origin` is the engine's own (scheme://`host`) or configured.
bool origin_allowed(std::string_view origin, std::string_view host,
                    const access_policy& policy);

/// True for "application/json", any case, with or without parameters.
bool is_json(std::string_view content_type);

/// Compares a presented token with the configured one in time independent
/// of where they differ. False when `expected` is empty.
bool token_matches(std::string_view expected, std::string_view given);

/// A value from a client, made safe to quote in a message or a log:
/// printable ASCII ('?' for anything else), at most 120 characters.
std::string echo(std::string_view x);

/// HMAC-SHA256 of `payload` keyed with the API token, in hex: how engines
/// of a fleet prove to each other that a change they forward came with the
/// token (which never leaves the engine). Empty when `token` is.
std::string token_signature(std::string_view token, std::string_view payload);

/// The token of an "Authorization: Bearer <token>" header, or nullopt.
std::optional<std::string_view> bearer_token(std::string_view authorization);

/// The refusal of a request without the right token.
refusal unauthorized();

/// Headers on every answer: nosniff, no framing, no referrer.
const std::vector<std::pair<std::string, std::string>>& security_headers();

/// The Content-Security-Policy of a non-HTML answer (JSON, scripts, images).
const std::string& default_csp();

/// The Content-Security-Policy of an HTML page: scripts from this origin
/// plus exactly the page's inline scripts (by their sha256), so the static
/// export's bootstrap scripts run and an injected one does not.
std::string page_csp(std::string_view html);

/// 'sha256-…' sources of the inline <script> elements of `html`.
std::vector<std::string> inline_script_hashes(std::string_view html);

} // namespace optischema::web
