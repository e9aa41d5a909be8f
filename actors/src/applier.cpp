#include "optischema/actors/applier.hpp"
#include "optischema/util/json_parse.hpp"

#include "optischema/analysis/audit.hpp"
#include "optischema/analysis/change.hpp"
#include "optischema/analysis/json.hpp"
#include "optischema/analysis/realised.hpp"
#include "optischema/analysis/statement.hpp"
#include "optischema/messages/error.hpp"
#include "optischema/pg/safety.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/util/logging.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

namespace optischema::actors {

namespace {

using self_ptr = applier_actor::stateful_pointer<applier_state>;

constexpr auto store_timeout = std::chrono::seconds{10};
constexpr int64_t day_ms = 24LL * 3600 * 1000;

void publish(self_ptr self, const char* type, std::string payload) {
  event ev{type, self->state.target, now_ms(), std::move(payload)};
  for (auto& sink : self->state.peers.sinks)
    self->send(sink, atom::publish_v, ev);
}

/// Hands `a`, the alert of recommendation `id`, to the ALERTER, which fires
/// or resolves it with the target's other alerts, and publishes what it
/// answers.
void raise(self_ptr self, const std::string& id, alert a) {
  auto& st = self->state;
  if (!st.peers.alerter)
    return;
  a.target = st.target;
  a.id = a.rule + ":" + st.target + ":" + id;
  self->request(st.peers.alerter, std::chrono::seconds{10}, atom::alert_v, a)
    .then(
      [self](const std::string& payload) {
        if (!payload.empty())
          publish(self, event_type::alert, payload);
      },
      [](const caf::error&) {}); // the ALERTER restarts: no alert
}

/// Fires (or resolves) the alert of applied recommendation `r` whose
/// realised benefit turned into a regression.
void alert_regression(self_ptr self, const recommendation& r, bool firing,
                      double before_ms = 0, double after_ms = 0) {
  alert a;
  a.rule = "applied_index_regressed";
  a.severity = alert_severity::critical;
  a.firing = firing;
  a.summary = fmt::format("after {}, the statements it serves take {:.2f} ms "
                          "on average instead of {:.2f} ms",
                          r.title, after_ms, before_ms);
  a.action = fmt::format("roll it back with POST /api/suggestions/rollback "
                         "(recommendation {})",
                         r.id);
  a.evidence = {{"mean_ms_before", before_ms}, {"mean_ms_after", after_ms}};
  raise(self, r.id, std::move(a));
}

/// Fires the alert of a change of `r` that failed on the target (whoever
/// asked for it may be gone: a scheduled apply, a closed dashboard), or
/// resolves it (`f` null) once a change of `r` has gone through.
void alert_failure(self_ptr self, const recommendation& r, bool undo,
                   const failure* f, int attempts = 0,
                   int64_t duration_ms = 0) {
  // Resolved whether or not this APPLIER saw the failure (it may have
  // restarted since): the ALERTER ignores the end of what does not fire.
  alert a;
  a.rule = "apply_failed";
  a.firing = f != nullptr;
  // A failed rollback leaves in place what was meant to go.
  a.severity = undo ? alert_severity::critical : alert_severity::warning;
  if (f)
    a.summary = fmt::format("the {} of {} failed: {}",
                            undo ? "rollback" : "apply", r.title, f->message);
  a.action = fmt::format("the audit log (GET /api/audit) has its steps; fix "
                         "what the error says, then apply or roll back "
                         "recommendation {} again",
                         r.id);
  a.evidence = {{"attempts", attempts},
                {"duration_ms", static_cast<double>(duration_ms)}};
  raise(self, r.id, std::move(a));
}

using promise = std::optional<caf::typed_response_promise<recommendation>>;

/// Appends an entry that is no part of a change in flight (a refusal,
/// nothing to do, a cleanup).
void record(self_ptr self, const audit_entry& e) {
  self->send(self->state.peers.store, atom::put_v, atom::audit_v, e);
}

/// Ends a change: stores what it did to the recommendation and announces
/// it, then writes the entry that ends it (synced, when a "started" entry
/// began it), then answers (with `error` if set).
void conclude(self_ptr self, const std::string& id, recommendation_patch patch,
              audit_entry end, std::optional<failure> error, promise rp) {
  auto& st = self->state;
  auto answer = [self, rp, error, end](caf::expected<recommendation> stored) {
    auto deliver = [rp, error, stored]() mutable {
      if (!rp)
        return;
      if (!stored)
        rp->deliver(stored.error());
      else if (error)
        rp->deliver(make_error(*error));
      else
        rp->deliver(*stored);
    };
    if (end.op.empty()) {
      record(self, end);
      deliver();
      return;
    }
    self
      ->request(self->state.peers.store, store_timeout, atom::put_v,
                atom::audit_v, atom::finished_v, end.target, end.op, end)
      .then([deliver](bool) mutable { deliver(); },
            [self, deliver, op = end.op](const caf::error& err) mutable {
              // The change ran; only its record is missing: the next start
              // finds it in flight and resolves it from the catalog.
              OPTISCHEMA_ERROR("applier/{}: could not record the end of "
                               "change {}: {}",
                               self->state.target, op, error_message(err));
              deliver();
            });
  };
  self
    ->request(st.peers.store, store_timeout, atom::put_v, atom::recommend_v, id,
              std::move(patch))
    .then(
      [self, answer](recommendation& stored) mutable {
        publish(self, event_type::recommendation, to_json(stored));
        answer(std::move(stored));
      },
      [answer](const caf::error& err) mutable { answer(err); });
}

/// The audit entry of dropping `x`, an INVALID index a failed build left:
/// kept as a pending cleanup until it is done, then in the audit log.
audit_entry cleanup_entry(self_ptr self, const pg::index_facts& x) {
  audit_entry e;
  e.ts_ms = now_ms();
  e.who = "engine";
  e.action = "cleanup";
  e.target = self->state.target;
  e.ddl = "DROP INDEX CONCURRENTLY " + quote_qualified(x.schema, x.name);
  e.outcome = "pending";
  e.schema = x.schema;
  e.index_name = x.name;
  e.index_oid = x.oid;
  e.index_definition = x.definition;
  return e;
}

/// The index a kept cleanup is about (none when the entry names none).
std::optional<pg::index_facts> cleanup_index(const audit_entry& e) {
  if (e.index_name.empty() || e.index_oid <= 0)
    return std::nullopt;
  pg::index_facts x;
  x.schema = e.schema;
  x.name = e.index_name;
  x.oid = static_cast<uint32_t>(e.index_oid);
  x.definition = e.index_definition;
  return x;
}

/// Remembers an INVALID index a failed build left (memory and STORE), to
/// drop it at the next ticks, also after a restart.
void keep_cleanup(self_ptr self, const pg::index_facts& x) {
  auto key = x.schema + "." + x.name;
  self->state.cleanups[key] = x;
  self
    ->request(self->state.peers.store, store_timeout, atom::put_v,
              atom::cleanup_v, self->state.target, key, cleanup_entry(self, x))
    .then([](bool) {},
          [self, key](const caf::error& err) {
            OPTISCHEMA_WARN("applier/{}: could not keep the cleanup of {} "
                            "(it is lost at a restart): {}",
                            self->state.target, key, error_message(err));
          });
}

/// What a change that took effect does to its recommendation: its status,
/// the index built (name, DDL, oid and definition: what a rollback may
/// drop), whatever an analysis wrote meanwhile.
recommendation_patch effect_patch(const recommendation& r, bool undo,
                                  bool changed, const pg::index_facts& index) {
  return [r, undo, changed, index](recommendation& x) {
    // The DDL that ran, even if an analysis renamed the advice meanwhile.
    x.index_name = r.index_name;
    x.ddl = r.ddl;
    x.rollback_ddl = r.rollback_ddl;
    x.title = r.title;
    auto creates = (r.kind == "create_index") != undo;
    // Built under a free name: the advised one was another index's.
    if (creates && changed && !index.name.empty() && index.name != x.index_name)
      if (auto renamed = rename_index(x, index.name); !renamed)
        return std::optional<failure>{renamed.error()};
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
    // Rolled back (or found gone), the index it built is no more.
    if (r.kind == "create_index" && (changed || undo)) {
      x.index_oid = undo ? 0 : index.oid;
      x.index_definition = undo ? std::string{} : index.definition;
    }
    x.last_error.clear();
    return std::optional<failure>{};
  };
}

/// What a change that failed does to its recommendation: a failed apply
/// leaves the target as it was; a failed rollback leaves it applied.
recommendation_patch failed_patch(bool undo, const std::string& message) {
  return [undo, message](recommendation& x) {
    if (!undo && x.status != "applied")
      x.status = "failed";
    x.last_error = message;
    return std::optional<failure>{};
  };
}

/// Runs the change whose "started" entry `e` is on disk, then concludes it.
void run_started(self_ptr self, recommendation r, bool undo, index_change c,
                 audit_entry e, pg::ddl_options opts, promise rp) {
  auto& st = self->state;
  opts.may_rename = false; // the name the "started" entry says
  auto res = pg::run_index_change(st.conn, c, opts);
  auto end = e;
  end.ts_ms = now_ms();
  if (auto* f = std::get_if<pg::ddl_failure>(&res)) {
    ++st.failed;
    st.last_error = f->error;
    if (f->invalid_left)
      keep_cleanup(self, *f->invalid_left);
    end.outcome = "failed";
    end.error = f->error.message;
    end.steps.insert(end.steps.end(), f->partial.steps.begin(),
                     f->partial.steps.end());
    end.attempts = f->partial.attempts;
    end.duration_ms = f->partial.duration_ms;
    OPTISCHEMA_WARN("applier/{}: {} of {} failed: {}", st.target, e.action,
                    r.id, f->error.message);
    alert_failure(self, r, undo, &f->error, f->partial.attempts,
                  f->partial.duration_ms);
    conclude(self, r.id, failed_patch(undo, f->error.message), end, f->error,
             rp);
    return;
  }
  auto& out = std::get<pg::ddl_outcome>(res);
  st.last_error.reset();
  end.outcome = !out.changed ? "unchanged" : undo ? "rolled_back" : "applied";
  end.steps.insert(end.steps.end(), out.steps.begin(), out.steps.end());
  end.attempts = out.attempts;
  end.duration_ms = out.duration_ms;
  end.index_oid = out.index.oid;
  end.index_definition = out.index.definition;
  if (!out.changed)
    ++st.unchanged;
  else if (undo)
    ++st.rolled_back;
  else
    ++st.applied;
  if (out.changed && st.alerted.erase(r.id) > 0)
    alert_regression(self, r, false); // rolled back, or applied anew
  alert_failure(self, r, undo, nullptr);
  auto id = r.id;
  conclude(self, id, effect_patch(r, undo, out.changed, out.index), end,
           std::nullopt, rp);
}

/// Applies (`undo` false) or rolls back `r`: checks it, plans it on the
/// target's catalog, writes its "started" entry (synced), then runs it.
void change(self_ptr self, recommendation r, bool undo, const std::string& who,
            caf::typed_response_promise<recommendation> rp) {
  auto& st = self->state;
  audit_entry e;
  e.ts_ms = now_ms();
  e.who = who;
  e.action = undo ? "rollback" : "apply";
  e.target = r.target;
  e.recommendation_id = r.id;
  e.kind = r.kind;
  auto refuse = [&](const failure& f) {
    e.outcome = "refused";
    e.error = f.message;
    record(self, e);
    rp.deliver(make_error(f));
  };
  // Rolling back what was never applied would drop or rebuild an index
  // the engine did not touch.
  if (undo && r.status != "applied" && r.status != "rolled_back"
      && r.status != "failed")
    return refuse({ec::conflict,
                   fmt::format("recommendation {} is {}, not applied: nothing "
                               "to roll back",
                               r.id, r.status)});
  auto c = change_for(r, undo);
  // The advice's expressions run on every row as the table's owner
  // (pg/safety.hpp). (Undoing a drop rebuilds an index the schema had.)
  if (c && r.kind == "create_index" && !undo)
    if (auto safe = pg::check_index_expressions(st.conn, c->sql); !safe)
      c = failure{ec::bad_request,
                  "not applied: the index " + safe.error().message};
  if (!c)
    return refuse(c.error());
  // An index that needs an extension (a trigram index needs pg_trgm) is
  // built only once someone allowed to has created it: the engine never
  // creates extensions, which run their install scripts as a superuser.
  if (!undo && r.kind == "create_index")
    if (auto met = pg::check_prerequisites(st.conn, r.prerequisites); !met)
      return refuse(met.error());
  e.ddl = c->sql;
  e.schema = c->schema;
  e.index_name = c->index_name;
  auto opts = st.ddl;
  opts.estimated_bytes = r.size_bytes > 0 ? r.size_bytes : 0;
  auto planned = pg::plan_index_change(st.conn, *c, opts);
  if (auto* f = std::get_if<pg::ddl_failure>(&planned)) {
    // Refused (not the index it should drop) or the target unreachable.
    ++st.failed;
    st.last_error = f->error;
    e.outcome = f->refused ? "refused" : "failed";
    e.error = f->error.message;
    OPTISCHEMA_WARN("applier/{}: {} of {}: {}", st.target, e.action, r.id,
                    f->error.message);
    // A refusal is the requester's answer, not a failure on the target.
    if (!f->refused)
      alert_failure(self, r, undo, &f->error);
    conclude(self, r.id, failed_patch(undo, f->error.message), e, f->error, rp);
    return;
  }
  auto& plan = std::get<pg::ddl_plan>(planned);
  e.steps = plan.steps;
  if (auto& done = plan.done) {
    ++st.unchanged;
    e.outcome = "unchanged";
    alert_failure(self, r, undo, nullptr);
    e.steps.insert(e.steps.end(), done->steps.begin(), done->steps.end());
    conclude(self, r.id, effect_patch(r, undo, false, done->index), e,
             std::nullopt, rp);
    return;
  }
  e.outcome = "started";
  e.op = fmt::format("{:x}-{:x}", e.ts_ms, ++st.ops);
  e.ddl = plan.change.sql;
  e.index_name = plan.change.index_name;
  e.index_oid = plan.change.expect_oid;
  e.index_definition = plan.change.expect_definition;
  OPTISCHEMA_INFO("applier/{}: {} {} for {}: {}", st.target, e.action, r.id,
                  who, e.ddl);
  self
    ->request(st.peers.store, store_timeout, atom::put_v, atom::audit_v,
              atom::started_v, e.target, e.op, e)
    .then(
      [self, r, undo, c = plan.change, e, opts, rp](bool) mutable {
        run_started(self, std::move(r), undo, std::move(c), std::move(e), opts,
                    rp);
      },
      [self, rp](const caf::error& err) mutable {
        // Nothing runs on a target that the audit log does not show first.
        auto f = failure{ec::store_error,
                         fmt::format("the audit log could not be written "
                                     "({}), so nothing was run on the "
                                     "target; see the store in /api/status",
                                     error_message(err))};
        self->state.last_error = f;
        rp.deliver(make_error(f));
      });
}

/// Ends a change that a crash interrupted ("started", never finished):
/// what the target's catalog says now decides its outcome.
void resolve(self_ptr self, const audit_entry& started) {
  auto& st = self->state;
  auto c = parse_index_change(started.ddl);
  if (!c)
    return;
  auto schema = started.schema.empty() ? c->schema : started.schema;
  auto creates = c->what == index_change::action::create;
  auto found = pg::find_index(st.conn, schema, started.index_name);
  if (!found) {
    OPTISCHEMA_WARN("applier/{}: change {} was interrupted (the engine "
                    "stopped during it) and cannot be resolved now: {}; "
                    "trying again at the next start",
                    st.target, started.op, found.error().message);
    return;
  }
  index_now now;
  if (auto& x = *found; x && x->is_index) {
    now.exists = true;
    now.valid = x->valid;
    now.as_started = creates
      ? same_index_definition(started.ddl, x->definition, schema)
      : (started.index_oid == 0 || x->oid == started.index_oid)
        && (started.index_definition.empty()
            || same_index_definition(started.index_definition, x->definition,
                                     schema));
  }
  auto res = resolve_interrupted(started, creates, now);
  OPTISCHEMA_WARN("applier/{}: the {} of recommendation {} (change {}, "
                  "begun at {} ms) was interrupted: {}",
                  st.target, started.action, started.recommendation_id,
                  started.op, started.ts_ms, res.step);
  st.recovered.push_back(started.op + ": " + res.outcome);
  auto end = started;
  end.ts_ms = now_ms();
  end.outcome = res.outcome;
  end.steps.push_back(res.step);
  if (now.exists && (res.took_effect || res.cleanup)) {
    end.index_oid = (*found)->oid;
    end.index_definition = (*found)->definition;
  }
  if (res.cleanup)
    keep_cleanup(self, **found);
  auto undo = started.action == "rollback";
  // The index as built, under the name the "started" entry recorded.
  auto index = creates && now.exists ? **found : pg::index_facts{};
  auto patch = res.took_effect
    ? recommendation_patch{[undo, index](recommendation& x) {
        return effect_patch(x, undo, true, index)(x);
      }}
    : failed_patch(undo, res.step);
  conclude(self, started.recommendation_id, std::move(patch), end, std::nullopt,
           std::nullopt);
}

/// Serves apply and rollback: fetches the recommendation, then changes.
caf::result<recommendation> handle(self_ptr self, const std::string& id,
                                   bool undo, const std::string& who) {
  auto& st = self->state;
  auto rp = self->make_response_promise<recommendation>();
  self
    ->request(st.peers.store, store_timeout, atom::get_v, atom::recommend_v,
              atom::by_id_v, id)
    .then(
      [self, rp, undo, who](recommendation& r) mutable {
        if (r.target != self->state.target) {
          rp.deliver(
            make_error(ec::bad_request,
                       "the recommendation belongs to target " + r.target));
          return;
        }
        change(self, std::move(r), undo, who, rp);
      },
      [rp](const caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

/// When a stored realised benefit was measured (0 when unreadable).
int64_t measured_at(const std::string& realised) {
  rapidjson::Document d;
  if (!json::parse(d, realised, "a realised benefit") || !d.IsObject()
      || !d.HasMember("measured") || !d["measured"].IsInt64())
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
      alert_regression(self, r, true, res.mean_before_ms, res.mean_after_ms);
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
                atom::recommend_v, r.id, std::move(patch))
      .then(
        [self](const recommendation& stored) {
          publish(self, event_type::recommendation, to_json(stored));
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

/// Drops the INVALID leftovers of failed builds that are still there and
/// still theirs; forgets the others.
void clean_up(self_ptr self) {
  auto& st = self->state;
  for (auto i = st.cleanups.begin(); i != st.cleanups.end();) {
    auto& x = i->second;
    auto dropped = pg::drop_invalid_index(st.conn, x, st.ddl);
    if (!dropped) {
      OPTISCHEMA_DEBUG("applier/{}: the INVALID index {} cannot be dropped "
                       "yet: {}",
                       st.target, i->first, dropped.error().message);
      ++i;
      continue;
    }
    if (*dropped) {
      auto e = cleanup_entry(self, x);
      e.outcome = "dropped";
      e.steps = {"dropped the INVALID index a failed build left behind"};
      record(self, e);
      OPTISCHEMA_INFO("applier/{}: dropped the INVALID index {}", st.target,
                      i->first);
    }
    self
      ->request(st.peers.store, store_timeout, atom::erase_v, atom::cleanup_v,
                st.target, i->first)
      .then([](bool) {}, [](const caf::error&) {});
    i = st.cleanups.erase(i);
  }
}

void on_tick(self_ptr self) {
  auto& st = self->state;
  clean_up(self);
  self
    ->request(st.peers.store, store_timeout, atom::get_v, atom::recommend_v,
              st.target)
    .then(
      [self](recommendation_list& recs) {
        auto now = now_ms();
        for (auto& r : recs)
          // A week of measuring says what there is to say.
          if (r.status == "applied" && r.applied_ms > 0
              && now - r.applied_ms < 7 * day_ms && !r.statements.empty())
            measure(self, std::move(r));
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
  st.ddl.lock_key = cfg.lock_key;
  st.conn = target.changes();
  // Before anything else: the changes a crash interrupted, and the INVALID
  // leftovers that wait to be dropped (await: no apply runs meanwhile).
  self
    ->request(st.peers.store, store_timeout, atom::get_v, atom::audit_v,
              atom::started_v, st.target)
    .await(
      [self](const audit_list& entries) {
        for (auto& e : entries)
          resolve(self, e);
      },
      [self](const caf::error& err) {
        OPTISCHEMA_WARN("applier/{}: cannot read the changes in flight: {}",
                        self->state.target, error_message(err));
      });
  self
    ->request(st.peers.store, store_timeout, atom::get_v, atom::cleanup_v,
              st.target)
    .await(
      [self](const audit_list& entries) {
        for (auto& e : entries)
          if (auto x = cleanup_index(e))
            self->state.cleanups[x->schema + "." + x->name] = *x;
      },
      [self](const caf::error& err) {
        OPTISCHEMA_WARN("applier/{}: cannot read the pending cleanups: {}",
                        self->state.target, error_message(err));
      });
  self->send(self, atom::tick_v);
  return {
    [self](atom::apply, const std::string& id, const std::string& who) {
      return handle(self, id, false, who);
    },
    [self](atom::rollback, const std::string& id, const std::string& who) {
      return handle(self, id, true, who);
    },
    [self](atom::tick) { on_tick(self); },
    [self](atom::status) -> status_report {
      auto& st = self->state;
      auto state = !st.cleanups.empty() ? health::degraded : health::ok;
      return make_status(state, [&](json::writer& w) {
        json::field(w, "applied", st.applied);
        json::field(w, "rolled_back", st.rolled_back);
        json::field(w, "unchanged", st.unchanged);
        json::field(w, "failed", st.failed);
        json::key(w, "pending_cleanups");
        w.StartArray();
        for (auto& [key, _] : st.cleanups)
          json::str(w, key);
        w.EndArray();
        json::field(w, "recovered", st.recovered);
        json::field(w, "error", st.last_error);
      });
    },
  };
}

} // namespace optischema::actors
