#pragma once

// The EDGE's part in one API for a fleet (private to edge.cpp): a request
// about a target another engine polls goes to that engine over NATS
// (broker/fleet_api.hpp), and requests other engines forward here come in
// as if from the web server, marked by their `remote` ("fleet:<engine>") so
// they are never forwarded again.

#include "optischema/actors/edge.hpp"
#include "optischema/web/api.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace optischema::actors::detail {

/// The engine that polls `target` if it is another one.
std::optional<std::string> owner_of_target(const edge_state& st,
                                           const std::string& target);

/// The engine that should answer `req` instead of this one, if any: a GET of
/// the open API, or a change (POST, token), whose `target` (in the query,
/// or the body's "target") another engine polls.
std::optional<std::string> fleet_owner(const edge_state& st,
                                       const web::http_request& req,
                                       const web::route& op);

/// Sends `req` to `owner` on a thread of its own and answers `out` with its
/// answer (or why there is none), marked with the engine that answered. A
/// change goes signed with the API token (never sent), which the owner
/// checks, and only if this engine has one.
void forward(edge_state& st, const web::http_request& req,
             std::shared_ptr<web::responder> out, const std::string& owner);

/// Whether `req` is a list answered for the whole fleet: a GET of hot
/// statements, suggestions or the status without a target (nor `local`,
/// which asks for this engine's own view), from a client, while other
/// engines are live.
bool fleet_wide(const edge_state& st, const web::http_request& req,
                const web::route& op);

/// Runs a request for this engine's part of a list.
using local_fn = std::function<void(web::http_request part,
                                    std::shared_ptr<web::responder> out)>;

/// Answers `req` (fleet_wide) from every live engine: this one's part
/// through `local`, the others' over NATS (each on a thread, 2 s at most),
/// merged (web/fleet_merge.hpp), naming the engines that did not answer.
void gather(edge_state& st, const web::http_request& req,
            std::shared_ptr<web::responder> out, const web::route& op,
            local_fn local);

/// Answers requests other engines forward here through the EDGE `hdl`;
/// changes only if signed with `api_token` for this `engine`, once each.
/// Hands the events other engines publish to `hdl` once they parse
/// (parse_event), counting the rest in `refused`.
void serve_fleet(broker::fleet_api& api, edge_actor hdl,
                 const std::string& api_token, const std::string& engine,
                 std::shared_ptr<std::atomic<uint64_t>> refused);

/// Whether the EDGE sends `ev`, from another engine, to its WebSocket
/// clients: a target of the fleet that this engine does not poll (its own
/// events reach its clients directly).
bool relays(const edge_state& st, const event& ev);

} // namespace optischema::actors::detail
