#include "optischema/actors/fleet.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/broker/ownership.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/util/logging.hpp"

#include <caf/send.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>

namespace optischema::actors {

namespace {

using self_ptr = fleet_actor::stateful_pointer<fleet_state>;

/// What other engines may read about this one in the bucket.
std::string member_info(const fleet_state& st) {
  return json::object([&](json::writer& w) {
    json::field(w, "engine", st.engine);
    json::field(w, "targets", st.targets.size());
    json::field(w, "beat", now_ms());
  });
}

/// Targets whose owner differs between two views (all of `next`'s when
/// there was none), as "target: old -> new".
std::vector<std::string> moves(const std::optional<fleet_view>& prev,
                               const fleet_view& next) {
  std::map<std::string, std::string> was;
  if (prev)
    for (auto& [target, owner] : prev->owners)
      was[target] = owner;
  std::vector<std::string> out;
  for (auto& [target, owner] : next.owners) {
    auto i = was.find(target);
    std::string before = i != was.end() ? i->second : "(nobody)";
    if (before != owner)
      out.push_back(target + ": " + before + " -> " + owner);
  }
  return out;
}

/// Stops polling while this engine's key may have expired (fleet.hpp): a
/// view in which nobody polls anything, sent once. The next heartbeat that
/// goes through sends the real one.
void suspend(self_ptr self) {
  auto& st = self->state;
  fleet_view view{st.engine, {st.engine}, {}};
  for (auto& t : st.targets)
    view.owners.emplace_back(t, std::string{});
  OPTISCHEMA_WARN("fleet {}: no heartbeat went through for {} ms; this engine "
                  "stops polling its targets (the others take them over) "
                  "until NATS answers again",
                  st.fleet, st.ttl.count());
  st.suspended = true;
  ++st.suspensions;
  st.view = view;
  self->send(st.supervisor, atom::owner_v, std::move(view));
}

void beat(self_ptr self) {
  auto& st = self->state;
  st.last_beat_ms = now_ms();
  auto started = std::chrono::steady_clock::now();
  auto members = st.registry->beat(member_info(st));
  if (!members) {
    ++st.failures;
    if (st.last_error != members.error().message)
      OPTISCHEMA_WARN("fleet {}: {}; keeping the last assignment of targets",
                      st.fleet, members.error().message);
    st.last_error = members.error().message;
    // Before the next heartbeat the key may expire: stop in time.
    if (!st.suspended && st.view && st.view->members.size() > 1
        && std::chrono::steady_clock::now() + st.heartbeat >= st.lease_until)
      suspend(self);
    return;
  }
  ++st.beats;
  st.lease_until = started + st.ttl;
  st.suspended = false;
  st.last_error.clear();
  fleet_view view{st.engine, std::move(*members), {}};
  for (auto& t : st.targets)
    view.owners.emplace_back(t, broker::owner_of(t, view.members));
  auto moved = moves(st.view, view);
  if (moved.empty() && st.view && st.view->members == view.members
      && !st.targets_changed)
    return;
  st.targets_changed = false;
  if (!moved.empty()) {
    auto mine = std::count_if(view.owners.begin(), view.owners.end(),
                              [&](auto& o) { return o.second == st.engine; });
    OPTISCHEMA_INFO("fleet {}: {} engine(s) [{}]; this engine polls {} of {} "
                    "targets; moved: {}",
                    st.fleet, view.members.size(),
                    fmt::join(view.members, ", "), mine, view.owners.size(),
                    fmt::join(moved, "; "));
    if (st.view)
      st.ownership_changes += moved.size();
  }
  st.view = view;
  self->send(st.supervisor, atom::owner_v, std::move(view));
}

} // namespace

fleet_actor::behavior_type fleet(self_ptr self, broker::fleet_options opts,
                                 std::vector<std::string> targets,
                                 std::chrono::milliseconds heartbeat,
                                 supervisor_actor supervisor) {
  auto& st = self->state;
  st.fleet = opts.fleet;
  st.engine = opts.engine;
  st.targets = std::move(targets);
  st.heartbeat = heartbeat;
  st.ttl = opts.ttl;
  st.supervisor = std::move(supervisor);
  if (auto r = broker::fleet_registry::create(std::move(opts)))
    st.registry = std::move(*r);
  else
    st.config_error = r.error();
  if (st.registry)
    self->send(self, atom::tick_v);
  return {
    [self](atom::tick) {
      beat(self);
      self->delayed_send(self, self->state.heartbeat, atom::tick_v);
    },
    [self](atom::targets, const std::vector<std::string>& names) {
      // Owners of the new ones at the next heartbeat, which sends the view
      // since it differs (a target removed counts too).
      self->state.targets = names;
      self->state.targets_changed = true;
    },
    [self](atom::status) -> status_report {
      auto& st = self->state;
      auto state = st.config_error               ? health::down
        : !st.last_error.empty() || st.suspended ? health::degraded
        : st.view                                ? health::ok
                                                 : health::starting;
      return make_status(state, [&](json::writer& w) {
        json::field(w, "fleet", st.fleet);
        json::field(w, "engine", st.engine);
        json::field(w, "heartbeat_ms", st.heartbeat.count());
        json::field(w, "beats", st.beats);
        json::field(w, "failures", st.failures);
        json::field(w, "last_beat", st.last_beat_ms);
        json::field(w, "ownership_changes", st.ownership_changes);
        json::field(w, "suspended", st.suspended);
        json::field(w, "suspensions", st.suspensions);
        json::field(w, "members",
                    st.view ? st.view->members : std::vector<std::string>{});
        json::key(w, "owners");
        w.StartObject();
        if (st.view)
          for (auto& [target, owner] : st.view->owners)
            json::field(w, target, owner);
        w.EndObject();
        if (st.config_error)
          json::field(w, "error", st.config_error->message);
        else if (!st.last_error.empty())
          json::field(w, "error", st.last_error);
      });
    },
  };
}

} // namespace optischema::actors
