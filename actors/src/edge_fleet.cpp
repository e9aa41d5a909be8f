#include "edge_fleet.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/util/json_parse.hpp"
#include "optischema/util/logging.hpp"
#include "optischema/web/access.hpp"
#include "optischema/web/fleet_merge.hpp"

#include <caf/send.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <random>
#include <system_error>
#include <thread>
#include <unordered_map>

namespace optischema::actors::detail {

namespace {

/// How long an engine waits for another's answer.
constexpr auto forward_timeout = std::chrono::seconds{5};

/// How long a fleet-wide list waits for the other engines' parts: an
/// engine that does not answer by then is named in the answer instead.
constexpr auto gather_timeout = std::chrono::seconds{2};

/// Forwarded requests waiting at once; more are refused (each waits on a
/// thread of its own).
constexpr int max_forwarding = 32;

/// What another engine may forward: a small GET, or a change of the API
/// signed with the token.
constexpr size_t max_query_params = 32;
constexpr size_t max_text = 4096;

/// How far a signed change's clock may be from ours; a nonce seen within it
/// is a replay.
constexpr int64_t max_skew_ms = 30'000;

/// Signed changes remembered at once (each for twice the skew): more are
/// refused, so a flood cannot grow the memory.
constexpr size_t max_nonces = 100'000;

constexpr const char* remote_prefix = "fleet:";

/// What admits changes forwarded by other engines: the token they must have
/// signed with and the nonces already used.
class change_guard {
public:
  change_guard(std::string token, std::string engine)
    : token_(std::move(token)), engine_(std::move(engine)) {}

  /// Why `payload` signed `sig` at `ts_ms` with `nonce` for engine `to` is
  /// refused, or "".
  std::string check(std::string_view payload, std::string_view sig,
                    int64_t ts_ms, const std::string& nonce,
                    const std::string& to) {
    if (token_.empty())
      return "this engine has no API token, so it takes no changes from "
             "other engines: give every engine of the fleet the same "
             "--api-token-file";
    if (!web::token_matches(web::token_signature(token_, payload), sig))
      return "the signature does not match this engine's API token: give "
             "every engine of the fleet the same --api-token-file";
    // Signed for another engine: sent here again by whoever read it on NATS.
    if (to != engine_)
      return "the request was signed for engine '" + to.substr(0, 64)
        + "', not this one (a replay)";
    auto now = now_ms();
    if (ts_ms < now - max_skew_ms || ts_ms > now + max_skew_ms)
      return "the request is older than 30 s or from the future (are the "
             "engines' clocks in sync?)";
    std::lock_guard lock{mtx_};
    for (auto i = seen_.begin(); i != seen_.end();)
      i = i->second < now - 2 * max_skew_ms ? seen_.erase(i) : std::next(i);
    if (seen_.size() >= max_nonces)
      return "too many changes forwarded at once; try again";
    if (!seen_.emplace(nonce, ts_ms).second)
      return "the request was sent before (a replay)";
    return {};
  }

private:
  const std::string token_;
  const std::string engine_;
  std::mutex mtx_;
  std::unordered_map<std::string, int64_t> seen_;
};

/// A nonce for a signed request: 128 random bits, in hex.
std::string make_nonce() {
  static thread_local std::mt19937_64 gen{std::random_device{}()};
  return fmt::format("{:016x}{:016x}", gen(), gen());
}

/// Text from another engine that ends up in the audit log and logs.
std::string printable(std::string_view text) {
  return web::echo(text.substr(0, 100));
}

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
/// A GET of the open API as it is; a change (POST) only inside an envelope
/// {"signed": <request>, "sig": <token_signature of it>}, once.
expected<web::http_request> decode_request(const std::string& text,
                                           change_guard& guard) {
  auto bad = [](std::string why) {
    return failure{ec::bad_request, "forwarded request refused: " + why};
  };
  rapidjson::Document d;
  if (!json::parse(d, text) || !d.IsObject())
    return bad("not a JSON object");
  auto signed_ = d.FindMember("signed");
  auto sig = d.FindMember("sig");
  std::string payload;
  auto is_signed = signed_ != d.MemberEnd();
  if (is_signed) {
    if (!signed_->value.IsString() || sig == d.MemberEnd()
        || !sig->value.IsString())
      return bad("a signed request needs \"signed\" and \"sig\" strings");
    payload.assign(signed_->value.GetString(),
                   signed_->value.GetStringLength());
    d.SetObject();
    if (!json::parse(d, payload) || !d.IsObject())
      return bad("the signed request is not a JSON object");
  }
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
  if (method == nullptr || path == nullptr || from == nullptr)
    return bad("method, path and from are needed");
  web::http_request req;
  req.method = method->GetString();
  if (req.method != (is_signed ? "POST" : "GET"))
    return bad(is_signed ? "only POST is signed"
                         : "only GET is forwarded unsigned");
  req.path = path->GetString();
  req.remote = remote_prefix + printable(from->GetString());
  // A GET: only what a client may read without the token. A POST: only a
  // change of the API, which needs the token the request was signed with.
  auto route = web::match_route(req.path);
  auto allowed = std::any_of(
    route.routes.begin(), route.routes.end(), [&](const web::route* r) {
      return std::string_view{r->method} == req.method
        && r->auth == (is_signed ? web::access::token : web::access::open);
    });
  if (!allowed)
    return bad(is_signed ? "not a change of the API"
                         : "not a read-only operation of the API");
  if (is_signed) {
    auto ts = d.FindMember("ts");
    auto* nonce = str("nonce");
    auto* to = str("to");
    auto* body = d.FindMember("body") != d.MemberEnd() && d["body"].IsString()
      ? &d["body"]
      : nullptr;
    if (ts == d.MemberEnd() || !ts->value.IsInt64() || nonce == nullptr
        || nonce->GetStringLength() < 16 || body == nullptr || to == nullptr)
      return bad("a signed request needs to, ts, nonce and body");
    if (auto why = guard.check(payload, sig->value.GetString(),
                               ts->value.GetInt64(), nonce->GetString(),
                               to->GetString());
        !why.empty())
      return failure{ec::unauthorized, "forwarded change refused: " + why};
    req.body.assign(body->GetString(), body->GetStringLength());
    req.content_type = "application/json";
    if (auto* remote = str("remote"))
      req.remote += " for " + printable(remote->GetString());
  }
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
  // A list without a target is part of a fleet-wide answer the asking
  // engine gathers: this engine answers for its own targets.
  req.fleet_local = !is_signed && req.query.count("target") == 0;
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

/// A request as another engine decodes it (decode_request); a change with
/// who asked, when and a nonce, for the signature around it.
std::string encode_request(const edge_state& st, const web::http_request& req,
                           const std::string& to) {
  return json::object([&](json::writer& w) {
    json::field(w, "method", req.method);
    json::field(w, "path", req.path);
    json::field(w, "from", st.config.engine_id);
    json::key(w, "query");
    w.StartObject();
    for (auto& [k, v] : req.query)
      json::field(w, k, v);
    w.EndObject();
    if (req.method != "GET") {
      json::field(w, "to", to);
      json::field(w, "remote", req.remote);
      json::field(w, "body", req.body);
      json::field(w, "ts", now_ms());
      json::field(w, "nonce", make_nonce());
    }
  });
}

} // namespace

std::optional<std::string> owner_of_target(const edge_state& st,
                                           const std::string& target) {
  if (!st.config.fleet_api || !st.config.fleet)
    return std::nullopt;
  for (auto& [t, owner] : st.config.fleet->owners)
    if (t == target)
      return owner != st.config.engine_id && !owner.empty()
        ? std::optional<std::string>{owner}
        : std::nullopt;
  return std::nullopt;
}

std::optional<std::string> fleet_owner(const edge_state& st,
                                       const web::http_request& req,
                                       const web::route& op) {
  if (!st.config.fleet_api || req.remote.rfind(remote_prefix, 0) == 0)
    return std::nullopt;
  std::string_view method{op.method};
  auto read = method == "GET" && op.auth == web::access::open;
  auto change = method == "POST" && op.auth == web::access::token;
  // A read may ask for this engine's own view (?local=1); a change always
  // runs where the target is polled.
  if ((!read && !change) || (read && req.query.count("local") > 0))
    return std::nullopt;
  if (auto t = req.query.find("target"); t != req.query.end())
    return owner_of_target(st, t->second);
  // A change may name its target in the body (POST /api/analysis/query).
  rapidjson::Document d;
  if (change && !req.body.empty() && json::parse(d, req.body) && d.IsObject())
    if (auto t = d.FindMember("target");
        t != d.MemberEnd() && t->value.IsString())
      return owner_of_target(st, t->value.GetString());
  return std::nullopt;
}

void forward(edge_state& st, const web::http_request& req,
             std::shared_ptr<web::responder> out, const std::string& owner) {
  auto change = req.method != "GET";
  if (change && st.config.api_token.empty())
    return out->respond(web::error_response(
      409, ec::conflict,
      "engine " + owner
        + " polls this target; this engine forwards changes to it only with "
          "an API token: give every engine of the fleet the same "
          "--api-token-file, or send the request to engine "
        + owner));
  if (st.forwarding->load() >= max_forwarding) {
    auto res = web::error_response(
      503, ec::budget_exhausted,
      "too many requests wait for other engines of the fleet; try again");
    res.headers.emplace_back("Retry-After", "1");
    out->respond(std::move(res));
    return;
  }
  ++st.forwarded;
  auto request = encode_request(st, req, owner);
  if (change)
    request = json::object([&](json::writer& w) {
      json::field(w, "signed", request);
      json::field(w, "sig", web::token_signature(st.config.api_token, request));
    });
  // A change waits as long as the EDGE would wait for it here.
  auto timeout = change ? std::chrono::duration_cast<std::chrono::milliseconds>(
                   st.config.apply_timeout)
                        : std::chrono::milliseconds{forward_timeout};
  ++*st.forwarding;
  // The wait for the answer blocks: a thread of its own, bounded above. No
  // thread to be had: the dropped responder answers 500, the slot is freed.
  try {
    std::thread{[api = st.config.fleet_api, owner, request = std::move(request),
                 out = std::move(out), waiting = st.forwarding,
                 failures = st.forward_failures, timeout] {
      auto answer = api->ask(owner, request, timeout);
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

bool fleet_wide(const edge_state& st, const web::http_request& req,
                const web::route& op) {
  if (!st.config.fleet_api || !st.config.fleet || req.fleet_local
      || req.remote.rfind(remote_prefix, 0) == 0
      || req.query.count("target") > 0 || req.query.count("local") > 0
      || st.config.fleet->members.size() < 2)
    return false;
  std::string_view name{op.operation};
  return name == "metrics_hot" || name == "list_suggestions"
    || name == "get_status" || name == "list_alerts";
}

namespace {

/// One fleet-wide answer in the making: the parts, and what merges them
/// once the last is in (from whichever thread brings it).
struct gathering {
  std::mutex mtx;
  std::vector<web::fleet_part> parts;
  size_t pending = 0;
  /// This engine's own answer when it was not a 200: the answer then.
  std::optional<web::http_response> local_failure;
  std::function<std::string(const std::vector<web::fleet_part>&)> merge;
  std::shared_ptr<web::responder> out;

  void arrive(size_t i, web::http_response res, std::string error = {}) {
    std::unique_lock lock{mtx};
    if (res.status == 200 && error.empty())
      parts[i].body = std::move(res.body);
    else {
      parts[i].error = error.empty() ? fmt::format("answered {}", res.status)
                                     : std::move(error);
      if (i == 0)
        local_failure = std::move(res);
    }
    if (--pending > 0)
      return;
    lock.unlock();
    if (local_failure)
      return out->respond(std::move(*local_failure));
    web::http_response merged;
    merged.body = merge(parts);
    merged.headers.emplace_back("Cache-Control", "no-store");
    out->respond(std::move(merged));
  }
};

/// Brings this engine's own part in.
class part_responder final : public web::responder {
public:
  explicit part_responder(std::shared_ptr<gathering> g) : g_(std::move(g)) {}
  ~part_responder() override {
    if (!answered_.exchange(true))
      g_->arrive(0, web::error_response(500, ec::internal, "dropped"),
                 "this engine dropped its part");
  }
  void respond(web::http_response res) override {
    if (!answered_.exchange(true))
      g_->arrive(0, std::move(res));
  }

private:
  std::shared_ptr<gathering> g_;
  std::atomic<bool> answered_{false};
};

} // namespace

void gather(edge_state& st, const web::http_request& req,
            std::shared_ptr<web::responder> out, const web::route& op,
            local_fn local) {
  auto g = std::make_shared<gathering>();
  g->out = std::move(out);
  web::http_request part = req;
  part.fleet_local = true;
  std::string name{op.operation};
  if (name == "metrics_hot") {
    auto q = web::parse_hot_query(req.query);
    g->merge = [q = q ? *q : web::hot_query{}](auto& parts) {
      return web::merge_hot(parts, q);
    };
  } else if (name == "list_suggestions") {
    // Each part from the first, as far as this page reaches.
    auto page = web::parse_page_query(req.query, 100, 1000);
    auto p = page ? *page : web::page_query{};
    part.query["offset"] = "0";
    part.query["limit"]
      = std::to_string(std::min<size_t>(p.offset + p.limit, 1000));
    g->merge = [p](auto& parts) { return web::merge_suggestions(parts, p); };
  } else if (name == "list_alerts") {
    g->merge = [](auto& parts) { return web::merge_alerts(parts); };
  } else {
    g->merge = [](auto& parts) { return web::merge_status(parts); };
  }
  std::vector<std::string> others;
  for (auto& m : st.config.fleet->members)
    if (m != st.config.engine_id)
      others.push_back(m);
  g->parts.resize(1 + others.size());
  g->parts[0].engine = st.config.engine_id;
  g->pending = g->parts.size();
  auto request = encode_request(st, part, {});
  for (size_t i = 0; i < others.size(); ++i) {
    auto slot = i + 1;
    g->parts[slot].engine = others[i];
    if (st.forwarding->load() >= max_forwarding) {
      g->arrive(slot, {},
                "not asked: too many requests wait for other "
                "engines of the fleet");
      continue;
    }
    ++*st.forwarding;
    ++st.forwarded;
    try {
      std::thread{[api = st.config.fleet_api, engine = others[i], request, g,
                   slot, waiting = st.forwarding,
                   failures = st.forward_failures] {
        auto answer = api->ask(engine, request, gather_timeout);
        if (!answer) {
          ++*failures;
          g->arrive(slot, {}, answer.error().message);
        } else {
          auto res = decode_answer(*answer, engine);
          if (res.status != 200)
            ++*failures;
          g->arrive(slot, std::move(res));
        }
        --*waiting;
      }}.detach();
    } catch (const std::system_error& e) {
      --*st.forwarding;
      ++*st.forward_failures;
      g->arrive(slot, {}, std::string{"not asked: "} + e.what());
    }
  }
  local(std::move(part), std::make_shared<part_responder>(g));
}

void serve_fleet(broker::fleet_api& api, edge_actor hdl,
                 const std::string& api_token, const std::string& engine,
                 std::shared_ptr<std::atomic<uint64_t>> refused) {
  auto guard = std::make_shared<change_guard>(api_token, engine);
  api.serve(
    [hdl, guard](std::string request, broker::fleet_api::reply_fn reply) {
      auto req = decode_request(request, *guard);
      auto out = std::make_shared<fleet_responder>(std::move(reply));
      if (!req) {
        out->respond(web::error_response(req.error()));
        return;
      }
      caf::anon_send(hdl, atom::http_v, web_request{std::move(*req), out});
    });
  api.watch(
    [hdl, refused = std::move(refused)](std::string subject, std::string data) {
      auto ev = parse_event(subject, data);
      if (!ev) {
        refused->fetch_add(1);
        OPTISCHEMA_DEBUG("fleet: {}", ev.error().message);
        return;
      }
      caf::anon_send(hdl, atom::relay_v, std::move(*ev));
    });
}

bool relays(const edge_state& st, const event& ev) {
  auto& names = st.config.targets;
  if (std::find(names.begin(), names.end(), ev.target) == names.end())
    return false;
  // Without a view yet, or an owner, it counts as another engine's: better
  // a frame twice than none.
  if (!st.config.fleet)
    return true;
  for (auto& [t, owner] : st.config.fleet->owners)
    if (t == ev.target)
      return owner != st.config.engine_id;
  return true;
}

} // namespace optischema::actors::detail
