#include "optischema/actors/edge.hpp"

#include "edge_fleet.hpp"

#include "optischema/analysis/audit.hpp"
#include "optischema/analysis/json.hpp"
#include "optischema/messages/error.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/util/json_parse.hpp"
#include "optischema/web/api.hpp"
#include "optischema/web/prometheus.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace optischema::actors {

namespace {

using self_ptr = edge_actor::stateful_pointer<edge_state>;
using web::error_response;
using web::json_response;

constexpr auto ask_timeout = std::chrono::seconds{10};
constexpr auto poll_timeout = std::chrono::seconds{60};
/// An analysis plans every statement and tries candidate indexes.
constexpr auto analysis_timeout = std::chrono::seconds{120};

/// A sandbox test copies the target the first time and times statements.
constexpr auto test_timeout = std::chrono::minutes{30};

/// Answers with the failure inside a CAF error; a limit reached says when
/// to come back (Retry-After).
void reply_error(const std::shared_ptr<web::responder>& out,
                 const caf::error& err) {
  auto res = error_response(failure{error_code(err), error_message(err)});
  if (auto after = error_retry_after(err); after > 0)
    res.headers.emplace_back("Retry-After", std::to_string(after));
  out->respond(std::move(res));
}

/// Asks `hdl` and answers the request with the reply (a `T`) as JSON, or
/// with the error: what most operations do once their input is checked.
template <class T, class Handle, class Timeout, class... Ts>
void relay(self_ptr self, const std::shared_ptr<web::responder>& out,
           const Handle& hdl, Timeout timeout, const Ts&... xs) {
  self->request(hdl, timeout, xs...)
    .then([out](const T& x) { out->respond(json_response(to_json(x))); },
          [out](const caf::error& err) { reply_error(out, err); });
}

bool known_target(self_ptr self, const std::string& name) {
  auto& ts = self->state.config.targets;
  return std::find(ts.begin(), ts.end(), name) != ts.end();
}

/// The `?target=` of a list: empty for every target, a 404 that says where
/// the names are for one this engine does not know.
expected<std::string> target_filter(self_ptr self,
                                    const web::http_request& req) {
  auto i = req.query.find("target");
  if (i == req.query.end())
    return std::string{};
  if (!known_target(self, i->second))
    return failure{ec::not_found,
                   fmt::format("no target named '{}'; GET /api/targets lists "
                               "them",
                               i->second)};
  return i->second;
}

/// Resolves the target of a request: the one named, or the only one.
expected<std::string> single_target(self_ptr self,
                                    const std::optional<std::string>& named) {
  auto& ts = self->state.config.targets;
  if (named) {
    if (!known_target(self, *named))
      return failure{ec::not_found,
                     fmt::format("no target named '{}'; GET /api/targets lists "
                                 "them",
                                 *named)};
    return *named;
  }
  if (ts.size() == 1)
    return ts.front();
  return failure{ec::bad_request,
                 "several targets are monitored: add ?target=NAME (GET "
                 "/api/targets lists them)"};
}

/// The ?target= of a request, if any.
std::optional<std::string> query_target(const web::http_request& req) {
  if (auto i = req.query.find("target"); i != req.query.end())
    return i->second;
  return std::nullopt;
}

/// Fetches the latest snapshots (all, or the named target's; `own_only`:
/// of the targets this engine polls) and renders.
template <class Render>
void with_snapshots(self_ptr self, const std::optional<std::string>& target,
                    std::shared_ptr<web::responder> out, Render render,
                    bool own_only = false) {
  if (target && !known_target(self, *target)) {
    out->respond(error_response(
      404, ec::not_found,
      fmt::format("no target named '{}'; GET /api/targets lists them",
                  *target)));
    return;
  }
  self->request(self->state.store, ask_timeout, atom::get_v, atom::latest_v)
    .then(
      [self, target, out, render, own_only](const snapshot_list& all) {
        std::vector<const metrics_snapshot*> snaps;
        for (auto& s : all)
          if (s && (!target || s->target == *target)
              && (!own_only
                  || !detail::owner_of_target(self->state, s->target)))
            snaps.push_back(s.get());
        std::sort(snaps.begin(), snaps.end(),
                  [](auto* x, auto* y) { return x->target < y->target; });
        out->respond(json_response(render(snaps)));
      },
      [out](const caf::error& err) { reply_error(out, err); });
}

/// Answers with a failure.
void reply_failure(const std::shared_ptr<web::responder>& out,
                   const failure& f) {
  out->respond(error_response(f));
}

/// Serves POST /api/suggestions/{apply,rollback,test,dismiss}: checks the
/// body, finds the recommendation's target, then `act`s. Who may call was
/// settled before the request got here (web/access.hpp: token, Origin,
/// Host, JSON); `needs_token` endpoints (apply, rollback) are off on an
/// engine without one.
template <class Act>
void on_recommendation(self_ptr self, web_request& r, bool needs_token,
                       Act act) {
  auto out = r.out;
  if (needs_token && self->state.config.api_token.empty())
    return reply_failure(out,
                         {ec::disabled,
                          "applying is off: start the engine with an API "
                          "token (--api-token-file) and send Authorization: "
                          "Bearer <token>"});
  auto id = web::parse_id_request(r.req.body);
  if (!id)
    return reply_failure(out, id.error());
  auto named = query_target(r.req);
  self
    ->request(self->state.store, ask_timeout, atom::get_v, atom::recommend_v,
              atom::by_id_v, *id)
    .then(
      [self, out, act, named, req = r.req](recommendation& rec) mutable {
        if (named && *named != rec.target)
          return reply_failure(out,
                               {ec::bad_request,
                                "recommendation " + rec.id
                                  + " is not one of target '" + *named
                                  + "''s"});
        // Known here from when this engine polled the target; in a fleet,
        // the engine that polls it now decides.
        if (auto owner = detail::owner_of_target(self->state, rec.target)) {
          if (req.remote.rfind("fleet:", 0) == 0)
            return reply_failure(
              out, {ec::conflict, "the target changed hands; try again"});
          req.query["target"] = rec.target;
          return detail::forward(self->state, req, out, *owner);
        }
        act(std::move(rec), out);
      },
      [self, out, named](const caf::error& err) {
        // Not known here: in a fleet, the engine polling its target may.
        if (self->state.config.fleet && !named
            && error_code(err) == ec::not_found)
          return reply_failure(out,
                               {ec::not_found,
                                error_message(err)
                                  + "; in a fleet, name its target "
                                    "(?target=NAME) so the engine that "
                                    "polls it answers"});
        reply_error(out, err);
      });
}

// -- one function per API operation (web/api.cpp's routes() names them) ------

/// GET /health
void health(self_ptr, web_request& r, const web::route_match&) {
  auto out = r.out;
  out->respond(
    json_response(fmt::format(R"({{"status":"ok","version":{},"time":{}}})",
                              json::quote(OPTISCHEMA_VERSION), now_ms())));
}

/// GET /health/ready: 200 once every target this engine polls has been
/// polled (a database that is down counts: the engine watches it and says
/// so; in a fleet, the targets of other engines do not), else 503 naming the
/// targets still waiting. A probe's question, so the answer is small.
void health_ready(self_ptr self, web_request& r, const web::route_match&) {
  auto out = r.out;
  auto& st = self->state;
  self->request(st.supervisor, ask_timeout, atom::status_v, atom::poll_v)
    .then(
      [out, targets = st.config.targets](const status_report& rep) {
        rapidjson::Document d;
        std::vector<std::string> waiting;
        // Our own collectors' JSON; a target without an entry (its
        // collector not running) waits.
        auto parsed = json::parse(d, rep.json);
        for (auto& t : targets) {
          auto polled = false;
          if (parsed && d.IsObject())
            if (auto i = d.FindMember(t.c_str());
                i != d.MemberEnd() && i->value.IsObject()) {
              auto n = [&](const char* k) {
                auto j = i->value.FindMember(k);
                return j != i->value.MemberEnd() && j->value.IsInt64()
                  ? j->value.GetInt64()
                  : int64_t{0};
              };
              // In a fleet, a target another engine polls is that
              // engine's readiness, once the fleet has said which one.
              auto owner = i->value.FindMember("owner");
              auto by_other = owner != i->value.MemberEnd()
                && owner->value.IsString() && owner->value.GetStringLength() > 0
                && i->value.HasMember("standby") && i->value["standby"].IsBool()
                && i->value["standby"].GetBool();
              polled = n("polls") > 0 || n("failures") > 0 || by_other;
            }
          if (!polled)
            waiting.push_back(t);
        }
        auto body = json::object([&](json::writer& w) {
          json::field(w, "status", waiting.empty() ? "ready" : "starting");
          json::field(w, "targets", targets.size());
          json::field(w, "waiting", waiting);
        });
        out->respond(
          json_response(std::move(body), waiting.empty() ? 200 : 503));
      },
      [out](const caf::error& err) { reply_error(out, err); });
}

/// GET /metrics: the status document in Prometheus' text format. A
/// supervisor that does not answer still yields a scrape (optischema_up 0),
/// so an alert on it fires instead of a scrape error hiding the cause.
void metrics_prometheus(self_ptr self, web_request& r,
                        const web::route_match&) {
  auto out = r.out;
  auto& st = self->state;
  auto text = [](std::string body) {
    web::http_response res;
    res.content_type = web::prometheus_content_type;
    res.body = std::move(body);
    res.headers.emplace_back("Cache-Control", "no-store");
    return res;
  };
  self->request(st.supervisor, ask_timeout, atom::status_v)
    .then(
      [out, text](const status_report& rep) {
        out->respond(text(web::prometheus_text(rep.json)));
      },
      [out, text](const caf::error&) {
        out->respond(text(web::prometheus_text("")));
      });
}

/// GET /api/openapi.json
void openapi(self_ptr, web_request& r, const web::route_match&) {
  auto out = r.out;
  out->respond(json_response(web::openapi_document()));
}

/// GET /api/targets
void list_targets(self_ptr self, web_request& r, const web::route_match&) {
  auto out = r.out;
  auto& st = self->state;
  rapidjson::StringBuffer buf;
  json::writer w{buf};
  w.StartObject();
  json::field(w, "targets", st.config.targets);
  // In a fleet: the engine that polls each (it answers for it, through any
  // engine).
  if (st.config.fleet) {
    json::key(w, "owners");
    w.StartObject();
    for (auto& [target, owner] : st.config.fleet->owners)
      json::field(w, target, owner);
    w.EndObject();
  }
  w.EndObject();
  out->respond(json_response({buf.GetString(), buf.GetSize()}));
}

/// POST /api/targets and DELETE /api/targets/{name}: the SUPERVISOR edits
/// the targets file; the answer is GET /api/targets' once it is read again.
void answer_targets(self_ptr self, std::shared_ptr<web::responder> out,
                    const std::vector<std::string>& names) {
  self->state.config.targets = names;
  web_request again{{}, std::move(out)};
  list_targets(self, again, {});
}

void add_target(self_ptr self, web_request& r, const web::route_match&) {
  auto out = r.out;
  auto x = web::parse_target_request(r.req.body);
  if (!x)
    return out->respond(error_response(x.error()));
  self
    ->request(self->state.supervisor, ask_timeout, atom::put_v, atom::targets_v,
              x->name, x->dsn)
    .then(
      [self, out](const std::vector<std::string>& names) {
        answer_targets(self, out, names);
      },
      [out](const caf::error& err) { reply_error(out, err); });
}

void remove_target(self_ptr self, web_request& r,
                   const web::route_match& route) {
  auto out = r.out;
  self
    ->request(self->state.supervisor, ask_timeout, atom::erase_v,
              atom::targets_v, route.params.at("name"))
    .then(
      [self, out](const std::vector<std::string>& names) {
        answer_targets(self, out, names);
      },
      [out](const caf::error& err) { reply_error(out, err); });
}

/// GET /api/status
void get_status(self_ptr self, web_request& r, const web::route_match&) {
  auto out = r.out;
  auto& st = self->state;
  self->request(st.supervisor, ask_timeout, atom::status_v)
    .then(
      [out](const status_report& r) { out->respond(json_response(r.json)); },
      [out](const caf::error& err) { reply_error(out, err); });
}

/// GET /api/metrics/hot and /api/metrics/raw: the latest snapshots of the
/// query's target (or all), rendered as the query asks.
template <auto parse, auto render>
void metrics(self_ptr self, web_request& r, const web::route_match&) {
  auto out = r.out;
  auto q = parse(r.req.query);
  if (!q)
    return out->respond(error_response(q.error()));
  with_snapshots(
    self, q->target, out,
    [q = *q](const auto& snaps) { return render(snaps, q); },
    r.req.fleet_local);
}

/// GET /api/metrics/summary
void metrics_summary(self_ptr self, web_request& r, const web::route_match&) {
  auto& req = r.req;
  auto out = r.out;
  auto& st = self->state;
  std::optional<std::string> target;
  if (auto i = req.query.find("target"); i != req.query.end())
    target = i->second;
  auto names = st.config.targets;
  if (target)
    names = {*target};
  with_snapshots(self, target, out, [names](const auto& snaps) {
    return web::render_summary(snaps, names);
  });
}

/// GET /api/metrics/history
void metrics_history(self_ptr self, web_request& r, const web::route_match&) {
  auto& req = r.req;
  auto out = r.out;
  auto& st = self->state;
  auto q = web::parse_history_query(req.query, now_ms(),
                                    st.config.raw_retention_ms);
  if (!q)
    return out->respond(error_response(q.error()));
  auto target = single_target(self, q->target);
  if (!target)
    return out->respond(error_response(target.error()));
  history_request hr{*target, q->fingerprint, q->from_ms, q->to_ms,
                     q->hourly ? resolution::hourly : resolution::raw};
  self->request(st.store, ask_timeout, atom::history_v, std::move(hr))
    .then(
      [out, q = *q, target = *target](const history_reply_ptr& h) {
        out->respond(json_response(
          web::render_history(q, target, h->query, h->points, h->db_points)));
      },
      [out](const caf::error& err) { reply_error(out, err); });
}

/// POST /api/collect
void collect(self_ptr self, web_request& r, const web::route_match&) {
  auto& req = r.req;
  auto out = r.out;
  auto& st = self->state;
  auto target = single_target(self, query_target(req));
  if (!target)
    return out->respond(error_response(target.error()));
  self->request(st.supervisor, poll_timeout, atom::poll_v, *target)
    .then(
      [out, target = *target](int64_t statements) {
        out->respond(
          json_response(fmt::format(R"({{"target":{},"statements":{}}})",
                                    json::quote(target), statements)));
      },
      [out](const caf::error& err) { reply_error(out, err); });
}

/// GET /api/suggestions/latest
void list_suggestions(self_ptr self, web_request& r, const web::route_match&) {
  auto& req = r.req;
  auto out = r.out;
  auto& st = self->state;
  auto target = target_filter(self, req);
  if (!target)
    return out->respond(error_response(target.error()));
  auto page = web::parse_page_query(req.query, 100, 1000);
  if (!page)
    return out->respond(error_response(page.error()));
  self->request(st.store, ask_timeout, atom::get_v, atom::recommend_v, *target)
    .then(
      [self, out, page = *page,
       own_only = req.fleet_local](recommendation_list& list) {
        if (own_only)
          list.erase(std::remove_if(list.begin(), list.end(),
                                    [&](const recommendation& x) {
                                      return detail::owner_of_target(
                                               self->state, x.target)
                                        .has_value();
                                    }),
                     list.end());
        auto body = web::render_page(to_json(list), "suggestions", page);
        out->respond(body ? json_response(std::move(*body))
                          : error_response(body.error()));
      },
      [out](const caf::error& err) { reply_error(out, err); });
}

/// Asks the SUPERVISOR and answers with its reply, a JSON text.
template <class... Ts>
void relay_json(self_ptr self, const std::shared_ptr<web::responder>& out,
                const Ts&... xs) {
  self->request(self->state.supervisor, ask_timeout, xs...)
    .then([out](const std::string& body) { out->respond(json_response(body)); },
          [out](const caf::error& err) { reply_error(out, err); });
}

/// GET /api/alerts: the alerts firing on this engine's targets and the
/// latest resolved (one target's with ?target=).
void list_alerts(self_ptr self, web_request& r, const web::route_match&) {
  auto& req = r.req;
  auto out = r.out;
  // The engine's own alerts are listed with every target's, and alone.
  auto named = req.query.find("target");
  auto target = named != req.query.end() && named->second == engine_alerts
    ? expected<std::string>{named->second}
    : target_filter(self, req);
  if (!target)
    return out->respond(error_response(target.error()));
  relay_json(self, out, atom::get_v, atom::alert_v, *target);
}

/// POST /api/alerts/ack {"id"}: someone is on it. The target is the id's
/// second part (rule:target[:fingerprint]); in a fleet, the engine that
/// polls it keeps its alerts and answers.
void ack_alert(self_ptr self, web_request& r, const web::route_match&) {
  auto out = r.out;
  auto id = web::parse_alert_id_request(r.req.body);
  if (!id)
    return reply_failure(out, id.error());
  auto from = id->find(':');
  auto target = from == std::string::npos
    ? std::string{}
    : id->substr(from + 1, id->find(':', from + 1) - from - 1);
  // The engine's own alerts (engine_alerts) are this engine's.
  if (target == engine_alerts)
    return relay_json(self, out, atom::ack_v, target, *id,
                      fmt::format("api ({})", r.req.remote));
  if (!known_target(self, target))
    return reply_failure(out,
                         {ec::not_found,
                          fmt::format("no alert '{}' fires here; GET "
                                      "/api/alerts lists those that do",
                                      *id)});
  if (auto owner = detail::owner_of_target(self->state, target)) {
    if (r.req.remote.rfind("fleet:", 0) == 0)
      return reply_failure(
        out, {ec::conflict, "the target changed hands; try again"});
    auto req = r.req;
    req.query["target"] = target;
    return detail::forward(self->state, req, out, *owner);
  }
  relay_json(self, out, atom::ack_v, target, *id,
             fmt::format("api ({})", r.req.remote));
}

/// POST /api/alerts/silence: alerts kept from being announced for a while.
/// One naming a target another engine of a fleet polls went there
/// (detail::fleet_owner); one without a target silences this engine's.
void silence_alerts(self_ptr self, web_request& r, const web::route_match&) {
  auto out = r.out;
  auto req = web::parse_silence_request(r.req.body);
  if (!req)
    return reply_failure(out, req.error());
  if (!req->target.empty() && req->target != engine_alerts
      && !known_target(self, req->target))
    return reply_failure(out,
                         {ec::not_found,
                          fmt::format("no target named '{}'; GET "
                                      "/api/targets lists them",
                                      req->target)});
  alert_silence s;
  s.rule = req->rule;
  s.target = req->target;
  s.fingerprint = req->fingerprint;
  s.comment = req->comment;
  s.until_ms = now_ms() + static_cast<int64_t>(req->hours * 3'600'000);
  s.by = fmt::format("api ({})", r.req.remote);
  relay_json(self, out, atom::silence_v, s);
}

/// POST /api/alerts/unsilence {"id"}: a silence ends now.
void unsilence_alerts(self_ptr self, web_request& r, const web::route_match&) {
  auto out = r.out;
  auto id = web::parse_alert_id_request(r.req.body);
  if (!id)
    return reply_failure(out, id.error());
  relay_json(self, out, atom::silence_v, atom::erase_v, *id);
}

/// GET /api/suggestions/{id}
void get_suggestion(self_ptr self, web_request& r,
                    const web::route_match& route) {
  auto out = r.out;
  auto& st = self->state;
  auto& id = route.params.at("id");
  relay<recommendation>(self, out, st.store, ask_timeout, atom::get_v,
                        atom::recommend_v, atom::by_id_v, id);
}

/// POST /api/suggestions/apply and POST /api/suggestions/rollback
void apply_or_rollback(self_ptr self, web_request& r,
                       const web::route_match& route) {
  auto& req = r.req;
  auto& path = route.path;
  auto undo = path == "/api/suggestions/rollback";
  auto who = fmt::format("api ({})", req.remote);
  on_recommendation(
    self, r, true,
    [self, undo, who](recommendation rec, std::shared_ptr<web::responder> out) {
      auto& st = self->state;
      if (undo)
        relay<recommendation>(self, out, st.supervisor, st.config.apply_timeout,
                              atom::rollback_v, rec.target, rec.id, who);
      else
        relay<recommendation>(self, out, st.supervisor, st.config.apply_timeout,
                              atom::apply_v, rec.target, rec.id, who);
    });
}

/// POST /api/suggestions/test
void test_suggestion(self_ptr self, web_request& r, const web::route_match&) {
  auto out = r.out;
  on_recommendation(
    self, r, false,
    [self](recommendation rec, std::shared_ptr<web::responder> out) {
      relay<recommendation>(self, out, self->state.supervisor, test_timeout,
                            atom::test_v, rec.target, rec.id);
    });
}

/// POST /api/suggestions/dismiss
void dismiss_suggestion(self_ptr self, web_request& r,
                        const web::route_match&) {
  auto& req = r.req;
  auto out = r.out;
  on_recommendation(
    self, r, false,
    [self, remote = req.remote](recommendation rec,
                                std::shared_ptr<web::responder> out) {
      // Checked where it is written: an apply may land in between.
      recommendation_patch patch = [](recommendation& x) {
        if (x.status == "applied")
          return std::optional<failure>{
            failure{ec::conflict,
                    "an applied recommendation cannot be "
                    "dismissed; roll it back first"}};
        x.status = "dismissed";
        return std::optional<failure>{};
      };
      self
        ->request(self->state.store, ask_timeout, atom::put_v,
                  atom::recommend_v, rec.id, std::move(patch))
        .then(
          [self, out, remote, rec](const recommendation& updated) {
            auto stored = to_json(updated);
            audit_entry e;
            e.ts_ms = now_ms();
            e.who = fmt::format("api ({})", remote);
            e.action = "dismiss";
            e.target = rec.target;
            e.recommendation_id = rec.id;
            e.kind = rec.kind;
            e.outcome = "dismissed";
            self->send(self->state.store, atom::put_v, atom::audit_v, e);
            self->state.server->broadcast(
              rec.target, event_type::recommendation,
              std::make_shared<const std::string>(to_json(event{
                event_type::recommendation, rec.target, now_ms(), stored})));
            out->respond(json_response(stored));
          },
          [out](const caf::error& err) { reply_error(out, err); });
    });
}

/// POST /api/sandbox/prepare
void prepare_sandbox(self_ptr self, web_request& r, const web::route_match&) {
  auto& req = r.req;
  auto out = r.out;
  auto& st = self->state;
  // A copy loads the target: the SUPERVISOR joins copies and limits how
  // often one is forced.
  auto target = single_target(self, query_target(req));
  if (!target)
    return out->respond(error_response(target.error()));
  relay<sandbox::prepared>(self, out, st.supervisor, test_timeout,
                           atom::prepare_v, *target);
}

/// GET /api/audit
void get_audit(self_ptr self, web_request& r, const web::route_match&) {
  auto& req = r.req;
  auto out = r.out;
  auto& st = self->state;
  auto page = web::parse_page_query(req.query, 100, 1000);
  if (!page)
    return out->respond(error_response(page.error()));
  self
    ->request(st.store, ask_timeout, atom::get_v, atom::audit_v,
              static_cast<int64_t>(page->limit),
              static_cast<int64_t>(page->offset))
    .then(
      [out, page = *page](const audit_page& got) {
        std::string entries;
        for (auto& e : got.entries)
          entries += (entries.empty() ? "" : ",") + to_json(e);
        auto fleet_error = got.fleet_error.empty()
          ? std::string{}
          : ",\"fleet_error\":" + json::quote(got.fleet_error);
        out->respond(json_response(fmt::format(
          R"({{"offset":{},"limit":{},"total":{},"source":{}{},"entries":[{}]}})",
          page.offset, page.limit, got.total, json::quote(got.source),
          fleet_error, entries)));
      },
      [out](const caf::error& err) { reply_error(out, err); });
}

/// POST /api/analysis/query
void analyze_query(self_ptr self, web_request& r, const web::route_match&) {
  auto& req = r.req;
  auto out = r.out;
  auto& st = self->state;
  auto q = web::parse_analysis_query(req.body);
  if (!q)
    return out->respond(error_response(q.error()));
  auto target = single_target(self, q->target);
  if (!target)
    return out->respond(error_response(target.error()));
  relay<statement_advice>(self, out, st.supervisor, analysis_timeout,
                          atom::analyze_v, *target, q->sql, q->llm);
}

/// POST /api/analysis/run
void run_analysis(self_ptr self, web_request& r, const web::route_match&) {
  auto& req = r.req;
  auto out = r.out;
  auto& st = self->state;
  auto target = single_target(self, query_target(req));
  if (!target)
    return out->respond(error_response(target.error()));
  relay<advisor_summary>(self, out, st.supervisor, analysis_timeout,
                         atom::analyze_v, *target);
}

/// GET /api/analysis/plan
void analysis_plan(self_ptr self, web_request& r, const web::route_match&) {
  auto& req = r.req;
  auto out = r.out;
  auto& st = self->state;
  auto fp = req.query.find("fingerprint");
  if (fp == req.query.end() || fp->second.empty())
    return out->respond(error_response(
      400, ec::bad_request,
      "fingerprint is required: the statement's fingerprint from "
      "/api/metrics/hot"));
  auto target = single_target(self, query_target(req));
  if (!target)
    return out->respond(error_response(target.error()));
  auto sup = st.supervisor;
  // The text comes from the latest snapshot: only statements the target
  // really ran are planned, never text from the request.
  self->request(st.store, ask_timeout, atom::get_v, atom::latest_v, *target)
    .then(
      [self, out, sup, target = *target,
       fp = fp->second](const snapshot_ptr& snap) {
        const statement_metrics* found = nullptr;
        if (snap)
          for (auto& x : snap->statements)
            if (x.fingerprint == fp)
              found = &x;
        if (found == nullptr)
          return out->respond(error_response(
            404, ec::not_found,
            fmt::format("no statement with fingerprint '{}' in the latest poll "
                        "of {}",
                        fp, target)));
        relay<explained_statement>(self, out, sup, analysis_timeout,
                                   atom::explain_v, target, found->query);
      },
      [out](const caf::error& err) { reply_error(out, err); });
}

/// GET /api/analysis/status
void analysis_status(self_ptr self, web_request& r, const web::route_match&) {
  auto out = r.out;
  auto& st = self->state;
  self->request(st.supervisor, ask_timeout, atom::status_v, atom::analyze_v)
    .then(
      [out](const status_report& r) {
        out->respond(json_response(R"({"advisors":)" + r.json + "}"));
      },
      [out](const caf::error& err) { reply_error(out, err); });
}

using handler_fn = void (*)(self_ptr, web_request&, const web::route_match&);

/// The EDGE's half of the route table: web::routes() says which operation a
/// request is, this says who serves it (tests/actor/edge_test.cpp checks
/// that every route has one).
const std::map<std::string, handler_fn, std::less<>>& handlers() {
  static const std::map<std::string, handler_fn, std::less<>> xs = {
    {"health", health},
    {"health_live", health},
    {"health_ready", health_ready},
    {"metrics_prometheus", metrics_prometheus},
    {"openapi", openapi},
    {"list_targets", list_targets},
    {"add_target", add_target},
    {"remove_target", remove_target},
    {"get_status", get_status},
    {"metrics_hot", metrics<web::parse_hot_query, web::render_hot>},
    {"metrics_raw", metrics<web::parse_raw_query, web::render_raw>},
    {"metrics_summary", metrics_summary},
    {"metrics_history", metrics_history},
    {"collect", collect},
    {"list_suggestions", list_suggestions},
    {"get_suggestion", get_suggestion},
    {"apply_suggestion", apply_or_rollback},
    {"rollback_suggestion", apply_or_rollback},
    {"test_suggestion", test_suggestion},
    {"dismiss_suggestion", dismiss_suggestion},
    {"prepare_sandbox", prepare_sandbox},
    {"get_audit", get_audit},
    {"list_alerts", list_alerts},
    {"ack_alert", ack_alert},
    {"silence_alerts", silence_alerts},
    {"unsilence_alerts", unsilence_alerts},
    {"analyze_query", analyze_query},
    {"run_analysis", run_analysis},
    {"analysis_plan", analysis_plan},
    {"analysis_status", analysis_status},
  };
  return xs;
}

void handle(self_ptr self, web_request& r) {
  auto& req = r.req;
  auto out = r.out;
  auto route = web::match_route(req.path);
  if (route.routes.empty()) {
    out->respond(
      error_response(404, ec::not_found,
                     fmt::format("no route for {} {}; the API is described at "
                                 "/api/openapi.json",
                                 req.method, req.path)));
    return;
  }
  auto method = req.method == "HEAD" ? std::string{"GET"} : req.method;
  auto i
    = std::find_if(route.routes.begin(), route.routes.end(),
                   [&](const web::route* x) { return x->method == method; });
  if (i == route.routes.end()) {
    std::string allow;
    for (auto* x : route.routes)
      allow += (allow.empty() ? "" : ", ") + std::string{x->method};
    auto res = error_response(405, ec::bad_request,
                              fmt::format("{} does not accept {}; use {}",
                                          req.path, req.method, allow));
    res.headers.emplace_back("Allow", allow);
    out->respond(std::move(res));
    return;
  }
  auto& op = **i;
  if (auto owner = detail::fleet_owner(self->state, req, op)) {
    detail::forward(self->state, req, out, *owner);
    return;
  }
  if (detail::fleet_wide(self->state, req, op)) {
    // This engine's part goes through the handler below, as a request of
    // its own that comes back here.
    detail::gather(
      self->state, req, out, op,
      [hdl = caf::actor_cast<edge_actor>(self)](
        web::http_request part, std::shared_ptr<web::responder> part_out) {
        caf::anon_send(hdl, atom::http_v,
                       web_request{std::move(part), std::move(part_out)});
      });
    return;
  }
  auto handler = handlers().find(std::string_view{op.operation});
  if (handler == handlers().end()) {
    out->respond(error_response(500, ec::internal,
                                fmt::format("route declared but not handled: "
                                            "{} {}",
                                            op.method, op.path)));
    return;
  }
  handler->second(self, r, route);
}

} // namespace

bool edge_handles(std::string_view operation) {
  return handlers().count(operation) > 0;
}

edge_actor::behavior_type edge(edge_actor::stateful_pointer<edge_state> self,
                               std::shared_ptr<web::server> server,
                               store_actor store, supervisor_actor supervisor,
                               edge_config config) {
  auto& st = self->state;
  st.server = std::move(server);
  st.store = std::move(store);
  st.supervisor = std::move(supervisor);
  st.config = std::move(config);
  // Io threads hand requests over by message; a dead EDGE drops them, and
  // the dropped responder answers 500 so no client hangs.
  st.server->set_handler(
    [hdl = caf::actor_cast<edge_actor>(self)](
      web::http_request req, std::shared_ptr<web::responder> out) {
      caf::anon_send(hdl, atom::http_v,
                     web_request{std::move(req), std::move(out)});
    });
  if (st.config.fleet_api)
    detail::serve_fleet(*st.config.fleet_api, caf::actor_cast<edge_actor>(self),
                        st.config.api_token, st.config.engine_id,
                        st.relay_refused);
  return {
    [self](atom::http, web_request& r) { handle(self, r); },
    [self](atom::owner, fleet_view& view) {
      self->state.config.fleet = std::move(view);
    },
    [self](atom::targets, const std::vector<std::string>& names) {
      self->state.config.targets = names;
    },
    [self](atom::publish, const event& ev) {
      ++self->state.events;
      self->state.server->broadcast(
        ev.target, ev.type, std::make_shared<const std::string>(to_json(ev)));
    },
    [self](atom::relay, const event& ev) {
      auto& st = self->state;
      if (!detail::relays(st, ev)) {
        st.relay_refused->fetch_add(1);
        return;
      }
      ++st.relayed;
      st.server->broadcast(ev.target, ev.type,
                           std::make_shared<const std::string>(to_json(ev)));
    },
    [self](atom::status) -> status_report {
      auto& st = self->state;
      auto s = st.server->stats();
      auto warnings = st.server->warnings();
      // Exposed beyond what is safe: said where operators look.
      auto state = warnings.empty() ? health::ok : health::degraded;
      return make_status(state, [&](json::writer& w) {
        json::field(w, "url", st.server->url());
        json::field(w, "token", !st.config.api_token.empty());
        json::field(w, "warnings", warnings);
        json::field(w, "requests", s.requests);
        json::field(w, "connections", s.connections);
        json::field(w, "connections_refused", s.connections_refused);
        json::field(w, "connections_evicted", s.connections_evicted);
        json::field(w, "ws_refused", s.ws_refused);
        json::field(w, "events", st.events);
        json::field(w, "ws_clients", s.ws_clients);
        json::field(w, "ws_frames_sent", s.ws_frames_sent);
        json::field(w, "ws_frames_dropped", s.ws_frames_dropped);
        if (st.config.fleet_api) {
          json::field(w, "forwarded", st.forwarded);
          json::field(w, "forward_failures", st.forward_failures->load());
          json::key(w, "fleet_events");
          w.StartObject();
          json::field(w, "relayed", st.relayed);
          json::field(w, "refused", st.relay_refused->load());
          json::field(w, "dropped", st.config.fleet_api->events_dropped());
          w.EndObject();
        }
      });
    },
  };
}

} // namespace optischema::actors
