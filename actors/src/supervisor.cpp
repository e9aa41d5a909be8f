#include "optischema/actors/supervisor.hpp"

#include "optischema/messages/targets_file.hpp"
#include "optischema/util/json_parse.hpp"

#include "optischema/actors/advisor.hpp"
#include "optischema/actors/alerter.hpp"
#include "optischema/actors/applier.hpp"
#include "optischema/actors/broker.hpp"
#include "optischema/actors/collector.hpp"
#include "optischema/actors/edge.hpp"
#include "optischema/actors/explainer.hpp"
#include "optischema/actors/fingerprinter.hpp"
#include "optischema/actors/fleet.hpp"
#include "optischema/actors/llm.hpp"
#include "optischema/actors/sandbox.hpp"
#include "optischema/actors/store.hpp"
#include "optischema/analysis/json.hpp"
#include "optischema/messages/error.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/util/duration.hpp"
#include "optischema/util/logging.hpp"

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/spawn_options.hpp>

#include <rapidjson/document.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
#include <set>

namespace optischema::actors {

namespace {

/// Spawns `fun(xs...)` on a thread of its own when `detached`
/// (--detached-collectors: each blocking call then stalls only its actor),
/// else on the scheduler's workers.
template <class F, class... Ts>
caf::actor
spawn_component(caf::actor_system& sys, bool detached, F fun, const Ts&... xs) {
  return caf::actor_cast<caf::actor>(
    detached ? sys.spawn<caf::detached>(fun, xs...) : sys.spawn(fun, xs...));
}

using self_ptr = supervisor_actor::stateful_pointer<supervisor_state>;

constexpr auto first_backoff = std::chrono::milliseconds{1000};
constexpr auto max_backoff = std::chrono::milliseconds{60'000};
/// A component that ran this long is healthy again: its backoff resets.
constexpr auto healthy_after = std::chrono::milliseconds{60'000};
constexpr auto status_timeout = std::chrono::seconds{5};

std::string collector_name(const std::string& target) {
  return "collector/" + target;
}

std::string advisor_name(const std::string& target) {
  return "advisor/" + target;
}

std::string explain_name(const std::string& target) {
  return "explain/" + target;
}

std::string applier_name(const std::string& target) {
  return "applier/" + target;
}

std::string sandbox_name(const std::string& target) {
  return "sandbox/" + target;
}

/// The running per-target component `name` of `target` as `Handle`, or the
/// error that says why there is none.
template <class Handle>
caf::expected<Handle>
running(self_ptr self, const std::string& name, const std::string& target) {
  auto& st = self->state;
  auto i = st.components.find(name);
  if (i == st.components.end())
    return make_error(ec::not_found,
                      fmt::format("no target named '{}'", target));
  if (!i->second.handle)
    return make_error(ec::db_unreachable,
                      fmt::format("{} is restarting", name));
  return caf::actor_cast<Handle>(i->second.handle);
}

/// The ALERTER, or the error that says it is restarting.
caf::expected<alerter_actor> alerter_of(self_ptr self) {
  auto& st = self->state;
  auto i = st.components.find("alerter");
  if (i == st.components.end() || !i->second.handle)
    return make_error(ec::internal,
                      "the alerter is restarting; try again in a moment");
  return caf::actor_cast<alerter_actor>(i->second.handle);
}

void start(self_ptr self, component& c) {
  auto& st = self->state;
  if (c.handle)
    st.by_addr.erase(c.handle.address());
  c.handle = c.spawn();
  c.started = std::chrono::steady_clock::now();
  c.restarting = false;
  self->monitor(c.handle);
  st.by_addr[c.handle.address()] = c.name;
  (*st.running)[c.name] = c.handle;
}

/// Stops a component on purpose: no restart follows from its down message.
void stop(self_ptr self, component& c) {
  if (!c.handle)
    return;
  self->demonitor(c.handle);
  self->state.by_addr.erase(c.handle.address());
  self->state.running->erase(c.name);
  self->send_exit(c.handle, caf::exit_reason::user_shutdown);
  c.handle = nullptr;
}

/// Refreshes the peer handles from the running shared components.
void refresh_peers(self_ptr self) {
  auto& st = self->state;
  auto handle = [&](const char* name) {
    auto i = st.components.find(name);
    return i != st.components.end() ? i->second.handle : caf::actor{};
  };
  st.store = caf::actor_cast<store_actor>(handle("store"));
  st.fingerprinter
    = caf::actor_cast<fingerprinter_actor>(handle("fingerprinter"));
  st.llm = caf::actor_cast<llm_actor>(handle("llm"));
  st.alerter = caf::actor_cast<alerter_actor>(handle("alerter"));
  st.sinks.clear();
  for (auto* name : {"edge", "broker"})
    if (auto h = handle(name))
      st.sinks.push_back(caf::actor_cast<event_sink_actor>(h));
}

void add(self_ptr self, std::string name, bool shared,
         std::function<caf::actor()> spawn) {
  auto& c = self->state.components[name];
  c.name = std::move(name);
  c.shared = shared;
  c.spawn = std::move(spawn);
}

void on_down(self_ptr self, const caf::down_msg& msg) {
  auto& st = self->state;
  auto i = st.by_addr.find(msg.source);
  if (i == st.by_addr.end())
    return;
  auto name = i->second;
  st.by_addr.erase(i);
  st.running->erase(name);
  auto& c = st.components[name];
  c.handle = nullptr;
  auto lived = std::chrono::steady_clock::now() - c.started;
  c.backoff = lived > healthy_after
    ? first_backoff
    : std::clamp(c.backoff * 2, first_backoff, max_backoff);
  c.last_failure = msg.reason ? self->system().render(msg.reason)
                              : std::string{"stopped"};
  c.restarting = true;
  OPTISCHEMA_WARN("supervisor: {} went down ({}); restarting in {} ms", name,
                  c.last_failure, c.backoff.count());
  self->delayed_send(self, c.backoff, atom::restart_v, name);
}

void restart(self_ptr self, const std::string& name) {
  auto& st = self->state;
  auto i = st.components.find(name);
  if (i == st.components.end() || i->second.handle)
    return;
  auto& c = i->second;
  ++c.restarts;
  if (!c.shared) {
    start(self, c);
    return;
  }
  // A shared peer changed: everyone holding its handle starts over with
  // the new one (collectors resume from the stored delta base).
  start(self, c);
  refresh_peers(self);
  for (auto& [other_name, other] : st.components) {
    if (other.shared && other_name != "edge")
      continue;
    if (&other == &c)
      continue;
    stop(self, other);
    start(self, other);
  }
  refresh_peers(self);
}

// -- many targets -------------------------------------------------------------

/// More targets than keep their connections open between uses.
/// How often the targets file is read again.
constexpr auto targets_file_check = std::chrono::seconds{2};

bool many_targets(const supervisor_state& st) {
  return st.config.targets.size() > st.config.keep_connections;
}

/// Past this many targets, their first polls and analyses take turns over
/// the interval even with connections kept open: a thousand connects at
/// once time out on the monitored servers (bench/README.md). Below, every
/// target is polled at once, so the engine is ready right away.
constexpr size_t spread_first_above = 50;

/// Whether targets take turns: always with a connection per poll (their
/// polls stay where the first one fell), past spread_first_above otherwise.
bool spread_first(const supervisor_state& st) {
  return many_targets(st) || st.config.targets.size() > spread_first_above;
}

/// `target`'s slot in `interval` when the targets take turns: the i-th of n
/// starts i/n of the way in, so polls (and their connections) never pile up.
std::chrono::milliseconds spread(const supervisor_state& st,
                                 const std::string& target,
                                 std::chrono::milliseconds interval) {
  auto& ts = st.config.targets;
  auto i = std::find_if(ts.begin(), ts.end(),
                        [&](auto& t) { return t.name == target; })
    - ts.begin();
  return interval * i / static_cast<int64_t>(std::max<size_t>(ts.size(), 1));
}

/// How long a server-wide read of pg_stat_statements serves the polls of
/// that server's other targets: polls that take turns over the interval
/// then share a read per second or so instead of making one each.
std::chrono::milliseconds shared_read_fresh_for(const supervisor_state& st) {
  return std::min(std::chrono::milliseconds{1000}, st.config.poll_interval / 4);
}

/// Many targets: the reader `target` shares with the other targets of its
/// server (same role and settings), or none when it is alone there and
/// connects per poll.
std::shared_ptr<pg::server_reader> server_of(supervisor_state& st,
                                             const target_config& target) {
  if (!many_targets(st))
    return nullptr;
  auto key_of = [&](const target_config& t) -> const std::string& {
    auto i = st.server_keys.find(t.name);
    if (i == st.server_keys.end()) {
      auto key = pg::server_key(t.conn);
      // Unparsable here (parsed before): its own server.
      i = st.server_keys.emplace(t.name, key ? *key : "target " + t.name).first;
    }
    return i->second;
  };
  auto& key = key_of(target);
  auto sharing
    = std::count_if(st.config.targets.begin(), st.config.targets.end(),
                    [&](const target_config& t) { return key_of(t) == key; });
  if (sharing < 2)
    return nullptr;
  auto& weak = st.servers[key];
  auto reader = weak.lock();
  if (!reader) {
    reader = std::make_shared<pg::server_reader>(shared_read_fresh_for(st));
    weak = reader;
  }
  return reader;
}

// -- a fleet of engines -------------------------------------------------------
// ---------------------------------------------------------

/// The engine that polls `target` by the FLEET's last word; "" before it.
std::string owner_of(const supervisor_state& st, const std::string& target) {
  if (st.fleet)
    for (auto& [t, owner] : st.fleet->owners)
      if (t == target)
        return owner;
  return {};
}

/// Tells every running COLLECTOR and ADVISOR who polls its target now.
void follow_fleet(self_ptr self, fleet_view& view) {
  auto& st = self->state;
  auto tell = [&](const std::string& name, const std::string& owner) {
    auto i = st.components.find(name);
    if (i == st.components.end() || !i->second.handle)
      return; // a restarting one reads st.fleet when it starts
    caf::anon_send(caf::actor_cast<caf::actor>(i->second.handle), atom::owner_v,
                   owner, owner == view.self);
  };
  std::set<std::string> ours_before;
  if (st.fleet)
    for (auto& [target, owner] : st.fleet->owners)
      if (owner == st.fleet->self)
        ours_before.insert(target);
  for (auto& [target, owner] : view.owners) {
    tell(collector_name(target), owner);
    tell(advisor_name(target), owner);
    // Newly ours (a takeover, a handover, this engine's start): what people
    // decided on it while another engine polled it comes with it.
    if (owner == view.self && ours_before.count(target) == 0 && st.store)
      caf::anon_send(st.store, atom::adopt_v, target);
  }
  if (auto i = st.components.find("edge");
      i != st.components.end() && i->second.handle)
    caf::anon_send(caf::actor_cast<caf::actor>(i->second.handle), atom::owner_v,
                   view);
  st.fleet = std::move(view);
}

/// The ADVISOR of `target`, or the error that says why there is none.
caf::expected<advisor_actor> running_advisor(self_ptr self,
                                             const std::string& target) {
  auto& st = self->state;
  auto i = st.components.find(advisor_name(target));
  if (i == st.components.end())
    return make_error(ec::not_found,
                      fmt::format("no target named '{}'", target));
  if (!i->second.handle)
    return make_error(ec::db_unreachable,
                      fmt::format("the advisor of '{}' is restarting", target));
  return caf::actor_cast<advisor_actor>(i->second.handle);
}

// -- what requests may cost ---------------------------------------------------

/// How long the SUPERVISOR waits for work it runs on behalf of requests:
/// longer than any caller waits, so work is never started twice while the
/// first run is still going.
constexpr auto joined_timeout = std::chrono::hours{2};

/// Ad-hoc analyses are bounded per target; a refused one may retry soon. A
/// stuck one frees its place after the timeout.
constexpr int64_t query_retry_after_s = 5;
constexpr auto query_timeout = std::chrono::minutes{10};

/// Takes the answer of work, or why it failed (one of the two is null).
template <class T>
using finish_fn = std::function<void(const T*, const caf::error*)>;

/// Runs work for `target` once for every request that asks while it runs:
/// the first request `start`s it, later ones join, and all get its answer.
template <class T>
caf::result<T>
join(self_ptr self,
     std::map<std::string, joined_work<T>> supervisor_state::*runs,
     const std::string& target,
     const std::function<void(finish_fn<T>)>& start) {
  auto rp = self->make_response_promise<T>();
  auto& work = (self->state.*runs)[target];
  work.waiting.push_back(rp);
  if (work.waiting.size() > 1)
    return rp;
  start([self, runs, target](const T* x, const caf::error* err) {
    auto& all = self->state.*runs;
    auto i = all.find(target);
    if (i == all.end())
      return;
    auto waiting = std::move(i->second.waiting);
    all.erase(i);
    for (auto& p : waiting)
      if (x != nullptr)
        p.deliver(*x);
      else
        p.deliver(*err);
  });
  return rp;
}

/// Asks `hdl` and hands the answer (a `T`) to `finish`.
template <class T, class Handle, class... Ts>
void ask(self_ptr self, std::chrono::milliseconds timeout, Handle hdl,
         finish_fn<T> finish, Ts... xs) {
  self->request(hdl, timeout, xs...)
    .then([finish](const T& x) { finish(&x, nullptr); },
          [finish](const caf::error& err) { finish(nullptr, &err); });
}

/// POST /api/analysis/run: one workload analysis per target at a time.
caf::result<advisor_summary> analyze_workload(self_ptr self,
                                              const std::string& target) {
  auto hdl = running_advisor(self, target);
  if (!hdl)
    return hdl.error();
  return join<advisor_summary>(
    self, &supervisor_state::analyses, target,
    [self, hdl = *hdl](finish_fn<advisor_summary> finish) {
      ask<advisor_summary>(self, joined_timeout, hdl, std::move(finish),
                           atom::analyze_v);
    });
}

/// POST /api/analysis/query: a few in flight per target, the rest refused.
caf::result<statement_advice>
analyze_statement(self_ptr self, const std::string& target,
                  const std::string& sql, bool with_llm) {
  auto hdl = running_advisor(self, target);
  if (!hdl)
    return hdl.error();
  auto& st = self->state;
  auto& in_flight = st.queries[target];
  auto limit = st.config.limits.analysis_queries_per_target;
  if (in_flight >= limit)
    return make_error(
      ec::budget_exhausted,
      fmt::format("{} ad-hoc analyses are running on target '{}', the most "
                  "per target (--max-analysis-queries): each plans on the "
                  "target. Try again when one has finished",
                  in_flight, target),
      query_retry_after_s);
  ++in_flight;
  auto rp = self->make_response_promise<statement_advice>();
  ask<statement_advice>(
    self, query_timeout, *hdl,
    [self, rp, target](const statement_advice* x,
                       const caf::error* err) mutable {
      --self->state.queries[target];
      if (x != nullptr)
        rp.deliver(*x);
      else
        rp.deliver(*err);
    },
    atom::analyze_v, sql, with_llm);
  return rp;
}

/// POST /api/sandbox/prepare: a forced copy reads every table of the
/// target, so one runs at a time (requests join it) and one starts at most
/// every --sandbox-prepare-interval.
caf::result<sandbox::prepared> force_copy(self_ptr self,
                                          const std::string& target,
                                          caf::expected<sandbox_actor> hdl) {
  if (!hdl)
    return hdl.error();
  auto& st = self->state;
  if (st.copies.count(target) == 0) {
    auto interval = st.config.limits.forced_prepare_interval;
    auto now = std::chrono::steady_clock::now();
    auto last = st.last_copy.find(target);
    if (last != st.last_copy.end() && now < last->second + interval) {
      using std::chrono::seconds;
      auto ago = std::chrono::duration_cast<seconds>(now - last->second);
      auto wait = std::chrono::ceil<seconds>(last->second + interval - now);
      return make_error(
        ec::budget_exhausted,
        fmt::format("target '{}' was copied to the sandbox {} s ago; forced "
                    "copies are limited to one per {} per target "
                    "(--sandbox-prepare-interval) because a copy reads every "
                    "table. Try again in {} s; tests copy the target again by "
                    "themselves when its schema changes",
                    target, ago.count(), to_string(interval), wait.count()),
        wait.count());
    }
    st.last_copy[target] = now;
  }
  using sandbox::prepared;
  return join<prepared>(
    self, &supervisor_state::copies, target,
    [self, hdl = *hdl, target](finish_fn<prepared> finish) {
      ask<prepared>(
        self, joined_timeout, hdl,
        [self, target, finish](const prepared* x, const caf::error* err) {
          // Nothing was read when the sandbox is off: no wait.
          if (err != nullptr && error_code(*err) == ec::disabled)
            self->state.last_copy.erase(target);
          finish(x, err);
        },
        atom::prepare_v, true);
    });
}

/// Collects every component's status into the engine's status document;
/// with a `prefix`, only those components, as {"name": status, …}.
caf::result<status_report> engine_status(self_ptr self,
                                         const std::string& prefix) {
  auto& st = self->state;
  struct gather {
    std::map<std::string, status_report> replies;
    size_t pending = 0;
    caf::typed_response_promise<status_report> rp;
  };
  auto g = std::make_shared<gather>();
  g->rp = self->make_response_promise<status_report>();
  // A component that cannot say: its state and why, and (a COLLECTOR) the
  // target it polls, which every entry of "targets" names.
  auto unanswered = [](const std::string& name, health state, const char* code,
                       const std::string& message) {
    auto target = name.rfind(collector_name(""), 0) == 0
      ? fmt::format(R"("name":{},)",
                    json::quote(name.substr(collector_name("").size())))
      : std::string{};
    return status_report{
      state,
      fmt::format(R"({{{}"state":"{}","error":{{"code":"{}","message":{}}}}})",
                  target, to_string(state), code, json::quote(message))};
  };
  auto finish = [self, g, prefix, unanswered] {
    auto& st = self->state;
    auto overall = health::ok;
    for (auto& [_, r] : g->replies)
      if (degrades_engine(r.state))
        overall = health::degraded;
    rapidjson::StringBuffer buf;
    json::writer w{buf};
    if (!prefix.empty()) {
      w.StartObject();
      for (auto& [name, r] : g->replies) {
        json::key(w, name.substr(prefix.size()));
        w.RawValue(r.json.data(), r.json.size(), rapidjson::kObjectType);
      }
      w.EndObject();
      g->rp.deliver(status_report{overall, json::text(buf)});
      return;
    }
    auto raw = [&](const std::string& name, const char* fallback) {
      auto i = g->replies.find(name);
      auto body = i != g->replies.end() && !i->second.json.empty()
        ? i->second.json
        : std::string{fallback};
      w.RawValue(body.data(), body.size(), rapidjson::kObjectType);
    };
    w.StartObject();
    json::field(w, "state", to_string(overall));
    json::field(w, "version", OPTISCHEMA_VERSION);
    json::field(w, "started", st.started_ms);
    json::field(w, "uptime_ms", now_ms() - st.started_ms);
    json::key(w, "targets");
    w.StartArray();
    for (auto& t : st.config.targets) {
      auto name = collector_name(t.name);
      if (g->replies.count(name) == 0)
        g->replies[name] = unanswered(name, health::unknown, "internal",
                                      "no answer");
      raw(name, "");
    }
    w.EndArray();
    if (!st.config.targets_file.empty()) {
      json::key(w, "targets_file");
      w.StartObject();
      json::field(w, "path", st.config.targets_file);
      json::field(w, "check_interval_ms",
                  std::chrono::milliseconds{targets_file_check}.count());
      if (!st.targets_file_error.empty())
        json::field(w, "error", st.targets_file_error);
      w.EndObject();
    }
    json::key(w, "fleet");
    raw(
      "fleet",
      R"({"state":"disabled","message":"not in a fleet: this engine polls every target; start engines with the same --fleet NAME and --nats to share them"})");
    json::key(w, "nats");
    raw(
      "broker",
      R"({"state":"disabled","message":"no NATS configured: events stay in-process; pass --nats nats://host:4222 to publish them"})");
    json::key(w, "store");
    raw("store", R"({"state":"unknown"})");
    json::key(w, "fingerprinter");
    raw("fingerprinter", R"({"state":"unknown"})");
    json::key(w, "alerts");
    raw("alerter", R"({"state":"unknown"})");
    json::key(w, "web");
    raw("edge", R"({"state":"disabled"})");
    json::key(w, "llm");
    raw("llm", R"({"state":"unknown"})");
    json::key(w, "advisors");
    w.StartArray();
    for (auto& t : st.config.targets)
      raw(advisor_name(t.name), R"({"state":"unknown"})");
    w.EndArray();
    json::key(w, "apply");
    w.StartObject();
    json::field(w, "enabled", !st.config.apply.api_token.empty());
    if (st.config.apply.api_token.empty()) {
      json::key(w, "message");
      json::str(w,
                "applying is off: start the engine with an API token "
                "(--api-token-file, or OPTISCHEMA_API_TOKEN) to enable POST "
                "/api/suggestions/apply and /rollback");
    }
    json::key(w, "targets");
    w.StartArray();
    for (auto& t : st.config.targets)
      raw(applier_name(t.name), R"({"state":"unknown"})");
    w.EndArray();
    w.EndObject();
    json::key(w, "sandbox");
    w.StartArray();
    for (auto& t : st.config.targets)
      raw(sandbox_name(t.name), R"({"state":"unknown"})");
    w.EndArray();
    json::key(w, "components");
    w.StartArray();
    for (auto& [name, c] : st.components) {
      w.StartObject();
      json::field(w, "name", name);
      json::field(w, "running", static_cast<bool>(c.handle));
      json::field(w, "restarts", c.restarts);
      json::field(w, "last_failure", c.last_failure);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    g->rp.deliver(status_report{overall, json::text(buf)});
  };
  for (auto& [name, c] : st.components) {
    if (name.rfind(prefix, 0) != 0)
      continue;
    if (!c.handle) {
      g->replies[name] = unanswered(
        name, health::down, "internal",
        c.restarting ? "restarting after: " + c.last_failure : "not running");
      continue;
    }
    ++g->pending;
    auto hdl = caf::actor_cast<status_client_actor>(c.handle);
    self->request(hdl, status_timeout, atom::status_v)
      .then(
        [g, name = name, finish](status_report& r) {
          g->replies[name] = std::move(r);
          if (--g->pending == 0)
            finish();
        },
        [g, name = name, finish, unanswered](const caf::error& err) {
          g->replies[name] = unanswered(name, health::unknown, "timeout",
                                        "no status: " + error_message(err));
          if (--g->pending == 0)
            finish();
        });
  }
  if (g->pending == 0)
    finish();
  return g->rp;
}

/// Spawns the five actors of `target` (COLLECTOR, ADVISOR, EXPLAINER,
/// APPLIER, SANDBOX) under supervision.
void add_target(self_ptr self, const target_config& target) {
  auto& st = self->state;
  auto& sys = self->system();
  auto opts = st.config.detached_collectors;
  add(self, collector_name(target.name), false, [self, &sys, target, opts] {
    auto& st = self->state;
    collector_peers peers{st.fingerprinter, st.store, st.sinks};
    peers.alerter = st.alerter;
    // In a fleet, a (re)started COLLECTOR polls only what the FLEET
    // last gave this engine.
    if (!st.config.fleet.name.empty())
      peers.standby = owner_of(st, target.name) != st.config.fleet.engine_id;
    peers.transient = many_targets(st);
    peers.server = server_of(st, target);
    if (spread_first(st))
      peers.first_poll = spread(st, target.name, st.config.poll_interval);
    auto interval = st.config.poll_interval;
    auto top_n = st.config.event_top_n;
    return spawn_component(sys, opts, collector, target, interval, top_n,
                           peers);
  });
  start(self, st.components[collector_name(target.name)]);
  add(self, advisor_name(target.name), false, [self, &sys, target, opts] {
    auto& st = self->state;
    advisor_peers peers{
      st.store, st.sinks, st.llm, caf::actor_cast<supervisor_actor>(self),
      !st.config.sandbox.server ? size_t{0} : st.config.sandbox.auto_test};
    if (!st.config.fleet.name.empty())
      peers.standby = owner_of(st, target.name) != st.config.fleet.engine_id;
    peers.transient = many_targets(st);
    if (spread_first(st))
      peers.stagger = spread(st, target.name, st.config.analysis_interval);
    auto interval = st.config.analysis_interval;
    auto min_conf = st.config.min_confidence;
    auto per_cycle = st.config.llm.statements_per_cycle;
    return spawn_component(sys, opts, advisor, target, interval, min_conf,
                           per_cycle, peers);
  });
  start(self, st.components[advisor_name(target.name)]);
  add(self, explain_name(target.name), false, [&sys, target, opts] {
    return spawn_component(sys, opts, explainer, target);
  });
  start(self, st.components[explain_name(target.name)]);
  add(self, applier_name(target.name), false, [self, &sys, target, opts] {
    auto& st = self->state;
    applier_peers peers{st.store, st.sinks};
    peers.alerter = st.alerter;
    auto cfg = st.config.apply;
    auto interval = st.config.poll_interval;
    return spawn_component(sys, opts, applier, target, cfg, interval, peers);
  });
  start(self, st.components[applier_name(target.name)]);
  add(self, sandbox_name(target.name), false, [self, &sys, target, opts] {
    auto& st = self->state;
    sandbox_peers peers{st.store, st.sinks};
    auto cfg = st.config.sandbox;
    return spawn_component(sys, opts, sandbox, target, cfg, peers);
  });
  start(self, st.components[sandbox_name(target.name)]);
}

/// The names of a target's actors.
std::vector<std::string> target_components(const std::string& target) {
  return {collector_name(target), advisor_name(target), explain_name(target),
          applier_name(target), sandbox_name(target)};
}

/// The names of the targets, in order.
std::vector<std::string> target_names(const supervisor_state& st) {
  std::vector<std::string> names;
  for (auto& t : st.config.targets)
    names.push_back(t.name);
  return names;
}

/// Tells the EDGE and the FLEET which targets there are now.
void announce_targets(self_ptr self) {
  auto& st = self->state;
  auto names = target_names(st);
  for (auto* name : {"edge", "fleet"})
    if (auto i = st.components.find(name);
        i != st.components.end() && i->second.handle)
      caf::anon_send(caf::actor_cast<caf::actor>(i->second.handle),
                     atom::targets_v, names);
}

/// Re-reads the targets file: starts the targets added to it, stops those
/// removed, restarts those whose DSN changed. A file that does not read
/// keeps the targets as they are, and the status says why.
void reread_targets(self_ptr self) {
  auto& st = self->state;
  if (st.config.targets_file.empty())
    return;
  auto text = read_targets_file(st.config.targets_file);
  if (text && *text == st.targets_file_text)
    return;
  auto listed = text ? parse_targets_file(*text)
                     : expected<std::vector<target_config>>{text.error()};
  if (!listed) {
    if (st.targets_file_error != listed.error().message)
      OPTISCHEMA_WARN("supervisor: {}; the targets stay as they are",
                      listed.error().message);
    st.targets_file_error = listed.error().message;
    return;
  }
  st.targets_file_error.clear();
  st.targets_file_text = *text;
  std::map<std::string, target_config> wanted;
  for (auto& t : *listed)
    wanted.emplace(t.name, std::move(t));
  std::vector<std::string> added, removed;
  for (auto i = st.config.targets.begin(); i != st.config.targets.end();) {
    auto w = wanted.find(i->name);
    if (!i->from_file) {
      if (w != wanted.end()) {
        st.targets_file_error = "target " + i->name
          + " is in the targets file and in the flags or config; the file's "
            "is left out";
        wanted.erase(w);
      }
      ++i;
      continue;
    }
    if (w != wanted.end() && w->second.conn.raw == i->conn.raw) {
      wanted.erase(w);
      ++i;
      continue;
    }
    for (auto& name : target_components(i->name))
      if (auto c = st.components.find(name); c != st.components.end()) {
        stop(self, c->second);
        st.components.erase(c);
      }
    removed.push_back(i->name);
    st.server_keys.erase(i->name); // its DSN may come back changed
    if (st.alerter)
      self->send(st.alerter, atom::erase_v, i->name);
    i = st.config.targets.erase(i);
  }
  for (auto& [name, t] : wanted) {
    t.from_file = true;
    st.config.targets.push_back(std::move(t));
    add_target(self, st.config.targets.back());
    added.push_back(name);
  }
  if (added.empty() && removed.empty())
    return;
  OPTISCHEMA_INFO("supervisor: the targets file changed: {} target(s) started "
                  "[{}], {} stopped [{}]; {} in all",
                  added.size(), fmt::join(added, ", "), removed.size(),
                  fmt::join(removed, ", "), st.config.targets.size());
  announce_targets(self);
}

/// Sets target `name` to `dsn` in the targets file (removes it without
/// `dsn`), then reads the file again. Only the file's targets change.
caf::result<std::vector<std::string>>
edit_targets(self_ptr self, const std::string& name,
             const std::optional<std::string>& dsn) {
  auto& st = self->state;
  if (st.config.targets_file.empty())
    return make_error(ec::conflict,
                      "targets are managed at run time through a targets "
                      "file: start the engine with --targets-file PATH");
  auto fixed
    = std::any_of(st.config.targets.begin(), st.config.targets.end(),
                  [&](auto& t) { return t.name == name && !t.from_file; });
  if (fixed)
    return make_error(ec::conflict,
                      "target " + name
                        + " comes from the engine's flags or config, not "
                          "from its targets file: change it there");
  if (dsn) {
    if (!valid_new_target_name(name))
      return make_error(ec::bad_request,
                        "a target name has letters, digits, '_' and '-' (at "
                        "most 64), and is not _engine (the engine's own "
                        "alerts)");
    if (auto why = dsn_secret_problem(*dsn); !why.empty())
      return make_error(ec::bad_request, why);
  }
  auto text = read_targets_file(st.config.targets_file);
  if (!text)
    return make_error(text.error());
  auto edited = edit_targets_file(*text, name, dsn);
  if (!edited)
    return make_error(edited.error());
  // The whole file must still read (the new DSN parses, no name twice).
  if (auto check = parse_targets_file(*edited); !check)
    return make_error(ec::bad_request, check.error().message);
  if (auto res = write_targets_file(st.config.targets_file, *edited); !res)
    return make_error(res.error());
  reread_targets(self);
  return target_names(st);
}

/// Plans `sql` on `target` (its EXPLAINER), with findings or without.
caf::result<explained_statement>
explain(self_ptr self, const std::string& target, const std::string& sql,
        bool findings) {
  auto hdl = running<explainer_actor>(self, explain_name(target), target);
  if (!hdl)
    return hdl.error();
  return self->delegate(*hdl, atom::explain_v, sql, findings);
}

} // namespace

supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self,
           engine_config config, supervisor_resources resources) {
  auto& st = self->state;
  st.config = std::move(config);
  st.resources = std::move(resources);
  st.started_ms = now_ms();
  auto& sys = self->system();
  auto opts = st.config.detached_collectors;
  // -- shared components
  add(self, "store", true, [self, &sys, opts] {
    auto& st = self->state;
    return spawn_component(sys, opts, store, st.resources.db,
                           st.config.maintenance_interval,
                           st.resources.decisions);
  });
  // Never blocks: its HTTP calls run in workers of their own.
  add(self, "llm", true, [self, &sys] {
    auto& st = self->state;
    return caf::actor_cast<caf::actor>(sys.spawn(
      llm, st.config.llm, st.store, caf::actor_cast<supervisor_actor>(self)));
  });
  // The COLLECTORs keep each queryid's fingerprint themselves and ask only
  // for new ones: this cache saves the parses of texts that many targets
  // share (shards of one schema) and of a restarted COLLECTOR. Bounded well
  // below the statements an engine may watch, whose texts it would copy.
  // Baselines in memory: a restart makes the statement rules wait for
  // their points again, and the COLLECTORs start over with its new handle.
  add(self, "alerter", true, [self, &sys] {
    return caf::actor_cast<caf::actor>(
      sys.spawn(alerter, self->state.config.alerts,
                caf::actor_cast<supervisor_actor>(self), self->state.store));
  });
  add(self, "fingerprinter", true, [&sys] {
    return caf::actor_cast<caf::actor>(
      sys.spawn(fingerprinter, size_t{10'000}));
  });
  if (!st.config.nats_url.empty())
    add(self, "broker", true, [self, &sys] {
      auto& cfg = self->state.config;
      broker::nats_options nopts;
      nopts.url = cfg.nats_url;
      nopts.stream = cfg.nats_stream;
      // Stamped on every event: the fleet's other engines relay it.
      if (!cfg.fleet.name.empty()) {
        nopts.fleet = cfg.fleet.name;
        nopts.engine = cfg.fleet.engine_id;
      }
      return caf::actor_cast<caf::actor>(sys.spawn(broker, nopts));
    });
  if (st.resources.web)
    add(self, "edge", true, [self, &sys] {
      auto& st = self->state;
      edge_config cfg;
      for (auto& t : st.config.targets)
        cfg.targets.push_back(t.name);
      cfg.raw_retention_ms = st.config.store.raw_retention.count();
      cfg.api_token = st.config.apply.api_token;
      auto& ap = st.config.apply;
      cfg.apply_timeout = ap.statement_timeout
        + ap.attempts * (ap.lock_timeout + ap.retry_delay * ap.attempts)
        + std::chrono::minutes{5};
      cfg.engine_id = st.config.fleet.engine_id;
      cfg.fleet_api = st.resources.fleet_api;
      cfg.fleet = st.fleet;
      return caf::actor_cast<caf::actor>(
        sys.spawn(edge, st.resources.web, st.store,
                  caf::actor_cast<supervisor_actor>(self), std::move(cfg)));
    });
  if (!st.config.fleet.name.empty())
    add(self, "fleet", false, [self, &sys] {
      auto& cfg = self->state.config;
      broker::fleet_options fo;
      fo.url = cfg.nats_url;
      fo.fleet = cfg.fleet.name;
      fo.engine = cfg.fleet.engine_id;
      fo.replicas = cfg.fleet.replicas;
      // Gone after one poll interval without a heartbeat, read every third
      // of one: a dead engine's targets are polled again within two.
      fo.ttl = std::max(cfg.poll_interval, std::chrono::milliseconds{1000});
      auto heartbeat = std::max(fo.ttl / 3, std::chrono::milliseconds{200});
      // A heartbeat NATS does not answer fails before the next is due.
      fo.wait = std::min(fo.wait, heartbeat);
      fo.grace = heartbeat + heartbeat / 2;
      std::vector<std::string> names;
      for (auto& t : cfg.targets)
        names.push_back(t.name);
      return caf::actor_cast<caf::actor>(sys.spawn<caf::detached>(
        fleet, std::move(fo), std::move(names), heartbeat,
        caf::actor_cast<supervisor_actor>(self)));
    });
  // Start order matters: collectors and the EDGE need the shared handles.
  for (auto* name :
       {"store", "llm", "alerter", "fingerprinter", "broker", "edge"})
    if (auto i = st.components.find(name); i != st.components.end()) {
      start(self, i->second);
      refresh_peers(self);
    }
  // The FLEET after the collectors it directs.
  auto start_fleet = [self] {
    auto& st = self->state;
    if (auto i = st.components.find("fleet"); i != st.components.end())
      start(self, i->second);
  };
  for (auto& target : st.config.targets)
    add_target(self, target);
  start_fleet();
  self->set_down_handler([self](caf::down_msg& msg) { on_down(self, msg); });
  // Children are monitored, not linked: stop them when we stop.
  self->attach_functor([running = st.running](const caf::error&) {
    for (auto& [_, handle] : *running)
      caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
  });
  OPTISCHEMA_INFO("supervisor: monitoring {} target(s), polling every {} ms",
                  st.config.targets.size(), st.config.poll_interval.count());
  // What the targets file says now: it was read at start (app/config.cpp).
  if (!st.config.targets_file.empty()) {
    if (auto text = read_targets_file(st.config.targets_file))
      st.targets_file_text = *text;
    self->delayed_send(self, targets_file_check, atom::targets_v);
  }
  return {
    [self](atom::get, atom::targets) { return target_names(self->state); },
    [self](atom::put, atom::targets, const std::string& name,
           const std::string& dsn) { return edit_targets(self, name, dsn); },
    [self](atom::erase, atom::targets, const std::string& name) {
      return edit_targets(self, name, std::nullopt);
    },
    [self](atom::targets) {
      reread_targets(self);
      self->delayed_send(self, targets_file_check, atom::targets_v);
    },
    [self](atom::poll, const std::string& target) -> caf::result<int64_t> {
      auto& st = self->state;
      auto i = st.components.find(collector_name(target));
      if (i == st.components.end())
        return make_error(ec::not_found,
                          fmt::format("no target named '{}'", target));
      if (!i->second.handle)
        return make_error(ec::db_unreachable,
                          fmt::format("the collector of '{}' is restarting",
                                      target));
      return self->delegate(caf::actor_cast<collector_actor>(i->second.handle),
                            atom::poll_v);
    },
    [self](atom::analyze,
           const std::string& target) -> caf::result<advisor_summary> {
      return analyze_workload(self, target);
    },
    [self](atom::analyze, const std::string& target, const std::string& sql,
           bool with_llm) -> caf::result<statement_advice> {
      return analyze_statement(self, target, sql, with_llm);
    },
    [self](atom::explain, const std::string& target,
           const std::string& sql) -> caf::result<explained_statement> {
      return explain(self, target, sql, true);
    },
    [self](atom::explain, const std::string& target, const std::string& sql,
           bool findings) -> caf::result<explained_statement> {
      return explain(self, target, sql, findings);
    },
    [self](atom::apply, const std::string& target, const std::string& id,
           const std::string& who) -> caf::result<recommendation> {
      auto hdl = running<applier_actor>(self, applier_name(target), target);
      if (!hdl)
        return hdl.error();
      return self->delegate(*hdl, atom::apply_v, id, who);
    },
    [self](atom::rollback, const std::string& target, const std::string& id,
           const std::string& who) -> caf::result<recommendation> {
      auto hdl = running<applier_actor>(self, applier_name(target), target);
      if (!hdl)
        return hdl.error();
      return self->delegate(*hdl, atom::rollback_v, id, who);
    },
    [self](atom::test, const std::string& target,
           const std::string& id) -> caf::result<recommendation> {
      auto hdl = running<sandbox_actor>(self, sandbox_name(target), target);
      if (!hdl)
        return hdl.error();
      return self->delegate(*hdl, atom::test_v, id);
    },
    [self](atom::prepare,
           const std::string& target) -> caf::result<sandbox::prepared> {
      return force_copy(self, target,
                        running<sandbox_actor>(self, sandbox_name(target),
                                               target));
    },
    [self](atom::verify, const std::string& target, const std::string& original,
           const std::string& rewrite) -> caf::result<rows_check> {
      auto hdl = running<sandbox_actor>(self, sandbox_name(target), target);
      if (!hdl)
        return hdl.error();
      return self->delegate(*hdl, atom::verify_v, original, rewrite);
    },
    [self](atom::get, atom::alert,
           const std::string& target) -> caf::result<std::string> {
      auto hdl = alerter_of(self);
      if (!hdl)
        return hdl.error();
      return self->delegate(*hdl, atom::get_v, atom::alert_v, target);
    },
    [self](atom::alert, alert& a) {
      auto hdl = alerter_of(self);
      if (!hdl)
        return; // restarting: the sender raises it again when it changes
      // One id per engine: a fleet's engines each have their own budget.
      auto& engine = self->state.config.fleet.engine_id;
      a.target = engine_alerts;
      a.id = a.rule + ":" + engine_alerts
        + (engine.empty() ? std::string{} : ":" + engine);
      self->request(*hdl, std::chrono::seconds{10}, atom::alert_v, a)
        .then(
          [self](const std::string& payload) {
            if (payload.empty())
              return;
            event ev{event_type::alert, engine_alerts, now_ms(), payload};
            for (auto& sink : self->state.sinks)
              self->send(sink, atom::publish_v, ev);
          },
          [](const caf::error&) {});
    },
    [self](atom::ack, const std::string& target, const std::string& id,
           const std::string& who) -> caf::result<std::string> {
      auto hdl = alerter_of(self);
      if (!hdl)
        return hdl.error();
      return self->delegate(*hdl, atom::ack_v, target, id, who);
    },
    [self](atom::silence, alert_silence& s) -> caf::result<std::string> {
      auto hdl = alerter_of(self);
      if (!hdl)
        return hdl.error();
      return self->delegate(*hdl, atom::silence_v, std::move(s));
    },
    [self](atom::silence, atom::erase,
           const std::string& id) -> caf::result<std::string> {
      auto hdl = alerter_of(self);
      if (!hdl)
        return hdl.error();
      return self->delegate(*hdl, atom::silence_v, atom::erase_v, id);
    },
    [self](atom::status, atom::analyze) {
      return engine_status(self, "advisor/");
    },
    [self](atom::status, atom::poll) {
      return engine_status(self, "collector/");
    },
    [self](atom::owner, fleet_view& view) { follow_fleet(self, view); },
    [self](atom::restart, const std::string& name) { restart(self, name); },
    [self](atom::status) { return engine_status(self, ""); },
  };
}

} // namespace optischema::actors
