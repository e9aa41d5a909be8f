#include "edge_fleet.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/util/json_parse.hpp"
#include "optischema/util/logging.hpp"

#include <caf/send.hpp>

#include <algorithm>
#include <atomic>
#include <system_error>
#include <thread>

namespace optischema::actors::detail {

namespace {

/// How long an engine waits for another's answer.
constexpr auto forward_timeout = std::chrono::seconds{5};

/// Forwarded requests waiting at once; more are refused (each waits on a
/// thread of its own).
constexpr int max_forwarding = 32;

/// What another engine may forward: a small GET, nothing more.
constexpr size_t max_query_params = 32;
constexpr size_t max_text = 4096;

constexpr const char* remote_prefix = "fleet:";

/// The answer to a forwarded request, as JSON for the asking engine.
std::string encode(const web::http_response& res) {
  return json::object([&](json::writer& w) {
    json::field(w, "status", static_cast<int64_t>(res.status));
    json::field(w, "content_type", res.content_type);
    json::field(w, "body", res.body);
  });
}

/// Answers a forwarded request by publishing its reply; a request dropped
/// unanswered (a dead EDGE) still gets one.
class fleet_responder final : public web::responder {
public:
  explicit fleet_responder(broker::fleet_api::reply_fn reply)
    : reply_(std::move(reply)) {}

  ~fleet_responder() override {
    if (!answered_.exchange(true))
      reply_(encode(web::error_response(
        503, ec::internal, "the engine dropped the request; try again")));
  }

  void respond(web::http_response res) override {
    if (!answered_.exchange(true))
      reply_(encode(res));
  }

private:
  broker::fleet_api::reply_fn reply_;
  std::atomic<bool> answered_{false};
};

/// A forwarded request as the web server would have parsed it, or why not.
expected<web::http_request> decode_request(const std::string& text) {
  auto bad = [](std::string why) {
    return failure{ec::bad_request, "forwarded request refused: " + why};
  };
  rapidjson::Document d;
  if (!json::parse(d, text) || !d.IsObject())
    return bad("not a JSON object");
  auto str = [&](const char* k) -> const rapidjson::Value* {
    auto i = d.FindMember(k);
    return i != d.MemberEnd() && i->value.IsString()
        && i->value.GetStringLength() <= max_text
      ? &i->value
      : nullptr;
  };
  auto* method = str("method");
  auto* path = str("path");
  auto* from = str("from");
  if (method == nullptr || std::string_view{method->GetString()} != "GET")
    return bad("only GET is forwarded");
  if (path == nullptr || from == nullptr)
    return bad("path and from are needed");
  web::http_request req;
  req.method = "GET";
  req.path = path->GetString();
  req.remote = remote_prefix + std::string{from->GetString()};
  // Only what a client may read without the token.
  auto route = web::match_route(req.path);
  auto open_get = std::any_of(route.routes.begin(), route.routes.end(),
                              [](const web::route* r) {
                                return std::string_view{r->method} == "GET"
                                  && r->auth == web::access::open;
                              });
  if (!open_get)
    return bad("not a read-only operation of the API");
  auto q = d.FindMember("query");
  if (q != d.MemberEnd()) {
    if (!q->value.IsObject() || q->value.MemberCount() > max_query_params)
      return bad("query must be an object of at most 32 strings");
    for (auto& m : q->value.GetObject()) {
      if (!m.value.IsString() || m.name.GetStringLength() > max_text
          || m.value.GetStringLength() > max_text)
        return bad("query must be an object of at most 32 strings");
      req.query[m.name.GetString()] = m.value.GetString();
    }
  }
  return req;
}

/// The asking engine's side: the answer, checked, as an HTTP response.
web::http_response decode_answer(const std::string& text,
                                 const std::string& owner) {
  rapidjson::Document d;
  auto garbled = [&] {
    return web::error_response(502, ec::internal,
                               "engine " + owner + " answered garbage");
  };
  if (!json::parse(d, text) || !d.IsObject())
    return garbled();
  auto status = d.FindMember("status");
  auto type = d.FindMember("content_type");
  auto body = d.FindMember("body");
  if (status == d.MemberEnd() || !status->value.IsInt()
      || status->value.GetInt() < 100 || status->value.GetInt() > 599
      || type == d.MemberEnd() || !type->value.IsString()
      || type->value.GetStringLength() > 200 || body == d.MemberEnd()
      || !body->value.IsString())
    return garbled();
  // It becomes a header: printable ASCII only, no line breaks to split the
  // answer with (whoever can answer on NATS is not trusted that far).
  std::string_view ct{type->value.GetString(), type->value.GetStringLength()};
  if (!std::all_of(ct.begin(), ct.end(),
                   [](char c) { return c >= 0x20 && c <= 0x7E; }))
    return garbled();
  web::http_response res;
  res.status = static_cast<unsigned>(status->value.GetInt());
  res.content_type = type->value.GetString();
  res.body.assign(body->value.GetString(), body->value.GetStringLength());
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

} // namespace

std::optional<std::string> fleet_owner(const edge_state& st,
                                       const web::http_request& req,
                                       const web::route& op) {
  if (!st.config.fleet_api || !st.config.fleet
      || std::string_view{op.method} != "GET" || op.auth != web::access::open
      || req.remote.rfind(remote_prefix, 0) == 0)
    return std::nullopt;
  auto t = req.query.find("target");
  if (t == req.query.end())
    return std::nullopt;
  for (auto& [target, owner] : st.config.fleet->owners)
    if (target == t->second)
      return owner != st.config.engine_id && !owner.empty()
        ? std::optional<std::string>{owner}
        : std::nullopt;
  return std::nullopt;
}

void forward(edge_state& st, const web::http_request& req,
             std::shared_ptr<web::responder> out, const std::string& owner) {
  if (st.forwarding->load() >= max_forwarding) {
    auto res = web::error_response(
      503, ec::budget_exhausted,
      "too many requests wait for other engines of the fleet; try again");
    res.headers.emplace_back("Retry-After", "1");
    out->respond(std::move(res));
    return;
  }
  ++st.forwarded;
  auto request = json::object([&](json::writer& w) {
    json::field(w, "method", "GET");
    json::field(w, "path", req.path);
    json::field(w, "from", st.config.engine_id);
    json::key(w, "query");
    w.StartObject();
    for (auto& [k, v] : req.query)
      json::field(w, k, v);
    w.EndObject();
  });
  ++*st.forwarding;
  // The wait for the answer blocks: a thread of its own, bounded above. No
  // thread to be had: the dropped responder answers 500, the slot is freed.
  try {
    std::thread{[api = st.config.fleet_api, owner, request = std::move(request),
                 out = std::move(out), waiting = st.forwarding,
                 failures = st.forward_failures] {
      auto answer = api->ask(owner, request, forward_timeout);
      auto res = answer
        ? decode_answer(*answer, owner)
        : web::error_response(
          504, ec::timeout, answer.error().message + "; it polls this target");
      if (!answer || res.status == 502)
        ++*failures;
      res.headers.emplace_back("X-OptiSchema-Engine", owner);
      out->respond(std::move(res));
      --*waiting;
    }}.detach();
  } catch (const std::system_error& e) {
    --*st.forwarding;
    ++*st.forward_failures;
    OPTISCHEMA_WARN("fleet: cannot forward a request to {}: {}", owner,
                    e.what());
  }
}

void serve_fleet(broker::fleet_api& api, edge_actor hdl) {
  api.serve([hdl](std::string request, broker::fleet_api::reply_fn reply) {
    auto req = decode_request(request);
    auto out = std::make_shared<fleet_responder>(std::move(reply));
    if (!req) {
      out->respond(web::error_response(req.error()));
      return;
    }
    caf::anon_send(hdl, atom::http_v, web_request{std::move(*req), out});
  });
}

} // namespace optischema::actors::detail
