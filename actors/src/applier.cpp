#include "optischema/actors/applier.hpp"
#include "optischema/util/json_parse.hpp"

#include "optischema/analysis/audit.hpp"
#include "optischema/analysis/change.hpp"
#include "optischema/analysis/json.hpp"
#include "optischema/analysis/realised.hpp"
#include "optischema/messages/error.hpp"
#include "optischema/pg/safety.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/util/logging.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

namespace optischema {

namespace {

using self_ptr = applier_actor::stateful_pointer<applier_state>;

constexpr auto store_timeout = std::chrono::seconds{10};
constexpr int64_t day_ms = 24LL * 3600 * 1000;

void publish(self_ptr self, const char* type, std::string payload) {
  event ev{type, self->state.target, now_ms(), std::move(payload)};
  for (auto& sink : self->state.peers.sinks)
    self->send(sink, atom::publish_v, ev);
}

/// Stores `r`, announces it and answers with it (or with `error`).
void finish(self_ptr self, const std::string& id, recommendation_patch patch,
            std::optional<failure> error,
            caf::typed_response_promise<std::string> rp) {
  self
    ->request(self->state.peers.store, store_timeout, atom::put_v,
              atom::suggest_v, id, std::move(patch))
    .then(
      [self, rp, error](const std::string& stored) mutable {
        publish(self, event_type::recommendation, stored);
        if (error)
          rp.deliver(make_error(*error));
        else
          rp.deliver(stored);
      },
      [rp](const caf::error& err) mutable { rp.deliver(err); });
}

/// Applies (`undo` false) or rolls back `r`.
void change(self_ptr self, recommendation r, bool undo, const std::string& who,
            caf::typed_response_promise<std::string> rp) {
  auto& st = self->state;
  audit_entry e;
  e.ts_ms = now_ms();
  e.who = who;
  e.action = undo ? "rollback" : "apply";
  e.target = r.target;
  e.recommendation_id = r.id;
  e.kind = r.kind;
  // Rolling back what was never applied would drop or rebuild an index
  // the engine did not touch.
  if (undo && r.status != "applied" && r.status != "rolled_back"
      && r.status != "failed") {
    e.outcome = "refused";
    e.error = fmt::format("recommendation {} is {}, not applied: nothing to "
                          "roll back",
                          r.id, r.status);
    self->send(st.peers.store, atom::put_v, atom::audit_v, to_json(e));
    rp.deliver(make_error(ec::conflict, e.error));
    return;
  }
  auto c = change_for(r, undo);
  // The advice's expressions run on every row as the table's owner
  // (pg/safety.hpp). (Undoing a drop rebuilds an index the schema had.)
  if (c && r.kind == "create_index" && !undo)
    if (auto safe = pg::check_index_expressions(*st.conn, c->sql); !safe)
      c = failure{ec::bad_request,
                  "not applied: the index " + safe.error().message};
  if (!c) {
    e.outcome = "refused";
    e.error = c.error().message;
    self->send(st.peers.store, atom::put_v, atom::audit_v, to_json(e));
    rp.deliver(make_error(c.error()));
    return;
  }
  e.ddl = c->sql;
  auto opts = st.ddl;
  opts.estimated_bytes = r.size_bytes > 0 ? r.size_bytes : 0;
  OPTISCHEMA_INFO("applier/{}: {} {} for {}: {}", st.target, e.action, r.id,
                  who, c->sql);
  auto res = pg::run_index_change(*st.conn, *c, opts);
  if (auto* f = std::get_if<pg::ddl_failure>(&res)) {
    ++st.failed;
    st.last_error = f->error;
    if (f->invalid_left)
      st.cleanups.emplace(c->schema, c->index_name);
    e.outcome = "failed";
    e.error = f->error.message;
    e.steps = f->partial.steps;
    e.attempts = f->partial.attempts;
    e.duration_ms = f->partial.duration_ms;
    self->send(st.peers.store, atom::put_v, atom::audit_v, to_json(e));
    OPTISCHEMA_WARN("applier/{}: {} of {} failed: {}", st.target, e.action,
                    r.id, f->error.message);
    // A failed apply leaves the target as it was; a failed rollback leaves
    // the change applied.
    finish(
      self, r.id,
      [undo, msg = f->error.message](recommendation& x) {
        if (!undo && x.status != "applied")
          x.status = "failed";
        x.last_error = msg;
        return std::optional<failure>{};
      },
      f->error, rp);
    return;
  }
  auto& out = std::get<pg::ddl_outcome>(res);
  st.last_error.reset();
  e.outcome = !out.changed ? "unchanged" : undo ? "rolled_back" : "applied";
  e.steps = out.steps;
  e.attempts = out.attempts;
  e.duration_ms = out.duration_ms;
  self->send(st.peers.store, atom::put_v, atom::audit_v, to_json(e));
  if (!out.changed)
    ++st.unchanged;
  else if (undo)
    ++st.rolled_back;
  else
    ++st.applied;
  if (out.changed)
    self->state.alerted.erase(r.id);
  finish(
    self, r.id,
    [undo, changed = out.changed, index = r.index_name, ddl = r.ddl,
     rollback_ddl = r.rollback_ddl](recommendation& x) {
      // The DDL that ran, even if an analysis renamed the advice meanwhile.
      x.index_name = index;
      x.ddl = ddl;
      x.rollback_ddl = rollback_ddl;
      if (undo) {
        x.status = "rolled_back";
        x.applied_ms = 0;
      } else {
        x.status = "applied";
        if (changed || x.applied_ms == 0) {
          x.applied_ms = now_ms();
          x.realised.clear();
        }
      }
      x.last_error.clear();
      return std::optional<failure>{};
    },
    std::nullopt, rp);
}

/// Serves apply and rollback: fetches the recommendation, then changes.
caf::result<std::string> handle(self_ptr self, const std::string& id, bool undo,
                                const std::string& who) {
  auto& st = self->state;
  if (st.misconfigured)
    return make_error(*st.misconfigured);
  auto rp = self->make_response_promise<std::string>();
  self
    ->request(st.peers.store, store_timeout, atom::get_v, atom::suggest_v,
              atom::by_id_v, id)
    .then(
      [self, rp, undo, who](const std::string& text) mutable {
        auto r = recommendation_from_json(text);
        if (!r) {
          rp.deliver(make_error(ec::internal, "unreadable recommendation"));
          return;
        }
        if (r->target != self->state.target) {
          rp.deliver(
            make_error(ec::bad_request,
                       "the recommendation belongs to target " + r->target));
          return;
        }
        change(self, std::move(*r), undo, who, rp);
      },
      [rp](const caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

/// When a stored realised benefit was measured (0 when unreadable).
int64_t measured_at(const std::string& realised) {
  rapidjson::Document d;
  if (!json::parse(d, realised, "a realised benefit") || !d.IsObject() || !d.HasMember("measured")
      || !d["measured"].IsInt64())
    return 0;
  return d["measured"].GetInt64();
}

/// Measures one applied recommendation: its served statements' history
/// the day before the change against the polls since.
void measure(self_ptr self, recommendation r) {
  struct gather {
    std::vector<history_point> before;
    std::vector<history_point> after;
    size_t pending = 0;
  };
  auto g = std::make_shared<gather>();
  auto done = [self, g, r]() mutable {
    auto res = realise(g->before, g->after);
    // Unchanged figures are not written again (the timestamp aside).
    if (!r.realised.empty()
        && to_json(res, measured_at(r.realised)) == r.realised)
      return;
    auto realised = to_json(res, now_ms());
    if (res.verdict == "regression" && self->state.alerted.insert(r.id).second)
      publish(
        self, event_type::alert,
        fmt::format(
          R"({{"kind":"regression","recommendation_id":{},"title":{},"message":{}}})",
          json::quote(r.id), json::quote(r.title),
          json::quote(
            fmt::format("after {}, the statements it serves take {:.2f} ms on "
                        "average instead of {:.2f} ms; roll it back with POST "
                        "/api/suggestions/rollback",
                        r.title, res.mean_after_ms, res.mean_before_ms))));
    // Only onto the same application: a rollback meanwhile ends measuring.
    recommendation_patch patch = [realised,
                                  applied = r.applied_ms](recommendation& x) {
      if (x.status != "applied" || x.applied_ms != applied)
        return std::optional<failure>{
          failure{ec::conflict, "no longer applied"}};
      x.realised = realised;
      return std::optional<failure>{};
    };
    self
      ->request(self->state.peers.store, store_timeout, atom::put_v,
                atom::suggest_v, r.id, std::move(patch))
      .then(
        [self](const std::string& stored) {
          publish(self, event_type::recommendation, stored);
        },
        [](const caf::error&) {});
  };
  auto now = now_ms();
  for (auto& s : r.statements)
    for (auto after : {false, true}) {
      history_request req;
      req.target = r.target;
      req.fingerprint = s.fingerprint;
      req.from_ms = after ? r.applied_ms : r.applied_ms - day_ms;
      req.to_ms = after ? now + 1 : r.applied_ms;
      ++g->pending;
      self
        ->request(self->state.peers.store, store_timeout, atom::history_v, req)
        .then(
          [g, after, done](const history_reply_ptr& h) mutable {
            auto& into = after ? g->after : g->before;
            if (h)
              into.insert(into.end(), h->points.begin(), h->points.end());
            if (--g->pending == 0)
              done();
          },
          [g, done](const caf::error&) mutable {
            if (--g->pending == 0)
              done();
          });
    }
}

void on_tick(self_ptr self) {
  auto& st = self->state;
  for (auto i = st.cleanups.begin(); i != st.cleanups.end();) {
    auto dropped = pg::drop_invalid_index(*st.conn, i->first, i->second,
                                          st.ddl);
    if (!dropped) {
      ++i;
      continue;
    }
    if (*dropped) {
      audit_entry e;
      e.ts_ms = now_ms();
      e.who = "engine";
      e.action = "cleanup";
      e.target = st.target;
      e.ddl = "DROP INDEX CONCURRENTLY " + i->first + "." + i->second;
      e.outcome = "dropped";
      e.steps = {"dropped the INVALID index a failed build left behind"};
      self->send(st.peers.store, atom::put_v, atom::audit_v, to_json(e));
      OPTISCHEMA_INFO("applier/{}: dropped the INVALID index {}.{}", st.target,
                      i->first, i->second);
    }
    i = st.cleanups.erase(i);
  }
  self
    ->request(st.peers.store, store_timeout, atom::get_v, atom::suggest_v,
              st.target)
    .then(
      [self](const std::string& text) {
        rapidjson::Document d;
        if (!json::parse(d, text, "the recommendations") || !d.IsArray())
          return;
        auto now = now_ms();
        for (auto& x : d.GetArray()) {
          rapidjson::StringBuffer buf;
          json::writer w{buf};
          x.Accept(w);
          auto r = recommendation_from_json(json::text(buf));
          // A week of measuring says what there is to say.
          if (r && r->status == "applied" && r->applied_ms > 0
              && now - r->applied_ms < 7 * day_ms && !r->statements.empty())
            measure(self, std::move(*r));
        }
      },
      [](const caf::error&) {});
  self->delayed_send(self, st.interval, atom::tick_v);
}

} // namespace

applier_actor::behavior_type
applier(applier_actor::stateful_pointer<applier_state> self,
        target_config target, apply_config cfg,
        std::chrono::milliseconds interval, applier_peers peers) {
  auto& st = self->state;
  st.target = target.name;
  st.peers = std::move(peers);
  st.interval = std::max(interval, std::chrono::milliseconds{1000});
  st.ddl.lock_timeout = cfg.lock_timeout;
  st.ddl.statement_timeout = cfg.statement_timeout;
  st.ddl.attempts = cfg.attempts;
  st.ddl.retry_delay = cfg.retry_delay;
  st.ddl.max_index_bytes = cfg.max_index_bytes;
  auto ci = pg::parse_conninfo(target.apply_dsn.empty() ? target.dsn
                                                        : target.apply_dsn);
  if (ci)
    st.conn = std::move(*ci);
  else
    st.misconfigured = ci.error();
  self->send(self, atom::tick_v);
  return {
    [self](atom::apply, const std::string& id, const std::string& who) {
      return handle(self, id, false, who);
    },
    [self](atom::rollback, const std::string& id, const std::string& who) {
      return handle(self, id, true, who);
    },
    [self](atom::tick) {
      if (!self->state.misconfigured)
        on_tick(self);
    },
    [self](atom::status) {
      auto& st = self->state;
      rapidjson::StringBuffer buf;
      json::writer w{buf};
      w.StartObject();
      json::key(w, "state");
      w.String(st.misconfigured || !st.cleanups.empty() ? "degraded" : "ok");
      json::key(w, "applied");
      w.Uint64(st.applied);
      json::key(w, "rolled_back");
      w.Uint64(st.rolled_back);
      json::key(w, "unchanged");
      w.Uint64(st.unchanged);
      json::key(w, "failed");
      w.Uint64(st.failed);
      json::key(w, "pending_cleanups");
      w.StartArray();
      for (auto& [schema, name] : st.cleanups)
        json::str(w, schema + "." + name);
      w.EndArray();
      json::key(w, "error");
      if (auto& e = st.misconfigured ? st.misconfigured : st.last_error)
        json::write(w, *e);
      else
        w.Null();
      w.EndObject();
      return json::text(buf);
    },
  };
}

} // namespace optischema
