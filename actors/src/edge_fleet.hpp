#pragma once

// The EDGE's part in one API for a fleet (private to edge.cpp): a read-only
// request about a target another engine polls goes to that engine over NATS
// (broker/fleet_api.hpp), and requests other engines forward here come in
// as if from the web server, marked by their `remote` ("fleet:<engine>") so
// they are never forwarded again.

#include "optischema/actors/edge.hpp"
#include "optischema/web/api.hpp"

#include <memory>
#include <optional>
#include <string>

namespace optischema::actors::detail {

/// The engine that should answer `req` instead of this one, if any: a GET of
/// the open API whose `target` another engine polls.
std::optional<std::string> fleet_owner(const edge_state& st,
                                       const web::http_request& req,
                                       const web::route& op);

/// Sends `req` to `owner` on a thread of its own and answers `out` with its
/// answer (or why there is none), marked with the engine that answered.
void forward(edge_state& st, const web::http_request& req,
             std::shared_ptr<web::responder> out, const std::string& owner);

/// Answers requests other engines forward here through the EDGE `hdl`.
void serve_fleet(broker::fleet_api& api, edge_actor hdl);

} // namespace optischema::actors::detail
