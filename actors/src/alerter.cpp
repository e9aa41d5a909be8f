#include "optischema/actors/alerter.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/messages/error.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/util/logging.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace optischema::actors {

namespace {

using self_ptr = alerter_actor::stateful_pointer<alerter_state>;

/// Resolved alerts the API keeps showing.
constexpr size_t resolved_kept = 200;

/// Silences in place at once.
constexpr size_t max_silences = 1000;

/// How long a read of the STORE may hold a target's polls up: well within
/// the 10 s a COLLECTOR waits for a poll's verdict (later, it is lost).
constexpr auto store_read_timeout = std::chrono::seconds{5};

/// How long a plan check may take (the EXPLAINER has its own statement
/// timeout on the target; this bounds the wait behind its other work).
constexpr auto plan_timeout = std::chrono::seconds{10};

/// Whether the alert `id` (rule:target[:…]) is one of `target`'s.
bool of_target(const std::string& id, const std::string& target) {
  auto from = id.find(':');
  return from != std::string::npos
    && id.compare(from + 1, target.size(), target) == 0
    && (id.size() == from + 1 + target.size()
        || id[from + 1 + target.size()] == ':');
}

/// A target's rules (made empty if it has none: when_ready() makes them
/// with what fired before).
alert_rules& rules_of(self_ptr self, const std::string& target) {
  auto& st = self->state;
  auto i = st.rules.find(target);
  if (i == st.rules.end())
    i = st.rules.emplace(target, alert_rules{target, st.thresholds}).first;
  return i->second;
}

/// Makes `target`'s rules with what fired on it when it was last polled
/// (`text`, stored_alerts_json(); "" for nothing).
void take_up(self_ptr self, const std::string& target,
             const std::string& text) {
  auto& st = self->state;
  auto& rules = rules_of(self, target);
  if (text.empty())
    return;
  auto x = read_stored_alerts(text);
  if (!x || x->target != target) {
    ++st.restore_failed;
    OPTISCHEMA_WARN("the alerts firing on {} before are not taken up: {}",
                    target,
                    x ? "they are another target's" : x.error().message);
    return;
  }
  rules.restore(std::move(x->firing), x->grouped);
  for (auto& id : x->held_back)
    if (rules.firing().count(id))
      st.suppressed.insert(id);
  if (!rules.firing().empty()) {
    st.restored += rules.firing().size();
    OPTISCHEMA_INFO("{} alerts of {} fire on from before",
                    rules.firing().size(), target);
  }
}

/// Keeps what fires on `target` in the STORE (and a fleet's bucket),
/// nothing included: the next poll of it here or elsewhere takes it up.
void save_firing(self_ptr self, const std::string& target) {
  auto& st = self->state;
  if (!st.store)
    return;
  stored_alerts x;
  x.target = target;
  if (auto i = st.rules.find(target); i != st.rules.end()) {
    for (auto& [id, a] : i->second.firing())
      x.firing.push_back(a);
    x.grouped.assign(i->second.grouped().begin(), i->second.grouped().end());
  }
  for (auto& id : st.suppressed)
    if (of_target(id, target))
      x.held_back.push_back(id);
  self->send(st.store, atom::put_v, atom::alert_v, target,
             stored_alerts_json(x));
}

/// Runs `f` once the silences are back and `target` has its rules, with
/// what fired on it before (read from the STORE at its first poll here);
/// `f(false)` if the target left meanwhile.
void when_ready(self_ptr self, const std::string& target,
                std::function<void(bool)> f) {
  auto& st = self->state;
  if (!st.loaded) {
    st.waiting.push_back([self, target, f = std::move(f)]() mutable {
      when_ready(self, target, std::move(f));
    });
    return;
  }
  if (st.rules.count(target) || !st.store) {
    f(true);
    return;
  }
  auto& waiting = st.reading[target];
  waiting.push_back(std::move(f));
  if (waiting.size() > 1)
    return; // read already
  auto done = [self, target](const std::string& text) {
    auto& st = self->state;
    auto live = !st.leaving.erase(target);
    if (live)
      take_up(self, target, text);
    auto fs = std::move(st.reading[target]);
    st.reading.erase(target);
    for (auto& f : fs)
      f(live);
  };
  self
    ->request(st.store, store_read_timeout, atom::get_v, atom::alert_v, target)
    .then(done, [self, target, done](const caf::error& err) {
      ++self->state.restore_failed;
      OPTISCHEMA_WARN("the alerts firing on {} before could not be read ({}): "
                      "those still firing fire again",
                      target, to_string(err));
      done(std::string{});
    });
}

void loaded(self_ptr self) {
  auto& st = self->state;
  if (st.loaded)
    return;
  st.loaded = true;
  for (auto& f : std::exchange(st.waiting, {}))
    f();
}

/// The silence that matches `a` at `now`, if one does.
const alert_silence* silence_of(alerter_state& st, const alert& a,
                                int64_t now) {
  for (auto& s : st.silences)
    if (s.until_ms > now && s.matches(a))
      return &s;
  return nullptr;
}

/// Keeps the silences in the STORE: a restart does not end them.
void save_silences(self_ptr self) {
  auto& st = self->state;
  if (st.store)
    self->send(st.store, atom::put_v, atom::silence_v,
               silences_json(st.silences));
}

/// Leaves out what a silence holds back, and adds what fires on after
/// its silence ended.
std::vector<alert> unsilenced(alerter_state& st, const std::string& target,
                              std::vector<alert> changes) {
  auto now = now_ms();
  std::erase_if(st.silences,
                [&](const alert_silence& s) { return s.until_ms <= now; });
  std::vector<alert> out;
  for (auto& a : changes) {
    if (a.firing && silence_of(st, a, now)) {
      st.suppressed.insert(a.id);
      continue;
    }
    // Its firing was never announced: neither is its end.
    if (!a.firing && st.suppressed.erase(a.id))
      continue;
    out.push_back(std::move(a));
  }
  if (auto i = st.rules.find(target); i != st.rules.end())
    for (auto& [id, a] : i->second.firing())
      if (st.suppressed.count(id) && !silence_of(st, a, now)) {
        st.suppressed.erase(id);
        out.push_back(a);
      }
  return out;
}

/// The payload of one `alert` event for whatever changed with one poll of
/// `target` ("" for nothing): receivers notify once per target and poll.
std::string announce(self_ptr self, const std::string& target, int64_t ts,
                     std::vector<alert> all) {
  auto& st = self->state;
  auto changed = !all.empty();
  for (auto& a : all)
    if (!a.firing) {
      ++st.resolutions;
      st.resolved.push_back(a);
      while (st.resolved.size() > resolved_kept)
        st.resolved.pop_front();
    }
  auto changes = unsilenced(st, target, std::move(all));
  if (changed || !changes.empty())
    save_firing(self, target);
  if (changes.empty())
    return {};
  for (auto& a : changes) {
    if (a.firing) {
      ++st.fired;
      OPTISCHEMA_INFO("alert {} fires: {}", a.id, a.summary);
    } else {
      OPTISCHEMA_INFO("alert {} resolved", a.id);
    }
  }
  ++st.events;
  return json::object([&](json::writer& w) {
    json::field(w, "target", target);
    json::field(w, "ts", ts);
    json::key(w, "alerts");
    w.StartArray();
    for (auto& a : changes) {
      auto j = to_json(a);
      w.RawValue(j.data(), j.size(), rapidjson::kObjectType);
    }
    w.EndArray();
  });
}

std::string list_json(alerter_state& st, const std::string& target) {
  auto now = now_ms();
  // The engine's own alerts (the LLM's budget) concern every target.
  auto shown = [&](const std::string& name) {
    return target.empty() || name == target || name == engine_alerts;
  };
  return json::object([&](json::writer& w) {
    json::key(w, "firing");
    w.StartArray();
    for (auto& [name, rules] : st.rules)
      if (shown(name))
        for (auto& [id, fired] : rules.firing()) {
          auto a = fired;
          if (auto* s = silence_of(st, a, now))
            a.silenced_by = s->id;
          auto j = to_json(a);
          w.RawValue(j.data(), j.size(), rapidjson::kObjectType);
        }
    w.EndArray();
    json::key(w, "silences");
    w.StartArray();
    for (auto& s : st.silences)
      if (s.until_ms > now
          && (target.empty() || s.target.empty() || s.target == target)) {
        auto j = to_json(s);
        w.RawValue(j.data(), j.size(), rapidjson::kObjectType);
      }
    w.EndArray();
    json::key(w, "resolved");
    w.StartArray();
    for (auto i = st.resolved.rbegin(); i != st.resolved.rend(); ++i)
      if (shown(i->target)) {
        auto j = to_json(*i);
        w.RawValue(j.data(), j.size(), rapidjson::kObjectType);
      }
    w.EndArray();
  });
}

/// What one poll changed, while its plans are being checked.
struct poll_round {
  std::string target;
  int64_t ts = 0;
  std::vector<alert> changes;
  size_t pending = 0;
  caf::typed_response_promise<std::string> rp;
};

/// Decides a poll: the rules on its figures at once, then the plans of its
/// hottest statements (EXPLAIN on the target, a few ms each); delivers the
/// one payload of both to `rp`.
void decide(self_ptr self, const snapshot_ptr& snap, bool plans,
            caf::typed_response_promise<std::string> rp) {
  auto& st = self->state;
  auto& rules = rules_of(self, snap->target);
  auto changes = rules.observe(*snap);
  auto checks = st.supervisor && plans ? rules.plans_to_check(*snap)
                                       : std::vector<alert_rules::plan_check>{};
  if (checks.empty()) {
    rp.deliver(announce(self, snap->target, snap->ts_ms, std::move(changes)));
    return;
  }
  auto g = std::make_shared<poll_round>();
  g->target = snap->target;
  g->ts = snap->ts_ms;
  g->changes = std::move(changes);
  g->pending = checks.size();
  g->rp = std::move(rp);
  auto done = [self, g] {
    if (--g->pending == 0)
      g->rp.deliver(announce(self, g->target, g->ts, g->changes));
  };
  for (auto& c : checks)
    self
      ->request(st.supervisor, plan_timeout, atom::explain_v, g->target,
                c.query, false)
      .then(
        [self, g, c, done](const explained_statement& e) {
          auto& st = self->state;
          ++st.plans_checked;
          // The target may have left meanwhile: nothing to judge then.
          if (auto i = st.rules.find(g->target); i != st.rules.end()) {
            auto got = i->second.planned(g->ts, c, e.tree.shape(),
                                         e.tree.outline(), e.tree.total_cost());
            g->changes.insert(g->changes.end(), got.begin(), got.end());
          }
          done();
        },
        [self, g, c, done](const caf::error& err) {
          auto& st = self->state;
          ++st.plans_failed;
          // A target that is away or slow says nothing about the
          // statement; anything else (refused, not plannable) does.
          auto code = error_code(err);
          auto away = code == ec::db_unreachable || code == ec::timeout
            || err == caf::sec::request_timeout;
          if (auto i = st.rules.find(g->target); i != st.rules.end() && !away)
            i->second.unplannable(c.fingerprint);
          done();
        });
}

/// Judges a poll: first reads the stored pasts of the statements whose
/// judgement they would change (a few reads of the STORE, once an hour at
/// most each), then decides.
void judge(self_ptr self, const snapshot_ptr& snap, bool plans,
           caf::typed_response_promise<std::string> rp) {
  auto& st = self->state;
  ++st.polls;
  auto wanted = st.store ? rules_of(self, snap->target).pasts_wanted(*snap)
                         : std::vector<std::string>{};
  if (wanted.empty()) {
    decide(self, snap, plans, rp);
    return;
  }
  auto pending = std::make_shared<size_t>(wanted.size());
  constexpr int64_t hour_ms = 3'600'000;
  auto ts = snap->ts_ms;
  for (auto& fp : wanted) {
    // Whole hours only: the one under way holds this poll.
    history_request q{snap->target, fp, ts - past_span_ms, ts - ts % hour_ms,
                      resolution::hourly};
    auto learnt = [self, snap, fp, ts](statement_past p) {
      if (auto i = self->state.rules.find(snap->target);
          i != self->state.rules.end())
        i->second.remember_past(fp, std::move(p), ts);
    };
    auto done = [self, snap, plans, rp, pending]() mutable {
      if (--*pending == 0)
        decide(self, snap, plans, rp);
    };
    self->request(st.store, std::chrono::seconds{5}, atom::history_v, q)
      .then(
        [self, learnt, done, ts](const history_reply_ptr& r) mutable {
          ++self->state.pasts_read;
          learnt(r ? past_of(r->points, ts,
                             self->state.thresholds.regression_min_calls)
                   : statement_past{});
          done();
        },
        [self, learnt, done](const caf::error&) mutable {
          // Judged on the polls alone; asked again in an hour.
          ++self->state.pasts_failed;
          learnt(statement_past{});
          done();
        });
  }
}

/// Reads back the silences still in force from the STORE, then judges what
/// waited.
void load(self_ptr self) {
  auto& st = self->state;
  if (!st.store) {
    loaded(self);
    return;
  }
  self->request(st.store, store_read_timeout, atom::get_v, atom::silence_v)
    .then(
      [self](const std::string& text) {
        auto& st = self->state;
        auto now = now_ms();
        // Made since the start: stored alone, so stored again with these.
        auto made = !st.silences.empty();
        for (auto& s : parse_silences(text))
          if (s.until_ms > now && st.silences.size() < max_silences
              && std::none_of(st.silences.begin(), st.silences.end(),
                              [&](auto& x) { return x.id == s.id; }))
            st.silences.push_back(std::move(s));
        if (made)
          save_silences(self);
        loaded(self);
      },
      [self](const caf::error&) {
        // None kept, or the STORE is away; new ones are kept anew.
        loaded(self);
      });
}

} // namespace

alerter_actor::behavior_type
alerter(alerter_actor::stateful_pointer<alerter_state> self,
        alert_thresholds thresholds, supervisor_actor supervisor,
        store_actor store) {
  self->state.thresholds = thresholds;
  self->state.supervisor = std::move(supervisor);
  self->state.store = std::move(store);
  load(self);
  return {
    [self](atom::alert, const snapshot_ptr& snap,
           bool plans) -> caf::result<std::string> {
      if (!snap)
        return std::string{};
      auto rp = self->make_response_promise<std::string>();
      when_ready(self, snap->target,
                 [self, snap, plans, rp](bool live) mutable {
                   if (live)
                     judge(self, snap, plans, rp);
                   else
                     rp.deliver(std::string{});
                 });
      return rp;
    },
    [self](atom::alert, atom::failed, const std::string& target, int64_t ts,
           const std::string& why) -> caf::result<std::string> {
      auto rp = self->make_response_promise<std::string>();
      when_ready(self, target, [self, target, ts, why, rp](bool live) mutable {
        if (!live) {
          rp.deliver(std::string{});
          return;
        }
        ++self->state.failures;
        rp.deliver(
          announce(self, target, ts, rules_of(self, target).failed(ts, why)));
      });
      return rp;
    },
    [self](atom::alert, alert& a) -> caf::result<std::string> {
      auto rp = self->make_response_promise<std::string>();
      auto target = a.target;
      when_ready(
        self, target, [self, target, a = std::move(a), rp](bool live) mutable {
          if (!live) {
            rp.deliver(std::string{});
            return;
          }
          auto ts = now_ms();
          rp.deliver(announce(self, target, ts,
                              rules_of(self, target).raise(std::move(a), ts)));
        });
      return rp;
    },
    [self](atom::erase, const std::string& target) {
      auto& st = self->state;
      st.rules.erase(target);
      if (st.reading.count(target))
        st.leaving.insert(target);
      std::erase_if(st.suppressed, [&](const std::string& id) {
        return of_target(id, target);
      });
      // Its alerts are another engine's now (the fleet's bucket keeps them
      // for it), or nobody's.
      if (st.store)
        self->send(st.store, atom::erase_v, atom::alert_v, target);
    },
    [self](atom::get, atom::alert, const std::string& target) {
      return list_json(self->state, target);
    },
    [self](atom::ack, const std::string& target, const std::string& id,
           const std::string& who) -> caf::result<std::string> {
      auto& st = self->state;
      auto i = st.rules.find(target);
      auto acked = i == st.rules.end()
        ? std::nullopt
        : i->second.acknowledge(id, now_ms(), who);
      if (!acked)
        return make_error(ec::not_found,
                          fmt::format("no alert '{}' fires on {}; GET "
                                      "/api/alerts lists those that do",
                                      id, target));
      OPTISCHEMA_INFO("alert {} acknowledged by {}", id, who);
      save_firing(self, target);
      return to_json(*acked);
    },
    [self](atom::silence, alert_silence& s) -> caf::result<std::string> {
      auto& st = self->state;
      // Bounded: a silence is a person's decision, not a stream.
      if (st.silences.size() >= max_silences)
        return make_error(ec::budget_exhausted,
                          fmt::format("{} silences are in place; end some "
                                      "(POST /api/alerts/unsilence) first",
                                      st.silences.size()));
      s.created_ms = now_ms();
      s.id = fmt::format("silence-{:x}-{}", s.created_ms, ++st.silences_made);
      OPTISCHEMA_INFO("silence {} until {} by {}", s.id, iso8601(s.until_ms),
                      s.by);
      st.silences.push_back(s);
      save_silences(self);
      return to_json(s);
    },
    [self](atom::silence, atom::erase,
           const std::string& id) -> caf::result<std::string> {
      auto& st = self->state;
      auto i = std::find_if(st.silences.begin(), st.silences.end(),
                            [&](auto& s) { return s.id == id; });
      if (i == st.silences.end())
        return make_error(ec::not_found,
                          fmt::format("no silence '{}' (an ended one is "
                                      "gone); GET /api/alerts lists them",
                                      id));
      auto out = *i;
      // Ends now: what it held back is announced at the next poll.
      st.silences.erase(i);
      save_silences(self);
      OPTISCHEMA_INFO("silence {} ended", id);
      return to_json(out);
    },
    [self](atom::status) {
      auto& st = self->state;
      size_t firing = 0;
      std::map<std::pair<std::string, std::string>, size_t> by;
      for (auto& [_, rules] : st.rules)
        for (auto& [id, a] : rules.firing()) {
          ++firing;
          ++by[{a.rule, to_string(a.severity)}];
        }
      return status_report{health::ok, json::object([&](json::writer& w) {
                             json::field(w, "state", to_string(health::ok));
                             json::field(w, "firing", firing);
                             json::key(w, "firing_by");
                             w.StartArray();
                             for (auto& [k, n] : by) {
                               w.StartObject();
                               json::field(w, "rule", k.first);
                               json::field(w, "severity", k.second);
                               json::field(w, "count", n);
                               w.EndObject();
                             }
                             w.EndArray();
                             json::field(w, "targets", st.rules.size());
                             json::field(w, "polls_judged", st.polls);
                             json::field(w, "failures_judged", st.failures);
                             json::field(w, "fired", st.fired);
                             json::field(w, "resolved", st.resolutions);
                             json::field(w, "events", st.events);
                             json::field(w, "plans_checked", st.plans_checked);
                             json::field(w, "plans_failed", st.plans_failed);
                             json::field(w, "pasts_read", st.pasts_read);
                             json::field(w, "pasts_failed", st.pasts_failed);
                             json::field(w, "restored", st.restored);
                             json::field(w, "restore_failed",
                                         st.restore_failed);
                             json::field(w, "silences", st.silences.size());
                             json::field(w, "held_back", st.suppressed.size());
                           })};
    },
  };
}

} // namespace optischema::actors
